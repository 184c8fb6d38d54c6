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
Work is one numpy block per group of like rules, never per pod pair; the tables hold port
atoms packed into 64-bit words (engine/packed.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from microseg.engine.packed import Bits, full_word, unpack
from microseg.engine.rules import RuleCompiler
from microseg.model.admin import Action, AdminPolicy
from microseg.model.netpol import Direction, NetworkPolicy, PortSpec

__all__ = ["ALLOW", "DENY", "PASS", "UNDECIDED", "DirectionTable", "build_table"]

UNDECIDED, ALLOW, DENY, PASS = 0, 1, 2, 3
_CODE = {Action.ALLOW: ALLOW, Action.DENY: DENY, Action.PASS: PASS}


@dataclass(frozen=True, slots=True)
class DirectionTable:
    """`bits[t, q]` holds the allowed port atoms packed into words (engine/packed.py);
    `allow` is the same table as one boolean per atom, unpacked on first use only, since
    the connectivity list works on the packed form throughout."""

    direction: Direction
    isolated: npt.NDArray[np.bool_]
    bits: Bits
    n_atoms: int
    _dense: list[npt.NDArray[np.bool_]] = field(default_factory=list, compare=False, repr=False)

    @property
    def allow(self) -> npt.NDArray[np.bool_]:
        """`[t, q, atom]` booleans."""
        if not self._dense:
            self._dense.append(unpack(self.bits, self.n_atoms))
        return self._dense[0]

    def cell(self, t: int | np.integer[Any], q: int | np.integer[Any]) -> npt.NDArray[np.bool_]:
        """`allow[t, q]` without unpacking the whole table (for single queries)."""
        return unpack(self.bits[t, q], self.n_atoms)


def _port_words(
    rc: RuleCompiler,
    ports: tuple[PortSpec, ...] | None,
    direction: Direction,
    t_idx: npt.NDArray[np.intp],
    q_idx: npt.NDArray[np.intp],
) -> Bits:
    """The packed port atoms a rule covers for targets `t_idx` and peers `q_idx`, only as
    wide as they vary: `[1, 1, W]` for numeric ports, `[T, 1, W]` or `[1, Q, W]` when named
    ports resolve on the destination: the target for ingress, the peer for egress
    (external peers have no named ports)."""
    words = rc.numeric_words(ports)
    named = rc.named_words(ports)
    if named is None:
        return words[None, None, :]
    if direction is Direction.INGRESS:
        return (named[t_idx] | words)[:, None, :]
    per_peer = np.broadcast_to(words, (len(q_idx), len(words))).copy()
    pods = q_idx < rc.n_classes
    per_peer[pods] |= named[q_idx[pods]]
    return per_peer[None, :, :]


def _netpol_allow(
    rc: RuleCompiler, policies: tuple[NetworkPolicy, ...], direction: Direction
) -> tuple[Bits, npt.NDArray[np.bool_]]:
    bits = np.zeros((rc.n_classes, rc.n_peers, rc.n_words), dtype=np.uint64)
    isolated = np.zeros(rc.n_classes, dtype=np.bool_)
    # Rules with identical peers and ports are merged first (DESIGN.md, "Engine"): real
    # policy sets repeat the same few selectors thousands of times. Their targets are
    # collected as index lists and united once per group.
    grouped: dict[tuple[object, object], list[npt.NDArray[np.intp]]] = {}
    for policy in policies:
        if not policy.affects(direction):
            continue
        t_idx = rc.policy_target_index(policy)
        if not len(t_idx):
            continue
        isolated[t_idx] = True
        for rule in policy.rules(direction):
            grouped.setdefault((rule.peers, rule.ports), []).append(t_idx)
    for (peers, ports), parts in grouped.items():
        q_idx = rc.peer_index(peers)  # type: ignore[arg-type]
        if not len(q_idx):
            continue
        t_idx = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
        cells = np.ix_(t_idx, q_idx)
        bits[cells] |= _port_words(rc, ports, direction, t_idx, q_idx)  # type: ignore[arg-type]
    return bits, isolated


def _tier_bits(
    rc: RuleCompiler, policies: tuple[AdminPolicy, ...], direction: Direction
) -> tuple[npt.NDArray[np.intp], Bits, Bits] | None:
    """First-match-wins decisions of one tier for the classes it has subjects in:
    `(rows, allow, deny)`, packed port atoms with row k for class `rows[k]`, saying where
    the first matching rule is an Allow or a Deny (a Pass or no match is in neither);
    None when no rule applies. Guardrails usually cover a part of the cluster, so only
    those rows are materialised."""
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
    shape = (len(rows), rc.n_peers, rc.n_words)
    decided = np.zeros(shape, dtype=np.uint64)
    verdict = {ALLOW: np.zeros(shape, dtype=np.uint64), DENY: np.zeros(shape, dtype=np.uint64)}
    for policy, targets in active:
        t_idx = np.flatnonzero(targets)
        t_pos = position[t_idx]
        for rule in policy.rules(direction):
            q_idx = rc.peer_index(rule.peers)
            if not len(q_idx):
                continue
            cells = np.ix_(t_pos, q_idx)
            before = decided[cells]
            hit = _port_words(rc, rule.ports, direction, t_idx, q_idx) & ~before
            decided[cells] = before | hit
            code = _CODE[rule.action]
            if code in verdict:
                verdict[code][cells] |= hit
    return rows, verdict[ALLOW], verdict[DENY]


def build_table(
    rc: RuleCompiler,
    policies: tuple[NetworkPolicy, ...],
    direction: Direction,
    admin: tuple[AdminPolicy, ...] = (),
    baseline: tuple[AdminPolicy, ...] = (),
) -> DirectionTable:
    bits, isolated = _netpol_allow(rc, policies, direction)
    full = full_word(len(rc.ports))
    bits[~isolated] = full
    base = _tier_bits(rc, baseline, direction)
    if base is not None:
        rows, _, deny = base
        open_ = ~isolated[rows]  # the baseline speaks only where no NetworkPolicy isolates
        bits[rows[open_]] = full & ~deny[open_]
    top = _tier_bits(rc, admin, direction)
    if top is not None:
        rows, allow, deny = top
        bits[rows] = (bits[rows] | allow) & ~deny
    return DirectionTable(direction, isolated, bits, len(rc.ports))
