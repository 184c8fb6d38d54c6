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

from dataclasses import dataclass, field

import numpy as np

from microseg.analyses.lint_tables import (
    DirectionContext,
    Index,
    Mask,
    View,
    pods_that_count,
)
from microseg.engine import ALLOW, DENY, Connectivity, DirectionTable, NetworkIsolation, over_codes
from microseg.model.admin import AdminTier
from microseg.model.netpol import Direction

__all__ = ["COVERED", "DECIDED_ABOVE", "Effects", "PolicyKey", "RuleKey", "analyse"]

# Why a NetworkPolicy rule changes nothing (bits of Effects.np_flags): what only it allows
# exists (UNIQUE), and of that some is not decided by the admin tier first (OPEN).
UNIQUE, OPEN = 1, 2
COVERED, DECIDED_ABOVE = 0, UNIQUE


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


def _relevance(
    view: View, other: DirectionTable, multi: Mask, isolation: NetworkIsolation | None = None
) -> Mask:
    """Cells whose change is a change of connectivity (see the module docstring). Pods on
    different primary networks never connect (engine/index/networks.py), so no rule's effect
    on such a pair is a change."""
    c = view.ctx.rc.n_classes
    rel = np.ones(view.shape, dtype=np.bool_)
    pods = view.cols < c
    if pods.any():
        rel[:, pods, :] = other.allow[np.ix_(view.cols[pods], view.rows)].transpose(1, 0, 2)
        if isolation is not None:
            rel[:, pods, :] &= isolation.same(view.rows, view.cols[pods])[:, :, None]
    same = (view.rows[:, None] == view.cols[None, :]) & ~multi[view.rows][:, None]
    rel[same] = False
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
        # Policies that change both directions when removed: their joint cells.
        self.two_way: dict[PolicyKey, Mask] = {}
        for i, p in enumerate(cluster.policies):
            if len(p.policy_types) == 2:
                t = rc.policy_targets(p)
                if t.any():
                    self.two_way[PolicyKey(False, i)] = t
        for i, ap in enumerate(cluster.admin_policies):
            if ap.ingress and ap.egress:
                t = rc.subject_targets(ap.subject)
                if t.any():
                    self.two_way[PolicyKey(True, i)] = t

    def changed(self, key: PolicyKey, diff: Mask) -> None:
        if diff.any():
            self.effects.changed_policies.add(key)

    def one_way(self, key: PolicyKey, t_loc: Index, after: Mask, view: View, rel: Mask) -> None:
        diff = (after != view.final[t_loc]) & rel[t_loc]
        joint = self.two_way.get(key)
        if joint is not None:
            pods = view.cols < len(joint)
            inside = np.zeros(len(view.cols), dtype=np.bool_)
            inside[pods] = joint[view.cols[pods]]
            diff[:, inside] = False
        self.changed(key, diff)

    def direction(self, d: Direction) -> None:
        ctx = self.ctx[d]
        rc = ctx.rc
        other = self.conn.egress if d is Direction.INGRESS else self.conn.ingress
        width = rc.n_peers * max(1, len(rc.ports))
        step = max(1, self.cells // width)
        cols = np.arange(rc.n_peers)
        for lo in range(0, rc.n_classes, step):
            rows = np.arange(lo, min(rc.n_classes, lo + step))
            view = View(ctx, rows, cols)
            rel = _relevance(view, other, self.multi, self.conn.isolation)
            self.netpols(view, rel)
            self.tier(view, rel, baseline=False)
            self.tier(view, rel, baseline=True)

    def netpols(self, view: View, rel: Mask) -> None:
        ctx = view.ctx
        e = self.effects
        for k in np.flatnonzero(ctx.np_matrix[:, view.rows].any(axis=1)):
            pi, policy, targets = ctx.netpols[int(k)]
            t_loc = view.local_rows(targets)
            for pos, rule in enumerate(policy.rules(ctx.direction)):
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
        for tr in tier.rules:
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

    def joint(self, key: PolicyKey, targets: Mask) -> None:
        """Connections between two pods of a two-way policy: both sides change at once."""
        t = np.flatnonzero(targets)
        a = max(1, len(self.conn.ports))
        step = max(1, self.cells // (len(t) * a))
        ctx_e, ctx_i = self.ctx[Direction.EGRESS], self.ctx[Direction.INGRESS]
        for lo in range(0, len(t), step):
            s = t[lo : lo + step]
            ve, vi = View(ctx_e, s, t), View(ctx_i, t, s)
            after_e, after_i = self._without(ve, key, targets), self._without(vi, key, targets)
            before = ve.final & vi.final.transpose(1, 0, 2)
            after = after_e & after_i.transpose(1, 0, 2)
            keep = ~((s[:, None] == t[None, :]) & ~self.multi[s][:, None])
            if self.conn.isolation is not None:  # pods on different networks never connect
                keep &= self.conn.isolation.same(s, t)
            if ((before != after) & keep[:, :, None]).any():
                self.effects.changed_policies.add(key)
                return

    def _without(self, view: View, key: PolicyKey, targets: Mask) -> Mask:
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
