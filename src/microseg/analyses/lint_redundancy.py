"""Which rules and policies change connectivity when removed (the definition of redundancy).

"Removing it changes no connectivity" is checked exactly, without rebuilding anything per
rule: one direction's table is rebuilt block by block with counts and runner-up codes
(lint_tables.View), the table without the rule or policy is read off it, and a changed
cell counts only when it is connectivity:

- a pod-to-pod cell in one direction matters only where the other direction allows the
  same connection (a connection needs the source's egress and the destination's ingress,
  NetworkPolicy API reference); a cell toward or from an external address always matters;
- a class's cell with itself matters only when the class holds two endpoints
  (`pods_that_count`).

Removing a rule changes one direction, so that is exact. Removing a whole policy that acts
in both directions (a NetworkPolicy of both types, an admin policy with ingress and egress
rules) changes both sides of the connections between its own pods at once; those cells are
left out of the one-direction check and compared jointly (egress and ingress, before and
after) in a second pass over targets x targets.

Removing a NetworkPolicy also drops the isolation it gives (API reference, "Isolated and
non-isolated Pods"): a pod it alone isolated falls to the baseline tier or the default.
Removing a rule keeps its policy's isolation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from microseg.analyses.lint_tables import (
    DirectionContext,
    Index,
    Mask,
    View,
    pods_that_count,
)
from microseg.engine import (
    ALLOW,
    DENY,
    Bits,
    Connectivity,
    DirectionTable,
    over_codes,
    unpack,
)
from microseg.model.admin import AdminRule, AdminTier
from microseg.model.netpol import Direction, Rule
from microseg.model.sets import Protocol

__all__ = [
    "COVERED",
    "DECIDED_ABOVE",
    "Effects",
    "PolicyKey",
    "RuleKey",
    "analyse",
    "atom_bits",
    "representatives",
]

# Why a NetworkPolicy rule changes nothing (bits of Effects.np_flags): what only it allows
# exists (UNIQUE), and of that some is not decided by the admin tier first (OPEN).
UNIQUE, OPEN = 1, 2
COVERED, DECIDED_ABOVE = 0, UNIQUE
# Rows per block of `_Run.direction` (see there).
ROWS_PER_BLOCK = 32


@dataclass(frozen=True, slots=True)
class RuleKey:
    """A rule: `admin` False for `cluster.policies[policy]`, True for
    `cluster.admin_policies[policy]`; `position` indexes `policy.rules(direction)`."""

    admin: bool
    policy: int
    direction: Direction
    position: int


@dataclass(frozen=True, slots=True)
class PolicyKey:
    admin: bool
    policy: int


@dataclass(slots=True)
class Effects:
    changed_rules: set[RuleKey] = field(default_factory=set)
    changed_policies: set[PolicyKey] = field(default_factory=set)
    reached: set[RuleKey] = field(default_factory=set)
    """Admin and baseline rules that are the first match for some cell."""
    nonempty: set[RuleKey] = field(default_factory=set)
    """Admin and baseline rules that match some cell."""
    np_flags: dict[RuleKey, int] = field(default_factory=dict)


def _other_block(other: DirectionTable, rows: Index, cols: Index) -> Bits:
    """`other.bits[rows][:, cols]` (sorted indices), sliced when the table is whole."""
    if other.materialised:
        return other.bits[np.ix_(rows, cols)]
    return other.block(rows, cols)


def atom_bits(bits: Bits, atoms: Index | None, n_atoms: int) -> Mask:
    """Packed `[..., words]` read at port atoms `atoms` (all when None) as booleans."""
    if atoms is None:
        return unpack(bits, n_atoms)
    words = bits[..., atoms // 64]
    return ((words >> (atoms % 64).astype(np.uint64)) & np.uint64(1)).astype(np.bool_)


def representatives(
    ctx: DirectionContext,
    rows: Index,
    cols: Index,
    other: DirectionTable | None = None,
    bits: Bits | None = None,
) -> Index | None:
    """One port atom per run of neighbouring atoms that nothing in `rows` x `cols` tells
    apart: not the numeric or named ports of any rule that can apply there, nor the other
    direction's table (`other`, for relevance). Every array of a view is then equal along
    such a run, and a view over the representatives answers every question (each is
    whether some cell does something) exactly, over a fraction of the cells: a policy
    whose 10,000 rules name 10,000 ports meets few of them in any one block of columns,
    which keeps lint linear in rules. `bits`: packed cells that must be told apart too
    (the grouped relevance of `_Groups`). None: every atom (there is only one)."""
    rc = ctx.rc
    n = len(rc.ports)
    if n <= 1:
        return None
    cut = np.zeros(n - 1, dtype=np.bool_)
    span = _span(cols)

    def rules_of(rules: Sequence[Rule | AdminRule]) -> list[int]:
        return list(range(len(rules))) if span is None else ctx.touching(rules, *span)

    def mark(rule: Rule | AdminRule) -> None:
        cut[ctx.port_bounds(rule.ports)] = True
        named = [p for p in rule.ports or () if p.name]
        if not named:
            return
        on = rows if ctx.direction is Direction.INGRESS else cols[cols < rc.n_classes]
        for p in named:
            at = np.unique(rc.named_atoms(p.protocol, p.name)[on])
            at = at[at >= 0]
            cut[at[at < n - 1]] = True  # the atom differs from the next one
            cut[at[at > 0] - 1] = True  # and from the one before
        return

    for k in ctx.netpols_on(rows):
        _, policy, _ = ctx.netpols[k]
        rules = policy.rules(ctx.direction)
        for pos in rules_of(rules):
            mark(rules[pos])
    for tier in (ctx.admin, ctx.baseline):
        active = {pi for pi, t in tier.targets.items() if t[rows].any()}
        if active:
            for k in rules_of(tier.rule_list):
                if tier.rules[k].policy in active:
                    mark(tier.rules[k].rule)
    if other is not None:
        pods = cols[cols < rc.n_classes]
        if len(pods) and len(rows):
            cut |= _bit_cuts(_other_block(other, pods, rows), n)
    if bits is not None:
        cut |= _bit_cuts(bits, n)
    return np.concatenate(([0], np.flatnonzero(cut) + 1)).astype(np.intp)


def _bit_cuts(bits: Bits, n: int) -> Mask:
    """`[n - 1]`: whether some cell of packed `[..., words]` differs between atoms a and
    a + 1."""
    flat = bits.reshape(-1, bits.shape[-1])
    if not len(flat):
        return np.zeros(n - 1, dtype=np.bool_)
    nxt = np.zeros_like(flat)
    nxt[:, :-1] = flat[:, 1:] << np.uint64(63)
    differs = np.bitwise_or.reduce(flat ^ ((flat >> np.uint64(1)) | nxt), axis=0)
    out: Mask = unpack(differs, n)[: n - 1]
    return out


def _span(cols: Index) -> tuple[int, int] | None:
    if not len(cols):
        return (0, 0)
    lo, hi = int(cols[0]), int(cols[-1]) + 1
    return (lo, hi) if hi - lo == len(cols) else None


def relevant_cells(conn: Connectivity, other: DirectionTable, rows: Index, multi: Mask) -> Bits:
    """`[pod column, row, word]`: the cells of the rows whose change is a change of
    connectivity (see the module docstring): where the other direction allows the same
    connection, both ends on one network, and not a class with itself unless the class
    holds two endpoints (`multi`). One block of the other direction."""
    pods = np.arange(conn.rules.n_classes)
    bits = _other_block(other, pods, rows)
    if conn.isolation is not None:
        bits[~conn.isolation.same(pods, rows)] = 0
    single = rows[~multi[rows]]
    bits[single, np.searchsorted(rows, single)] = 0
    return bits


class _Groups:
    """The peer columns over a block of rows, grouped so that every array a view computes
    is equal across a group: each group is one representative column in the views.

    Two columns are grouped when they are alike for every rule the rows' views look at
    (member of its peers or not, and for egress the atom each named port resolves to
    there), both pods or both addresses, and inside or outside the targets of each
    two-way policy there (`_Run.one_way` leaves those to the joint pass). Every question
    a view answers is whether some cell of such a uniform array, and of relevance, is
    set; so relevance is kept per group as the OR over its columns (`rel`), which makes
    the answer over the representative the answer over the group, exactly.

    Grouping is partition refinement: each member list splits the groups it meets, at a
    cost of its length, so a block costs the peers of the rules that apply to its rows
    and the other direction's block over its rows, never rows x columns x atoms."""

    def __init__(
        self,
        run: _Run,
        ctx: DirectionContext,
        rows: Index,
        cells: Bits,
        live: Index | None = None,
    ):
        self.ctx = ctx
        self.rows = rows
        rc = ctx.rc
        c, n_peers = rc.n_classes, rc.n_peers
        d = ctx.direction
        labels = (np.arange(n_peers) >= c).astype(np.int64)  # compact group numbers
        # Each split sets one bit on its members; every 64 splits the bits are folded
        # into the labels (one sort of the columns), so a split costs its members only.
        marks = np.zeros(n_peers, dtype=np.uint64)
        used = 0
        seen: dict[int, Index] = {}  # refining by the same array twice changes nothing
        named: set[tuple[Protocol, str]] = set()

        def fold() -> tuple[Index, Index]:
            """Labels 0, 1, ... in the order of (label, marks); returns that order of the
            columns and where each label starts in it."""
            nonlocal used
            order = np.lexsort((marks, labels))
            lab, mk = labels[order], marks[order]
            new = np.ones(n_peers, dtype=np.bool_)
            new[1:] = (lab[1:] != lab[:-1]) | (mk[1:] != mk[:-1])
            labels[order] = np.cumsum(new) - 1
            marks[:] = 0
            used = 0
            return order, np.flatnonzero(new)

        def split(members: Index) -> None:
            nonlocal used
            if not len(members) or id(members) in seen:
                return
            seen[id(members)] = members
            marks[members] |= np.uint64(1) << np.uint64(used)
            used += 1
            if used == 64:
                fold()

        def rule(r: Rule | AdminRule) -> None:
            split(ctx.peers(r))
            if d is Direction.EGRESS:
                named.update((p.protocol, p.name) for p in r.ports or () if p.name)

        for k in ctx.netpols_on(rows):
            pi, policy, _ = ctx.netpols[k]
            for r in policy.rules(d):
                rule(r)
            joint = run.two_way.get(PolicyKey(False, pi))
            if joint is not None:
                split(joint)
        for tier in (ctx.admin, ctx.baseline):
            active = {pi for pi, t in tier.targets.items() if t[rows].any()}
            for tr in tier.rules:
                if tr.policy in active:
                    rule(tr.rule)
            for pi in active:
                joint = run.two_way.get(PolicyKey(True, pi))
                if joint is not None:
                    split(joint)
        for protocol, name in sorted(named, key=lambda k: (k[0].value, k[1])):
            for members in run.named_classes(protocol, name):
                split(members)
        order, starts = fold()
        first = np.minimum.reduceat(order, starts)  # each label's first column
        by_rep = np.argsort(first, kind="stable")
        rank = np.empty_like(by_rep)
        rank[by_rep] = np.arange(len(by_rep))
        self.group = rank[labels]
        """Per peer column, its group (groups numbered by their first column)."""
        self.reps = first[by_rep].astype(np.intp)
        """The groups' first columns, ascending: pods' groups, then addresses'."""
        self.n_pod_groups = int(np.searchsorted(self.reps, c))
        self.bits = self._relevance(cells, live)

    def _relevance(self, cells: Bits, live: Index | None) -> Bits:
        """`[pod group, row, word]`: the OR over each group's columns of `cells`
        (`relevant_cells` over the rows, `[pod column, row, word]`); `live`: the columns
        with some cell set (sorted), found here when None."""
        rc = self.ctx.rc
        out = np.zeros((self.n_pod_groups, len(self.rows), rc.n_words), dtype=np.uint64)
        if live is None:
            live = np.flatnonzero(cells.reshape(len(cells), -1).any(axis=1))
        if not len(live):
            return out
        group = self.group[live]
        order = np.argsort(group, kind="stable")
        ordered = group[order]
        starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        out[ordered[starts]] = np.bitwise_or.reduceat(cells[live[order]], starts, axis=0)
        return out

    def blocks(self, cells: int) -> Iterator[tuple[Index, Index | None, Mask]]:
        """Runs of representative columns, each with its representative atoms and its
        relevance `[rows, columns, atoms]`, each run within about `cells` cells."""
        n_rows, n = len(self.rows), len(self.reps)
        whole = self._atoms(0, n)
        a = len(self.ctx.rc.ports) if whole is None else len(whole)
        width = max(1, cells // max(1, n_rows * a))
        for lo in range(0, n, width):
            hi = min(n, lo + width)
            atoms = whole if width >= n else self._atoms(lo, hi)
            yield self.reps[lo:hi], atoms, self._rel(lo, hi, atoms)

    def _atoms(self, lo: int, hi: int) -> Index | None:
        bits = self.bits[lo : min(hi, self.n_pod_groups)]
        return representatives(self.ctx, self.rows, self.reps[lo:hi], bits=bits)

    def _rel(self, lo: int, hi: int, atoms: Index | None) -> Mask:
        rc = self.ctx.rc
        a = len(rc.ports) if atoms is None else len(atoms)
        rel = np.ones((len(self.rows), hi - lo, a), dtype=np.bool_)
        p = max(0, min(hi, self.n_pod_groups) - lo)
        if p:
            bits = self.bits[lo : lo + p]
            rel[:, :p, :] = atom_bits(bits, atoms, len(rc.ports)).transpose(1, 0, 2)
        return rel


class _Run:
    def __init__(
        self, conn: Connectivity, cells: int, contexts: dict[Direction, DirectionContext]
    ) -> None:
        self.conn = conn
        self.cells = cells
        self.effects = Effects()
        self.multi = pods_that_count(conn)
        self.ctx = contexts
        rc = conn.rules
        cluster = conn.cluster
        # Policies that change both directions when removed: their targets (sorted class
        # indices: a mask each would be 1.5 GB for 50,000 policies over 30,000 classes).
        self.two_way: dict[PolicyKey, Index] = {}
        self._named: dict[tuple[Protocol, str], list[Index]] = {}
        for i, p in enumerate(cluster.policies):
            if len(p.policy_types) == 2:
                t = rc.policy_target_index(p)
                if len(t):
                    self.two_way[PolicyKey(False, i)] = t
        for i, ap in enumerate(cluster.admin_policies):
            if ap.ingress and ap.egress:
                t = np.flatnonzero(rc.subject_targets(ap.subject))
                if len(t):
                    self.two_way[PolicyKey(True, i)] = t

    def named_classes(self, protocol: Protocol, name: str) -> list[Index]:
        """The classes where a named port resolves, one sorted array per atom it resolves
        to (kept: `_Groups` splits the columns by each array once a block)."""
        out = self._named.get((protocol, name))
        if out is None:
            at = self.conn.rules.named_atoms(protocol, name)
            order = np.argsort(at, kind="stable")
            values, starts = np.unique(at[order], return_index=True)
            parts = np.split(order.astype(np.intp), starts[1:])
            out = self._named[(protocol, name)] = [
                np.sort(part) for v, part in zip(values.tolist(), parts, strict=True) if v >= 0
            ]
        return out

    def changed(self, key: PolicyKey, diff: Mask) -> None:
        if diff.any():
            self.effects.changed_policies.add(key)

    def one_way(self, key: PolicyKey, t_loc: Index, after: Mask, view: View, rel: Mask) -> None:
        diff = (after != view.final[t_loc]) & rel[t_loc]
        joint = self.two_way.get(key)
        if joint is not None:
            # Peer columns past the classes are addresses, never in `joint`.
            inside = np.isin(view.cols, joint, assume_unique=True)
            diff[:, inside] = False
        self.changed(key, diff)

    def direction(self, d: Direction) -> None:
        """The direction's table in blocks of rows x column groups x representative atoms.
        Columns that every rule applying to the rows treats alike form one group, seen
        through one representative column (`_Groups`): the views never hold the whole
        rows x columns table, which at 150,000 pods is tens of billions of cells."""
        ctx = self.ctx[d]
        rc = ctx.rc
        other = self.conn.egress if d is Direction.INGRESS else self.conn.ingress
        c = rc.n_classes
        # Few rows at a time: the groups grow with the rows (the rows' own classes are
        # peers of their rules), so a view's cells grow as rows squared; and the other
        # direction's block over every pod column (8 bytes a word) stays within `cells`.
        budget = self.cells // max(1, c * rc.n_words)
        step = max(1, min(ROWS_PER_BLOCK, budget))
        # The other direction is read over several blocks at once: each read walks the
        # rule groups that meet the rows, whatever their number.
        outer = max(step, min(8 * step, 8 * budget) // step * step)
        for top in range(0, c, outer):
            span = np.arange(top, min(c, top + outer))
            cells = relevant_cells(self.conn, other, span, self.multi)
            # Which pod columns have a relevant cell in each row: most do not (the other
            # end isolates them), and only those are ORed into their groups.
            nonzero: Mask = np.asarray(cells.any(axis=2))
            for lo in range(0, len(span), step):
                rows = span[lo : lo + step]
                live = np.flatnonzero(nonzero[:, lo : lo + step].any(axis=1))
                groups = _Groups(self, ctx, rows, cells[:, lo : lo + step], live)
                for cols, atoms, rel in groups.blocks(self.cells):
                    view = View(ctx, rows, cols, atoms)
                    self.netpols(view, rel)
                    self.tier(view, rel, baseline=False)
                    self.tier(view, rel, baseline=True)

    def netpols(self, view: View, rel: Mask) -> None:
        ctx = view.ctx
        e = self.effects
        for k in ctx.netpols_on(view.rows):
            pi, policy, targets = ctx.netpols[k]
            t_loc = view.local_rows(targets)
            rules = policy.rules(ctx.direction)
            for pos in view.rules(rules):
                rule = rules[pos]
                key = RuleKey(False, pi, ctx.direction, pos)
                if key in e.changed_rules:
                    continue
                b = view.rule_block(rule, t_loc)
                if not b.block.size:
                    continue
                block, ix = b.block, b.ix
                unique = block & ~view.twice_r[ix]
                if not unique.any():
                    continue
                flags = UNIQUE
                opened = unique & view.open[ix]
                if opened.any():
                    flags |= OPEN
                    if (opened & rel[ix]).any():
                        e.changed_rules.add(key)
                e.np_flags[key] = e.np_flags.get(key, 0) | flags
            pkey = PolicyKey(False, pi)
            if pkey not in e.changed_policies:
                t_loc, after = view.without_netpol(policy, targets)
                self.one_way(pkey, t_loc, after, view, rel)

    def tier(self, view: View, rel: Mask, baseline: bool) -> None:
        ctx = view.ctx
        e = self.effects
        tier = ctx.baseline if baseline else ctx.admin
        state = view.base if baseline else view.admin
        if not tier.rules:
            return
        for uid in state.reached:
            tr = tier.rules[uid]
            e.reached.add(RuleKey(True, tr.policy, ctx.direction, tr.position))
        local = {pi: view.local_rows(t) for pi, t in tier.targets.items()}
        not_iso = ~view.iso[:, None, None]
        for k in view.rules(tier.rule_list):
            tr = tier.rules[k]
            key = RuleKey(True, tr.policy, ctx.direction, tr.position)
            b = view.rule_block(tr.rule, local[tr.policy])
            block, ix = b.block, b.ix
            if not block.any():
                continue
            e.nonempty.add(key)
            if key in e.changed_rules:
                continue
            t_loc = local[tr.policy]
            hit = block & (state.first_rule[ix] == tr.uid) & rel[ix]
            if not hit.any():
                continue
            # What the cells get with the rule, and from the runner-up without it.
            if baseline:
                # A baseline rule speaks where the admin tier hands down and no
                # NetworkPolicy isolates (engine/combine.py: `fallthrough`).
                hit &= view.open[ix] & not_iso[t_loc]
                runner: Mask = over_codes(state.second_r[ix], np.True_)  # over the default
                differs = runner if tr.code == DENY else ~runner
            else:
                fall = view.fallthrough[ix]
                runner = over_codes(state.second_r[ix], fall)
                mine = {ALLOW: True, DENY: False}.get(tr.code)  # None: a Pass
                differs = (runner != mine) if mine is not None else (runner != fall)
            if (hit & differs).any():
                e.changed_rules.add(key)
        for pi, targets in tier.targets.items():
            pkey = PolicyKey(True, pi)
            if pkey in e.changed_policies or not len(local[pi]):
                continue
            if baseline:
                t_loc, after = view.without_baseline_policy(pi, targets)
            else:
                t_loc, after = view.without_admin_policy(pi, targets)
            self.one_way(pkey, t_loc, after, view, rel)

    def joint(self, key: PolicyKey, targets: Index) -> None:
        """Connections between two pods of a two-way policy: both sides change at once."""
        t = targets
        ctx_e, ctx_i = self.ctx[Direction.EGRESS], self.ctx[Direction.INGRESS]
        for s, atoms in self.joint_blocks(t):
            ve, vi = View(ctx_e, s, t, atoms), View(ctx_i, t, s, atoms)
            after_e, after_i = self._without(ve, key, targets), self._without(vi, key, targets)
            before = ve.final & vi.final.transpose(1, 0, 2)
            after = after_e & after_i.transpose(1, 0, 2)
            keep = ~((s[:, None] == t[None, :]) & ~self.multi[s][:, None])
            if self.conn.isolation is not None:  # pods on different networks never connect
                keep &= self.conn.isolation.same(s, t)
            if ((before != after) & keep[:, :, None]).any():
                self.effects.changed_policies.add(key)
                return

    def joint_blocks(self, t: Index) -> Iterator[tuple[Index, Index | None]]:
        """Runs of sources among the targets `t`, with the atoms that both directions'
        rules there tell apart, each run about `cells` cells."""
        ctx_e, ctx_i = self.ctx[Direction.EGRESS], self.ctx[Direction.INGRESS]
        n = max(1, len(self.conn.ports))
        step = max(1, self.cells // (len(t) * n))
        lo = 0
        while lo < len(t):
            s = t[lo : lo + step]
            a = representatives(ctx_e, s, t)
            b = representatives(ctx_i, t, s)
            atoms = None if a is None or b is None else np.union1d(a, b).astype(np.intp)
            yield s, atoms
            lo += len(s)
            size = n if atoms is None else len(atoms)
            step = max(step, self.cells // (len(t) * max(1, size)))

    def _without(self, view: View, key: PolicyKey, targets: Index) -> Mask:
        cluster = self.conn.cluster
        if not key.admin:
            _, after = view.without_netpol(cluster.policies[key.policy], targets)
        elif cluster.admin_policies[key.policy].tier is AdminTier.BASELINE:
            _, after = view.without_baseline_policy(key.policy, targets)
        else:
            _, after = view.without_admin_policy(key.policy, targets)
        return after


def analyse(
    conn: Connectivity,
    cells: int = 2_000_000,
    contexts: dict[Direction, DirectionContext] | None = None,
) -> Effects:
    """Exact removal effects of every rule and policy. `cells` bounds the size of the
    blocks worked on at once (memory is about 30 bytes per cell)."""
    if contexts is None:
        contexts = {d: DirectionContext(conn, d) for d in Direction}
    run = _Run(conn, cells, contexts)
    for d in Direction:
        run.direction(d)
    for key, targets in run.two_way.items():
        if key not in run.effects.changed_policies:
            run.joint(key, targets)
    return run.effects
