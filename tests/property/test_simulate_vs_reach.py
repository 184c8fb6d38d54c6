"""`simulate`'s vectorised replay equals `Connectivity.reach` flow by flow: random clusters
(tiers, primary networks, host-network pods, the mesh), random flow keys between pods,
workloads, Services and addresses, on every port boundary the cluster mentions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.analyses.simulate import expand, key_allowed, lookup, simulate
from microseg.engine import Connectivity, Endpoint, Layer, Verdict
from microseg.model import Cluster, FrozenLabels
from microseg.model.flows import EndpointKind, EndpointResolver, FlowKeys, ObservedEndpoint
from microseg.model.objects import Service, ServicePort
from microseg.model.sets import ConnSet, IPSet, Protocol
from tests.property.clusters import clusters, probe_ports
from tests.property.mesh_clusters import mesh_clusters

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ADDRESSES = ("10.1.2.3", "10.1.9.9", "192.168.1.7", "8.8.8.8", "2001:db8::1", "10.0.0.1")
SERVICE_IP = "10.96.0.10"
PROTOS = ("TCP", "UDP", "SCTP", "ICMPv4")


def _with_service(cluster: Cluster, data: st.DataObject) -> Cluster:
    pod = cluster.pods[0]
    target = data.draw(st.sampled_from([8080, "http", 53]))
    svc = Service(
        pod.namespace,
        "svc",
        FrozenLabels(dict(pod.labels)) if pod.labels else None,
        ports=(ServicePort(Protocol.TCP, 80, target), ServicePort(Protocol.UDP, 53, 53)),
        cluster_ips=(SERVICE_IP,),
    )
    return replace(cluster, services=(svc,))


def _keys(cluster: Cluster, data: st.DataObject) -> FlowKeys:
    eps = [ObservedEndpoint(p.namespace, p.name, "", "") for p in cluster.pods]
    eps += [ObservedEndpoint(p.namespace, "", p.workload.name, "") for p in cluster.pods[:2]]
    eps += [ObservedEndpoint("", "", "", ip) for ip in (*ADDRESSES, SERVICE_IP)]
    eps += [ObservedEndpoint("ns-a", "ghost", "", "")]
    ports = [*probe_ports(cluster), 80]
    n = data.draw(st.integers(1, 40))
    pick = st.integers(0, len(eps) - 1)
    src = np.array([data.draw(pick) for _ in range(n)], np.int64)
    dst = np.array([data.draw(pick) for _ in range(n)], np.int64)
    proto = np.array([data.draw(st.integers(0, len(PROTOS) - 1)) for _ in range(n)], np.int64)
    port = np.array([data.draw(st.sampled_from(ports)) for _ in range(n)], np.int64)
    return FlowKeys(
        tuple(eps),
        PROTOS,
        ("dropped", "forwarded"),
        src,
        dst,
        proto,
        port,
        np.array([data.draw(st.integers(0, 1)) for _ in range(n)], np.int64),
        np.ones(n, np.int64),
    )


def _expected(
    conn: Connectivity, resolver: EndpointResolver, keys: FlowKeys, k: int
) -> bool | None:
    """What `reach` says, endpoint by endpoint; None where simulate must skip the key."""
    proto = keys.protocols[int(keys.protocol[k])]
    if proto not in ("TCP", "UDP", "SCTP"):
        return None
    sides = []
    for i in (int(keys.src[k]), int(keys.dst[k])):
        e = keys.endpoints[i]
        sides.append(resolver.resolve(e.ns, e.pod, e.workload, e.ip))
    if any(r.kind is EndpointKind.UNRESOLVED for r in sides):
        return None
    src, dst = sides
    if src.kind is EndpointKind.SERVICE and not src.pods:
        return None

    def endpoint(r: object, pod: int | None) -> Endpoint:
        assert hasattr(r, "ip")
        if pod is not None:
            return Endpoint("p", klass=int(conn.classes.pod_class[pod]))
        return Endpoint("a", addresses=IPSet.from_address(r.ip))

    s = endpoint(src, src.pods[0] if src.pods else None)
    protocol = Protocol(proto)
    port = int(keys.port[k])
    targets: list[tuple[int | None, int | None]] = []
    if dst.kind is EndpointKind.SERVICE:
        if not dst.pods:
            return None
        for pod in dst.pods:
            mapped = dst.target_port(resolver.named_ports, pod, protocol, port)
            if mapped is None:
                return None
            targets.append((pod, mapped))
    else:
        targets.append((dst.pods[0] if dst.pods else None, port))
    if s.klass is None and targets[0][0] is None:
        return None
    return all(
        conn.reach(s, endpoint(dst, pod), ConnSet.single(protocol, p)).verdict is Verdict.ALLOW
        for pod, p in targets
        if p is not None
    )


def _check(conn: Connectivity, keys: FlowKeys) -> None:
    resolver = EndpointResolver(conn.cluster)
    rows = expand(keys, resolver)
    replayable, allowed = key_allowed(rows, lookup(conn, rows), len(keys))
    for k in range(len(keys)):
        want = _expected(conn, resolver, keys, k)
        assert bool(replayable[k]) == (want is not None), k
        if want is not None:
            assert bool(allowed[k]) == want, (
                k,
                keys.endpoints[int(keys.src[k])],
                keys.endpoints[int(keys.dst[k])],
            )


@FAST
@given(clusters(), st.data())
def test_replay_equals_reach(cluster: Cluster, data: st.DataObject) -> None:
    cluster = _with_service(cluster, data)
    _check(Connectivity.build(cluster), _keys(cluster, data))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mesh_clusters(), st.data(), st.sampled_from(list(Layer)))
def test_replay_equals_reach_with_the_mesh(
    cluster: Cluster, data: st.DataObject, layer: Layer
) -> None:
    cluster = _with_service(cluster, data)
    _check(Connectivity.build(cluster).with_layer(layer), _keys(cluster, data))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.data())
def test_report_counts_balance(cluster: Cluster, data: st.DataObject) -> None:
    """Every key is replayed or skipped for a reason; denials explained by reach agree."""
    cluster = _with_service(cluster, data)
    conn = Connectivity.build(cluster)
    keys = _keys(cluster, data)
    report = simulate(conn, keys)
    assert report.keys == len(keys)
    assert report.replayed + len(keys) - report.replayed == len(keys)
    assert all(f.decision is None or f.decision.verdict is Verdict.DENY for f in report.denied)
    assert report.breaking_total <= report.denied_total <= report.replayed


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_pods=10, max_policies=6), st.data())
def test_replay_equals_reach_many(cluster: Cluster, data: st.DataObject) -> None:
    cluster = _with_service(cluster, data)
    _check(Connectivity.build(cluster), _keys(cluster, data))
