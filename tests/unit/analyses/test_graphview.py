"""analyses/graphview: the segmentation graph's nodes, layers and aggregation, held to the
WorkloadGraph, stats and simulate they are built from."""

from __future__ import annotations

import numpy as np
import pytest

import microseg
from microseg.analyses.graphview import (
    ConnTable,
    NodeSpace,
    View,
    aggregate,
    allowed_edges,
    display_ids,
    finding_edges,
    workload_facts,
)
from microseg.analyses.stats import compute_stats
from microseg.analyses.verify import verify
from microseg.engine import Connectivity, WorkloadGraph
from microseg.ingest.intents import load_intents
from microseg.render.conns import format_conns
from tests.conftest import DEMO


@pytest.fixture(scope="module")
def demo() -> tuple[Connectivity, WorkloadGraph, NodeSpace]:
    conn = Connectivity.build(microseg.load([str(DEMO)]))
    graph = WorkloadGraph.build(conn)
    return conn, graph, NodeSpace.build(conn, graph)


def names(space: NodeSpace, d: int) -> str:
    n = len(space.names)
    return f"ns:{space.namespaces[d - n]}" if d >= n else space.names[d]


def test_expanded_everything_is_the_workload_graph(demo) -> None:  # type: ignore[no-untyped-def]
    _conn, graph, space = demo
    table = ConnTable()
    edges = allowed_edges(graph, space, table)
    view = View(np.ones(len(space.namespaces), dtype=np.bool_))
    agg = aggregate(edges, display_ids(space, view), table, view)
    pairs = {
        (names(space, int(s)), names(space, int(d))): format_conns(c)
        for s, d, c in zip(agg.src, agg.dst, agg.conns, strict=True)
        if int(s) < space.n_workloads and int(d) < space.n_workloads
    }
    expected = {
        (graph.nodes[s], graph.nodes[d]): format_conns(graph.conns[k])
        for s, d, k in zip(
            graph.src.tolist(), graph.dst.tolist(), graph.conn_id.tolist(), strict=True
        )
    }
    assert pairs == expected
    assert not agg.internal


def test_namespace_view_unions_and_counts_pairs(demo) -> None:  # type: ignore[no-untyped-def]
    _, graph, space = demo
    table = ConnTable()
    edges = allowed_edges(graph, space, table)
    view = View(np.zeros(len(space.namespaces), dtype=np.bool_))
    disp = display_ids(space, view)
    agg = aggregate(edges, disp, table, view)
    rows = {
        (names(space, int(s)), names(space, int(d))): (int(p), format_conns(c))
        for s, d, p, c in zip(agg.src, agg.dst, agg.pairs, agg.conns, strict=True)
    }
    assert rows[("ns:frontend", "ns:shop")] == (2, "TCP 5432,8080")
    assert rows[("ns:shop", "ns:payments")] == (1, "TCP 8443")
    # the pairs inside shop are counted on the namespace, not drawn as a loop
    shop = len(space.names) + space.namespaces.index("shop")
    assert agg.internal[shop] == 9
    # every workload edge is in exactly one row or one namespace's internal count
    n_pairs = sum(
        int(p)
        for s, d, p in zip(agg.src, agg.dst, agg.pairs, strict=True)
        if int(s) >= len(space.names) and int(d) >= len(space.names)
    )
    assert n_pairs + sum(agg.internal.values()) == len(graph.src)


def test_external_ranges_are_split_by_address_class(demo) -> None:  # type: ignore[no-untyped-def]
    _, graph, space = demo
    edges = allowed_edges(graph, space, ConnTable())
    webapp = space.index["frontend/webapp[Deployment]"]
    into = sorted(
        space.names[int(s)]
        for s, d in zip(edges.src, edges.dst, strict=True)
        if int(d) == webapp and space.is_peer(int(s))
    )
    # 0.0.0.0/0 except 169.254.169.254/32 touches every group, link-local included
    assert into == sorted(
        f"external:{g}" for g in ("link-local", "private", "public", "shared", "special")
    )


def test_facts_agree_with_stats(demo) -> None:  # type: ignore[no-untyped-def]
    conn, _, space = demo
    facts = workload_facts(conn, space)
    stats = compute_stats(conn)
    assert int(facts.ingress_isolated.sum()) == stats.isolated_ingress
    assert int(facts.egress_isolated.sum()) == stats.isolated_egress
    assert int(facts.pods.sum()) == len(conn.cluster.pods)


def test_violations_land_on_the_offending_edge(demo) -> None:  # type: ignore[no-untyped-def]
    conn, graph, space = demo
    intents, _ = load_intents([str(DEMO / "intents.yaml")])
    report = verify(conn, intents, graph)
    table = ConnTable()
    bad, blocked = finding_edges(report.findings, space, table)
    assert len(blocked) == 0
    assert [
        (space.names[int(s)], space.names[int(d)], report.findings[int(t)].id)
        for s, d, t in zip(bad.src, bad.dst, bad.tag, strict=True)
    ] == [("frontend/webapp[Deployment]", "shop/postgres[StatefulSet]", "shop/deny[0]")]
