"""Atoms and peers a change brings: new port boundaries are cut into the atoms in place;
new address boundaries, or a change the index cannot take, ask for a rebuild."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from microseg.engine.incremental.common import IndexT, Range, Rebuild
from microseg.engine.index.atoms import PortAtoms
from microseg.engine.index.packed import Bits, n_words
from microseg.model.admin import AdminPolicy
from microseg.model.netpol import IPBlockPeer, NetworkPolicy, Peer, PodPeer, PortSpec
from microseg.model.sets import Protocol

__all__ = [
    "check_peers",
    "check_removal",
    "is_atom",
    "port_cuts",
    "prepare_policy",
    "refine",
    "split_bits",
]


# -- atoms ---------------------------------------------------------------------------------


def port_cuts(conn: IndexT, ports: tuple[PortSpec, ...] | None) -> list[Range]:
    """The port ranges a rule needs as unions of atoms, among those the atoms lack."""
    atoms = conn.ports
    out: list[Range] = []
    for spec in ports or ():
        if spec.name:
            if (spec.protocol, spec.name) not in conn.rules.named_cache():
                for pod in conn.classes.reps:
                    number = pod.named_port(spec.name, spec.protocol)
                    if number is not None and not is_atom(conn, spec.protocol, number, number):
                        out.append((spec.protocol, number, number))
            continue
        _, lo, _ = atoms.atoms[atoms.atom_of(spec.protocol, spec.start)]
        _, _, hi = atoms.atoms[atoms.atom_of(spec.protocol, spec.end)]
        if lo != spec.start or hi != spec.end:
            out.append((spec.protocol, spec.start, spec.end))
    return out


def is_atom(conn: IndexT, protocol: Protocol, lo: int, hi: int) -> bool:
    _, a, b = conn.ports.atoms[conn.ports.atom_of(protocol, lo)]
    return (a, b) == (lo, hi)


def refine(conn: IndexT, cuts: list[Range]) -> IndexT:
    """`conn` over port atoms split at `cuts`: a new port number in a rule splits the atom
    that held it, and every packed cell copies the old atom's bit into each of its pieces.
    Atoms only get finer, so every answer stays the same; past one 64-bit word of atoms
    the update is a rebuild."""
    if not cuts:
        return conn
    old = conn.ports
    new = PortAtoms.build([*old.atoms, *cuts], old.protocols)
    if n_words(len(new)) != 1 or n_words(len(old)) != 1:
        raise Rebuild("port atoms outgrow one word")
    # Old atom j becomes new atoms first[j] .. first[j] + pieces[j] - 1.
    owner = np.array([old.atom_of(p, lo) for p, lo, _ in new.atoms], dtype=np.intp)
    pieces = np.bincount(owner, minlength=len(old))
    first = np.concatenate([[0], np.cumsum(pieces)[:-1]]).astype(np.intp)
    rc = conn.rules.with_ports(new, first)
    tables = []
    for table in (conn.ingress, conn.egress):
        fresh = replace(table, n_atoms=len(new), rc=rc, _cache={})
        fresh.adopt(table.selector_counts(), table.group_index(), table.cached_bounds())
        if table.materialised:
            fresh.adopt_bits(split_bits(table.bits, pieces))
        tables.append(fresh)
    return replace(conn, ports=new, rules=rc, ingress=tables[0], egress=tables[1])


def split_bits(bits: Bits, pieces: npt.NDArray[np.int64]) -> Bits:
    """Bit j of every word copied into `pieces[j]` adjacent bits, higher bits moved up.
    Split by split from the top, each copy is four in-place passes: the bits from j up,
    shifted by one, joined to the bits up to j (so bit j lands on both j and j + 1)."""
    out = bits.copy()
    high = np.empty_like(out)
    one = np.uint64(1)
    for j in np.flatnonzero(pieces > 1)[::-1].tolist():
        up_to_j = np.uint64((1 << (j + 1)) - 1)
        from_j = ~np.uint64((1 << j) - 1)
        for _ in range(int(pieces[j]) - 1):
            np.bitwise_and(out, from_j, out=high)
            np.left_shift(high, one, out=high)
            np.bitwise_and(out, up_to_j, out=out)
            np.bitwise_or(out, high, out=out)
    return out


def check_peers(conn: IndexT, peers: tuple[Peer, ...] | None) -> None:
    ips = conn.ips
    for peer in peers or ():
        if isinstance(peer, PodPeer):
            continue
        if not isinstance(peer, IPBlockPeer):
            raise Rebuild("node peer")
        if peer.addresses.v6 and not ips.show_v6:
            raise Rebuild("first IPv6 range")
        for family, starts, spans in (
            (peer.addresses.v4, ips.v4_starts, ips.v4),
            (peer.addresses.v6, ips.v6_starts, ips.v6),
        ):
            for lo, hi in family:
                if spans[ips._index(starts, lo)][0] != lo or spans[ips._index(starts, hi)][1] != hi:
                    raise Rebuild("address boundary")


def prepare_policy(conn: IndexT, policy: NetworkPolicy | AdminPolicy) -> IndexT:
    """`conn` with the atoms the policy needs: port atoms are refined in place, address
    boundaries it lacks mean a rebuild."""
    cuts: list[Range] = []
    for rule in (*policy.ingress, *policy.egress):
        cuts += port_cuts(conn, rule.ports)
        check_peers(conn, rule.peers)
    return refine(conn, cuts)


def check_removal(conn: IndexT, policy: NetworkPolicy | AdminPolicy | None) -> None:
    """Lists print IPv6 ranges only while some rule mentions one (engine/index/atoms.py): taking
    such a rule away may turn that off, which only a rebuild can tell."""
    if policy is None or not conn.ips.show_v6:
        return
    for rule in (*policy.ingress, *policy.egress):
        for peer in rule.peers or ():
            if not isinstance(peer, PodPeer | IPBlockPeer) or (
                isinstance(peer, IPBlockPeer) and peer.addresses.v6
            ):
                raise Rebuild("last IPv6 range may go")
