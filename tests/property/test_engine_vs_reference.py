"""The fast engine equals the reference evaluator on random clusters."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from microseg.engine import Connectivity, Verdict
from microseg.engine.connectivity import Endpoint
from microseg.engine.options import EngineOptions, HostNetwork
from microseg.engine.spec.netpol import allowed as reference_allowed
from microseg.model import Cluster, ConnSet, IPSet
from microseg.model.sets import BASE_PROTOCOLS
from tests.property.clusters import PROBE_ADDRESSES, clusters, probe_ports

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(cluster: Cluster, options: EngineOptions) -> None:
    conn = Connectivity.build(cluster, options)
    pods = [
        Endpoint(f"{p.namespace}/{p.name}", klass=int(conn.classes.pod_class[i]))
        for i, p in enumerate(cluster.pods)
    ]
    ends: list[tuple[object, Endpoint]] = list(zip(cluster.pods, pods, strict=True))
    ends += [(a, Endpoint(a, addresses=IPSet.from_address(a))) for a in PROBE_ADDRESSES]
    ports = probe_ports(cluster)
    for src_ref, src in ends:
        for dst_ref, dst in ends:
            if src.klass is None and dst.klass is None:
                continue
            fast, _ = conn.allowed(src, dst)
            for proto in BASE_PROTOCOLS:
                for port in ports:
                    want = reference_allowed(cluster, src_ref, dst_ref, proto, port, options)  # type: ignore[arg-type]
                    got = fast.contains(proto, port)
                    assert got == want, (
                        f"{src.name} -> {dst.name} {proto.value}/{port}: engine {got}, reference {want}"
                    )


@FAST
@given(clusters())
def test_engine_equals_reference(cluster: Cluster) -> None:
    _check(cluster, EngineOptions())


@FAST
@given(clusters())
def test_engine_equals_reference_host_network_as_pods(cluster: Cluster) -> None:
    _check(cluster, EngineOptions(HostNetwork.POD))


@pytest.mark.slow
@SLOW
@given(clusters(max_pods=9, max_policies=7))
def test_engine_equals_reference_many(cluster: Cluster) -> None:
    _check(cluster, EngineOptions())
    _check(cluster, EngineOptions(HostNetwork.POD))


@FAST
@given(clusters())
def test_explanations_account_for_the_verdict(cluster: Cluster) -> None:
    """The steps of each direction's trace, computed from the policies, add up to what the
    allow tables say; a verdict without a port is ALLOW iff something is allowed."""
    conn = Connectivity.build(cluster)
    eps = [
        Endpoint(f"{p.namespace}/{p.name}", klass=int(conn.classes.pod_class[i]))
        for i, p in enumerate(cluster.pods)
    ]
    for src in eps:
        for dst in eps:
            d = conn.reach(src, dst)
            if d.networks is not None:  # different primary networks: nothing, whatever
                assert d.allowed == ConnSet.none()  # the two directions' policies say
            else:
                assert d.egress.allowed & d.ingress.allowed == d.allowed
            assert (d.verdict is Verdict.ALLOW) == bool(d.allowed)
            for trace in (d.egress, d.ingress):
                union = ConnSet.none()
                for step in trace.steps:
                    if step.effect is Verdict.ALLOW:
                        union = union | step.conns
                assert union == trace.allowed
