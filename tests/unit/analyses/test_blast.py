"""Blast radius on the demo shop (hop counts read off its connectivity list by hand) and,
on random clusters, against a plain breadth-first search over the allowed pairs."""

from __future__ import annotations

from collections import deque
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from microseg.analyses.blast import (
    blast_radius,
    exposed_sources,
    sources_of,
)
from microseg.engine import Connectivity, UnknownEndpointError, Verdict, WorkloadGraph
from microseg.ingest import load
from microseg.model import Cluster, ConnSet, IPSet, Protocol
from tests.property.clusters import clusters

WEBAPP = "frontend/webapp[Deployment]"
GATEWAY = "shop/api-gateway[Deployment]"
CHECKOUT = "shop/checkout[Deployment]"
PAYMENT = "payments/payment-service[Deployment]"
FRAUD = "payments/fraud-check[Deployment]"
POSTGRES = "shop/postgres[StatefulSet]"


@pytest.fixture(scope="module")
def shop(demo_dir: Path) -> tuple[Connectivity, WorkloadGraph]:
    conn = Connectivity.build(load([str(demo_dir)]))
    return conn, WorkloadGraph.build(conn)


def test_webapp_reaches_the_payments_tier_in_four_hops(
    shop: tuple[Connectivity, WorkloadGraph],
) -> None:
    conn, graph = shop
    result = blast_radius(conn, graph, sources_of(conn, graph, "frontend/webapp"))
    assert result.sources == (WEBAPP,)
    hops = {h.workload: h.hops for h in result.reachable}
    assert hops[GATEWAY] == 1
    assert hops[POSTGRES] == 1  # the demo's gap
    assert hops[CHECKOUT] == 2
    assert hops[PAYMENT] == 3
    assert hops[FRAUD] == 4
    assert WEBAPP not in hops  # a source is never "reachable"
    assert len(hops) == 10  # every other workload of the shop
    fraud = next(h for h in result.reachable if h.workload == FRAUD)
    assert fraud.path == (WEBAPP, GATEWAY, CHECKOUT, PAYMENT, FRAUD)
    assert [s.conns for s in fraud.steps][2:] == [
        ConnSet.single(Protocol.TCP, 8443),
        ConnSet.single(Protocol.TCP, 8080),
    ]
    # sorted by hops, then name
    keys = [(h.hops, h.workload) for h in result.reachable]
    assert keys == sorted(keys)


