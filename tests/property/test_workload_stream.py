"""The workload graph's edges come from engine blocks on demand, and the connectivity list
is streamed from them a batch of sources at a time. On random clusters (guardrail tiers,
networks, the mesh with its L7 conditions), with blocks of one row and batches of one
source on tables never materialised, both must equal what the whole matrices give: the
edges of `packed_matrices()` expanded to nodes, and those rows sorted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from microseg.engine import Connectivity, Layer, WorkloadGraph, edge_conditions, unpack
from microseg.engine.views import blocks
from microseg.model import Cluster
from microseg.render import connlist
from microseg.render.connlist import connlist_chunks, connlist_rows
from microseg.render.conns import format_conditional, format_conns
from tests.property.clusters import clusters
from tests.property.mesh_clusters import mesh_clusters

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def _tiny_blocks(tiny: bool) -> Iterator[None]:
    saved = blocks.BLOCK_BYTES, blocks.DENSE_BYTES, connlist.ROWS_PER_BATCH
    if tiny:  # one source per block and per batch, tables never whole: a huge cluster's path
        blocks.BLOCK_BYTES, blocks.DENSE_BYTES, connlist.ROWS_PER_BATCH = 1, 0, 1
    try:
        yield
    finally:
        blocks.BLOCK_BYTES, blocks.DENSE_BYTES, connlist.ROWS_PER_BATCH = saved


def _reference_edges(conn: Connectivity, graph: WorkloadGraph) -> dict[tuple[int, int], object]:
    """Every edge from the whole packed pod-to-pod matrix, as the graph was once built."""
    pairs, _, _ = conn.packed_matrices()
    nc = graph.node_class
    out = {}
    for s in range(len(nc)):
        for d in range(len(nc)):
            bits = pairs[nc[s], nc[d]]
            if s != d and bits.any():
                out[(s, d)] = conn.ports.to_connset(unpack(bits, len(conn.ports)))
    return out


def _check(cluster: Cluster, tiny: bool, layer: Layer | None = None) -> None:
    with _tiny_blocks(tiny):
        conn = Connectivity.build(cluster)
        if layer is not None:
            conn = conn.with_layer(layer)
        graph = WorkloadGraph.build(conn)
        conditions = edge_conditions(conn, graph)
        rows = connlist_rows(graph, None, conditions)
        chunked = [row for chunk in connlist_chunks(graph, None, conditions) for row in chunk]
        expected = _reference_edges(conn, graph)
        edges = {
            (s, d): graph.conns[k]
            for s, d, k in zip(
                graph.src.tolist(), graph.dst.tolist(), graph.conn_id.tolist(), strict=True
            )
        }
    assert edges == expected
    assert rows == chunked
    assert rows == sorted(rows)
    assert len(set(rows)) == len(rows)
    pair_rows = {(s, d): c for s, d, c in rows if not s.endswith("[External]")}
    names = graph.nodes
    src = np.array([s for s, _ in expected], dtype=np.int64)
    dst = np.array([d for _, d in expected], dtype=np.int64)
    ids = np.array([graph.conns.index(c) for c in expected.values()], dtype=np.int64)
    parts = conditions(src, dst, ids) if conditions else {}
    for e, ((s, d), c) in enumerate(expected.items()):
        text = format_conditional(c, parts[e]) if e in parts else format_conns(c)  # type: ignore[arg-type]
        assert pair_rows[(names[s], names[d])] == text


@pytest.mark.parametrize("tiny", [True, False])
@FAST
@given(cluster=clusters(max_pods=7))
def test_streamed_rows_equal_the_whole_matrices(cluster: Cluster, tiny: bool) -> None:
    _check(cluster, tiny)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=mesh_clusters())
def test_streamed_rows_carry_the_mesh_conditions(cluster: Cluster) -> None:
    _check(cluster, tiny=True, layer=Layer.BOTH)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=clusters(max_pods=6))
def test_focus_keeps_the_rows_touching_it(cluster: Cluster) -> None:
    with _tiny_blocks(True):
        graph = WorkloadGraph.build(Connectivity.build(cluster))
        every = connlist_rows(graph)
        for node in range(min(3, len(graph.nodes))):
            name = graph.nodes[node]
            focused = connlist_rows(graph, {node})
            assert focused == [r for r in every if name in (r[0], r[1])]
