"""Explanations: which policy and rule allowed which part of a connection, or that none did.

Explanations are computed per query from the policies themselves (port specs resolved
against the destination pod), not read back from the allow tables, so a test can hold
the two against each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from microseg.engine.query import Step, Tier, Trace, Verdict
from microseg.model.netpol import Direction, PortSpec, Rule
from microseg.model.objects import Pod
from microseg.model.sets import ConnSet, IntervalSet

if TYPE_CHECKING:
    from microseg.engine.connectivity import Connectivity, Endpoint
    from microseg.engine.rules import RuleCompiler

__all__ = ["explain_direction", "external_trace", "rule_conns"]


def rule_conns(ports: tuple[PortSpec, ...] | None, destination: Pod | None) -> ConnSet:
    """The connections a rule's port list admits toward `destination` (None: external)."""
    if ports is None:
        return ConnSet.all()
    out = ConnSet.none()
    for spec in ports:
        if not spec.name:
            out = out | ConnSet.of({spec.protocol: IntervalSet.span(spec.start, spec.end)})
        elif destination is not None:
            number = destination.named_port(spec.name, spec.protocol)
            if number is not None:
                out = out | ConnSet.single(spec.protocol, number)
    return out


def _peer_columns(conn: Connectivity, peer: Endpoint) -> list[int]:
    if peer.klass is not None:
        return [peer.klass]
    assert peer.addresses is not None
    return [conn.n_classes + int(k) for k in conn.ips.mask(peer.addresses).nonzero()[0]]


def explain_direction(
    conn: Connectivity, direction: Direction, endpoint: Endpoint, peer: Endpoint
) -> Trace:
    """Why `endpoint`'s policies allow (or not) traffic with `peer` in `direction`."""
    assert endpoint.klass is not None
    klass = endpoint.klass
    rc = conn.rules
    selecting = [
        p for p in conn.cluster.policies if p.affects(direction) and rc.policy_targets(p)[klass]
    ]
    if not selecting:
        return Trace(
            direction,
            endpoint.name,
            peer.name,
            False,
            False,
            (),
            (Step(Tier.DEFAULT, Verdict.ALLOW, ConnSet.all()),),
            ConnSet.all(),
        )
    columns = _peer_columns(conn, peer)
    # For ingress the destination is the endpoint; for egress the peer (None if external).
    if direction is Direction.INGRESS:
        destination: Pod | None = conn.classes.reps[klass]
    else:
        destination = conn.classes.reps[peer.klass] if peer.klass is not None else None
    steps: list[Step] = []
    allowed = ConnSet.none()
    for policy in selecting:
        for rule in policy.rules(direction):
            if not _matches_all(rc, rule, columns):
                continue
            conns = rule_conns(rule.ports, destination)
            if conns:
                steps.append(
                    Step(Tier.NETPOL, Verdict.ALLOW, conns, policy.ref, rule.index, rule.origin)
                )
                allowed = allowed | conns
    rest = ConnSet.all() - allowed
    if rest:
        steps.append(Step(Tier.DEFAULT, Verdict.DENY, rest))
    refs = tuple(p.ref for p in selecting)
    return Trace(direction, endpoint.name, peer.name, False, True, refs, tuple(steps), allowed)


def _matches_all(rc: RuleCompiler, rule: Rule, columns: list[int]) -> bool:
    mask = rc.rule_peers(rule)
    return bool(columns) and all(bool(mask[c]) for c in columns)


def external_trace(direction: Direction, endpoint: Endpoint, peer: Endpoint) -> Trace:
    return Trace(
        direction,
        endpoint.name,
        peer.name,
        True,
        False,
        (),
        (Step(Tier.DEFAULT, Verdict.ALLOW, ConnSet.all()),),
        ConnSet.all(),
    )
