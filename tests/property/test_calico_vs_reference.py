"""The fast engine equals Calico's reference evaluator (engine/spec/calico.py) on random
Calico clusters, for every pod, host endpoint and probe address, on probe connections of
every protocol; and `reach`'s explanation (walked per query from the policies) allows
exactly what the tables allow."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from microseg.engine import Connectivity
from microseg.engine.connectivity import Endpoint
from microseg.engine.options import EngineOptions, HostNetwork
from microseg.engine.spec.calico import calico_allowed
from microseg.model import Cluster, IPSet
from tests.property.calico_clusters import PROBE_ADDRESSES, PROBES, calico_clusters

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(cluster: Cluster, options: EngineOptions) -> None:
    conn = Connectivity.build(cluster, options)
    pods = [
        Endpoint(str(p.workload), klass=int(conn.classes.pod_class[i]))
        for i, p in enumerate(cluster.pods)
    ]
    ends: list[tuple[object, Endpoint]] = list(zip(cluster.pods, pods, strict=True))
    ends += [(a, Endpoint(a, addresses=IPSet.from_address(a))) for a in PROBE_ADDRESSES]
    for src_ref, src in ends:
        for dst_ref, dst in ends:
            if src.klass is None and dst.klass is None:
                continue
            fast, _ = conn.allowed(src, dst)
            decision = conn.reach(src, dst)
            explained = decision.egress.allowed & decision.ingress.allowed
            assert explained == fast, (src.name, dst.name, explained, fast)
            for proto, port in PROBES:
                want = calico_allowed(cluster, src_ref, dst_ref, proto, port, options)  # type: ignore[arg-type]
                got = fast.contains(proto, port)
                assert got == want, (
                    f"{src.name} -> {dst.name} {proto.value}/{port}: engine {got}, reference {want}"
                )


@FAST
@given(calico_clusters())
def test_engine_equals_calico_reference(cluster: Cluster) -> None:
    _check(cluster, EngineOptions())


@FAST
@given(calico_clusters(max_pods=3, max_policies=3))
def test_engine_equals_calico_reference_host_network_as_pods(cluster: Cluster) -> None:
    _check(cluster, EngineOptions(HostNetwork.POD))


@pytest.mark.slow
@SLOW
@given(calico_clusters(max_pods=7, max_policies=8))
def test_engine_equals_calico_reference_many(cluster: Cluster) -> None:
    _check(cluster, EngineOptions())
