"""L7 conditions on workload edges: the parts of an allowed connection the Istio mesh grants
only for some HTTP requests (`TCP 8080 {methods: GET}`), so that lists do not print them
as plainly allowed.

The mesh table keeps a condition id per (destination class, source class, port atom);
edges are looked up in one numpy gather, and only the few conditional edges are expanded.
"""

from __future__ import annotations

import numpy as np

from microseg.engine.connectivity import Connectivity
from microseg.engine.query import Layer, MeshVerdict
from microseg.engine.views.workload import WorkloadGraph
from microseg.model.sets import ConnSet

__all__ = ["EdgeConditions", "edge_conditions", "external_conditions"]

EdgeConditions = dict[int, tuple[tuple[ConnSet, MeshVerdict], ...]]
"""Edge index (into WorkloadGraph.src/dst) -> its conditional parts, by condition id."""


def edge_conditions(conn: Connectivity, graph: WorkloadGraph) -> EdgeConditions:
    """Conditional parts of each pod-to-pod edge; empty when the mesh does not count."""
    mesh = conn.mesh
    if mesh is None or conn.layer is Layer.NETWORK or not len(graph.src):
        return {}
    src_class = graph.node_class[graph.src]
    dst_class = graph.node_class[graph.dst]
    has = np.zeros(len(graph.src), dtype=np.bool_)
    # In chunks of edges: the gather is edges x port atoms.
    step = max(1, 4_000_000 // max(1, len(conn.ports)))
    for lo in range(0, len(graph.src), step):
        ids = mesh.cond[dst_class[lo : lo + step], src_class[lo : lo + step]]
        has[lo : lo + step] = (ids > 0).any(axis=1)
    out: EdgeConditions = {}
    keep_by_conn: dict[int, np.ndarray] = {}
    for e in np.flatnonzero(has).tolist():
        k = int(graph.conn_id[e])
        keep = keep_by_conn.get(k)
        if keep is None:
            keep = keep_by_conn[k] = conn.ports.mask_of(graph.conns[k])
        ids = mesh.cond[int(dst_class[e]), int(src_class[e])]
        parts = []
        for cid in np.unique(ids[keep & (ids > 0)]).tolist():
            parts.append((conn.ports.to_connset((ids == cid) & keep), mesh.verdicts[cid]))
        if parts:
            out[e] = tuple(parts)
    return out


def external_conditions(conn: Connectivity, graph: WorkloadGraph) -> EdgeConditions:
    """Conditional parts of each inbound external edge (index into WorkloadGraph.external):
    requests from outside addresses the mesh admits only under L7 conditions."""
    mesh = conn.mesh
    if mesh is None or conn.layer is Layer.NETWORK:
        return {}
    c = conn.n_classes
    out: EdgeConditions = {}
    for i, edge in enumerate(graph.external):
        if edge.outbound:
            continue  # the mesh governs inbound traffic only
        cols = c + np.flatnonzero(conn.ips.mask(edge.addresses))
        ids = mesh.cond[int(graph.node_class[edge.node])][cols]
        keep = conn.ports.mask_of(graph.conns[edge.conns])
        parts = []
        for cid in np.unique(ids[:, keep][ids[:, keep] > 0]).tolist():
            hit = ((ids == cid) & keep[None, :]).any(axis=0)
            parts.append((conn.ports.to_connset(hit), mesh.verdicts[cid]))
        if parts:
            out[i] = tuple(parts)
    return out
