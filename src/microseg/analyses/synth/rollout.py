"""`--rollout`: the set in steps a user can apply one at a time, per namespace, least-used
first (fewest records of learnt flows touching it), then the cluster-scoped guardrails.

Each step is checked on the recorded traffic: the learnt keys the policies allow today
that the cluster with the steps so far would deny. By construction that is 0: a
NetworkPolicy selects pods of its own namespace only, so after a step each pod's egress
(ingress) is decided either by today's policies or by the full set's, whichever holds its
namespace, and the full set allows every learnt key. The check does not assume it: it
reads the per-direction tables of today's Connectivity and of the full set's for every
learnt row (the mesh table for the mesh layer, whose AuthorizationPolicies are likewise
namespaced) and combines them per step, exactly as `simulate --with <steps so far>` would.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.simulate import FlowRows, Lookup, lookup
from microseg.analyses.synth.observe import Learnt
from microseg.analyses.synth.proof import subset
from microseg.analyses.synth.types import CLUSTER_GROUP, Generated
from microseg.engine import Connectivity, EngineOptions, Layer
from microseg.model.cluster import Cluster

__all__ = ["RolloutStep", "order_groups", "rollout_steps"]

Bool = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RolloutStep:
    step: int
    group: str
    objects: int
    records: int
    """Records of learnt flows with an endpoint in the group (how used it is)."""
    breaks: int
    """Learnt keys allowed today that the cluster with steps 1..step would deny."""


def order_groups(generated: tuple[Generated, ...], usage: dict[str, int]) -> list[str]:
    groups = sorted(
        {g.group for g in generated} - {CLUSTER_GROUP}, key=lambda n: (usage.get(n, 0), n)
    )
    if any(g.group == CLUSTER_GROUP for g in generated):
        groups.append(CLUSTER_GROUP)
    return groups


def _cell_bits(words: npt.NDArray[np.uint64], atom: Ints) -> Bool:
    return ((words >> (atom & 63).astype(np.uint64)) & np.uint64(1)).astype(np.bool_)


def _directions(conn: Connectivity, rows: FlowRows, lk: Lookup) -> tuple[Bool, Bool]:
    """Per row: whether the source's egress and the destination's ingress allow it."""
    c = conn.n_classes
    n = len(rows.key)
    eg = np.ones(n, np.bool_)
    ing = np.ones(n, np.bool_)
    word = lk.atom >> 6
    src_pod, dst_pod = lk.src_col < c, lk.dst_col < c
    for table, mine, other, out in (
        (conn.egress, lk.src_col, lk.dst_col, eg),
        (conn.ingress, lk.dst_col, lk.src_col, ing),
    ):
        sel = np.flatnonzero((mine < c) & (src_pod | dst_pod))
        if not len(sel):
            continue
        r_set, r_at = np.unique(mine[sel], return_inverse=True)
        q_set, q_at = np.unique(other[sel], return_inverse=True)
        r_at, q_at = r_at.reshape(-1), q_at.reshape(-1)
        step = max(1, (64 * 2**20) // max(1, len(q_set) * table.rc.n_words * 8))
        for lo in range(0, len(r_set), step):
            block = table.block(r_set[lo : lo + step], q_set)
            part = (r_at >= lo) & (r_at < lo + step)
            rr = sel[part]
            out[rr] = _cell_bits(block[r_at[part] - lo, q_at[part], word[rr]], lk.atom[rr])
    return eg, ing


def _networks_ok(conn: Connectivity, lk: Lookup) -> Bool:
    """Per row: False where the two pods sit on different primary networks."""
    iso = conn.isolation
    c = conn.n_classes
    out = np.ones(len(lk.src_col), np.bool_)
    pp = np.flatnonzero((lk.src_col < c) & (lk.dst_col < c))
    if iso is None or not len(pp):
        return out
    s_set, s_at = np.unique(lk.src_col[pp], return_inverse=True)
    d_set, d_at = np.unique(lk.dst_col[pp], return_inverse=True)
    out[pp] = iso.same(s_set, d_set)[s_at.reshape(-1), d_at.reshape(-1)]
    return out


def rollout_steps(
    cluster: Cluster,
    merged: Cluster,
    generated: tuple[Generated, ...],
    learnt: Learnt,
    engine: EngineOptions,
    layer: Layer,
    replace_ns: set[str],
    final: Connectivity,
) -> tuple[RolloutStep, ...]:
    rows = subset(learnt.rows, learnt.row_edge >= 0)
    n_keys = len(learnt.key_count)
    pods = cluster.pods
    pod_ns = np.array([p.namespace for p in pods] or [""], dtype=object)
    src_ns = np.where(rows.src_pod >= 0, pod_ns[np.maximum(rows.src_pod, 0)], "")
    dst_ns = np.where(rows.dst_pod >= 0, pod_ns[np.maximum(rows.dst_pod, 0)], "")
    usage: dict[str, int] = defaultdict(int)
    first = np.unique(rows.key, return_index=True)[1]
    for k, a, b in zip(
        rows.key[first].tolist(), src_ns[first].tolist(), dst_ns[first].tolist(), strict=True
    ):
        for ns in {a, b} - {""}:
            usage[ns] += int(learnt.key_count[k])
    groups = order_groups(generated, usage)
    now = Connectivity.build(cluster, engine).with_layer(layer)
    lk_now = lookup(now, rows)
    allowed_now = _per_key(rows, lk_now.allowed, n_keys)
    namespaced = tuple(g for g in generated if g.group != CLUSTER_GROUP)
    if len(namespaced) != len(generated):
        from microseg.analyses.synth.recommend import merge

        full = Connectivity.build(merge(cluster, namespaced, replace_ns), engine).with_layer(layer)
    else:
        full = final
    lk_full = lookup(full, rows)
    if layer is not Layer.NETWORK:  # AuthorizationPolicies: the destination's side only
        e_now = e_full = np.ones(len(rows.key), np.bool_)
        i_now, i_full = lk_now.allowed, lk_full.allowed
        net = np.ones(len(rows.key), np.bool_)
    else:
        e_now, i_now = _directions(now, rows, lk_now)
        e_full, i_full = _directions(full, rows, lk_full)
        net = _networks_ok(now, lk_now)
    steps = []
    applied: set[str] = set()
    for k, group in enumerate(groups, 1):
        objs = sum(1 for g in generated if g.group == group)
        if group == CLUSTER_GROUP:
            ok = lookup(final, rows).allowed
        else:
            applied.add(group)
            s_in = np.isin(src_ns, list(applied))
            d_in = np.isin(dst_ns, list(applied))
            ok = np.where(s_in, e_full, e_now) & np.where(d_in, i_full, i_now) & net
        after = _per_key(rows, ok, n_keys)
        breaks = int((allowed_now & ~after).sum())
        steps.append(RolloutStep(k, group, objs, usage.get(group, 0), breaks))
    return tuple(steps)


def _per_key(rows: FlowRows, allowed: Bool, n_keys: int) -> Bool:
    """A key is allowed when every one of its rows is (a Service: every backend)."""
    denied = np.zeros(n_keys, np.bool_)
    denied[rows.key[~allowed]] = True
    present = np.zeros(n_keys, np.bool_)
    present[rows.key] = True
    return present & ~denied
