"""Workload-level connectivity: classes expanded to the names people read.

Every pod of a workload normally falls in one class. When pods of one owner differ in a
way that changes their connectivity, the workload is split and each pod is its own node
(`ns/pod[Pod]`), so that the output stays exact instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine.connectivity import Connectivity
from microseg.engine.index.entries import INGRESS_CONTROLLER_NAME
from microseg.engine.index.gcpause import paused_gc
from microseg.engine.index.grouping import pods_by_workload
from microseg.engine.index.packed import Bits, n_words, unique_rows, unpack
from microseg.engine.views.blocks import (
    Index,
    chunks,
    from_external_block,
    pair_block,
    to_external_block,
)
from microseg.engine.views.ingress import ingress_controller_conns
from microseg.model.sets import ConnSet, IntervalSet, IPSet

__all__ = [
    "INGRESS_CONTROLLER_NAME",
    "ExternalEdge",
    "WorkloadGraph",
    "same_behaviour",
    "workload_nodes",
]


@dataclass(frozen=True, slots=True)
class ExternalEdge:
    node: int
    addresses: IPSet
    conns: int
    outbound: bool


class WorkloadGraph:
    """`nodes[i]` is a display name, `node_workload[i]` the workload it belongs to and
    `node_class[i]` its class. Edges refer to connection sets by id into `conns`, since real
    clusters repeat a few sets many times. `ingress` holds (node, conn id) for the nodes
    the ingress controller reaches through Ingress and Route objects (engine/views/ingress.py).

    Nodes, external edges and ingress edges are built at once: they grow with the nodes.
    Edges between nodes grow with their square (an open cluster of 12,000 pods allows
    144 million pairs), so a graph built from a `Connectivity` computes them only when asked:
    `block` gives the edges among chosen nodes from the engine's blocks (what `connectivity`
    streams), and `src`/`dst`/`conn_id`/`conns` materialise them all, block by block, for
    the analyses that walk the whole graph. Ids are stable: external and ingress sets come
    first (`conn_set` reads any id without materialising anything), pair sets are added as
    blocks find them. A graph built from explicit edges (tests) has them all from the start.
    """

    __slots__ = (
        "_conn",
        "_edges",
        "_ids",
        "_last_dst",
        "_mask_ids",
        "_table",
        "_word_ids",
        "external",
        "ingress",
        "node_class",
        "node_workload",
        "nodes",
        "split",
    )

    def __init__(
        self,
        nodes: tuple[str, ...],
        node_workload: tuple[str, ...],
        node_class: npt.NDArray[np.int64],
        split: tuple[str, ...],
        src: npt.NDArray[np.int64] | None = None,
        dst: npt.NDArray[np.int64] | None = None,
        conn_id: npt.NDArray[np.int64] | None = None,
        external: tuple[ExternalEdge, ...] = (),
        conns: tuple[ConnSet, ...] = (),
        ingress: tuple[tuple[int, int], ...] = (),
        *,
        conn: Connectivity | None = None,
    ) -> None:
        self.nodes = nodes
        self.node_workload = node_workload
        self.node_class = node_class
        self.split = split
        self.external = external
        self.ingress = ingress
        self._conn = conn
        self._table: list[ConnSet] = list(conns)
        self._ids: dict[ConnSet, int] = {}
        for k, c in enumerate(self._table):
            self._ids.setdefault(c, k)
        self._mask_ids: dict[bytes, int] = {}
        self._word_ids: tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]] | None = None
        self._last_dst: tuple[Index, Index, Index] | None = None
        self._edges: tuple[npt.NDArray[np.int64], ...] | None = None
        if conn is None:
            empty = np.zeros(0, dtype=np.int64)
            self._edges = tuple(
                np.asarray(x if x is not None else empty, dtype=np.int64)
                for x in (src, dst, conn_id)
            )

    @staticmethod
    def build(conn: Connectivity) -> WorkloadGraph:
        with paused_gc():
            return WorkloadGraph._build(conn)

    @staticmethod
    def nodes_only(conn: Connectivity) -> WorkloadGraph:
        """The nodes (names, owners, classes, splits) without any edge: what resolving
        groups and checking flows over classes need (`verify` without maxBlastRadius),
        at a fraction of the cost of the edges on large clusters (`microseg monitor`)."""
        names, owners, node_class, split, _ = workload_nodes(conn)
        empty = np.zeros(0, dtype=np.int64)
        return WorkloadGraph(
            tuple(names),
            tuple(owners),
            np.array(node_class, dtype=np.int64),
            tuple(split),
            empty,
            empty,
            empty,
            (),
            (),
        )

    @staticmethod
    def _build(conn: Connectivity) -> WorkloadGraph:
        # Port atoms stay packed in words throughout (engine/index/packed.py): comparing, testing
        # and deduplicating masks is then one integer operation per word.
        names, owners, node_class, split, node_pods = workload_nodes(conn)
        nc = np.array(node_class, dtype=np.int64)
        w = n_words(len(conn.ports))
        runs = _class_runs(conn, np.unique(nc))
        ext_masks: list[Bits] = []
        ext_rows: list[tuple[int, IPSet, bool]] = []
        for i, c in enumerate(nc.tolist()):
            for outbound in (True, False):
                for addresses, mask in runs[outbound][c]:
                    ext_rows.append((i, addresses, outbound))
                    ext_masks.append(mask)
        if ext_masks:
            uniq, inverse = unique_rows(np.array(ext_masks, dtype=np.uint64).reshape(-1, w))
            sets = tuple(conn.ports.to_connset(row) for row in unpack(uniq, len(conn.ports)))
        else:
            inverse = np.zeros(0, dtype=np.int64)
            sets = ()
        external = tuple(
            ExternalEdge(i, ips, int(inverse[j]), out) for j, (i, ips, out) in enumerate(ext_rows)
        )
        sets, ingress = _ingress_edges(conn, node_pods, sets)
        return WorkloadGraph(
            tuple(names),
            tuple(owners),
            nc,
            tuple(split),
            None,
            None,
            None,
            external,
            sets,
            ingress,
            conn=conn,
        )

    # -- connection sets ---------------------------------------------------------------
    def conn_set(self, k: int) -> ConnSet:
        """The connection set of id `k`, without materialising any edge."""
        return self._table[k]

    @property
    def conns(self) -> tuple[ConnSet, ...]:
        """Every connection set by id; materialises the edges between nodes first."""
        self._all_edges()
        return tuple(self._table)

    # -- edges between nodes ------------------------------------------------------------
    @property
    def src(self) -> npt.NDArray[np.int64]:
        return self._all_edges()[0]

    @property
    def dst(self) -> npt.NDArray[np.int64]:
        return self._all_edges()[1]

    @property
    def conn_id(self) -> npt.NDArray[np.int64]:
        return self._all_edges()[2]

    def _all_edges(self) -> tuple[npt.NDArray[np.int64], ...]:
        """Every edge, in (source, destination) node order, computed by blocks of sources
        so that only the edges themselves are ever held whole."""
        if self._edges is None:
            n = len(self.nodes)
            every = np.arange(n, dtype=np.int64)
            parts: list[tuple[npt.NDArray[np.int64], ...]] = []
            for rows in self.source_chunks(every, n):
                i, j, k = self.block(rows, every)
                parts.append((rows[i], j, k))
            self._edges = tuple(
                np.concatenate([p[x] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
                for x in range(3)
            )
        return self._edges

    def source_chunks(self, sources: npt.NDArray[np.int64], width: int) -> Iterator[Index]:
        """`sources` cut into runs whose blocks against `width` destinations stay bounded
        (engine/views/blocks.py `chunks`)."""
        words = n_words(len(self._conn.ports)) if self._conn is not None else 1
        return chunks(sources.astype(np.intp), max(1, width), words)

    def block(
        self, src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The edges from nodes `src` to nodes `dst` (no node to itself), as positions in
        `src` and in `dst` (row-major: by source position, then destination position) and
        their connection ids."""
        if self._conn is None:
            return self._explicit_block(src, dst)
        conn = self._conn
        # Over the classes the nodes stand for: which pairs hold an edge is expanded to the
        # nodes as booleans, and the masks are read for the edges alone (expanding the
        # packed block itself copied eight bytes a pair).
        s_set, s_at = np.unique(self.node_class[src], return_inverse=True)
        d_set, d_at = self._classes_of(dst)
        bits = pair_block(conn, s_set.astype(np.intp), d_set.astype(np.intp))
        has = bits[:, :, 0] != 0 if bits.shape[2] == 1 else (bits != 0).any(axis=2)
        s_at = s_at.reshape(-1)
        if not (_identity(s_at) and _identity(d_at)):
            has = has[np.ix_(s_at, d_at)]
        same = src[:, None] == dst[None, :]
        if same.any():
            has &= ~same
        i, j = np.nonzero(has)
        return i.astype(np.int64), j.astype(np.int64), self._ids_of(bits[s_at[i], d_at[j]])

    def _classes_of(self, dst: Index) -> tuple[Index, Index]:
        """`np.unique(node_class[dst], return_inverse=True)`, remembered for the last `dst`."""
        last = self._last_dst
        if last is not None and last[0] is dst:
            return last[1], last[2]
        d_set, d_at = np.unique(self.node_class[dst], return_inverse=True)
        self._last_dst = (dst, d_set, d_at.reshape(-1))
        return d_set, d_at.reshape(-1)

    def _ids_of(self, masks: Bits) -> npt.NDArray[np.int64]:
        """Connection ids of packed masks `[n, words]`, registering new sets."""
        if not len(masks):
            return np.zeros(0, dtype=np.int64)
        if masks.shape[1] == 1:
            return self._ids_of_words(masks[:, 0])
        first = masks[0]
        if (masks == first).all():  # the common case in open clusters: one set for all
            uniq, inverse = masks[:1], np.zeros(len(masks), dtype=np.int64)
        else:
            uniq, inverse = unique_rows(masks)
        out: npt.NDArray[np.int64] = self._ids_of_rows(uniq)[inverse]
        return out

    def _ids_of_rows(self, uniq: Bits) -> npt.NDArray[np.int64]:
        """Connection ids of distinct packed masks, registering new sets."""
        ids = np.empty(len(uniq), dtype=np.int64)
        a = len(self._conn.ports) if self._conn is not None else 0
        for r, row in enumerate(uniq):
            key = row.tobytes()
            k = self._mask_ids.get(key)
            if k is None:
                assert self._conn is not None
                c = self._conn.ports.to_connset(unpack(row, a))
                k = self._ids.get(c)
                if k is None:
                    k = self._ids[c] = len(self._table)
                    self._table.append(c)
                self._mask_ids[key] = k
            ids[r] = k
        return ids

    def _ids_of_words(self, words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """`_ids_of` for one-word masks: looked up among the masks seen so far by a binary
        search (a block of millions of edges holds a few distinct masks, and sorting the
        block to find them cost more than the engine's work on it); only a block with an
        unseen mask registers its distinct masks first."""
        known = self._word_ids
        if known is not None:
            keys, ids = known
            at = np.minimum(np.searchsorted(keys, words), len(keys) - 1)
            if (keys[at] == words).all():
                out: npt.NDArray[np.int64] = ids[at]
                return out
        fresh = np.unique(words)
        registered = self._ids_of_rows(fresh.reshape(-1, 1))
        seen = {} if known is None else dict(zip(known[0].tolist(), known[1].tolist(), strict=True))
        seen.update(zip(fresh.tolist(), registered.tolist(), strict=True))
        keys = np.array(sorted(seen), dtype=np.uint64)
        ids = np.array([seen[k] for k in keys.tolist()], dtype=np.int64)
        self._word_ids = (keys, ids)
        return self._ids_of_words(words)

    def _explicit_block(
        self, src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        s, d, k = self._all_edges()
        n = len(self.nodes)
        spos = np.full(n, -1, dtype=np.int64)
        spos[src] = np.arange(len(src))
        dpos = np.full(n, -1, dtype=np.int64)
        dpos[dst] = np.arange(len(dst))
        keep = (spos[s] >= 0) & (dpos[d] >= 0) & (s != d)
        i, j, ids = spos[s[keep]], dpos[d[keep]], k[keep]
        order = np.lexsort((j, i))
        return i[order], j[order], ids[order]


def _node_block(
    conn: Connectivity,
    node_class: npt.NDArray[np.int64],
    src: Index,
    dst: Index,
    classes_of: Callable[[Index], tuple[Index, Index]] | None = None,
) -> Bits:
    """Packed pair bits `[src node, dst node, word]` through the classes they stand for:
    one engine block over the distinct classes, expanded to the nodes. `classes_of` gives
    `(distinct classes, position of each node)` for `dst` (a stream asks about the same
    destinations for every batch of sources)."""
    s_set, s_at = np.unique(node_class[src], return_inverse=True)
    if classes_of is not None:
        d_set, d_at = classes_of(dst)
    else:
        d_set, d_at = np.unique(node_class[dst], return_inverse=True)
    bits = pair_block(conn, s_set.astype(np.intp), d_set.astype(np.intp))
    s_at, d_at = s_at.reshape(-1), d_at.reshape(-1)
    if _identity(s_at) and _identity(d_at):
        return bits
    return bits[np.ix_(s_at, d_at)]


def _identity(at: npt.NDArray[np.intp]) -> bool:
    return bool((at == np.arange(len(at))).all())


def _class_runs(
    conn: Connectivity, classes: npt.NDArray[np.int64]
) -> dict[bool, dict[int, list[tuple[IPSet, Bits]]]]:
    """Per direction (True: outbound) and class, the external runs (`_ip_runs`), read from
    the engine's blocks a chunk of classes at a time."""
    out: dict[bool, dict[int, list[tuple[IPSet, Bits]]]] = {True: {}, False: {}}
    w = n_words(len(conn.ports))
    for rows in chunks(classes.astype(np.intp), len(conn.ips), w):
        for outbound, table in (
            (True, to_external_block(conn, rows)),
            (False, from_external_block(conn, rows)),
        ):
            for c, runs in zip(rows.tolist(), _ip_runs(conn, table), strict=True):
                out[outbound][c] = runs
    return out


def _ingress_edges(
    conn: Connectivity, node_pods: list[list[int]], sets: tuple[ConnSet, ...]
) -> tuple[tuple[ConnSet, ...], tuple[tuple[int, int], ...]]:
    """Per node, the union over its pods of what the ingress controller may open; the sets
    are added to `sets` (reusing equal ones)."""
    per_pod = ingress_controller_conns(conn)
    if not per_pod:
        return sets, ()
    ids = {c: i for i, c in enumerate(sets)}
    all_sets = list(sets)
    edges = []
    for node, pods in enumerate(node_pods):
        total = ConnSet.none()
        for i in pods:
            total = total.union(per_pod.get(i, ConnSet.none()))
        if not total:
            continue
        if total not in ids:
            ids[total] = len(all_sets)
            all_sets.append(total)
        edges.append((node, ids[total]))
    return tuple(all_sets), tuple(edges)


def same_behaviour(conn: Connectivity, classes: list[int]) -> bool:
    """Whether every class in `classes` has the same row and column in the combined
    matrices: its pods are then one node. Read as blocks of just these classes, so this
    costs nothing on clusters too large to hold the matrices."""
    cls = np.array(classes, dtype=np.intp)
    every = np.arange(conn.n_classes)
    rows = pair_block(conn, cls, every)
    cols = pair_block(conn, every, cls).transpose(1, 0, 2)
    outs = to_external_block(conn, cls)
    ins = from_external_block(conn, cls)
    return all(bool((table == table[0]).all()) for table in (rows, cols, outs, ins))


def workload_nodes(
    conn: Connectivity,
    same: Callable[[Connectivity, list[int]], bool] | None = None,
) -> tuple[list[str], list[str], list[int], list[str], list[list[int]]]:
    """The nodes people read: `(names, owning workload, class, split workloads, pods)`.
    A workload whose pods fall in classes that behave differently is split into its pods.
    Which workloads span classes is found with one numpy pass over the pods. `same`: in
    place of `same_behaviour`, for a caller that remembers its answers across changes
    (analyses/stats_tracker.py)."""
    same = same_behaviour if same is None else same
    grouping = pods_by_workload(conn.cluster.pods)
    pod_class = conn.classes.pod_class
    n_w = len(grouping.keys)
    if not n_w:
        return [], [], [], [], []
    pairs = np.unique(grouping.workload_of * (len(conn.classes) + 1) + pod_class)
    owner = pairs // (len(conn.classes) + 1)
    spans = np.bincount(owner, minlength=n_w)
    _, first = np.unique(owner, return_index=True)  # pairs are sorted: the smallest class
    first_class = pairs[first] % (len(conn.classes) + 1)
    if (spans == 1).all():
        return (
            list(grouping.names),
            list(grouping.names),
            first_class.tolist(),
            [],
            list(grouping.pods),
        )
    # Python work only for the workloads over several classes; the runs of one-class
    # workloads between them are copied as list slices (100,000 pods: a handful split).
    all_names, all_pods, firsts = list(grouping.names), list(grouping.pods), first_class.tolist()
    names: list[str] = []
    owners: list[str] = []
    classes: list[int] = []
    split: list[str] = []
    node_pods: list[list[int]] = []
    done = 0
    for w in np.flatnonzero(spans > 1).tolist():
        names += all_names[done:w]
        owners += all_names[done:w]
        classes += firsts[done:w]
        node_pods += all_pods[done:w]
        done = w + 1
        name, pod_idx = all_names[w], all_pods[w]
        if same(conn, sorted(set(pod_class[pod_idx].tolist()))):
            names.append(name)
            owners.append(name)
            classes.append(firsts[w])
            node_pods.append(pod_idx)
            continue
        split.append(name)
        for i in pod_idx:
            pod = conn.cluster.pods[i]
            names.append(f"{pod.namespace}/{pod.name}[Pod]")
            owners.append(name)
            classes.append(int(pod_class[i]))
            node_pods.append([i])
    names += all_names[done:]
    owners += all_names[done:]
    classes += firsts[done:]
    node_pods += all_pods[done:]
    return names, owners, classes, split, node_pods


def _ip_runs(conn: Connectivity, table: Bits) -> list[list[tuple[IPSet, Bits]]]:
    """Per class: maximal runs of adjacent IP atoms (within one family) that share one
    non-empty port mask. Run boundaries come from one vectorised comparison of neighbours."""
    n4 = len(conn.ips.v4)
    width = len(conn.ips) if conn.ips.show_v6 else n4
    t = table[:, :width, :]
    starts = np.ones(t.shape[:2], dtype=np.bool_)
    if width > 1:
        starts[:, 1:] = (t[:, 1:, :] != t[:, :-1, :]).any(axis=2)
    if width > n4:
        starts[:, n4] = True  # families never merge
    nonempty = np.asarray((t != 0).any(axis=2), dtype=np.bool_)
    bounds = [lo for lo, _ in conn.ips.v4] + [lo for lo, _ in conn.ips.v6]
    ends = [hi for _, hi in conn.ips.v4] + [hi for _, hi in conn.ips.v6]
    out: list[list[tuple[IPSet, Bits]]] = []
    for c in range(t.shape[0]):
        first = np.flatnonzero(starts[c]).tolist()
        last = [*(f - 1 for f in first[1:]), width - 1]
        runs = []
        for a, b in zip(first, last, strict=True):
            if nonempty[c, a]:
                span = IntervalSet.span(bounds[a], ends[b])
                ips = IPSet(v4=span) if a < n4 else IPSet(v6=span)
                runs.append((ips, t[c, a]))
        out.append(runs)
    return out
