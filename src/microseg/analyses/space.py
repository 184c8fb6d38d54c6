"""The connectivity tables, re-cut so that every range an intent names is a whole atom,
read block by block.

The engine's atoms are induced by the ranges the policies mention, so an intent port
(`TCP/8080`) or group (`203.0.113.0/24`) may cover part of an atom. Whether a connection is
allowed is uniform inside an engine atom, but whether an intent covers it is not: a strict
domain must report `TCP 8000-8079,8081-9000` when a policy opens 8000-9000 and the intents
allow only 8080. So the port and address axes are refined by the intents' own ranges, and
each refined piece reads the allow bit of the engine atom it lies in.

Blocks, not matrices: the engine holds its direction tables packed (a bit per port atom);
a block of source classes x destination classes is gathered from them and unpacked only
for the rows asked for, so no classes x classes matrix is ever materialised (150,000 pods
make tens of thousands of classes). When the mesh layer counts, its dense matrices are used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine import (
    Bits,
    Connectivity,
    DirectionTable,
    IPAtoms,
    Layer,
    PortAtoms,
    pair_block,
    unpack,
)
from microseg.model.intent import IntentPort
from microseg.model.sets import IPSet

__all__ = ["CELLS", "PortMask", "Space", "chunks"]

Bool = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
CELLS = 1 << 24
"""Booleans per block at most (16 MiB): rows are processed in chunks of this size."""


def chunks(n_rows: int, per_row: int) -> Iterator[slice]:
    """Row ranges whose blocks hold at most CELLS booleans (one row at least)."""
    step = max(1, CELLS // max(1, per_row))
    for lo in range(0, n_rows, step):
        yield slice(lo, min(n_rows, lo + step))


@dataclass(frozen=True, slots=True)
class PortMask:
    """Requested connections per destination class: `mask[k]` over port pieces, and
    `unresolved[k]` when a named port is not a container port of that destination."""

    mask: Bool
    unresolved: Bool


@dataclass(frozen=True, slots=True)
class Space:
    conn: Connectivity
    ports: PortAtoms
    ips: IPAtoms
    pmap: Ints | None
    """Engine port atom of each port piece; None when they are the same atoms."""
    imap: Ints
    """Engine IP atom of each address piece."""
    scope: Bool
    """The address pieces checked: IPv4, and IPv6 when the input or the intents mention it
    (as `connectivity` shows IPv6 peers only then: a single-stack IPv4 cluster has none)."""
    dense: tuple[Bool, Bool, Bool] | None
    """pod_to_pod, to_external, from_external when the mesh counts (then held dense)."""

    @staticmethod
    def build(
        conn: Connectivity,
        ports: Iterable[IntentPort],
        addresses: Iterable[IPSet],
        v6: bool = False,
    ) -> Space:
        ranges = [(p, lo, hi) for p, lo, hi in conn.ports.atoms]
        named = set()
        for port in ports:
            if port.name:
                named.add((port.protocol, port.name))
            else:
                ranges.append((port.protocol, port.start, port.end))
        for rep in conn.classes.reps:
            for cp in rep.ports:
                if (cp.protocol, cp.name) in named:
                    ranges.append((cp.protocol, cp.port, cp.port))
        patoms = PortAtoms.build(ranges)
        pmap = np.array([conn.ports.atom_of(p, lo) for p, lo, _ in patoms.atoms], dtype=np.int64)
        sets = [*addresses, *(conn.ips.atom_set(k) for k in range(len(conn.ips)))]
        iatoms = IPAtoms.build(sets)
        imap = np.array(
            [conn.ips.atom_of_address(iatoms.atom_set(k)) for k in range(len(iatoms))],
            dtype=np.int64,
        )
        scope = np.zeros(len(iatoms), np.bool_)
        scope[: len(iatoms.v4)] = True
        scope[len(iatoms.v4) :] = v6 or conn.ips.show_v6
        mesh = conn.mesh is not None and conn.layer is not Layer.NETWORK
        dense = (conn.pod_to_pod(), conn.to_external(), conn.from_external()) if mesh else None
        same = len(pmap) == len(conn.ports)
        return Space(conn, patoms, iatoms, None if same else pmap, imap, scope, dense)

    # -- blocks ------------------------------------------------------------------------
    def _atoms(self, block: Bool) -> Bool:
        return block if self.pmap is None else block[..., self.pmap]

    def p2p(self, src: Ints, dst: Ints) -> Bool:
        """[src class, dst class, port piece]: the source's egress and the destination's
        ingress both allow it."""
        if self.dense is not None:
            return self._atoms(self.dense[0][np.ix_(src, dst)])
        return self._atoms(unpack(pair_block(self.conn, src, dst), len(self.conn.ports)))

    def to_ext(self, src: Ints, pieces: Ints) -> Bool:
        """[src class, address piece, port piece]."""
        if self.dense is not None:
            return self._atoms(self.dense[1][np.ix_(src, self.imap[pieces])])
        cols = self.conn.n_classes + self.imap[pieces]
        return self._atoms(unpack(_table_block(self.conn.egress, src, cols), len(self.conn.ports)))

    def from_ext(self, dst: Ints, pieces: Ints) -> Bool:
        """[dst class, address piece, port piece]."""
        if self.dense is not None:
            return self._atoms(self.dense[2][np.ix_(dst, self.imap[pieces])])
        cols = self.conn.n_classes + self.imap[pieces]
        return self._atoms(unpack(_table_block(self.conn.ingress, dst, cols), len(self.conn.ports)))

    # -- requested connections -----------------------------------------------------------
    def port_mask(self, ports: tuple[IntentPort, ...], classes: Ints) -> PortMask:
        """The requested pieces per destination class; no ports means every connection."""
        k, a = len(classes), len(self.ports)
        if not ports:
            return PortMask(np.ones((k, a), np.bool_), np.zeros(k, np.bool_))
        base = np.zeros(a, np.bool_)
        for p in ports:
            if not p.name:
                base |= self.ports.mask(p.protocol, p.start, p.end)
        mask = np.broadcast_to(base, (k, a)).copy()
        unresolved = np.zeros(k, np.bool_)
        reps = self.conn.classes.reps
        for p in ports:
            if not p.name:
                continue
            for i, c in enumerate(classes.tolist()):
                number = reps[c].named_port(p.name, p.protocol)
                if number is None:
                    unresolved[i] = True
                else:
                    mask[i] |= self.ports.mask(p.protocol, number, number)
        return PortMask(mask, unresolved)

    def external_mask(self, ports: tuple[IntentPort, ...]) -> PortMask:
        """Requested pieces toward external addresses, where named ports never resolve."""
        if not ports:
            return PortMask(np.ones((1, len(self.ports)), np.bool_), np.zeros(1, np.bool_))
        base = np.zeros(len(self.ports), np.bool_)
        for p in ports:
            if not p.name:
                base |= self.ports.mask(p.protocol, p.start, p.end)
        return PortMask(base[None, :], np.array([any(p.name for p in ports)]))

    def ip_mask(self, addresses: IPSet) -> Bool:
        if not addresses:
            return np.zeros(len(self.ips), np.bool_)
        return self.ips.mask(addresses) & self.scope


def _table_block(table: DirectionTable, rows: Ints, cols: Ints) -> Bits:
    """`table.bits[np.ix_(rows, cols)]` without materialising the table (`bits` is the
    whole direction table: 7 GB at 30,000 classes): the engine's block over the distinct
    sorted rows and columns, then gathered in the order asked."""
    if table.materialised:
        return table.bits[np.ix_(rows, cols)]
    r_set, r_at = np.unique(rows, return_inverse=True)
    c_set, c_at = np.unique(cols, return_inverse=True)
    block = table.block(r_set.astype(np.intp), c_set.astype(np.intp))
    out: Bits = block[np.ix_(r_at.reshape(-1), c_at.reshape(-1))]
    return out
