"""Port and IP atoms: the disjoint intervals induced by every range the input mentions.

Any rule's port set is a union of port atoms, and any ipBlock a union of IP atoms, so
connectivity is a boolean per atom and set algebra becomes numpy algebra.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.model.sets import (
    BASE_PROTOCOLS,
    IPV4_MAX,
    IPV6_MAX,
    ConnSet,
    IntervalSet,
    IPSet,
    Protocol,
    domain,
)

__all__ = ["IPAtoms", "PortAtoms"]


def _cuts(lo: int, hi: int, starts: Iterable[int]) -> list[tuple[int, int]]:
    points = sorted({s for s in starts if lo < s <= hi} | {lo})
    return [(a, (points[i + 1] - 1) if i + 1 < len(points) else hi) for i, a in enumerate(points)]


@dataclass(frozen=True, slots=True)
class PortAtoms:
    """Atoms over (protocol, port); `atoms[k] = (protocol, lo, hi)`. `protocols` is the
    universe: SCTP, TCP and UDP for NetworkPolicy, every protocol when Calico policies are
    in the input (model/sets.py, Protocol); each protocol's domain is cut on its own."""

    atoms: tuple[tuple[Protocol, int, int], ...]
    _starts: dict[Protocol, tuple[int, ...]]
    _offset: dict[Protocol, int]
    protocols: tuple[Protocol, ...] = BASE_PROTOCOLS

    @staticmethod
    def build(
        ranges: Iterable[tuple[Protocol, int, int]],
        protocols: tuple[Protocol, ...] = BASE_PROTOCOLS,
    ) -> PortAtoms:
        starts: dict[Protocol, set[int]] = {p: set() for p in Protocol}
        for proto, lo, hi in ranges:
            starts[proto].add(lo)
            starts[proto].add(hi + 1)
        atoms: list[tuple[Protocol, int, int]] = []
        offset: dict[Protocol, int] = {}
        index: dict[Protocol, tuple[int, ...]] = {}
        for proto in protocols:
            offset[proto] = len(atoms)
            cuts = [c for lo, hi in domain(proto) for c in _cuts(lo, hi, starts[proto])]
            index[proto] = tuple(lo for lo, _ in cuts)
            atoms.extend((proto, lo, hi) for lo, hi in cuts)
        return PortAtoms(tuple(atoms), index, offset, tuple(protocols))

    @property
    def wide(self) -> bool:
        """Whether the universe holds more than NetworkPolicy's three protocols."""
        return len(self.protocols) > len(BASE_PROTOCOLS)

    def everything(self) -> ConnSet:
        """The universe as a connection set."""
        return ConnSet.everything() if self.wide else ConnSet.all()

    def __len__(self) -> int:
        return len(self.atoms)

    def atom_of(self, protocol: Protocol, port: int) -> int:
        starts = self._starts[protocol]
        return self._offset[protocol] + bisect.bisect_right(starts, port) - 1

    def mask(self, protocol: Protocol, lo: int, hi: int) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(self.atoms), dtype=np.bool_)
        out[self.atom_of(protocol, lo) : self.atom_of(protocol, hi) + 1] = True
        return out

    def mask_of(self, conns: ConnSet) -> npt.NDArray[np.bool_]:
        """Atoms of the connections (those of protocols outside the universe are dropped)."""
        out = np.zeros(len(self.atoms), dtype=np.bool_)
        for proto, ports in conns.ports:
            if proto not in self._offset:
                continue
            for lo, hi in ports:
                out |= self.mask(proto, lo, hi)
        return out

    def to_connset(self, mask: npt.NDArray[np.bool_]) -> ConnSet:
        per: dict[Protocol, list[tuple[int, int]]] = {}
        for k in np.flatnonzero(mask):
            proto, lo, hi = self.atoms[int(k)]
            per.setdefault(proto, []).append((lo, hi))
        return ConnSet.of({p: IntervalSet.of(v) for p, v in per.items()}, self.wide)


@dataclass(frozen=True, slots=True)
class IPAtoms:
    """Atoms over external addresses, both families. `show_v6` says whether lists should
    print IPv6 ranges: only when the input mentions one, since a single-stack IPv4 cluster
    (and netpol-analyzer's output) has no IPv6 peers to show."""

    v4: tuple[tuple[int, int], ...]
    v6: tuple[tuple[int, int], ...]
    v4_starts: tuple[int, ...]
    v6_starts: tuple[int, ...]
    show_v6: bool

    @staticmethod
    def build(sets: Iterable[IPSet]) -> IPAtoms:
        s4: set[int] = set()
        s6: set[int] = set()
        for s in sets:
            for lo, hi in s.v4:
                s4.update((lo, hi + 1))
            for lo, hi in s.v6:
                s6.update((lo, hi + 1))
        v4 = tuple(_cuts(0, IPV4_MAX, s4))
        v6 = tuple(_cuts(0, IPV6_MAX, s6))
        return IPAtoms(v4, v6, tuple(lo for lo, _ in v4), tuple(lo for lo, _ in v6), bool(s6))

    def __len__(self) -> int:
        return len(self.v4) + len(self.v6)

    def mask(self, s: IPSet) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(self), dtype=np.bool_)
        for lo, hi in s.v4:
            out[self._index(self.v4_starts, lo) : self._index(self.v4_starts, hi) + 1] = True
        base = len(self.v4)
        for lo, hi in s.v6:
            first = base + self._index(self.v6_starts, lo)
            out[first : base + self._index(self.v6_starts, hi) + 1] = True
        return out

    def atom_set(self, k: int) -> IPSet:
        if k < len(self.v4):
            return IPSet(v4=IntervalSet.span(*self.v4[k]))
        return IPSet(v6=IntervalSet.span(*self.v6[k - len(self.v4)]))

    def to_ipset(self, mask: npt.NDArray[np.bool_]) -> IPSet:
        v4 = [self.v4[int(k)] for k in np.flatnonzero(mask[: len(self.v4)])]
        v6 = [self.v6[int(k)] for k in np.flatnonzero(mask[len(self.v4) :])]
        return IPSet(IntervalSet.of(v4), IntervalSet.of(v6))

    def atom_of_address(self, address: IPSet) -> int | None:
        if address.v4:
            return self._index(self.v4_starts, address.v4.intervals[0][0])
        if address.v6:
            return len(self.v4) + self._index(self.v6_starts, address.v6.intervals[0][0])
        return None

    @staticmethod
    def _index(starts: tuple[int, ...], value: int) -> int:
        return bisect.bisect_right(starts, value) - 1
