"""Explanations: which tier, policy and rule decided which part of a connection.

Explanations are computed per query from the policies themselves (port specs resolved
against the destination pod), not read back from the allow tables, so a test can hold
the two against each other. The steps follow the evaluation order of `tiers.py`: admin
rules (first match per port wins; Pass hands the port down), then NetworkPolicy when it
isolates the endpoint, else the baseline rules, else the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from microseg.engine.query import Step, Tier, Trace, Verdict
from microseg.model.admin import Action, AdminRule, AdminTier
from microseg.model.netpol import Direction, PortSpec, Rule
from microseg.model.objects import Pod
from microseg.model.sets import ConnSet, IntervalSet

if TYPE_CHECKING:
    from microseg.engine.connectivity import Connectivity, Endpoint
    from microseg.engine.rules import RuleCompiler

__all__ = ["explain_direction", "external_trace", "rule_conns"]

_EFFECT = {Action.ALLOW: Verdict.ALLOW, Action.DENY: Verdict.DENY, Action.PASS: Verdict.PASS}
_ALL = ConnSet.all()
_NONE = ConnSet.none()


# Set algebra with the trivial cases answered first. ConnSet is canonical (sets.py), so
# these return what the full operation would; they matter because most queries combine a
# rule's ports with "everything still undecided" or "nothing allowed yet", and the general
# operation walks every protocol's intervals (B4: about a third of a query's time).
def _meet(a: ConnSet, b: ConnSet) -> ConnSet:
    if not a or not b:
        return _NONE
    if b == _ALL:
        return a
    if a == _ALL:
        return b
    return a & b


def _join(a: ConnSet, b: ConnSet) -> ConnSet:
    if not a:
        return b
    if not b:
        return a
    return a | b


def _minus(a: ConnSet, b: ConnSet) -> ConnSet:
    if not a or not b:
        return a
    if b == _ALL:
        return _NONE
    return a - b


def rule_conns(ports: tuple[PortSpec, ...] | None, destination: Pod | None) -> ConnSet:
    """The connections a rule's port list admits toward `destination` (None: external)."""
    if ports is None:
        return _ALL
    out = _NONE
    for spec in ports:
        if not spec.name:
            out = _join(out, ConnSet.of({spec.protocol: IntervalSet.span(spec.start, spec.end)}))
        elif destination is not None:
            number = destination.named_port(spec.name, spec.protocol)
            if number is not None:
                out = _join(out, ConnSet.single(spec.protocol, number))
    return out


def _peer_columns(conn: Connectivity, peer: Endpoint) -> list[int]:
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


class _Walk:
    """Accumulates steps while tracking which connections are still undecided."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.undecided = _ALL
        self.allowed = _NONE

    def first_match(
        self,
        conn: Connectivity,
        tier: AdminTier,
        direction: Direction,
        klass: int,
        columns: list[int],
        destination: Pod | None,
    ) -> tuple[list[str], ConnSet]:
        """One tier's rules in order; returns the policies that apply and what Passed."""
        rc = conn.rules
        label = Tier.ADMIN if tier is AdminTier.ADMIN else Tier.BASELINE
        refs: list[str] = []
        passed = _NONE
        open_ = self.undecided
        for policy in conn.cluster.tier(tier):
            if not policy.rules(direction) or not rc.subject_targets(policy.subject)[klass]:
                continue
            refs.append(f"{policy.short_kind} {policy.name}")
            for rule in policy.rules(direction):
                if not open_ or not _matches_all(rc, rule, columns):
                    continue
                part = _meet(rule_conns(rule.ports, destination), open_)
                if not part:
                    continue
                effect = _EFFECT[rule.action]
                kind = policy.short_kind if policy.short_kind == "CNP" else ""
                self.steps.append(
                    Step(label, effect, part, policy.name, rule.index, rule.origin, rule.name, kind)
                )
                open_ = _minus(open_, part)
                if rule.action is Action.PASS:
                    passed = _join(passed, part)
                else:
                    self.undecided = _minus(self.undecided, part)
                    if rule.action is Action.ALLOW:
                        self.allowed = _join(self.allowed, part)
        return refs, passed


def explain_direction(
    conn: Connectivity, direction: Direction, endpoint: Endpoint, peer: Endpoint
) -> Trace:
    """Why `endpoint`'s policies allow (or not) traffic with `peer` in `direction`."""
    assert endpoint.klass is not None
    klass = endpoint.klass
    rc = conn.rules
    columns = _peer_columns(conn, peer)
    # For ingress the destination is the endpoint; for egress the peer (None if external).
    if direction is Direction.INGRESS:
        destination: Pod | None = conn.classes.reps[klass]
    else:
        destination = conn.classes.reps[peer.klass] if peer.klass is not None else None
    walk = _Walk()
    guards, _ = walk.first_match(conn, AdminTier.ADMIN, direction, klass, columns, destination)
    table = conn.ingress if direction is Direction.INGRESS else conn.egress
    selecting = [conn.cluster.policies[i] for i in table.policies_of(klass)]
    if selecting:
        np_allowed = _NONE
        for policy in selecting:
            for rule in policy.rules(direction):
                if not _matches_all(rc, rule, columns):
                    continue
                part = _meet(rule_conns(rule.ports, destination), walk.undecided)
                if part:
                    walk.steps.append(
                        Step(Tier.NETPOL, Verdict.ALLOW, part, policy.ref, rule.index, rule.origin)
                    )
                    np_allowed = _join(np_allowed, part)
        rest = _minus(walk.undecided, np_allowed)
        if rest:
            walk.steps.append(Step(Tier.NETPOL, Verdict.DENY, rest))
        walk.allowed = _join(walk.allowed, np_allowed)
    else:
        more, _ = walk.first_match(conn, AdminTier.BASELINE, direction, klass, columns, destination)
        guards += more
        if walk.undecided:
            walk.steps.append(Step(Tier.DEFAULT, Verdict.ALLOW, walk.undecided))
            walk.allowed = _join(walk.allowed, walk.undecided)
    return Trace(
        direction,
        endpoint.name,
        peer.name,
        False,
        bool(selecting),
        tuple(p.ref for p in selecting),
        tuple(walk.steps),
        walk.allowed,
        tuple(guards),
    )


def external_trace(direction: Direction, endpoint: Endpoint, peer: Endpoint) -> Trace:
    steps = (Step(Tier.DEFAULT, Verdict.ALLOW, _ALL),)
    return Trace(direction, endpoint.name, peer.name, True, False, (), steps, _ALL)
