"""`recommend` on random clusters and random flow sets: the recommended set allows every
learnt flow (the engine's own proof, and a rebuild from the written YAML agrees), and
nothing else except the documented additions: what the stable selectors cannot tell apart
(the neighbours a selector also selects), named ports resolving on those neighbours, DNS to
the observed resolvers, and addresses in the aggregated CIDR of an observed address."""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microseg
from microseg.analyses.simulate import PROTO_LIST
from microseg.analyses.synth import RecommendOptions, recommend
from microseg.analyses.synth.labels import choose_selectors
from microseg.analyses.synth.observe import learn
from microseg.engine import Connectivity
from microseg.model import Cluster, FrozenLabels
from microseg.model.flow_window import FlowWindow
from microseg.model.flows import EndpointResolver, FlowKeys, ObservedEndpoint
from microseg.model.objects import Service, ServicePort
from microseg.model.sets import IPSet, Protocol
from microseg.render.recommend import plan_files
from tests.property.clusters import clusters

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXTERNAL = ("8.8.8.8", "8.8.8.9", "8.9.9.9", "192.168.1.5", "2001:db8::1", "203.0.113.9")
PORTS = (53, 80, 443, 8080, 9090)
PROTOS = ("TCP", "UDP", "SCTP")
SERVICE_IP = "10.96.0.10"


def _with_service(cluster: Cluster) -> Cluster:
    pod = next((p for p in cluster.pods if not p.host_network and p.labels), None)
    if pod is None:
        return cluster
    svc = Service(
        pod.namespace,
        "svc",
        FrozenLabels(dict(pod.labels)),
        ports=(ServicePort(Protocol.TCP, 80, "http"), ServicePort(Protocol.UDP, 53, 53)),
        cluster_ips=(SERVICE_IP,),
    )
    return replace(cluster, services=(svc,))


def _keys(cluster: Cluster, data: st.DataObject) -> FlowKeys:
    eps = [ObservedEndpoint(p.namespace, p.name, "", "") for p in cluster.pods]
    eps += [ObservedEndpoint("", "", "", ip) for ip in (*EXTERNAL, SERVICE_IP)]
    n = data.draw(st.integers(1, 25))
    pick = st.integers(0, len(eps) - 1)
    src = np.array([data.draw(pick) for _ in range(n)], np.int64)
    dst = np.array([data.draw(pick) for _ in range(n)], np.int64)
    proto = np.array([data.draw(st.integers(0, 2)) for _ in range(n)], np.int64)
    port = np.array([data.draw(st.sampled_from(PORTS)) for _ in range(n)], np.int64)
    verdict = np.array([data.draw(st.sampled_from([0, 1, 1, 1])) for _ in range(n)], np.int64)
    return FlowKeys(
        tuple(eps),
        PROTOS,
        ("dropped", "forwarded"),
        src,
        dst,
        proto,
        port,
        verdict,
        np.ones(n, np.int64),
    )


