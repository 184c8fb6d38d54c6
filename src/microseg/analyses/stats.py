"""Counts that describe a cluster's segmentation and the index built for it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microseg.engine.connectivity import Connectivity
from microseg.engine.workload_view import WorkloadGraph
from microseg.model.sets import Protocol

__all__ = ["Stats", "compute_stats"]


@dataclass(frozen=True, slots=True)
class Stats:
    workloads: int
    pods: int
    namespaces: int
    network_policies: int
    guardrail_policies: int
    classes: int
    port_atoms: int
    ip_atoms: int
    isolated_ingress: int
    isolated_egress: int
    isolated_both: int
    allowed_pairs: int
    pairs_per_protocol: tuple[tuple[Protocol, int], ...]
    pairs_all_ports: int
    workloads_open_to_external: int


def compute_stats(conn: Connectivity, graph: WorkloadGraph) -> Stats:
    node_class = graph.node_class
    ing = conn.ingress.isolated[node_class]
    eg = conn.egress.isolated[node_class]
    counts = (
        np.bincount(graph.conn_id, minlength=len(graph.conns))
        if len(graph.conns)
        else np.zeros(0, np.int64)
    )
    per_protocol = tuple(
        (p, int(sum(int(counts[k]) for k, c in enumerate(graph.conns) if c.get(p))))
        for p in Protocol
    )
    all_ports = int(sum(int(counts[k]) for k, c in enumerate(graph.conns) if c.is_all()))
    inbound = {e.node for e in graph.external if not e.outbound}
    return Stats(
        workloads=len(conn.cluster.workloads),
        pods=sum(not p.from_template for p in conn.cluster.pods),
        namespaces=len(conn.cluster.namespaces),
        network_policies=len(conn.cluster.policies),
        guardrail_policies=len(conn.cluster.admin_policies),
        classes=conn.n_classes,
        port_atoms=len(conn.ports),
        ip_atoms=len(conn.ips),
        isolated_ingress=int(ing.sum()),
        isolated_egress=int(eg.sum()),
        isolated_both=int((ing & eg).sum()),
        allowed_pairs=len(graph.src),
        pairs_per_protocol=per_protocol,
        pairs_all_ports=all_ports,
        workloads_open_to_external=len(inbound),
    )
