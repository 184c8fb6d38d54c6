"""First-match tiers in packed form: what one ordered tier decides over a block.

A tier is a list of rules, each over some target rows, some peer columns and some port
atoms, with a code (Allow, Deny, Pass); the first rule that matches a cell's atom decides
it, and the tier's end action (Calico's defaultAction: Deny, or Pass) decides what no rule
matched on the rows the tier applies to. engine/combine.py stacks the tiers.

Consecutive rules with one code decide like their union (first match among rules that
all allow is "some rule allows"), so a tier is held as runs of one code, each run as
groups of rules with the same peers and ports, targets united: 5,000 Kubernetes
NetworkPolicies in Calico's default tier are one run, materialised as the isolating tier
is (engine/index/tables.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from microseg.engine.combine import ALLOW, DENY, Code, PackedTier
from microseg.engine.index.packed import Bits
from microseg.model.netpol import Direction, PortSpec

if TYPE_CHECKING:
    from microseg.engine.index.tables import Selection

__all__ = ["FirstMatchTier", "Group", "PortMatch", "Run", "runs_of"]

Index = npt.NDArray[np.intp]


class NamedWords(Protocol):
    """What a compiler offers for named ports: `[class, word]` bits of the atoms a list of
    named ports resolves to on each class (engine/index/rules.py RuleCompiler)."""

    def named_words(self, specs: tuple[PortSpec, ...] | None) -> Bits | None: ...


@dataclass(frozen=True, slots=True)
class PortMatch:
    """The port atoms a rule matches toward a destination: `(include | named(d)) &
    ~exclude & ~not_named(d)`, where named ports resolve on the destination d (the
    target for ingress, the peer for egress; addresses have none)."""

    include: Bits
    exclude: Bits
    named: tuple[PortSpec, ...] = ()
    not_named: tuple[PortSpec, ...] = ()

    def key(self) -> tuple[bytes, bytes, tuple[PortSpec, ...], tuple[PortSpec, ...]]:
        return (self.include.tobytes(), self.exclude.tobytes(), self.named, self.not_named)

    def words(
        self, rc: NamedWords, n_classes: int, direction: Direction, t_idx: Index, q_idx: Index
    ) -> Bits:
        """`[1, 1, W]`, `[T, 1, W]` or `[1, Q, W]`: only as wide as it varies."""
        base = self.include & ~self.exclude
        if not self.named and not self.not_named:
            return base[None, None, :]
        add = rc.named_words(self.named) if self.named else None
        sub = rc.named_words(self.not_named) if self.not_named else None
        if direction is Direction.INGRESS:
            w = np.broadcast_to(self.include, (len(t_idx), len(self.include))).copy()
            if add is not None:
                w |= add[t_idx]
            w &= ~self.exclude
            if sub is not None:
                w &= ~sub[t_idx]
            return w[:, None, :]
        w = np.broadcast_to(self.include, (len(q_idx), len(self.include))).copy()
        pods = q_idx < n_classes
        if add is not None:
            w[pods] |= add[q_idx[pods]]
        w &= ~self.exclude
        if sub is not None:
            w[pods] &= ~sub[q_idx[pods]]
        return w[None, :, :]


@dataclass(frozen=True, slots=True)
class Group:
    """Rules of one run with the same peers and ports: their targets united."""

    rows: Index
    peers: Index
    ports: PortMatch


@dataclass(frozen=True, slots=True)
class Run:
    code: Code
    groups: tuple[Group, ...]


def runs_of(entries: Sequence[tuple[Index, Index, PortMatch, Code, object]]) -> tuple[Run, ...]:
    """Consecutive entries `(rows, peers, ports, code, peer_key)` with one code as runs of
    groups (`peer_key` identifies equal peer columns cheaply)."""
    out: list[Run] = []
    current: Code | None = None
    groups: dict[tuple[object, object], list[tuple[Index, Index, PortMatch]]] = {}

    def flush() -> None:
        if current is not None and groups:
            made = []
            for parts in groups.values():
                rows = (
                    parts[0][0]
                    if len(parts) == 1
                    else np.unique(np.concatenate([p[0] for p in parts]))
                )
                made.append(Group(rows, parts[0][1], parts[0][2]))
            out.append(Run(current, tuple(made)))

    for rows, peers, ports, code, peer_key in entries:
        if code != current:
            flush()
            current, groups = code, {}
        if not len(rows) or not len(peers):
            continue
        groups.setdefault((peer_key, ports.key()), []).append((rows, peers, ports))
    flush()
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FirstMatchTier:
    """One tier: `rows` the endpoints it applies to (sorted class indices), its runs in
    order, and its end action on those rows (DENY, PASS) for what no rule decided."""

    rows: Index
    runs: tuple[Run, ...]
    end: Code
    name: str = ""
    _bounds: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def packed(
        self,
        rc: NamedWords,
        n_classes: int,
        direction: Direction,
        r_sel: Selection,
        c_sel: Selection,
        n_words: int,
        everything: Bits,
    ) -> PackedTier | None:
        """What the tier decides over the block `r_sel x c_sel` (engine/index/tables.py
        Selection objects), for the block rows it applies to; None when it applies to none."""
        pos, _ = r_sel.restrict(self.rows)
        if not len(pos):
            return None
        position = np.full(r_sel.count, -1, dtype=np.intp)
        position[pos] = np.arange(len(pos))
        shape = (len(pos), c_sel.count, n_words)
        decided = np.zeros(shape, dtype=np.uint64)
        verdict = {ALLOW: np.zeros(shape, dtype=np.uint64), DENY: np.zeros(shape, dtype=np.uint64)}
        for run in self.runs:
            hit = np.zeros(shape, dtype=np.uint64)
            touched = False
            for g in run.groups:
                tp, tm = r_sel.restrict(g.rows)
                if not len(tp):
                    continue
                qp, qm = c_sel.restrict(g.peers)
                if not len(qp):
                    continue
                t_pos = position[tp]
                hit[np.ix_(t_pos, qp)] |= g.ports.words(rc, n_classes, direction, tm, qm)
                touched = True
            if not touched:
                continue
            hit &= ~decided
            decided |= hit
            if run.code in verdict:
                verdict[run.code] |= hit
        if self.end is DENY:
            verdict[DENY] |= everything & ~decided
        return PackedTier(pos, verdict[ALLOW], verdict[DENY])
