"""Workload-level connectivity: classes expanded to the names people read.

Every pod of a workload normally falls in one class. When pods of one owner differ in a
way that changes their connectivity, the workload is split and each pod is its own node
(`ns/pod[Pod]`), so that the output stays exact instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine.connectivity import Connectivity
from microseg.engine.index.entries import INGRESS_CONTROLLER_NAME
from microseg.engine.index.gcpause import paused_gc
from microseg.engine.index.grouping import pods_by_workload
from microseg.engine.index.packed import Bits, unique_rows, unpack
from microseg.engine.views.blocks import from_external_block, pair_block, to_external_block
from microseg.engine.views.ingress import ingress_controller_conns
from microseg.model.sets import ConnSet, IntervalSet, IPSet

__all__ = [
    "INGRESS_CONTROLLER_NAME",
    "ExternalEdge",
    "WorkloadGraph",
    "workload_nodes",
]


@dataclass(frozen=True, slots=True)
class ExternalEdge:
    node: int
    addresses: IPSet
    conns: int
    outbound: bool


@dataclass(frozen=True, slots=True)
class WorkloadGraph:
    """`nodes[i]` is a display name, `node_workload[i]` the workload it belongs to and
    `node_class[i]` its class. Edges refer to connection sets by id into `conns`, since real
    clusters repeat a few sets many times. `ingress` holds (node, conn id) for the nodes
    the ingress controller reaches through Ingress and Route objects (engine/views/ingress.py)."""

    nodes: tuple[str, ...]
    node_workload: tuple[str, ...]
    node_class: npt.NDArray[np.int64]
    split: tuple[str, ...]
    src: npt.NDArray[np.int64]
    dst: npt.NDArray[np.int64]
    conn_id: npt.NDArray[np.int64]
    external: tuple[ExternalEdge, ...]
    conns: tuple[ConnSet, ...]
    ingress: tuple[tuple[int, int], ...] = ()

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
        p2p, to_ext, from_ext = conn.packed_matrices()
        names, owners, node_class, split, node_pods = workload_nodes(conn)
        nc = np.array(node_class, dtype=np.int64)
        n = len(nc)
        w = p2p.shape[2]
        pair = p2p[np.ix_(nc, nc)] if n else np.zeros((0, 0, w), np.uint64)
        has = np.asarray((pair != 0).any(axis=2), dtype=np.bool_)
        np.fill_diagonal(has, False)
        src, dst = np.nonzero(has)
        masks = pair[src, dst]
        ext_masks: list[Bits] = []
        ext_rows: list[tuple[int, IPSet, bool]] = []
        runs = {True: _ip_runs(conn, to_ext), False: _ip_runs(conn, from_ext)}
        for i, c in enumerate(nc.tolist()):
            for outbound in (True, False):
                for addresses, mask in runs[outbound][c]:
                    ext_rows.append((i, addresses, outbound))
                    ext_masks.append(mask)
        every = np.concatenate([masks, np.array(ext_masks, dtype=np.uint64).reshape(-1, w)])
        if len(every):
            uniq, inverse = unique_rows(every)
            a = len(conn.ports)
            sets = tuple(conn.ports.to_connset(row) for row in unpack(uniq, a))
        else:
            inverse = np.zeros(0, dtype=np.int64)
            sets = ()
        k = len(src)
        external = tuple(
            ExternalEdge(i, ips, int(inverse[k + j]), out)
            for j, (i, ips, out) in enumerate(ext_rows)
        )
        sets, ingress = _ingress_edges(conn, node_pods, sets)
        return WorkloadGraph(
            tuple(names),
            tuple(owners),
            nc,
            tuple(split),
            src,
            dst,
            inverse[:k].astype(np.int64),
            external,
            sets,
            ingress,
        )


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


def _same_behaviour(conn: Connectivity, classes: list[int]) -> bool:
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
) -> tuple[list[str], list[str], list[int], list[str], list[list[int]]]:
    """The nodes people read: `(names, owning workload, class, split workloads, pods)`.
    A workload whose pods fall in classes that behave differently is split into its pods.
    Which workloads span classes is found with one numpy pass over the pods."""
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
    names: list[str] = []
    owners: list[str] = []
    classes: list[int] = []
    split: list[str] = []
    node_pods: list[list[int]] = []
    firsts = first_class.tolist()
    for w, (name, pod_idx) in enumerate(zip(grouping.names, grouping.pods, strict=True)):
        if spans[w] == 1 or _same_behaviour(conn, sorted(set(pod_class[pod_idx].tolist()))):
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