def _block(
    address: str, v4: int = 24, v6: int = 64
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    ip = ipaddress.ip_address(address)
    return ipaddress.ip_network(f"{ip}/{v4 if ip.version == 4 else v6}", strict=False)


def check(cluster: Cluster, data: st.DataObject) -> None:
    cluster = _with_service(replace(cluster, policies=()))
    keys = _keys(cluster, data)
    rec = recommend(cluster, FlowWindow(keys), RecommendOptions())
    # (a) the proof: nothing learnt is denied but across primary networks
    assert rec.proof.holds
    assert all(d.cause == "network" for d in rec.proof.denied)

    # the YAML as written, loaded back by microseg's own reader, gives the same tables
    with tempfile.TemporaryDirectory() as tmp:
        for name, text, _ in plan_files(rec.generated):
            (Path(tmp) / name).write_text(text)
        written = microseg.load([tmp]) if rec.generated else Cluster()
    mine = {(p.namespace, p.name): p for p in (g.policy for g in rec.generated)}
    assert {(p.namespace, p.name) for p in written.policies} == set(mine)
    for p in written.policies:
        theirs = mine[(p.namespace, p.name)]
        assert (p.pod_selector, p.policy_types, p.ingress, p.egress) == (
            theirs.pod_selector,
            theirs.policy_types,
            theirs.ingress,
            theirs.egress,
        )

    # (b) nothing allowed beyond the learnt edges and the documented additions
    conn = Connectivity.build(replace(cluster, policies=tuple(mine.values())))
    learnt = learn(cluster, keys, EndpointResolver(cluster))
    choices = choose_selectors(cluster)
    index = {w.key: i for i, w in enumerate(cluster.workloads)}
    w = learnt.n_workloads
    pods = [p for p in cluster.pods if not p.host_network]

    def members(e: int) -> list[int]:
        """Pods (indices into `pods`) a learnt endpoint's peer selector selects."""
        wl = cluster.workloads[e].key
        sel = choices[e].selector
        return [
            k for k, p in enumerate(pods) if p.namespace == wl.namespace and sel.matches(p.labels)
        ]

    edges = list(
        zip(
            learnt.src.tolist(),
            learnt.dst.tolist(),
            learnt.proto.tolist(),
            learnt.port.tolist(),
            strict=True,
        )
    )
    resolvers = {d for s, d, pr, pt in edges if PROTO_LIST[pr] is Protocol.UDP and pt == 53}
    talkers = {s for s, *_ in edges if s < w}

    def port_ok(dst_e: int, b: int, proto: Protocol, learnt_port: int, port: int) -> bool:
        if learnt_port == port:
            return True
        if dst_e >= w:
            return False
        owner = [p for p in cluster.pods if index[p.workload] == dst_e and not p.host_network]
        named = {
            cp.name
            for o in owner
            for cp in o.ports
            if cp.port == learnt_port and cp.protocol is proto and cp.name
        }
        return any(pods[b].named_port(n, proto) == port for n in named)

    def near(address: str, e: int) -> bool:
        return e >= w and ipaddress.ip_address(address) in _block(learnt.addresses[e - w])

    def justified(src: int | str, dst: int | str, proto: Protocol, port: int) -> bool:
        """A pod (index into `pods`) or an address on each side."""
        for s, d, pr, pt in edges:
            if PROTO_LIST[pr] is not proto:
                continue
            src_ok = (
                src in members(s)
                if isinstance(src, int) and s < w
                else isinstance(src, str) and near(src, s)
            )
            if not src_ok:
                continue
            if (
                isinstance(dst, int)
                and d < w
                and dst in members(d)
                and port_ok(d, dst, proto, pt, port)
            ):
                return True
            if isinstance(dst, str) and pt == port and near(dst, d):
                return True
        dns = port == 53 and proto in (Protocol.UDP, Protocol.TCP) and isinstance(src, int)
        if dns and any(src in members(t) for t in talkers):
            for r in resolvers:
                if isinstance(dst, int) and r < w and dst in members(r):
                    return True
                if isinstance(dst, str) and near(dst, r):
                    return True
        return False

    def each_port(mask: np.ndarray) -> list[tuple[Protocol, int]]:
        out = []
        for proto, ports in conn.ports.to_connset(mask).ports:
            for lo, hi in ports:
                assert hi - lo < 2000, "a recommended rule opened a wide range"
                out += [(proto, x) for x in range(lo, hi + 1)]
        return out

    # Each direction on its own: a rule too wide on one side is a defect even where the
    # other side happens to stop the connection today.
    pc = conn.classes.pod_class
    pod_index = {id(p): i for i, p in enumerate(cluster.pods)}
    cls = [int(pc[pod_index[id(p)]]) for p in pods]
    probes = (*EXTERNAL, "8.8.4.4", "8.8.200.1", "10.1.2.3", "192.168.1.7")
    c = conn.n_classes
    for a in range(len(pods)):
        for b in range(len(pods)):
            if a == b:
                continue
            for proto, port in each_port(conn.egress.cell(cls[a], cls[b])):
                assert justified(a, b, proto, port), (
                    "egress",
                    pods[a].name,
                    pods[b].name,
                    proto,
                    port,
                )
            for proto, port in each_port(conn.ingress.cell(cls[b], cls[a])):
                assert justified(a, b, proto, port), (
                    "ingress",
                    pods[a].name,
                    pods[b].name,
                    proto,
                    port,
                )
        for address in probes:
            atom = conn.ips.atom_of_address(IPSet.from_address(address))
            assert atom is not None
            for proto, port in each_port(conn.egress.cell(cls[a], c + atom)):
                assert justified(a, address, proto, port), (
                    "egress",
                    pods[a].name,
                    address,
                    proto,
                    port,
                )
            for proto, port in each_port(conn.ingress.cell(cls[a], c + atom)):
                assert justified(address, a, proto, port), (
                    "ingress",
                    address,
                    pods[a].name,
                    proto,
                    port,
                )


@FAST
@given(clusters(tiers=False), st.data())
def test_recommended_set_allows_exactly_what_was_learnt(
    cluster: Cluster, data: st.DataObject
) -> None:
    check(cluster, data)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(tiers=False), st.data())
def test_recommended_set_allows_exactly_what_was_learnt_more(
    cluster: Cluster, data: st.DataObject
) -> None:
    check(cluster, data)
