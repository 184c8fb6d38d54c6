"""L7 conditions on workload edges: the parts of an allowed connection the Istio mesh grants
only for some HTTP requests (`TCP 8080 {methods: GET}`), so that lists do not print them
as plainly allowed.

The mesh table keeps a condition id per (destination class, source class, port atom);
edges are looked up in one numpy gather per block, and only the few conditional edges are
expanded.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from microseg.engine.connectivity import Connectivity
from microseg.engine.query import Layer, MeshVerdict
from microseg.engine.views.workload import WorkloadGraph
from microseg.model.sets import ConnSet

__all__ = ["EdgeConditions", "PairConditions", "edge_conditions", "external_conditions"]

EdgeConditions = dict[int, tuple[tuple[ConnSet, MeshVerdict], ...]]
"""An edge's position (in a block of edges, or in WorkloadGraph.external) -> its
conditional parts, by condition id."""


class PairConditions:
    """Conditional parts of pod-to-pod edges, asked one block of edges at a time (the
    connectivity list streams its rows): `conditions(src, dst, conn_ids)` takes node
    indices and connection ids of edges and gives the parts of those that have some, by
    position. False (and never called) when the mesh does not count."""

    def __init__(self, conn: Connectivity, graph: WorkloadGraph) -> None:
        self.conn = conn
        self.graph = graph
        self.active = conn.mesh is not None and conn.layer is not Layer.NETWORK
        self._keep: dict[int, npt.NDArray[np.bool_]] = {}

    def __bool__(self) -> bool:
        return self.active

    def __call__(
        self,
        src: npt.NDArray[np.int64],
        dst: npt.NDArray[np.int64],
        conn_ids: npt.NDArray[np.int64],
    ) -> EdgeConditions:
        mesh = self.conn.mesh
        if mesh is None or not self.active or not len(src):
            return {}
        graph = self.graph
        src_class = graph.node_class[src]
        dst_class = graph.node_class[dst]
        has = np.zeros(len(src), dtype=np.bool_)
        # In chunks of edges: the gather is edges x port atoms.
        step = max(1, 4_000_000 // max(1, len(self.conn.ports)))
        for lo in range(0, len(src), step):
            ids = mesh.cond[dst_class[lo : lo + step], src_class[lo : lo + step]]
            has[lo : lo + step] = (ids > 0).any(axis=1)
        out: EdgeConditions = {}
        for e in np.flatnonzero(has).tolist():
            k = int(conn_ids[e])
            keep = self._keep.get(k)
            if keep is None:
                keep = self._keep[k] = self.conn.ports.mask_of(graph.conn_set(k))
            ids = mesh.cond[int(dst_class[e]), int(src_class[e])]
            parts = []
            for cid in np.unique(ids[keep & (ids > 0)]).tolist():
                parts.append((self.conn.ports.to_connset((ids == cid) & keep), mesh.verdicts[cid]))
            if parts:
                out[e] = tuple(parts)
        return out


def edge_conditions(conn: Connectivity, graph: WorkloadGraph) -> PairConditions:
    """Conditional parts of pod-to-pod edges; empty (false) when the mesh does not count."""
    return PairConditions(conn, graph)


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
        keep = conn.ports.mask_of(graph.conn_set(edge.conns))
        parts = []
        for cid in np.unique(ids[:, keep][ids[:, keep] > 0]).tolist():
            hit = ((ids == cid) & keep[None, :]).any(axis=0)
            parts.append((conn.ports.to_connset(hit), mesh.verdicts[cid]))
        if parts:
            out[i] = tuple(parts)
    return out
