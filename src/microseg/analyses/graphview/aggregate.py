"""Edges aggregated to the level of detail shown: a collapsed namespace stands for all its
workloads, an expanded one shows each. Grouping is one `np.unique` over (display source,
display destination) keys; connection sets are united once per distinct (group, set id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.graphview.edges import ConnTable, EdgeSet
from microseg.analyses.graphview.space import NodeSpace
from microseg.model.sets import ConnSet

__all__ = ["AggEdges", "View", "aggregate", "display_ids"]

Ints = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class View:
    """`expanded[k]`: namespace k shows its workloads. `keep`: per node, whether edges
    touching it are shown (filters); None keeps every edge."""

    expanded: Bool
    keep: Bool | None = None


def display_ids(space: NodeSpace, view: View) -> Ints:
    """Per node, the display element it is drawn as: itself (a workload of an expanded
    namespace, or a peer), else `len(names) + k` for its collapsed namespace k."""
    n = len(space.names)
    ns = space.ns_of
    own = np.arange(n, dtype=np.int64)
    collapsed = (ns >= 0) & ~view.expanded[np.maximum(ns, 0)]
    return np.where(collapsed, n + ns, own)


@dataclass(frozen=True, slots=True)
class AggEdges:
    """One row per (display source, display destination) with at least one edge between
    distinct display elements; `internal[d]` counts the edges inside display element d
    (between workloads of one collapsed namespace). `members[i]` indexes the layer's
    edges that make row i (sorted)."""

    src: Ints
    dst: Ints
    pairs: Ints
    weight: Ints
    conns: tuple[ConnSet, ...]
    conns2: tuple[ConnSet, ...]
    tags: tuple[tuple[int, ...], ...]
    internal: dict[int, int]
    order: Ints
    starts: Ints

    def __len__(self) -> int:
        return len(self.src)

    def members(self, i: int) -> Ints:
        return self.order[self.starts[i] : self.starts[i + 1]]


def _group_union(group: Ints, values: Ints, n_groups: int, table: ConnTable) -> tuple[ConnSet, ...]:
    ok = values >= 0
    if not ok.any():
        return tuple(ConnSet.none() for _ in range(n_groups))
    width = int(values.max()) + 1
    keys = np.unique(group[ok] * width + values[ok])
    out: list[list[int]] = [[] for _ in range(n_groups)]
    for k in keys.tolist():
        out[k // width].append(k % width)
    return tuple(table.union(ids) for ids in out)


def aggregate(edges: EdgeSet, disp: Ints, table: ConnTable, view: View) -> AggEdges:
    """The layer's edges grouped by display endpoints. Edges whose ends are both filtered
    out by `view.keep` are dropped; `pairs` counts distinct node pairs per row."""
    src, dst = edges.src, edges.dst
    sel = np.ones(len(src), dtype=np.bool_)
    if view.keep is not None:
        sel = view.keep[src] | view.keep[dst]
    idx = np.flatnonzero(sel)
    ds, dd = disp[src[idx]], disp[dst[idx]]
    width = int(disp.max()) + 1 if len(disp) else 1
    loops = ds == dd
    internal: dict[int, int] = {}
    if loops.any():
        u, c = np.unique(ds[loops], return_counts=True)
        internal = dict(zip(u.tolist(), c.tolist(), strict=True))
    idx, ds, dd = idx[~loops], ds[~loops], dd[~loops]
    keys = ds * width + dd
    uniq, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    n = len(uniq)
    order = np.argsort(inverse, kind="stable")
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(inverse, minlength=n), out=starts[1:])
    pair_keys = np.unique(inverse * (len(disp) ** 2 + 1) + src[idx] * len(disp) + dst[idx])
    pairs = np.bincount(pair_keys // (len(disp) ** 2 + 1), minlength=n).astype(np.int64)
    weight = np.bincount(inverse, weights=edges.weight[idx], minlength=n).astype(np.int64)
    tags_u = np.unique(inverse * (int(edges.tag.max(initial=0)) + 2) + edges.tag[idx] + 1)
    tag_lists: list[list[int]] = [[] for _ in range(n)]
    tw = int(edges.tag.max(initial=0)) + 2
    for k in tags_u.tolist():
        if k % tw:
            tag_lists[k // tw].append(k % tw - 1)
    return AggEdges(
        (uniq // width).astype(np.int64),
        (uniq % width).astype(np.int64),
        pairs,
        weight,
        _group_union(inverse, edges.conn[idx], n, table),
        _group_union(inverse, edges.conn2[idx], n, table),
        tuple(tuple(t) for t in tag_lists),
        internal,
        idx[order],
        starts,
    )
