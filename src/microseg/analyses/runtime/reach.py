"""What a workload can reach right now: its blast radius from the engine, in short.

The alert carries the count of workloads reachable at any number of hops (analyses/blast.py:
every hop an allowed connection, the attacker taking over each workload reached), how many
at each distance, the workloads reachable in one hop with the connections open to them, and
the address ranges it may open connections to. Lists are cut at `limit` (the counts stay
whole); `microseg blast-radius --from` gives the full explained answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from microseg.analyses.blast import blast_radius
from microseg.engine import Connectivity, WorkloadGraph
from microseg.model.sets import ConnSet, IPSet

__all__ = ["Reach", "reach_of"]


@dataclass(frozen=True, slots=True)
class Reach:
    source: str
    reachable: int
    by_hops: tuple[tuple[int, int], ...]
    direct: tuple[tuple[str, ConnSet], ...]
    direct_total: int
    external: tuple[tuple[IPSet, ConnSet], ...]


def reach_of(
    conn: Connectivity, graph: WorkloadGraph, nodes: tuple[int, ...], limit: int = 20
) -> Reach:
    radius = blast_radius(conn, graph, nodes, explain=False)
    hops = Counter(h.hops for h in radius.reachable)
    mine = set(nodes)
    direct: dict[str, ConnSet] = {}
    for s, d, k in zip(graph.src.tolist(), graph.dst.tolist(), graph.conn_id.tolist(), strict=True):
        if s in mine and d not in mine:
            name = graph.nodes[d]
            direct[name] = direct.get(name, ConnSet.none()) | graph.conns[k]
    external: dict[int, IPSet] = {}
    for e in graph.external:
        if e.outbound and e.node in mine:
            external[e.conns] = external.get(e.conns, IPSet()) | e.addresses
    return Reach(
        ", ".join(radius.sources),
        len(radius.reachable),
        tuple(sorted(hops.items())),
        tuple(sorted(direct.items()))[:limit],
        len(direct),
        tuple((a, graph.conns[k]) for k, a in sorted(external.items()))[:limit],
    )
