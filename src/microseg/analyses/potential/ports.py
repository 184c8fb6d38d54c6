"""Connection sets that may also hold named ports nobody can resolve yet.

Why: a rule towards a workload that does not exist (an egress rule to `namespaceSelector:
{}` on port `http`) opens a *name*; which number it becomes depends on the pod that will
answer. Such ports are kept as named atoms beside the numeric ConnSet: (protocol, name), or
(None, name) for an admin policy's `namedPort`, which names no protocol. The universe of
named atoms is every name the policies mention, so "every port" stays a finite set and the
usual algebra (union, intersection, difference) holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.model.sets import ConnSet, Protocol

__all__ = ["Named", "PortSet"]

Named = tuple[Protocol | None, str]


@dataclass(frozen=True, slots=True)
class PortSet:
    numbers: ConnSet = field(default_factory=ConnSet)
    named: frozenset[Named] = frozenset()

    @staticmethod
    def every(universe: frozenset[Named]) -> PortSet:
        return PortSet(ConnSet.all(), universe)

    def __bool__(self) -> bool:
        return bool(self.numbers) or bool(self.named)

    # The tier walk combines mostly empty sets: those cost nothing.
    def __or__(self, other: PortSet) -> PortSet:
        if not other:
            return self
        if not self:
            return other
        return PortSet(self.numbers | other.numbers, self.named | other.named)

    def __and__(self, other: PortSet) -> PortSet:
        if not self or not other:
            return PortSet()
        return PortSet(self.numbers & other.numbers, self.named & other.named)

    def __sub__(self, other: PortSet) -> PortSet:
        if not self or not other:
            return self
        return PortSet(self.numbers - other.numbers, self.named - other.named)

    def is_every_number(self) -> bool:
        return self.numbers.is_all()
