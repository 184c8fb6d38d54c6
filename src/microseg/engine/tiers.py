"""Per-direction allow tables: admin tier, NetworkPolicy, baseline tier, default.

`allow[t, q, a]` says whether target class t admits peer column q on port atom a in the
table's direction: for ingress the peer is the source, for egress the destination.

Order of evaluation per direction (network-policy-api, AdminNetworkPolicy and
BaselineAdminNetworkPolicy API reference):
1. Admin tier: policies by ascending priority, rules in written order; the first rule that
   matches decides. Allow and Deny are final; Pass skips every remaining admin rule.
2. NetworkPolicy: if any NetworkPolicy isolates the pod in this direction, its allow rules
   decide, and the baseline is never consulted.
3. Baseline tier (only for pods no NetworkPolicy isolates): first matching rule decides.
4. Default: allow.
Each port atom is decided on its own, so one connection can be split across tiers.
Work is one numpy block per rule, never per pod pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine.rules import RuleCompiler
from microseg.model.admin import Action, AdminPolicy
from microseg.model.netpol import Direction, NetworkPolicy, PortSpec, Rule

__all__ = ["ALLOW", "DENY", "PASS", "UNDECIDED", "DirectionTable", "build_table"]

UNDECIDED, ALLOW, DENY, PASS = 0, 1, 2, 3
_CODE = {Action.ALLOW: ALLOW, Action.DENY: DENY, Action.PASS: PASS}


@dataclass(frozen=True, slots=True)
class DirectionTable:
    direction: Direction
    isolated: npt.NDArray[np.bool_]
    allow: npt.NDArray[np.bool_]


def _port_block(
    rc: RuleCompiler,
    ports: tuple[PortSpec, ...] | None,
    direction: Direction,
    t_idx: npt.NDArray[np.intp],
    q_idx: npt.NDArray[np.intp],
) -> npt.NDArray[np.bool_]:
    """[targets, peers, atoms] the rule's ports cover; named ports resolve on the destination:
    the target for ingress, the peer for egress (external peers have no named ports)."""
    block = np.broadcast_to(rc.numeric_ports(ports), (len(t_idx), len(q_idx), len(rc.ports))).copy()
    named = rc.named_matrix(ports)
    if named is not None:
        if direction is Direction.INGRESS:
            block |= named[t_idx][:, None, :]
        else:
            pods = q_idx < rc.n_classes
            block[:, pods, :] |= named[q_idx[pods]][None, :, :]
    return block


def _netpol_allow(
    rc: RuleCompiler, policies: tuple[NetworkPolicy, ...], direction: Direction
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    allow = np.zeros((rc.n_classes, rc.n_peers, len(rc.ports)), dtype=np.bool_)
    isolated = np.zeros(rc.n_classes, dtype=np.bool_)
    # Rules with identical peers and ports are merged first: real policy sets repeat them.
    grouped: dict[tuple[object, object], npt.NDArray[np.bool_]] = {}
    for policy in policies:
        if not policy.affects(direction):
            continue
        targets = rc.policy_targets(policy)
        if not targets.any():
            continue
        isolated |= targets
        for rule in policy.rules(direction):
            key = (rule.peers, rule.ports)
            prev = grouped.get(key)
            grouped[key] = targets if prev is None else (prev | targets)
    for (peers, ports), targets in grouped.items():
        rule = Rule(peers, ports, 0)  # type: ignore[arg-type]
        t_idx = np.flatnonzero(targets)
        q_idx = np.flatnonzero(rc.rule_peers(rule))
        if len(q_idx):
            allow[np.ix_(t_idx, q_idx)] |= _port_block(rc, rule.ports, direction, t_idx, q_idx)
    return allow, isolated


def _tier_codes(
    rc: RuleCompiler, policies: tuple[AdminPolicy, ...], direction: Direction
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int8]] | None:
    """First-match-wins decision codes of one tier for the classes it has subjects in:
    `(rows, codes)` with `codes[k]` the row of class `rows[k]`; None when no rule applies.
    Guardrails usually cover a part of the cluster, so only those rows are materialised."""
    active = [
        (policy, rc.subject_targets(policy.subject))
        for policy in policies
        if policy.rules(direction)
    ]
    active = [(p, t) for p, t in active if t.any()]
    if not active:
        return None
    union = np.logical_or.reduce([t for _, t in active])
    rows = np.flatnonzero(union)
    position = np.full(rc.n_classes, -1, dtype=np.intp)
    position[rows] = np.arange(len(rows))
    codes = np.zeros((len(rows), rc.n_peers, len(rc.ports)), dtype=np.int8)
    for policy, targets in active:
        t_idx = np.flatnonzero(targets)
        t_pos = position[t_idx]
        for rule in policy.rules(direction):
            q_idx = np.flatnonzero(rc.rule_peers(rule))
            if not len(q_idx):
                continue
            view = codes[np.ix_(t_pos, q_idx)]
            hit = _port_block(rc, rule.ports, direction, t_idx, q_idx) & (view == UNDECIDED)
            view[hit] = _CODE[rule.action]
            codes[np.ix_(t_pos, q_idx)] = view
    return rows, codes


def build_table(
    rc: RuleCompiler,
    policies: tuple[NetworkPolicy, ...],
    direction: Direction,
    admin: tuple[AdminPolicy, ...] = (),
    baseline: tuple[AdminPolicy, ...] = (),
) -> DirectionTable:
    allow, isolated = _netpol_allow(rc, policies, direction)
    allow[~isolated] = True
    base = _tier_codes(rc, baseline, direction)
    if base is not None:
        rows, codes = base
        open_ = ~isolated[rows]  # the baseline speaks only where no NetworkPolicy isolates
        allow[rows[open_]] = codes[open_] != DENY
    top = _tier_codes(rc, admin, direction)
    if top is not None:
        rows, codes = top
        sub = allow[rows]
        sub |= codes == ALLOW
        sub &= codes != DENY
        allow[rows] = sub
    return DirectionTable(direction, isolated, allow)
