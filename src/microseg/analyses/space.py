"""The connectivity tables, re-cut so that every range an intent names is a whole atom.

The engine's atoms are induced by the ranges the policies mention, so an intent port
(`TCP/8080`) or group (`203.0.113.0/24`) may cover part of an atom. Whether a connection is
allowed is uniform inside an engine atom, but whether an intent covers it is not: a strict
domain must report `TCP 8000-8079,8081-9000` when a policy opens 8000-9000 and the intents
allow only 8080. So the port and address axes are refined by the intents' own ranges, and
each refined piece reads the allow bit of the engine atom it lies in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine import Connectivity
from microseg.engine.atoms import IPAtoms, PortAtoms
from microseg.model.intent import IntentPort
from microseg.model.sets import IPSet

__all__ = ["PortMask", "Space"]

Bool = npt.NDArray[np.bool_]


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
    p2p: Bool
    """[src class, dst class, port piece]"""
    to_ext: Bool
    """[src class, ip piece, port piece]"""
    from_ext: Bool
    """[dst class, ip piece, port piece]"""
    scope: Bool
    """The address pieces checked: IPv4, and IPv6 when the input or the intents mention it
    (as `connectivity` shows IPv6 peers only then: a single-stack IPv4 cluster has none)."""

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
        pmap = np.array([conn.ports.atom_of(p, lo) for p, lo, _ in patoms.atoms], dtype=np.intp)
        sets = [*addresses, *(conn.ips.atom_set(k) for k in range(len(conn.ips)))]
        iatoms = IPAtoms.build(sets)
        imap = np.array(
            [conn.ips.atom_of_address(iatoms.atom_set(k)) for k in range(len(iatoms))],
            dtype=np.intp,
        )
        # Identity maps (no intent range cuts an atom) keep the engine's arrays: no copy.
        same_p = len(pmap) == len(conn.ports)
        same_i = len(imap) == len(conn.ips)
        p2p = conn.pod_to_pod()
        to_ext, from_ext = conn.to_external(), conn.from_external()
        if not same_p:
            p2p, to_ext, from_ext = p2p[:, :, pmap], to_ext[:, :, pmap], from_ext[:, :, pmap]
        if not same_i:
            to_ext, from_ext = to_ext[:, imap], from_ext[:, imap]
        scope = np.zeros(len(iatoms), np.bool_)
        scope[: len(iatoms.v4)] = True
        scope[len(iatoms.v4) :] = v6 or conn.ips.show_v6
        return Space(conn, patoms, iatoms, p2p, to_ext, from_ext, scope)

    def port_mask(self, ports: tuple[IntentPort, ...], classes: npt.NDArray[np.int64]) -> PortMask:
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
