"""The per-direction state behind `lint`'s redundancy checks, over a block of the tables.

A `View` rebuilds one direction's allow table over some target rows and peer columns, but
keeps what the engine's `tiers.build_table` throws away, so that the table *without* any
one rule or policy can be read off it without rebuilding:

- NetworkPolicy tier: for each cell, whether one rule allows it or two or more (`once_r`,
  `twice_r`), and the same counting whole policies (`once_p`, `twice_p`); per row, how
  many policies isolate it (`iso_count` in the context).
- Admin and baseline tiers (first match wins, in priority then written order): the first
  matching rule and its code, the code of the second matching rule (what decides when the
  first is removed) and the code of the first rule of another policy (what decides when
  the first rule's whole policy is removed: its rules are contiguous in the order).

The tiers stack as engine/combine.py says (admin over NetworkPolicy when it isolates the
pod, else over the baseline, over the default); this module only keeps the first-match
codes that let one rule or policy be taken out. `View.final` must equal the engine's
table; tests hold it to that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from microseg.engine import (
    CODE_OF,
    NO_MATCH,
    Code,
    Connectivity,
    RuleCompiler,
    fallthrough,
    hands_down,
    over_codes,
)
from microseg.model.admin import AdminPolicy, AdminRule, AdminTier
from microseg.model.netpol import Direction, NetworkPolicy, PortSpec, Rule

__all__ = [
    "Block",
    "DirectionContext",
    "TierRule",
    "View",
    "pods_that_count",
    "port_block",
]

Mask = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]
Index = npt.NDArray[np.intp]


def port_block(
    rc: RuleCompiler,
    ports: tuple[PortSpec, ...] | None,
    direction: Direction,
    t_glob: Index,
    q_glob: Index,
    atoms: Index | None = None,
    numeric: Mask | None = None,
) -> Mask:
    """[targets, peers, atoms] a rule's ports cover, as the engine computes them: named
    ports resolve on the destination (the target for ingress, the peer for egress).
    `atoms`: only these port atoms (a view's representatives), in that order."""
    if numeric is None:
        numeric = rc.numeric_ports(ports)
    if atoms is not None:
        numeric = numeric[atoms]
    block = np.broadcast_to(numeric, (len(t_glob), len(q_glob), len(numeric))).copy()
    named = [s for s in ports or () if s.name]
    if named:
        # `rc.named_matrix(ports)` on the block's classes only: the whole matrix is
        # classes x atoms, per block.
        if direction is Direction.INGRESS:
            on = t_glob
        else:
            pods = q_glob < rc.n_classes
            on = q_glob[pods]
        small = np.zeros((len(on), len(rc.ports)), dtype=np.bool_)
        for spec in named:
            at = rc.named_atoms(spec.protocol, spec.name)[on]
            ok = np.flatnonzero(at >= 0)
            small[ok, at[ok]] = True
        if atoms is not None:
            small = small[:, atoms]
        if direction is Direction.INGRESS:
            block |= small[:, None, :]
        else:
            block[:, pods, :] |= small[None, :, :]
    return block


def pods_that_count(conn: Connectivity) -> Mask:
    """Per class, whether a connection from the class to itself is between two endpoints:
    the class has two pods, or a pod built from a template (it stands for its replicas).
    A single pod talking to itself is not connectivity a policy decides."""
    classes = conn.classes
    n = len(classes)
    counts = np.bincount(classes.pod_class, minlength=n)
    if classes.controller is not None:
        counts[classes.controller] += 1
    multi = counts >= 2
    template = np.array([p.from_template for p in conn.cluster.pods], dtype=np.bool_)
    if template.any():
        multi[classes.pod_class[template]] = True
    return np.asarray(multi, dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class Block:
    """A rule's block: `ix` indexes the view's [rows, cols, atoms] arrays, `cols` the
    columns of an array whose rows are the rule's target rows in order."""

    ix: tuple[Any, ...]
    cols: Any
    block: Mask


@dataclass(frozen=True, slots=True)
class TierRule:
    """One admin or baseline rule in evaluation order: `uid` its position in that order,
    `policy` the index of its policy in `cluster.admin_policies`."""

    uid: int
    policy: int
    position: int
    rule: AdminRule
    code: Code


@dataclass(slots=True)
class TierContext:
    rules: list[TierRule] = field(default_factory=list)
    targets: dict[int, Mask] = field(default_factory=dict)
    rule_list: list[Rule | AdminRule] = field(default_factory=list)
    """`rules[k].rule` for every k (what DirectionContext.touching reads)."""


class DirectionContext:
    """What applies in one direction, computed once: NetworkPolicies that isolate
    something, admin and baseline rules in order, and rule peer masks."""

    def __init__(self, conn: Connectivity, direction: Direction) -> None:
        self.conn = conn
        self.rc = conn.rules
        self.direction = direction
        cluster = conn.cluster
        # Targets as sorted class indices, never a mask per policy: 50,000 policies over
        # 30,000 classes would be 1.5 GB of masks, and as many again for a policies x
        # classes matrix; the indices are a few per policy.
        self.netpols: list[tuple[int, NetworkPolicy, Index]] = []
        for i, p in enumerate(cluster.policies):
            if p.affects(direction):
                t = self.rc.policy_target_index(p)
                if len(t):
                    self.netpols.append((i, p, t))
        c = self.rc.n_classes
        lengths = np.array([len(t) for _, _, t in self.netpols], dtype=np.intp)
        classes = (
            np.concatenate([t for _, _, t in self.netpols]).astype(np.intp)
            if self.netpols
            else np.zeros(0, dtype=np.intp)
        )
        by_class = np.argsort(classes, kind="stable")
        # CSR by class: the NetworkPolicies (positions in `netpols`) selecting each class.
        self._np_of_class = np.repeat(np.arange(len(self.netpols), dtype=np.intp), lengths)[
            by_class
        ]
        self._class_start = np.searchsorted(classes[by_class], np.arange(c + 1))
        self.iso_count = np.bincount(classes, minlength=c).astype(np.int64)
        index = {id(p): i for i, p in enumerate(cluster.admin_policies)}
        self.admin = self._tier(cluster.tier(AdminTier.ADMIN), index)
        self.baseline = self._tier(cluster.tier(AdminTier.BASELINE), index)
        self._spans: dict[int, tuple[Sequence[Rule | AdminRule], Index]] = {}
        self._bounds: dict[tuple[PortSpec, ...] | None, Index] = {}
        self._numeric: dict[tuple[PortSpec, ...] | None, Mask] = {}

    def _tier(self, policies: tuple[AdminPolicy, ...], index: dict[int, int]) -> TierContext:
        ctx = TierContext()
        for p in policies:
            t = self.rc.subject_targets(p.subject)
            if not t.any():
                continue
            pi = index[id(p)]
            ctx.targets[pi] = t
            for pos, rule in enumerate(p.rules(self.direction)):
                ctx.rules.append(TierRule(len(ctx.rules), pi, pos, rule, CODE_OF[rule.action]))
                ctx.rule_list.append(rule)
        return ctx

    def netpols_on(self, rows: Index) -> list[int]:
        """Positions in `netpols` of the policies that select some class of `rows`, in
        order."""
        start, stop = self._class_start[rows], self._class_start[rows + 1]
        if len(rows) and int(rows[-1]) - int(rows[0]) + 1 == len(rows):
            picked = self._np_of_class[start[0] : stop[-1]]  # a run of classes: one slice
        else:
            counts = stop - start
            at = np.repeat(start - np.cumsum(counts) + counts, counts)
            picked = self._np_of_class[at + np.arange(int(counts.sum()))]
        out: list[int] = np.unique(picked).tolist()
        return out

    def peers(self, rule: Rule | AdminRule) -> Index:
        """The rule's peer columns, sorted (memoised by the engine per peer list: a mask
        per rule would cost rules x columns, quadratic in the size of one big policy)."""
        return self.rc.peer_index(rule.peers)

    def touching(self, rules: Sequence[Rule | AdminRule], lo: int, hi: int) -> list[int]:
        """Positions of the rules with a peer column in `[lo, hi)`: a view over a range of
        columns looks at those only, so that a policy of 10,000 rules costs each block the
        few it meets (one vectorised test over the rules' column spans, then one binary
        search each)."""
        key = id(rules)
        cached = self._spans.get(key)
        if cached is not None and cached[0] is rules:
            spans = cached[1]
        else:
            spans = np.array(
                [
                    (int(p[0]), int(p[-1])) if len(p) else (1, 0)
                    for p in (self.peers(r) for r in rules)
                ],
                dtype=np.intp,
            ).reshape(-1, 2)
            self._spans[key] = (rules, spans)
        near = np.flatnonzero((spans[:, 0] < hi) & (spans[:, 1] >= lo)).tolist()
        out = []
        for k in near:
            cols = self.peers(rules[k])
            i = int(np.searchsorted(cols, lo))
            if i < len(cols) and cols[i] < hi:
                out.append(k)
        return out

    def numeric(self, ports: tuple[PortSpec, ...] | None) -> Mask:
        """`rc.numeric_ports(ports)`, remembered: policy sets repeat a few port lists."""
        out = self._numeric.get(ports)
        if out is None:
            out = self._numeric[ports] = self.rc.numeric_ports(ports)
        return out

    def port_bounds(self, ports: tuple[PortSpec, ...] | None) -> Index:
        """Atoms `a` where a rule's numeric ports differ between `a` and `a + 1`."""
        out = self._bounds.get(ports)
        if out is None:
            mask = self.numeric(ports)
            out = self._bounds[ports] = np.flatnonzero(mask[1:] != mask[:-1])
        return out


class View:
    """One direction's table state over `rows` (target classes) x `cols` (peer columns) x
    `atoms` (representative port atoms: every atom of a run the view's rules and the other
    direction treat alike stands for the run, lint_redundancy.py `representatives`;
    None: every atom)."""

    def __init__(
        self, ctx: DirectionContext, rows: Index, cols: Index, atoms: Index | None = None
    ) -> None:
        self.ctx = ctx
        rc = ctx.rc
        self.rows, self.cols = rows, cols
        self.atoms = atoms
        n, m = len(rows), len(cols)
        a = len(rc.ports) if atoms is None else len(atoms)
        self.shape = (n, m, a)
        self.span = _span(cols)
        self.rowpos = np.full(rc.n_classes, -1, dtype=np.intp)
        self.rowpos[rows] = np.arange(n)
        self.once_r = np.zeros(self.shape, dtype=np.bool_)
        self.twice_r = np.zeros(self.shape, dtype=np.bool_)
        self.once_p = np.zeros(self.shape, dtype=np.bool_)
        self.twice_p = np.zeros(self.shape, dtype=np.bool_)
        self._unions: dict[int, tuple[NetworkPolicy, Index, Mask]] = {}
        room = n * m * a
        for k in ctx.netpols_on(rows):
            _, policy, targets = ctx.netpols[k]
            t_loc = self.local_rows(targets)
            union = self.policy_union(policy, t_loc)
            if union.size <= room:  # kept for `without_netpol`, within the view's size
                self._unions[id(policy)] = (policy, t_loc, union)
                room -= union.size
            seen = self.once_p[t_loc]
            self.twice_p[t_loc] |= seen & union
            self.once_p[t_loc] = seen | union
        self.iso = ctx.iso_count[rows] > 0
        self.admin = _TierState(self, ctx.admin)
        self.base = _TierState(self, ctx.baseline)
        self.npallow = self.once_r
        self.fallthrough = fallthrough(self.iso, self.npallow, (self.base.first,))
        self.final = over_codes(self.admin.first, self.fallthrough)
        self.open = hands_down(self.admin.first)

    # -- blocks --------------------------------------------------------------------
    def local_rows(self, targets: Mask | Index) -> Index:
        """Positions in the view's rows of the target classes (a mask over classes, or
        their sorted indices), in ascending order."""
        if targets.dtype == np.bool_:
            return self.rowpos[self.rows[targets[self.rows]]]
        pos = self.rowpos[targets]
        return np.sort(pos[pos >= 0])

    def rules(self, rules: Sequence[Rule | AdminRule]) -> list[int]:
        """Positions of the rules that can have cells in the view."""
        if self.span is None:
            return list(range(len(rules)))
        return self.ctx.touching(rules, *self.span)

    def _peer_positions(self, rule: Rule | AdminRule) -> Index:
        cols = self.ctx.peers(rule)
        if self.span is not None:
            lo, hi = self.span
            a, b = np.searchsorted(cols, (lo, hi))
            return cols[a:b] - lo
        # The view's columns (few: representatives of groups) looked up among the rule's.
        at = np.searchsorted(cols, self.cols)
        found = at < len(cols)
        found[found] = cols[at[found]] == self.cols[found]
        return np.flatnonzero(found)

    def rule_block(self, rule: Rule | AdminRule, t_loc: Index) -> Block:
        """The rule's block over `t_loc` x its peer columns, with how to index it.

        Contiguous rows and columns (the usual case: classes come namespace by namespace)
        are indexed with slices, so that reading and writing the view's arrays there
        works on views instead of gathered copies; so are contiguous rows with peers
        covering most columns, the block then widened to every column."""
        q_loc = self._peer_positions(rule)
        if not len(q_loc) or not len(t_loc):
            empty = np.zeros((len(t_loc), 0, self.shape[2]), dtype=np.bool_)
            return Block(np.ix_(t_loc, q_loc), q_loc, empty)
        block = port_block(
            self.ctx.rc,
            rule.ports,
            self.ctx.direction,
            self.rows[t_loc],
            self.cols[q_loc],
            self.atoms,
            self.ctx.numeric(rule.ports),
        )
        if t_loc[-1] - t_loc[0] + 1 != len(t_loc):
            return Block(np.ix_(t_loc, q_loc), q_loc, block)
        rows = slice(int(t_loc[0]), int(t_loc[-1]) + 1)
        if q_loc[-1] - q_loc[0] + 1 == len(q_loc):
            cols = slice(int(q_loc[0]), int(q_loc[-1]) + 1)
            return Block((rows, cols), cols, block)
        if 2 * len(q_loc) >= self.shape[1]:
            wide = np.zeros((len(t_loc), *self.shape[1:]), dtype=np.bool_)
            wide[:, q_loc] = block
            return Block((rows, slice(None)), slice(None), wide)
        return Block(np.ix_(t_loc, q_loc), q_loc, block)

    def policy_union(self, policy: NetworkPolicy, t_loc: Index, count: bool = True) -> Mask:
        """The union of a NetworkPolicy's rule blocks over `t_loc` x all columns; with
        `count`, each rule is also counted into once_r/twice_r."""
        union = np.zeros((len(t_loc), *self.shape[1:]), dtype=np.bool_)
        rules = policy.rules(self.ctx.direction)
        for pos in self.rules(rules):
            b = self.rule_block(rules[pos], t_loc)
            if not b.block.size:
                continue
            block, ix = b.block, b.ix
            union[:, b.cols] |= block
            if count:
                seen = self.once_r[ix]
                self.twice_r[ix] = self.twice_r[ix] | (seen & block)
                self.once_r[ix] = seen | block
        return union

    # -- the table without one rule or policy ----------------------------------------
    def without_netpol(self, policy: NetworkPolicy, targets: Mask | Index) -> tuple[Index, Mask]:
        """Rows the policy selects, and the final table on them once it is removed: where
        another policy still isolates the row, the other policies' rules; elsewhere the
        row falls to the baseline (the policy no longer isolates it)."""
        t_loc = self.local_rows(targets)
        kept = self._unions.get(id(policy))
        if kept is not None and kept[0] is policy and np.array_equal(kept[1], t_loc):
            union = kept[2]
        else:
            union = self.policy_union(policy, t_loc, count=False)
        others = self.twice_p[t_loc] | (self.once_p[t_loc] & ~union)
        still = self.ctx.iso_count[self.rows[t_loc]] >= 2
        below = fallthrough(still, others, (self.base.first[t_loc],))
        return t_loc, over_codes(self.admin.first[t_loc], below)

    def without_admin_policy(self, pi: int, targets: Mask | Index) -> tuple[Index, Mask]:
        t_loc = self.local_rows(targets)
        first = self.admin.first[t_loc]
        mine = self.admin.first_policy(t_loc) == pi
        codes = np.where(mine, self.admin.second_p[t_loc], first).astype(np.int8)
        return t_loc, over_codes(codes, self.fallthrough[t_loc])

    def without_baseline_policy(self, pi: int, targets: Mask | Index) -> tuple[Index, Mask]:
        t_loc = self.local_rows(targets)
        base = self.base.first[t_loc]
        mine = self.base.first_policy(t_loc) == pi
        codes = np.where(mine, self.base.second_p[t_loc], base)
        below = fallthrough(self.iso[t_loc], self.npallow[t_loc], (codes,))
        return t_loc, over_codes(self.admin.first[t_loc], below)


def _span(cols: Index) -> tuple[int, int] | None:
    """`[lo, hi)` when `cols` is a run of consecutive columns, else None."""
    if not len(cols):
        return (0, 0)
    lo, hi = int(cols[0]), int(cols[-1]) + 1
    return (lo, hi) if hi - lo == len(cols) else None


class _TierState:
    """First-match codes of one tier over a view, with the runner-up codes. `first_rule`
    and `first_pol` say which rule (uid) and which policy decided first (-1: none);
    `reached` which rules are the first match somewhere in the view."""

    def __init__(self, view: View, tier: TierContext) -> None:
        self.tier = tier
        shape = view.shape
        self.first = np.zeros(shape, dtype=np.int8)
        # Narrow ids halve the memory traffic of the per-rule updates.
        small = max(len(tier.rules), len(view.ctx.conn.cluster.admin_policies)) < 2**15
        ids = np.int16 if small else np.int32
        self.first_rule = np.full(shape, -1, dtype=ids)
        self.first_pol = np.full(shape, -1, dtype=ids)
        self.second_r = np.zeros(shape, dtype=np.int8)
        self.second_p = np.zeros(shape, dtype=np.int8)
        self.reached: set[int] = set()
        local = {pi: view.local_rows(t) for pi, t in tier.targets.items()}
        for k in view.rules(tier.rule_list):
            tr = tier.rules[k]
            t_loc = local[tr.policy]
            if not len(t_loc):
                continue
            b = view.rule_block(tr.rule, t_loc)
            if not b.block.size:
                continue
            block, ix = b.block, b.ix
            first = self.first[ix]
            open_ = first == NO_MATCH
            new = block & open_
            taken = block & ~open_
            if taken.any():
                second = self.second_r[ix]
                second[taken & (second == NO_MATCH)] = tr.code
                self.second_r[ix] = second
                other = self.second_p[ix]
                other[taken & (self.first_pol[ix] != tr.policy) & (other == NO_MATCH)] = tr.code
                self.second_p[ix] = other
            if new.any():
                self.reached.add(tr.uid)
                first[new] = tr.code
                self.first[ix] = first
                for table, value in ((self.first_rule, tr.uid), (self.first_pol, tr.policy)):
                    sub = table[ix]
                    sub[new] = value
                    table[ix] = sub

    def first_policy(self, t_loc: Index) -> npt.NDArray[np.signedinteger[Any]]:
        return self.first_pol[t_loc]
