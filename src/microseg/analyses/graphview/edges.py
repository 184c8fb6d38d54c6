"""Edge layers over a NodeSpace: one array triple (source node, destination node,
connection set id) per layer, with a weight (records, for flows) and a tag (which intent,
which recorded verdict, which kind of diff row) per edge.

Connection sets are interned in a `ConnTable` shared by every layer, because clusters
repeat a few sets many times (the WorkloadGraph holds 49 distinct sets for 178,000 edges of
a 2,000-workload cluster), and aggregation unions them per distinct id, never per edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.diff import ConnectivityDiff, DiffType
from microseg.analyses.graphview.space import NodeSpace
from microseg.analyses.verify import Finding
from microseg.engine import INGRESS_CONTROLLER_NAME, WorkloadGraph
from microseg.model.addresses import classify
from microseg.model.sets import ConnSet, IPSet

__all__ = ["DIFF_TAGS", "ConnTable", "EdgeSet", "allowed_edges", "diff_edges", "finding_edges"]

Ints = npt.NDArray[np.int64]
DIFF_TAGS = (DiffType.CHANGED, DiffType.ADDED, DiffType.REMOVED)


class ConnTable:
    """Connection sets by id; equal sets share one id."""

    def __init__(self) -> None:
        self.sets: list[ConnSet] = []
        self._ids: dict[ConnSet, int] = {}
        self._unions: dict[tuple[int, ...], ConnSet] = {}

    def add(self, conns: ConnSet) -> int:
        i = self._ids.get(conns)
        if i is None:
            i = self._ids[conns] = len(self.sets)
            self.sets.append(conns)
        return i

    def union(self, ids: Iterable[int]) -> ConnSet:
        key = tuple(sorted(set(ids)))
        out = self._unions.get(key)
        if out is None:
            out = ConnSet.none()
            for i in key:
                out = out | self.sets[i]
            self._unions[key] = out
        return out


@dataclass(frozen=True, slots=True)
class EdgeSet:
    """Edges between NodeSpace nodes. `conn` and `conn2` index a ConnTable (`conn2`: the
    other side's set of a diff row, else -1); `tag` is layer-specific (-1: none)."""

    src: Ints
    dst: Ints
    conn: Ints
    weight: Ints
    tag: Ints
    conn2: Ints

    @staticmethod
    def of(rows: list[tuple[int, int, int, int, int, int]]) -> EdgeSet:
        a = np.asarray(rows, dtype=np.int64).reshape(-1, 6)
        return EdgeSet(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5])

    @staticmethod
    def empty() -> EdgeSet:
        return EdgeSet.of([])

    def __len__(self) -> int:
        return len(self.src)

    def concat(self, other: EdgeSet) -> EdgeSet:
        return EdgeSet(
            *(
                np.concatenate([getattr(self, f), getattr(other, f)])
                for f in ("src", "dst", "conn", "weight", "tag", "conn2")
            )
        )


def _peer_rows(
    space: NodeSpace, addresses: IPSet, node: int, outbound: bool, conn: int, tag: int = -1
) -> list[tuple[int, int, int, int, int, int]]:
    """One edge per address group the range touches (a range across groups is split)."""
    groups = sorted({space.group_node(cls) for _, cls in classify(addresses)})
    return [((node, g) if outbound else (g, node)) + (conn, 1, tag, -1) for g in groups]


def allowed_edges(graph: WorkloadGraph, space: NodeSpace, table: ConnTable) -> EdgeSet:
    """What the policies allow: workload pairs, then address groups, then the ingress
    controller. Several ranges of one group toward one node make one edge whose connections
    are their union."""
    ids = np.array([table.add(c) for c in graph.conns] or [0], dtype=np.int64)
    n = len(graph.src)
    pairs = EdgeSet(
        graph.src.astype(np.int64),
        graph.dst.astype(np.int64),
        ids[graph.conn_id] if n else np.zeros(0, np.int64),
        np.ones(n, np.int64),
        np.full(n, -1, np.int64),
        np.full(n, -1, np.int64),
    )
    merged: dict[tuple[int, int], ConnSet] = {}
    for e in graph.external:
        for row in _peer_rows(space, e.addresses, e.node, e.outbound, e.conns):
            key = (row[0], row[1])
            merged[key] = merged.get(key, ConnSet.none()) | graph.conns[e.conns]
    rows = [(s, d, table.add(c), 1, -1, -1) for (s, d), c in sorted(merged.items())]
    if graph.ingress:
        ctl = space.peer(INGRESS_CONTROLLER_NAME)
        rows += [(ctl, node, table.add(graph.conns[k]), 1, -1, -1) for node, k in graph.ingress]
    return pairs.concat(EdgeSet.of(rows))


def _endpoint_nodes(space: NodeSpace, peer: str | IPSet) -> list[int]:
    if isinstance(peer, str):
        i = space.index.get(peer)
        return [] if i is None else [i]
    return sorted({space.group_node(cls) for _, cls in classify(peer)})


def finding_edges(
    findings: tuple[Finding, ...], space: NodeSpace, table: ConnTable
) -> tuple[EdgeSet, EdgeSet]:
    """The offending flows of violated flow and domain intents, tagged with the finding's
    index: (open where they must not be: deny and domain intents; blocked where they must
    be open: allow intents). At most the rows verify reports per intent (MAX_ROWS)."""
    open_rows: list[tuple[int, int, int, int, int, int]] = []
    blocked: list[tuple[int, int, int, int, int, int]] = []
    for k, f in enumerate(findings):
        if f.holds or f.kind not in ("allow", "deny", "domain"):
            continue
        target = blocked if f.kind == "allow" else open_rows
        for r in f.rows:
            c = table.add(r.conns)
            for s in _endpoint_nodes(space, r.src):
                for d in _endpoint_nodes(space, r.dst):
                    target.append((s, d, c, 1, k, -1))
    return EdgeSet.of(open_rows), EdgeSet.of(blocked)


def diff_edges(diff: ConnectivityDiff, space: NodeSpace, table: ConnTable) -> EdgeSet:
    """Diff rows as edges: `conn` is NEW's set (ref2), `conn2` OLD's (ref1), `tag` the
    index of the row's kind in DIFF_TAGS."""
    rows: list[tuple[int, int, int, int, int, int]] = []
    for r in diff.rows:
        tag = DIFF_TAGS.index(r.kind)
        c2, c1 = table.add(r.ref2), table.add(r.ref1)
        for s in _endpoint_nodes(space, r.src):
            for d in _endpoint_nodes(space, r.dst):
                rows.append((s, d, c2, 1, tag, c1))
    return EdgeSet.of(rows)
