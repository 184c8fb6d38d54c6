"""Observed flow keys to learnt edges: (source, destination, protocol, port) between
workloads and addresses, with their record counts.

Keys are expanded by `simulate.expand` (the same resolution `simulate` replays: a Service
destination becomes one row per backend pod with the port mapped to its targetPort, a
host-network pod is its node's address), so the ports learnt are the ports on the
destination pod. Only keys recorded as allowed are learnt (Hubble FORWARDED, Calico allow,
CSV observed, ...): a DROPPED flow is not something to allow. `--min-count N` keeps the
edges (workload-level, all replicas and keys together) seen in at least N records.

Everything is numpy over rows: endpoints become integers (workload index, or the number
of workloads plus an address index), edges are found with one `np.unique` over a packed
integer code, and a key that reaches several pods of one workload counts its records once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.analyses.simulate import PROTO_LIST, SKIPS, FlowRows, Recorded, expand, recorded_class
from microseg.model.cluster import Cluster
from microseg.model.flows import EndpointKind, EndpointResolver, FlowKeys

__all__ = ["LearnStats", "Learnt", "learn"]

Ints = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class LearnStats:
    keys: int = 0
    records: int = 0
    learnt_keys: int = 0
    recorded_denied: int = 0
    """Keys recorded as denied (dropped): never learnt."""
    other_verdict: int = 0
    """Keys whose recorded verdict is neither allowed nor denied (Hubble ERROR, ...)."""
    below_min_count: int = 0
    """Keys whose every edge fell under --min-count."""
    edges: int = 0
    dropped_edges: int = 0
    skipped: tuple[tuple[str, int], ...] = ()
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Learnt:
    """Edges between endpoints: `0 <= e < n_workloads` indexes `cluster.workloads`, larger
    values `addresses[e - n_workloads]`. `rows` are the expanded keys and `row_edge` the
    learnt edge of each row (-1: not learnt), which the proof replays."""

    n_workloads: int
    addresses: tuple[str, ...]
    address_node: tuple[str, ...]
    """The node an address belongs to ("" for external addresses)."""
    src: Ints
    dst: Ints
    proto: Ints
    port: Ints
    count: Ints
    rows: FlowRows
    row_edge: Ints
    key_count: Ints
    """Records behind each flow key (FlowKeys.count)."""
    stats: LearnStats = field(default_factory=LearnStats)

    def __len__(self) -> int:
        return len(self.src)

    def is_workload(self, e: int) -> bool:
        return e < self.n_workloads


def learn(
    cluster: Cluster, keys: FlowKeys, resolver: EndpointResolver, min_count: int = 1
) -> Learnt:
    rows = expand(keys, resolver)
    n_keys = len(keys)
    w_index = {w.key: i for i, w in enumerate(cluster.workloads)}
    pod_wl = np.array([w_index.get(p.workload, -1) for p in cluster.pods] or [-1], np.int64)
    n_w = len(cluster.workloads)
    node_of = {r.ip: r.name for r in rows.resolved if r.kind is EndpointKind.NODE}
    classes = np.array([recorded_class(v) for v in keys.verdicts] or [Recorded.OTHER], dtype=object)
    rec = classes[keys.verdict] if n_keys else np.zeros(0, dtype=object)
    learnable = rec == Recorded.ALLOWED
    ok = (rows.skip < 0) & (learnable[rows.key] if n_keys else np.zeros(0, np.bool_))
    src = np.where(rows.src_pod >= 0, pod_wl[np.maximum(rows.src_pod, 0)], n_w + rows.src_ip)
    dst = np.where(rows.dst_pod >= 0, pod_wl[np.maximum(rows.dst_pod, 0)], n_w + rows.dst_ip)
    ok &= (src >= 0) & (dst >= 0)
    n_e = n_w + len(rows.ips)
    code = ((src * n_e + dst) * len(PROTO_LIST) + rows.proto) * 65536 + rows.port
    idx = np.flatnonzero(ok)
    uniq, inv = np.unique(code[idx], return_inverse=True)
    inv = inv.reshape(-1)
    # A key reaching several pods of one workload (a Service's backends) counts once.
    _, first = np.unique(inv * max(n_keys, 1) + rows.key[idx], return_index=True)
    edge_of_pair = inv[first]
    counts = np.bincount(
        edge_of_pair, weights=keys.count[rows.key[idx][first]], minlength=len(uniq)
    ).astype(np.int64)
    keep = counts >= min_count
    new_id = np.full(len(uniq), -1, np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    row_edge = np.full(len(rows.key), -1, np.int64)
    row_edge[idx] = new_id[inv]
    kept = uniq[keep]
    port = kept % 65536
    rest = kept // 65536
    proto = rest % len(PROTO_LIST)
    rest //= len(PROTO_LIST)
    e_dst, e_src = rest % n_e, rest // n_e
    learnt_key = np.zeros(n_keys, np.bool_)
    learnt_key[rows.key[row_edge >= 0]] = True
    considered = np.zeros(n_keys, np.bool_)
    considered[rows.key[idx]] = True
    skipped = Counter(SKIPS[int(s)].value for s in rows.skip[rows.skip >= 0].tolist())
    unresolved = sorted(
        {
            "/".join(x for x in (e.ns, e.pod or e.workload) if x) or e.ip or "?"
            for e, r in zip(keys.endpoints, rows.resolved, strict=True)
            if r.kind is EndpointKind.UNRESOLVED
        }
    )
    stats = LearnStats(
        keys=n_keys,
        records=int(keys.count.sum()) if n_keys else 0,
        learnt_keys=int(learnt_key.sum()),
        recorded_denied=int((rec == Recorded.DENIED).sum()),
        other_verdict=int((rec == Recorded.OTHER).sum()),
        below_min_count=int((considered & ~learnt_key).sum()),
        edges=int(keep.sum()),
        dropped_edges=int((~keep).sum()),
        skipped=tuple(sorted(skipped.items())),
        unresolved=tuple(unresolved),
    )
    return Learnt(
        n_w,
        rows.ips,
        tuple(node_of.get(ip, "") for ip in rows.ips),
        e_src.astype(np.int64),
        e_dst.astype(np.int64),
        proto.astype(np.int64),
        port.astype(np.int64),
        counts[keep],
        rows,
        row_edge,
        keys.count,
        stats,
    )
