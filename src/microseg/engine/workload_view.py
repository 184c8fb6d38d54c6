"""Workload-level connectivity: classes expanded to the names people read.

Every pod of a workload normally falls in one class. When pods of one owner differ in a
way that changes their connectivity, the workload is split and each pod is its own node
(`ns/pod[Pod]`), so that the output stays exact instead of guessing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine.connectivity import Connectivity
from microseg.model.sets import ConnSet, IPSet

__all__ = ["ExternalEdge", "WorkloadGraph"]


@dataclass(frozen=True, slots=True)
class ExternalEdge:
    node: int
    addresses: IPSet
    conns: int
    outbound: bool


@dataclass(frozen=True, slots=True)
class WorkloadGraph:
    """`nodes[i]` is a display name and `node_class[i]` its class. Edges refer to connection
    sets by id into `conns`, since real clusters repeat a few sets many times."""

    nodes: tuple[str, ...]
    node_class: npt.NDArray[np.int64]
    split: tuple[str, ...]
    src: npt.NDArray[np.int64]
    dst: npt.NDArray[np.int64]
    conn_id: npt.NDArray[np.int64]
    external: tuple[ExternalEdge, ...]
    conns: tuple[ConnSet, ...]

    @staticmethod
    def build(conn: Connectivity) -> WorkloadGraph:
        p2p = conn.pod_to_pod()
        to_ext = conn.to_external()
        from_ext = conn.from_external()
        names, node_class, split = _nodes(conn, p2p, to_ext, from_ext)
        nc = np.array(node_class, dtype=np.int64)
        n = len(nc)
        a = len(conn.ports)
        pair = p2p[np.ix_(nc, nc)] if n else np.zeros((0, 0, a), np.bool_)
        has = np.asarray(pair.any(axis=2), dtype=np.bool_)
        np.fill_diagonal(has, False)
        src, dst = np.nonzero(has)
        masks = pair[src, dst]
        ext_masks: list[npt.NDArray[np.bool_]] = []
        ext_rows: list[tuple[int, IPSet, bool]] = []
        for i, c in enumerate(nc):
            for table, outbound in ((to_ext[c], True), (from_ext[c], False)):
                for addresses, mask in _ip_runs(conn, table):
                    ext_rows.append((i, addresses, outbound))
                    ext_masks.append(mask)
        every = np.concatenate([masks, np.array(ext_masks, dtype=np.bool_).reshape(-1, a)])
        if len(every):
            uniq, inverse = np.unique(np.packbits(every, axis=1), axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            sets = tuple(conn.ports.to_connset(np.unpackbits(u)[:a].astype(np.bool_)) for u in uniq)
        else:
            inverse = np.zeros(0, dtype=np.int64)
            sets = ()
        k = len(src)
        external = tuple(
            ExternalEdge(i, ips, int(inverse[k + j]), out)
            for j, (i, ips, out) in enumerate(ext_rows)
        )
        return WorkloadGraph(
            tuple(names), nc, tuple(split), src, dst, inverse[:k].astype(np.int64), external, sets
        )


def _nodes(
    conn: Connectivity,
    p2p: npt.NDArray[np.bool_],
    to_ext: npt.NDArray[np.bool_],
    from_ext: npt.NDArray[np.bool_],
) -> tuple[list[str], list[int], list[str]]:
    by_workload: dict[object, list[int]] = defaultdict(list)
    for i, pod in enumerate(conn.cluster.pods):
        by_workload[pod.workload].append(i)
    names: list[str] = []
    classes: list[int] = []
    split: list[str] = []
    for key in sorted(by_workload):  # type: ignore[type-var]
        pod_idx = by_workload[key]
        cls = sorted({int(conn.classes.pod_class[i]) for i in pod_idx})
        first = cls[0]
        same = all(
            np.array_equal(p2p[c], p2p[first])
            and np.array_equal(p2p[:, c], p2p[:, first])
            and np.array_equal(to_ext[c], to_ext[first])
            and np.array_equal(from_ext[c], from_ext[first])
            for c in cls[1:]
        )
        if same:
            names.append(str(key))
            classes.append(first)
            continue
        split.append(str(key))
        for i in pod_idx:
            pod = conn.cluster.pods[i]
            names.append(f"{pod.namespace}/{pod.name}[Pod]")
            classes.append(int(conn.classes.pod_class[i]))
    return names, classes, split


def _ip_runs(
    conn: Connectivity, table: npt.NDArray[np.bool_]
) -> list[tuple[IPSet, npt.NDArray[np.bool_]]]:
    """Maximal runs of adjacent IP atoms (within one family) with the same non-empty port mask."""
    out: list[tuple[IPSet, npt.NDArray[np.bool_]]] = []
    n4 = len(conn.ips.v4)
    families = ((0, n4), (n4, len(conn.ips))) if conn.ips.show_v6 else ((0, n4),)
    for lo_k, hi_k in families:
        k = lo_k
        while k < hi_k:
            j = k
            while j + 1 < hi_k and np.array_equal(table[j + 1], table[k]):
                j += 1
            if table[k].any():
                ips = conn.ips.atom_set(k)
                for m in range(k + 1, j + 1):
                    ips = ips | conn.ips.atom_set(m)
                out.append((ips, table[k]))
            k = j + 1
    return out
