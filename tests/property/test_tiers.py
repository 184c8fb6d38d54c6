"""Laws of the guardrail tiers, checked on random clusters through the fast engine."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.engine import Connectivity
from microseg.engine.connectivity import Endpoint
from microseg.model import (
    Action,
    AdminPolicy,
    AdminRule,
    AdminTier,
    Cluster,
    ConnSet,
    Direction,
    IntervalSet,
    LabelSelector,
    PodPeer,
    PortSpec,
    Protocol,
)
from microseg.model.sets import BASE_PROTOCOLS
from tests.property.clusters import clusters, subject

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVERYONE = PodPeer(LabelSelector(), namespace_selector=LabelSelector())


def _pods(cluster: Cluster, conn: Connectivity) -> list[Endpoint]:
    return [
        Endpoint(p.name, klass=int(conn.classes.pod_class[i])) for i, p in enumerate(cluster.pods)
    ]


def _spec_conns(ports: tuple[PortSpec, ...]) -> ConnSet:
    out = ConnSet.none()
    for p in ports:
        out = out | ConnSet.of({p.protocol: IntervalSet.span(p.start, p.end)})
    return out


PORTS = st.lists(
    st.builds(
        lambda proto, a, b: PortSpec(proto, min(a, b), max(a, b)),
        st.sampled_from(list(BASE_PROTOCOLS)),
        st.sampled_from((53, 80, 443, 8080)),
        st.integers(1, 65535),
    ),
    min_size=1,
    max_size=2,
).map(tuple)


def _anp(
    name: str, priority: int, subj: object, action: Action, ports: tuple[PortSpec, ...]
) -> AdminPolicy:
    rule = AdminRule("r0", action, Direction.INGRESS, (EVERYONE,), ports, 0)
    return AdminPolicy("AdminNetworkPolicy", name, AdminTier.ADMIN, priority, subj, (rule,))  # type: ignore[arg-type]


def _shift(cluster: Cluster) -> Cluster:
    """Move existing ANPs to priorities 1-999 so a test can put one above and below all."""
    moved = tuple(
        replace(p, priority=1 + i) if p.tier is AdminTier.ADMIN else p
        for i, p in enumerate(cluster.admin_policies)
    )
    return replace(cluster, admin_policies=moved)


@FAST
@given(clusters(), subject(), PORTS)
def test_highest_priority_deny_is_never_overridden(
    cluster: Cluster, subj: object, ports: tuple[PortSpec, ...]
) -> None:
    cluster = _shift(cluster)
    guarded = replace(
        cluster,
        admin_policies=(*cluster.admin_policies, _anp("top-deny", 0, subj, Action.DENY, ports)),
    )
    conn = Connectivity.build(guarded)
    targets = conn.rules.subject_targets(subj)  # type: ignore[arg-type]
    denied = _spec_conns(ports)
    for src in _pods(guarded, conn):
        for dst in _pods(guarded, conn):
            # Host-network sources are node traffic, which a `namespaces` peer does not match.
            if targets[dst.klass] and not conn.classes.host_network[src.klass]:
                assert not (conn.allowed(src, dst)[0] & denied)


@FAST
@given(clusters(), subject(), PORTS)
def test_pass_hands_the_decision_down_past_lower_denies(
    cluster: Cluster, subj: object, ports: tuple[PortSpec, ...]
) -> None:
    cluster = _shift(cluster)
    plain = replace(
        cluster,
        admin_policies=tuple(p for p in cluster.admin_policies if p.tier is AdminTier.BASELINE),
    )
    with_pass = replace(
        plain,
        admin_policies=(
            *plain.admin_policies,
            _anp("top-pass", 0, subj, Action.PASS, ports),
            _anp(
                "bottom-deny",
                1000,
                subj,
                Action.DENY,
                (PortSpec(Protocol.TCP), PortSpec(Protocol.UDP), PortSpec(Protocol.SCTP)),
            ),
        ),
    )
    a, b = Connectivity.build(plain), Connectivity.build(with_pass)
    targets = b.rules.subject_targets(subj)  # type: ignore[arg-type]
    scope = _spec_conns(ports)
    for src_a, src_b in zip(_pods(plain, a), _pods(with_pass, b), strict=True):
        for dst_a, dst_b in zip(_pods(plain, a), _pods(with_pass, b), strict=True):
            if targets[dst_b.klass]:
                assert a.allowed(src_a, dst_a)[0] & scope == b.allowed(src_b, dst_b)[0] & scope


@FAST
@given(clusters(), subject(), PORTS, st.sampled_from([Action.ALLOW, Action.DENY]))
def test_baseline_never_changes_pods_isolated_by_networkpolicy(
    cluster: Cluster, subj: object, ports: tuple[PortSpec, ...], action: Action
) -> None:
    rule = AdminRule("extra", action, Direction.INGRESS, (EVERYONE,), ports, 0)
    others = tuple(p for p in cluster.admin_policies if p.tier is AdminTier.ADMIN)
    old = next((p for p in cluster.admin_policies if p.tier is AdminTier.BASELINE), None)
    banp = (
        replace(old, ingress=(rule, *old.ingress))
        if old is not None
        else AdminPolicy(
            "BaselineAdminNetworkPolicy", "default", AdminTier.BASELINE, 0, subj, (rule,)
        )  # type: ignore[arg-type]
    )
    after = replace(cluster, admin_policies=(*others, banp))
    a, b = Connectivity.build(cluster), Connectivity.build(after)
    for src_a, src_b in zip(_pods(cluster, a), _pods(after, b), strict=True):
        for dst_a, dst_b in zip(_pods(cluster, a), _pods(after, b), strict=True):
            if b.ingress.isolated[dst_b.klass]:
                assert a.allowed(src_a, dst_a)[0] == b.allowed(src_b, dst_b)[0]
