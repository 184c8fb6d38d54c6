"""The connectivity list written straight from the engine's blocks (render/connlist_text.py)
is byte for byte what the general path writes (`write_connlist` over `connlist_chunks`),
and its JSON parses to the list of `connlist_rows`, on random clusters: with one source per
block and per batch (a huge cluster's path) and with whole tables, with external ranges
merged among a source's rows, names that need escaping, the ingress controller, and the
inputs that take the general path (a focus, the mesh's L7 conditions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from microseg.engine import (
    Connectivity,
    Layer,
    WorkloadGraph,
    edge_conditions,
    external_conditions,
)
from microseg.model import Cluster
from microseg.render.connlist import CELLS, connlist_chunks, connlist_rows, write_connlist
from microseg.render.connlist_text import write_connlist_stream
from tests.property.clusters import clusters
from tests.property.mesh_clusters import mesh_clusters
from tests.property.test_workload_stream import _tiny_blocks

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ("json", "txt", "csv", "md")


def _both(
    graph: WorkloadGraph, fmt: str, focus: set[int] | None = None, conn: Connectivity | None = None
) -> tuple[str, str]:
    conditions = edge_conditions(conn, graph) if conn is not None else None
    outside = external_conditions(conn, graph) if conn is not None else None
    general: list[str] = []
    chunks = connlist_chunks(graph, focus, conditions, outside, CELLS[fmt])
    write_connlist(chunks, fmt, general.append, escaped=True)
    fast: list[str] = []
    write_connlist_stream(graph, fmt, fast.append, focus, conditions, outside)
    return "".join(general), "".join(fast)


@pytest.mark.parametrize("tiny", [True, False])
@FAST
@given(cluster=clusters(max_pods=7))
def test_fast_text_equals_the_general_path(cluster: Cluster, tiny: bool) -> None:
    with _tiny_blocks(tiny):
        conn = Connectivity.build(cluster)
        graph = WorkloadGraph.build(conn)
        for fmt in FORMATS:
            general, fast = _both(graph, fmt, conn=conn)
            assert fast == general, fmt
        data = json.loads(_both(graph, "json", conn=conn)[1])
        rows = connlist_rows(graph, None, edge_conditions(conn, graph))
    assert data["kind"] == "ConnectivityList"
    assert [(r["src"], r["dst"], r["conn"]) for r in data["connections"]] == rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=mesh_clusters())
def test_mesh_conditions_take_the_general_path(cluster: Cluster) -> None:
    with _tiny_blocks(True):
        conn = Connectivity.build(cluster).with_layer(Layer.BOTH)
        graph = WorkloadGraph.build(conn)
        for fmt in ("json", "txt"):
            general, fast = _both(graph, fmt, conn=conn)
            assert fast == general


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=clusters(max_pods=6))
def test_a_focus_takes_the_general_path(cluster: Cluster) -> None:
    with _tiny_blocks(True):
        graph = WorkloadGraph.build(Connectivity.build(cluster))
        for node in range(min(2, len(graph.nodes))):
            general, fast = _both(graph, "json", {node})
            assert fast == general


def test_external_rows_among_node_rows(tmp_path: Path) -> None:
    """A source whose rows to address ranges fall between its rows to workloads: the
    ranges sort after the namespace `0a` and before `m` and `zz` (digits, then letters)."""
    from microseg.ingest import load

    docs = []
    for ns in ("0a", "1-9", "m", "zz"):
        docs.append(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")
        docs.append(
            f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {ns}}}\n"
            "spec: {containers: [{name: c}]}\n"
        )
    docs.append(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: out, namespace: m}\n"
        "spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: "
        "{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}, {namespaceSelector: {}}]}]}\n"
    )
    (tmp_path / "all.yaml").write_text("---\n".join(docs))
    cluster = load([str(tmp_path)])
    with _tiny_blocks(True):
        graph = WorkloadGraph.build(Connectivity.build(cluster))
        for fmt in FORMATS:
            general, fast = _both(graph, fmt)
            assert fast == general, fmt
    rows = [line.split(" => ") for line in _both(graph, "txt")[1].splitlines()]
    mine = [dst for src, dst in rows if src.startswith("m/")]
    assert any("[External]" in d for d in mine)
    assert mine[0].startswith("0a/")
    assert mine[-1].startswith("zz/")
