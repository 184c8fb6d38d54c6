"""Explanations: which tier, policy and rule decided which part of a connection.

Explanations are computed per query from the policies themselves (port specs resolved
against the destination pod), not read back from the allow tables, so a test can hold
the two against each other. The steps follow the evaluation order of `tiers.py`: admin
rules (first match per port wins; Pass hands the port down), then NetworkPolicy when it
isolates the endpoint, else the baseline rules, else the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from microseg.engine.combine import CODE_OF, TierStep, TierWalk, join, walk_tiers
from microseg.engine.query import PolicyKind, Step, Tier, Trace, Verdict
from microseg.model.admin import Action, AdminRule, AdminTier
from microseg.model.netpol import Direction, PortSpec, Rule
from microseg.model.objects import Pod
from microseg.model.sets import ConnSet, IntervalSet

if TYPE_CHECKING:
    from microseg.engine.assembly import Endpoint, Index
    from microseg.engine.index.rules import RuleCompiler

__all__ = ["explain_direction", "external_trace", "peer_columns", "rule_conns"]

_EFFECT = {Action.ALLOW: Verdict.ALLOW, Action.DENY: Verdict.DENY, Action.PASS: Verdict.PASS}
_ALL = ConnSet.all()
_NONE = ConnSet.none()


def rule_conns(ports: tuple[PortSpec, ...] | None, destination: Pod | None) -> ConnSet:
    """The connections a rule's port list admits toward `destination` (None: external)."""
    if ports is None:
        return _ALL
    out = _NONE
    for spec in ports:
        if not spec.name:
            out = join(out, ConnSet.of({spec.protocol: IntervalSet.span(spec.start, spec.end)}))
        elif destination is not None:
            number = destination.named_port(spec.name, spec.protocol)
            if number is not None:
                out = join(out, ConnSet.single(spec.protocol, number))
    return out


def peer_columns(conn: Index, peer: Endpoint) -> list[int]:
    if peer.klass is not None:
        return [peer.klass]
    assert peer.addresses is not None
    return [conn.n_classes + int(k) for k in conn.ips.mask(peer.addresses).nonzero()[0]]


def _matches_all(rc: RuleCompiler, rule: Rule | AdminRule, columns: list[int]) -> bool:
    """Whether the rule's peers hold every column. Asked of each peer's (memoised) mask
    rather than of the rule's union mask, which would cost a fresh vector over every
    class and address atom per rule and query (30,000 columns at 150,000 pods)."""
    if not columns:
        return False
    if rule.peers is None:
        return True  # no `from`/`to`: every peer (API reference, NetworkPolicyIngressRule)
    masks = [rc.peer_mask(peer) for peer in rule.peers]
    return all(any(bool(m[c]) for m in masks) for c in columns)


class _Steps:
    """The steps of one direction's explanation, gathered tier by tier as
    engine/combine.py walks them."""

    def __init__(self, conn: Index, direction: Direction, klass: int, columns: list[int]) -> None:
        self.conn, self.direction, self.klass, self.columns = conn, direction, klass, columns
        self.steps: list[Step] = []
        self.guards: list[str] = []

    def first_match(self, tier: AdminTier, destination: Pod | None) -> TierStep:
        """One guardrail tier's rules in order, each deciding what it matches first."""
        label = Tier.ADMIN if tier is AdminTier.ADMIN else Tier.BASELINE
        rc = self.conn.rules

        def run(walk: TierWalk) -> None:
            for policy in self.conn.cluster.tier(tier):
                rules = policy.rules(self.direction)
                if not rules or not rc.subject_targets(policy.subject)[self.klass]:
                    continue
                self.guards.append(f"{policy.short_kind} {policy.name}")
                for rule in rules:
                    if not walk.tier_open or not _matches_all(rc, rule, self.columns):
                        continue
                    part = walk.first_match(
                        rule_conns(rule.ports, destination), CODE_OF[rule.action]
                    )
                    if not part:
                        continue
                    self.steps.append(
                        Step(
                            label,
                            _EFFECT[rule.action],
                            part,
                            policy.name,
                            rule.index,
                            rule.origin,
                            rule.name,
                            PolicyKind(policy.short_kind),
                        )
                    )

        return run


def explain_direction(
    conn: Index, direction: Direction, endpoint: Endpoint, peer: Endpoint
) -> Trace:
    """Why `endpoint`'s policies allow (or not) traffic with `peer` in `direction`."""
    assert endpoint.klass is not None
    klass = endpoint.klass
    rc = conn.rules
    columns = peer_columns(conn, peer)
    # For ingress the destination is the endpoint; for egress the peer (None if external).
    if direction is Direction.INGRESS:
        destination: Pod | None = conn.classes.reps[klass]
    else:
        destination = conn.classes.reps[peer.klass] if peer.klass is not None else None
    steps = _Steps(conn, direction, klass, columns)
    table = conn.ingress if direction is Direction.INGRESS else conn.egress
    selecting = [conn.cluster.policies[i] for i in table.policies_of(klass)]

    def netpol(walk: TierWalk) -> bool:
        if not selecting:
            return False
        np_allowed = _NONE
        for policy in selecting:
            for rule in policy.rules(direction):
                if not _matches_all(rc, rule, columns):
                    continue
                part = walk.isolating_allow(rule_conns(rule.ports, destination))
                if part:
                    steps.steps.append(
                        Step(
                            Tier.NETPOL,
                            Verdict.ALLOW,
                            part,
                            policy.ref,
                            rule.index,
                            rule.origin,
                            policy_kind=PolicyKind.NP,
                        )
                    )
                    np_allowed = join(np_allowed, part)
        rest = walk.isolate(np_allowed)
        if rest:
            steps.steps.append(Step(Tier.NETPOL, Verdict.DENY, rest))
        return True

    def default(rest: ConnSet) -> None:
        if rest:
            steps.steps.append(Step(Tier.DEFAULT, Verdict.ALLOW, rest))

    walk = walk_tiers(
        (steps.first_match(AdminTier.ADMIN, destination),),
        netpol,
        (steps.first_match(AdminTier.BASELINE, destination),),
        default,
    )
    return Trace(
        direction,
        endpoint.name,
        peer.name,
        False,
        bool(selecting),
        tuple(p.ref for p in selecting),
        tuple(steps.steps),
        walk.allowed,
        tuple(steps.guards),
    )


def external_trace(
    direction: Direction, endpoint: Endpoint, peer: Endpoint, everything: ConnSet = _ALL
) -> Trace:
    steps = (Step(Tier.DEFAULT, Verdict.ALLOW, everything),)
    return Trace(direction, endpoint.name, peer.name, True, False, (), steps, everything)