def test_every_hop_is_explained_by_the_engine(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    result = blast_radius(conn, graph, sources_of(conn, graph, "frontend/webapp"))
    for hit in result.reachable:
        assert len(hit.steps) == hit.hops == len(hit.path) - 1
        for hop, (a, b) in zip(hit.steps, pairwise(hit.path), strict=True):
            assert (hop.src, hop.dst) == (a, b)
            assert hop.decision is not None
            assert hop.decision.verdict is Verdict.ALLOW
            assert hop.decision.allowed == hop.conns
    postgres = next(h for h in result.reachable if h.workload == POSTGRES)
    decision = postgres.steps[0].decision
    assert decision is not None
    assert "frontend/webapp-egress" in {s.policy for s in decision.egress.steps}
    assert "shop/postgres-allow-shop-tenant" in {s.policy for s in decision.ingress.steps}
    quiet = blast_radius(conn, graph, sources_of(conn, graph, "frontend/webapp"), explain=False)
    assert all(s.decision is None for h in quiet.reachable for s in h.steps)
    assert [h.path for h in quiet.reachable] == [h.path for h in result.reachable]


def test_hops_limit_and_port_filter(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    src = sources_of(conn, graph, "frontend/webapp")
    near = blast_radius(conn, graph, src, hops=1, explain=False)
    assert {h.workload for h in near.reachable} == {
        GATEWAY,
        POSTGRES,
        "kube-system/coredns[Deployment]",
    }
    assert blast_radius(conn, graph, src, hops=0).reachable == ()
    db = blast_radius(conn, graph, src, conns=ConnSet.single(Protocol.TCP, 5432))
    # postgres, then prometheus (postgres may open anything to it), and nothing beyond:
    # prometheus only scrapes TCP 9100
    assert [(h.workload, h.hops) for h in db.reachable] == [
        (POSTGRES, 1),
        ("monitoring/prometheus[Deployment]", 2),
    ]
    # only the filtered part of a hop is what the attacker uses on it
    dns = blast_radius(conn, graph, src, conns=ConnSet.single(Protocol.UDP, 53))
    assert dns.reachable[0].path == (WEBAPP, "kube-system/coredns[Deployment]")
    assert {s.conns for h in dns.reachable for s in h.steps} == {ConnSet.single(Protocol.UDP, 53)}
    with pytest.raises(ValueError, match="hops"):
        blast_radius(conn, graph, src, hops=-1)


def test_targets_give_shortest_paths_to_crown_jewels(
    shop: tuple[Connectivity, WorkloadGraph],
) -> None:
    conn, graph = shop
    jewels = [*sources_of(conn, graph, "payments/*")]
    result = blast_radius(conn, graph, sources_of(conn, graph, "frontend/webapp"), targets=jewels)
    assert [(h.workload, h.hops) for h in result.reachable] == [(PAYMENT, 3), (FRAUD, 4)]
    # monitoring scrapes everything: one hop shorter
    scrape = blast_radius(conn, graph, sources_of(conn, graph, "monitoring/*"), targets=jewels)
    assert [(h.workload, h.hops) for h in scrape.reachable] == [(PAYMENT, 2), (FRAUD, 3)]


def test_payments_is_a_dead_end(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    result = blast_radius(conn, graph, sources_of(conn, graph, "payments/fraud-check"))
    assert result.reachable == ()


def test_sources_namespace_and_errors(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    shop_nodes = sources_of(conn, graph, "shop/*")
    assert {graph.nodes[i] for i in shop_nodes} == {n for n in graph.nodes if n.startswith("shop/")}
    assert sources_of(conn, graph, "shop/postgres[StatefulSet]") == (graph.nodes.index(POSTGRES),)
    with pytest.raises(UnknownEndpointError, match="no workloads in namespace 'nope'"):
        sources_of(conn, graph, "nope/*")
    with pytest.raises(UnknownEndpointError, match="address"):
        sources_of(conn, graph, "10.0.0.1")
    with pytest.raises(UnknownEndpointError, match="no workload or pod"):
        sources_of(conn, graph, "shop/nothing")


def test_exposed_sources_are_the_internet_facing_workloads(
    shop: tuple[Connectivity, WorkloadGraph],
) -> None:
    _, graph = shop
    exposed = exposed_sources(graph)
    assert [graph.nodes[i] for i in exposed] == [WEBAPP, "monitoring/prometheus[Deployment]"]


POD_CLUSTER = """\
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: ns, labels: {app: web, role: a}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: ns, labels: {app: web, role: b}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: ns, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: ns}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {role: a}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: ns}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}}]}]
"""


def test_single_pods_and_their_addresses(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text(POD_CLUSTER, encoding="utf-8")
    conn = Connectivity.build(load([str(tmp_path)]))
    graph = WorkloadGraph.build(conn)
    one = sources_of(conn, graph, "ns/web-1")
    two = sources_of(conn, graph, "ns/web-2")
    assert len(one) == len(two) == 1
    a = blast_radius(conn, graph, one, explain=False)
    b = blast_radius(conn, graph, two, explain=False)
    assert {(h.workload, h.hops) for h in a.reachable} == {("ns/db[Pod]", 1), ("ns/web-2[Pod]", 1)}
    # web-2 is not let in by the db policy: it gets there through web-1
    assert [h.path for h in b.reachable] == [
        ("ns/web-2[Pod]", "ns/web-1[Pod]"),
        ("ns/web-2[Pod]", "ns/web-1[Pod]", "ns/db[Pod]"),
    ]
    # the web pods accept only private addresses from outside: not exposed to the internet
    assert exposed_sources(graph) == ()
    assert {graph.nodes[i] for i in exposed_sources(graph, IPSet.from_cidr("10.0.0.0/8"))} == {
        "ns/web-1[Pod]",
        "ns/web-2[Pod]",
    }


# -- against a plain BFS on random clusters -------------------------------------------


def _plain_bfs(graph: WorkloadGraph, sources: set[int], hops: int | None) -> dict[int, int]:
    adjacency: dict[int, list[int]] = {}
    for s, d in zip(graph.src.tolist(), graph.dst.tolist(), strict=True):
        adjacency.setdefault(s, []).append(d)
    dist = dict.fromkeys(sources, 0)
    queue = deque(sources)
    while queue:
        v = queue.popleft()
        if hops is not None and dist[v] >= hops:
            continue
        for w in adjacency.get(v, []):
            if w not in dist:
                dist[w] = dist[v] + 1
                queue.append(w)
    return {v: d for v, d in dist.items() if d > 0}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_policies=4))
def test_distances_equal_a_plain_bfs(cluster: Cluster) -> None:
    conn = Connectivity.build(cluster)
    graph = WorkloadGraph.build(conn)
    edges = set(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))
    for first in range(min(len(graph.nodes), 3)):
        for hops in (None, 1, 2):
            result = blast_radius(conn, graph, [first], hops=hops, explain=False)
            got = {graph.nodes.index(h.workload): h.hops for h in result.reachable}
            assert got == _plain_bfs(graph, {first}, hops)
            for hit in result.reachable:  # each path is a chain of allowed edges
                idx = [graph.nodes.index(n) for n in hit.path]
                assert idx[0] == first
                assert all((a, b) in edges for a, b in pairwise(idx))
