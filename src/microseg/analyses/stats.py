"""Counts that describe a cluster's segmentation and the index built for it.

The counts are taken over the nodes people read (workloads, or the pods of a split
workload; engine/views/workload.py), but computed over classes: a class pair stands for
every node pair it holds, weighted by how many nodes each class carries. The pod-to-pod
matrix is walked in row chunks (engine/views/blocks.py), so memory stays bounded at any size:
at 150,000 pods the whole matrix would be 7 GB, a chunk is a few hundred MB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine import (
    Bits,
    Connectivity,
    chunks,
    from_external_block,
    full_word,
    incoming_block,
    materialise_if_small,
    pack,
    workload_nodes,
)
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
    template_pods: int = 0
    """Pods built from a controller's template (a controller given without its pods)."""


def _protocol_words(conn: Connectivity) -> list[tuple[Protocol, Bits]]:
    out = []
    for p in conn.ports.protocols:
        mask = np.array([a[0] is p for a in conn.ports.atoms], dtype=np.bool_)
        out.append((p, pack(mask)))
    return out


def _any(block: Bits) -> npt.NDArray[np.bool_]:
    """Whether each cell of a `[rows, cols, words]` block allows something."""
    if block.shape[2] == 1:
        return np.asarray(block[:, :, 0] != 0, dtype=np.bool_)
    return np.asarray((block != 0).any(axis=2), dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class _Weights:
    """Node counts per class, for turning class pairs into node pairs: a class pair (a, b)
    stands for n_a * n_b node pairs, and (a, a) for n_a * (n_a - 1). Most classes hold one
    node, so a cell count is a `count_nonzero` plus a correction for the few heavier
    columns."""

    per_class: npt.NDArray[np.int64]
    heavy: npt.NDArray[np.intp]

    def pairs(self, hit: npt.NDArray[np.bool_], start: int) -> int:
        """Node pairs in the cells of `hit`, rows `start:start + len(hit)` of the classes,
        columns all of them."""
        k = hit.shape[0]
        rows = self.per_class[start : start + k]
        per_row = np.count_nonzero(hit, axis=1).astype(np.int64)
        if len(self.heavy):
            per_row += hit[:, self.heavy].astype(np.int64) @ (self.per_class[self.heavy] - 1)
        own = hit[np.arange(k), start + np.arange(k)]
        return int(rows @ per_row - rows[own].sum())


def _pair_counts(
    conn: Connectivity, node_class: npt.NDArray[np.int64]
) -> tuple[int, dict[Protocol, int], int]:
    """Ordered pairs of distinct nodes with some allowed connection, per protocol, and on
    every port."""
    classes, per_class = np.unique(node_class, return_counts=True)
    classes = classes.astype(np.intp)
    counts = per_class.astype(np.int64)
    weights = _Weights(counts, np.flatnonzero(counts > 1))
    protocols = _protocol_words(conn)
    full = full_word(len(conn.ports))
    total = 0
    by_protocol = dict.fromkeys(conn.ports.protocols, 0)
    all_ports = 0
    start = 0
    # Runs of at most 256 destinations, materialised tables or not: a block then stays
    # small enough for the allocator to reuse its memory from one run to the next, where a
    # larger one is mapped afresh each time and every page of it faulted in (B3 counted in
    # 15.6 CPU-s this way, 22 s in blocks of 192 MB).
    for dst in chunks(classes, len(classes), len(full), most=256):
        block = incoming_block(conn, dst, classes)
        total += weights.pairs(_any(block), start)
        for p, words in protocols:
            by_protocol[p] += weights.pairs(_any(block & words), start)
        every = block[:, :, 0] == full[0] if len(full) == 1 else (block == full).all(axis=2)
        all_ports += weights.pairs(every, start)
        start += len(dst)
    return total, by_protocol, all_ports


def _open_to_external(conn: Connectivity, node_class: npt.NDArray[np.int64]) -> int:
    """Nodes some external address may reach (over the address families lists show)."""
    classes = np.unique(node_class).astype(np.intp)
    width = len(conn.ips) if conn.ips.show_v6 else len(conn.ips.v4)
    reached = np.zeros(conn.n_classes, dtype=np.bool_)
    for rows in chunks(classes, len(conn.ips), len(full_word(len(conn.ports)))):
        block = from_external_block(conn, rows)[:, :width]
        reached[rows] = _any(block).any(axis=1)
    return int(reached[node_class].sum())


def _all_pods(
    isolated: npt.NDArray[np.bool_], conn: Connectivity, node_pods: list[list[int]]
) -> npt.NDArray[np.bool_]:
    """Per node, whether every one of its pods is isolated. A workload whose pods fall in
    classes that connect alike stays one node even when only some of those classes are
    selected by a policy (an allow-all one, say); it counts as isolated only when all are,
    whichever class stands for it."""
    if not node_pods:
        return np.zeros(0, dtype=np.bool_)
    sizes = np.fromiter((len(p) for p in node_pods), dtype=np.int64, count=len(node_pods))
    pods = np.fromiter((i for p in node_pods for i in p), dtype=np.int64, count=int(sizes.sum()))
    per_pod = isolated[conn.classes.pod_class[pods]]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.asarray(np.minimum.reduceat(per_pod, starts), dtype=np.bool_)


def compute_stats(conn: Connectivity) -> Stats:
    materialise_if_small(conn)
    _, _, classes, _, node_pods = workload_nodes(conn)
    node_class = np.array(classes, dtype=np.int64)
    ing = _all_pods(conn.ingress.isolated, conn, node_pods)
    eg = _all_pods(conn.egress.isolated, conn, node_pods)
    total, by_protocol, all_ports = (
        _pair_counts(conn, node_class)
        if len(node_class)
        else (0, dict.fromkeys(conn.ports.protocols, 0), 0)
    )
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
        allowed_pairs=total,
        pairs_per_protocol=tuple((p, by_protocol[p]) for p in conn.ports.protocols),
        pairs_all_ports=all_ports,
        workloads_open_to_external=_open_to_external(conn, node_class) if len(node_class) else 0,
        template_pods=sum(p.from_template for p in conn.cluster.pods),
    )
