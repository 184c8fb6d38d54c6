"""`compute_stats` counts pairs in chunks over classes; the workload graph lists every edge.
On random clusters (guardrail tiers included) the counts must equal the graph's, with
chunks of one row and with one chunk, on tables never materialised."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from microseg.analyses.stats import compute_stats
from microseg.engine import Connectivity, WorkloadGraph
from microseg.engine.views import blocks
from microseg.model import Cluster, Protocol
from microseg.model.sets import BASE_PROTOCOLS
from tests.property.clusters import clusters

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _graph_counts(cluster: Cluster) -> tuple[int, dict[Protocol, int], int, int]:
    graph = WorkloadGraph.build(Connectivity.build(cluster))
    per = {p: 0 for p in BASE_PROTOCOLS}
    every = 0
    for k in graph.conn_id.tolist():
        conns = graph.conns[k]
        for p in BASE_PROTOCOLS:
            per[p] += bool(conns.get(p))
        every += conns.is_all()
    inbound = len({e.node for e in graph.external if not e.outbound})
    return len(graph.src), per, every, inbound


@pytest.mark.parametrize("lazy", [True, False])
@FAST
@given(cluster=clusters(max_pods=7))
def test_counts_equal_the_graph(cluster: Cluster, lazy: bool) -> None:
    saved = blocks.BLOCK_BYTES, blocks.DENSE_BYTES
    if lazy:  # chunks of one row over tables never materialised, as on a huge cluster
        blocks.BLOCK_BYTES, blocks.DENSE_BYTES = 1, 0
    try:
        conn = Connectivity.build(cluster)
        s = compute_stats(conn)
        assert conn.ingress.materialised is not lazy
        assert conn.egress.materialised is not lazy
    finally:
        blocks.BLOCK_BYTES, blocks.DENSE_BYTES = saved
    pairs, per, every, inbound = _graph_counts(cluster)
    assert s.allowed_pairs == pairs
    assert dict(s.pairs_per_protocol) == per
    assert s.pairs_all_ports == every
    assert s.workloads_open_to_external == inbound
