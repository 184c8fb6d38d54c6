"""`Stats` kept current across changes: re-answering the counts after `conn.apply(change)`
in time proportional to what the change touched, not to the square of the classes.

`compute_stats` walks every (destination, source) class pair: at 100,000 pods that is
400 million cells, seconds of work, for a change that moved a few rows. The pair counts are
sums over cells, weighted by how many nodes each class carries (analyses/stats.py), so
after a change they are the old sums with the changed cells' old contributions taken out
and their new ones put in. Which cells a change can touch is known from the change:
- a NetworkPolicy rewrites the ingress rows of the classes it selected or now selects
  (rows of the `[destination, source]` matrix) and their egress rows (its columns);
- a guardrail policy (ANP, BANP, CNP) those of its old and new subjects, both ways;
- a pod added, deleted or relabelled changes no cell of the classes that stay; the class
  it left or joined, and any class created or emptied, are retaken whole (classes are
  matched between the two indexes by their keys, since the engine renumbers them);
- any class whose node count changes (a workload split or merged) has its row and column
  retaken, with the old weights out and the new ones in.
A change that refines the port or address atoms (a new port number) is counted the same
way, each index read with its own atoms, and so is an update the engine made by a
rebuild. Everything else (namespace changes, the mesh, user-defined networks, the ingress
controller, Calico's tiers, a change in the protocols policies name) is counted from
scratch, as is a change whose cells are more than a quarter of the matrix. Counts per node
(isolation, open to external addresses) are kept per class and re-read for the touched
classes.

The old index stays valid (indexes are immutable), so the old contributions are read from
it. tests/property/test_stats_tracker.py holds every step equal to `compute_stats`.
"""

from __future__ import annotations

import operator
import time

import numpy as np
import numpy.typing as npt

from microseg.analyses.stats import (
    Stats,
    _any,
    _protocol_words,
    compute_stats,
)
from microseg.engine import (
    Connectivity,
    chunks,
    from_external_block,
    full_word,
    incoming_block,
    to_external_block,
    workload_nodes,
)
from microseg.model.admin import AdminPolicy
from microseg.model.changes import (
    Change,
    DeletePod,
    DeletePolicy,
    PutPod,
    PutPolicy,
    RelabelPod,
    pod_index,
    position_of,
)
from microseg.model.netpol import Direction, NetworkPolicy

__all__ = ["StatsTracker"]

Index = npt.NDArray[np.intp]
_EMPTY: Index = np.zeros(0, dtype=np.intp)
# Past this share of the matrix's cells, counting from scratch costs no more.
_FULL_SHARE = 0.25


class StatsTracker:
    """The index and its `Stats`, moved forward one change at a time:

    tracker = StatsTracker(conn)
    stats = tracker.apply(change)   # == compute_stats(tracker.conn)
    """

    def __init__(self, conn: Connectivity) -> None:
        self.conn = conn
        self.full_recounts = 0
        self.last_apply_seconds = 0.0  # of the last `apply`, the index's share (benchmarks)
        self._flat: tuple[list[list[int]], npt.NDArray[np.int64], Index] | None = None
        self._template_pods: tuple[object, int] | None = None
        self._recount()

    # -- from scratch ----------------------------------------------------------------------
    def _recount(self) -> None:
        self.full_recounts += 1
        conn = self.conn
        self.stats = compute_stats(conn)
        self._same = _SameMemo()
        # Remembered answers only where cells are the tables' alone (no mesh, networks).
        same = self._same if _comparable(conn, conn) else None
        _, _, classes, _, node_pods = workload_nodes(conn, same)
        self._node_class = np.array(classes, dtype=np.int64)
        self._node_pods = node_pods
        self._weights = self._weights_of(conn, self._node_class)
        self._reached = np.zeros(conn.n_classes, dtype=np.bool_)
        self._reach_rows(conn, np.arange(conn.n_classes, dtype=np.intp))
        self._pairs = np.array(
            [
                self.stats.allowed_pairs,
                *(n for _, n in self.stats.pairs_per_protocol),
                self.stats.pairs_all_ports,
            ],
            dtype=np.int64,
        )

    @staticmethod
    def _weights_of(conn: Connectivity, node_class: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.bincount(node_class, minlength=conn.n_classes).astype(np.int64)

    # -- one change ------------------------------------------------------------------------
    def apply(self, change: Change) -> Stats:
        old = self.conn
        start = time.perf_counter()
        new = old.apply(change)
        self.last_apply_seconds = time.perf_counter() - start
        self.conn = new
        touched = self._touched(old, new, change) if _comparable(old, new) else None
        m = _class_map(old, new) if touched is not None else None
        if touched is None or m is None or not old.n_classes or not new.n_classes:
            self._recount()
            return self.stats
        n_old, n_new = old.n_classes, new.n_classes
        live = m >= 0
        inverse = np.full(n_new, -1, dtype=np.intp)
        inverse[m[live]] = np.flatnonzero(live)
        created = np.flatnonzero(inverse < 0)
        # The cells that changed, in the new numbering: what the node grouping re-reads.
        changed_rows = _union([touched[1], _mapped(m, touched[0]), created])
        changed_cols = _union([touched[3], _mapped(m, touched[2]), created])
        self._same.carry(new, m, changed_rows, changed_cols)
        _, _, classes, _, node_pods = workload_nodes(new, self._same)
        node_class = np.array(classes, dtype=np.int64)
        weights = self._weights_of(new, node_class)
        # Classes on one side only (emptied, created) and classes whose node count changed
        # are retaken whole, on both sides.
        always_old = np.flatnonzero(~live | (self._weights != np.where(live, weights[m], -1)))
        always_new = created

        def close(in_old: Index, in_new: Index) -> tuple[Index, Index]:
            back = inverse[in_new]
            o = _union([in_old, back[back >= 0], always_old])
            there = m[o]
            return o, _union([in_new, there[there >= 0], always_new])

        rows_old, rows_new = close(touched[0], touched[1])
        cols_old, cols_new = close(touched[2], touched[3])
        if (len(rows_new) + len(cols_new)) * n_new > _FULL_SHARE * n_new * n_new:
            self._recount()
            return self.stats
        # Each index read in its own numbering and with its own port atoms: the cells
        # outside the retaken rows and columns correspond one to one and allow the same.
        pairs = self._pairs.copy()
        for conn, w, rows, cols, n, sign in (
            (old, self._weights, rows_old, cols_old, n_old, -1),
            (new, weights, rows_new, cols_new, n_new, 1),
        ):
            every = np.arange(n, dtype=np.intp)
            others = np.setdiff1d(every, rows).astype(np.intp)
            pairs += sign * (self._cells(conn, w, rows, every) + self._cells(conn, w, others, cols))
        self._pairs = pairs
        reached = np.zeros(n_new, dtype=np.bool_)
        reached[m[live]] = self._reached[live]
        self._reached = reached
        self._node_class, self._node_pods, self._weights = node_class, node_pods, weights
        self._reach_rows(new, rows_new)
        self.stats = self._stats(new, pairs)
        return self.stats

    def _touched(
        self, old: Connectivity, new: Connectivity, change: Change
    ) -> tuple[Index, Index, Index, Index] | None:
        """The rows and columns of `[destination, source]` the change may have rewritten,
        each in the old index's numbering and in the new one's (rows old, rows new, columns
        old, columns new), or None to count from scratch."""
        if isinstance(change, PutPolicy | DeletePolicy):
            return self._policy_cells(old, new, change)
        if isinstance(change, PutPod | RelabelPod | DeletePod):
            if isinstance(change, PutPod):
                ns, name = change.pod.namespace, change.pod.name
            else:
                ns, name = change.namespace, change.name
            at_old, at_new = pod_index(old.cluster, ns, name), pod_index(new.cluster, ns, name)
            moved_old = _EMPTY if at_old is None else _one(old.classes.pod_class[at_old])
            moved_new = _EMPTY if at_new is None else _one(new.classes.pod_class[at_new])
            return moved_old, moved_new, moved_old, moved_new
        return None

    def _policy_cells(
        self, old: Connectivity, new: Connectivity, change: PutPolicy | DeletePolicy
    ) -> tuple[Index, Index, Index, Index] | None:
        if isinstance(change, PutPolicy):
            if not isinstance(change.policy, NetworkPolicy):
                return _admin_cells(old, new)
            ns, name = change.policy.namespace, change.policy.name
        else:
            if change.kind != "NetworkPolicy":
                return _admin_cells(old, new)
            ns, name = change.namespace, change.name
        out: list[Index] = []
        for conn in (old, new):
            at = position_of(conn.cluster.policies, ns, name)
            policy = None if at is None else conn.cluster.policies[at]
            if policy is None:
                out += [_EMPTY, _EMPTY]
                continue
            targets = conn.rules.policy_target_index(policy).astype(np.intp)
            out.append(targets if policy.affects(Direction.INGRESS) else _EMPTY)
            out.append(targets if policy.affects(Direction.EGRESS) else _EMPTY)
        return out[0], out[2], out[1], out[3]

    # -- counting --------------------------------------------------------------------------
    @staticmethod
    def _cells(
        conn: Connectivity,
        weights: npt.NDArray[np.int64],
        rows: Index,
        cols: Index,
    ) -> npt.NDArray[np.int64]:
        """Node pairs in the cells `rows x cols` of `[destination, source]`: all, per
        protocol, on all ports."""
        out = np.zeros(len(conn.ports.protocols) + 2, dtype=np.int64)
        if not len(rows) or not len(cols):
            return out
        protocols = _protocol_words(conn)
        full = full_word(len(conn.ports))
        col_w = weights[cols]
        col_at = np.full(conn.n_classes, -1, dtype=np.intp)
        col_at[cols] = np.arange(len(cols))
        for part in chunks(rows, len(cols), len(full)):
            block = _block(conn, part, cols)
            hits = [
                _any(block),
                *(_any(block & words) for _, words in protocols),
                (block == full).all(axis=2),
            ]
            out += _weighted(hits, weights[part], col_w, col_at[part])
        return out

    def _reach_rows(self, conn: Connectivity, rows: Index) -> None:
        """Whether some external address reaches each of `rows` (analyses/stats.py's
        `_open_to_external`, per class)."""
        if len(self._reached) != conn.n_classes:
            self._reached = np.zeros(conn.n_classes, dtype=np.bool_)
        width = len(conn.ips) if conn.ips.show_v6 else len(conn.ips.v4)
        for part in chunks(rows, len(conn.ips), len(full_word(len(conn.ports)))):
            block = from_external_block(conn, part)[:, :width]
            self._reached[part] = _any(block).any(axis=1)

    def _isolated(self, conn: Connectivity) -> tuple[npt.NDArray[np.bool_], ...]:
        """Per node, whether all its pods are isolated, ingress and egress (`_all_pods`),
        with the flattened node-to-pods arrays kept while the nodes keep their pod lists
        (a policy change keeps every list object)."""
        node_pods = self._node_pods
        cached = self._flat
        if (
            cached is None
            or len(cached[0]) != len(node_pods)
            or not all(map(operator.is_, cached[0], node_pods))
        ):
            if not node_pods:
                empty = np.zeros(0, dtype=np.bool_)
                return empty, empty
            sizes = np.fromiter((len(p) for p in node_pods), dtype=np.int64, count=len(node_pods))
            pods = np.fromiter(
                (i for p in node_pods for i in p), dtype=np.int64, count=int(sizes.sum())
            )
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
            cached = self._flat = (list(node_pods), pods, starts)
        _, pods, starts = cached
        pod_class = conn.classes.pod_class[pods]
        return tuple(
            np.asarray(np.minimum.reduceat(table.isolated[pod_class], starts), dtype=np.bool_)
            for table in (conn.ingress, conn.egress)
        )

    def _templates(self, conn: Connectivity) -> int:
        pods = conn.cluster.pods
        if self._template_pods is None or self._template_pods[0] is not pods:
            self._template_pods = (pods, sum(p.from_template for p in pods))
        return self._template_pods[1]

    def _stats(self, conn: Connectivity, pairs: npt.NDArray[np.int64]) -> Stats:
        ing, eg = self._isolated(conn)
        node_class = self._node_class
        template = self._templates(conn)
        return Stats(
            workloads=len(conn.cluster.workloads),
            pods=len(conn.cluster.pods) - template,
            namespaces=len(conn.cluster.namespaces),
            network_policies=len(conn.cluster.policies),
            guardrail_policies=len(conn.cluster.admin_policies),
            classes=conn.n_classes,
            port_atoms=len(conn.ports),
            ip_atoms=len(conn.ips),
            isolated_ingress=int(ing.sum()),
            isolated_egress=int(eg.sum()),
            isolated_both=int((ing & eg).sum()),
            allowed_pairs=int(pairs[0]),
            pairs_per_protocol=tuple(
                (p, int(pairs[1 + k])) for k, p in enumerate(conn.ports.protocols)
            ),
            pairs_all_ports=int(pairs[-1]),
            workloads_open_to_external=int(self._reached[node_class].sum())
            if len(node_class)
            else 0,
            template_pods=template,
        )


def _weighted(
    hits: list[npt.NDArray[np.bool_]],
    row_w: npt.NDArray[np.int64],
    col_w: npt.NDArray[np.int64],
    diag: Index,
) -> npt.NDArray[np.int64]:
    """Node pairs in each hit mask: a cell (a, b) stands for w_a * w_b node pairs, and a
    cell of a class with itself for w_a * (w_a - 1) (analyses/stats.py `_Weights`).
    `diag[i]`: the column of row i's own class, or -1."""
    on_diag = np.flatnonzero(diag >= 0)
    out = np.zeros(len(hits), dtype=np.int64)
    for k, hit in enumerate(hits):
        total = int(row_w @ (hit.astype(np.int64) @ col_w))
        if len(on_diag):
            own = hit[on_diag, diag[on_diag]]
            total -= int(row_w[on_diag][own].sum())
        out[k] = total
    return out


def _block(conn: Connectivity, rows: Index, cols: Index) -> npt.NDArray[np.uint64]:
    """`incoming_block` for any rows: on materialised tables gathered cell by cell, where
    `incoming_block` would slice the whole span between scattered rows."""
    if conn.egress.materialised and conn.ingress.materialised:
        ing = conn.ingress.bits[np.ix_(rows, cols)]
        return np.asarray(ing & conn.egress.bits[np.ix_(cols, rows)].transpose(1, 0, 2))
    return incoming_block(conn, rows, cols)


def _comparable(old: Connectivity, new: Connectivity) -> bool:
    """Whether nothing but the NetworkPolicy and guardrail tables decides a cell in either
    index (no mesh, user-defined networks or ingress controller), and both show the same
    address families. Port and address atoms may differ: a change refines them (a new port
    number, a new CIDR), which leaves what every untouched cell allows as it was."""
    for conn in (old, new):
        if conn.mesh is not None or conn.isolation is not None:
            return False
        if conn.classes.controller is not None:
            return False
        if conn.calico is not None or conn.cluster.has_calico:
            return False  # Calico's ordered tiers decide cells a policy's targets do not bound
    # The protocols counted (those some policy names, engine PortAtoms) decide what an
    # allow-everything cell counts for: when they change, every cell's counts may.
    return old.ips.show_v6 == new.ips.show_v6 and old.ports.protocols == new.ports.protocols


def _class_map(old: Connectivity, new: Connectivity) -> Index | None:
    """`m[c]`: the new index's number for the old index's class c, -1 when the change
    emptied it; None when the two cannot be matched (no class keys: a rebuild)."""
    if old.classes is new.classes:
        return np.arange(old.n_classes, dtype=np.intp)
    before, after = old.classes.keys, new.classes.keys
    if before is None or after is None or len(before) != old.n_classes:
        return None
    if len(after) != new.n_classes:
        return None
    m = np.full(old.n_classes, -1, dtype=np.intp)
    for key, c in before.items():
        m[c] = after.get(key, -1)
    image = m[m >= 0]
    if len(np.unique(image)) != len(image):
        return None
    return m


def _admin_cells(old: Connectivity, new: Connectivity) -> tuple[Index, Index, Index, Index]:
    """A guardrail change: the old and new subjects of every guardrail policy that is not in
    both clusters, as rows and columns."""
    before, after = old.cluster.admin_policies, new.cluster.admin_policies
    changed: list[AdminPolicy] = [p for p in before if p not in after]
    changed += [p for p in after if p not in before]
    cells = []
    for conn in (old, new):
        parts = [
            np.flatnonzero(conn.rules.subject_targets(p.subject)).astype(np.intp) for p in changed
        ]
        cells.append(_union(parts))
    return cells[0], cells[1], cells[0], cells[1]


class _SameMemo:
    """`same_behaviour` with its answers kept across changes, for the workloads whose pods
    fall in several classes (`workload_nodes` asks about each of them every time, and at
    100,000 pods each question reads whole rows of the matrices). An answer stays true
    while the classes also agree on the cells the change rewrote (read from the new
    index), and false while the cell that told them apart (kept as a witness) was not
    rewritten; an answer about a class the change created, emptied or rewrote is asked
    again."""

    def __init__(self) -> None:
        self.known: dict[tuple[int, ...], tuple[bool, tuple[str, int] | None]] = {}

    def __call__(self, conn: Connectivity, classes: list[int]) -> bool:
        key = tuple(classes)
        hit = self.known.get(key)
        if hit is None:
            hit = self.known[key] = _behaviour(conn, np.array(key, dtype=np.intp))
        return hit[0]

    def carry(self, new: Connectivity, m: Index, rows: Index, cols: Index) -> None:
        rewritten = set(rows.tolist()) | set(cols.tolist())
        row_set, col_set = set(rows.tolist()), set(cols.tolist())
        out: dict[tuple[int, ...], tuple[bool, tuple[str, int] | None]] = {}
        for key, (same, witness) in self.known.items():
            mapped = sorted(int(m[c]) for c in key)
            if mapped[0] < 0 or rewritten.intersection(mapped):
                continue
            now = tuple(mapped)
            if not same:
                if witness is None or witness[0] == "ext":
                    out[now] = (False, witness)  # external cells of untouched classes stay
                    continue
                at = int(m[witness[1]])
                if at >= 0 and at not in (row_set if witness[0] == "row" else col_set):
                    out[now] = (False, (witness[0], at))
                continue
            differ = _differs_on(new, np.array(now, dtype=np.intp), rows, cols)
            out[now] = (differ is None, differ)
        self.known = out


def _behaviour(conn: Connectivity, cls: Index) -> tuple[bool, tuple[str, int] | None]:
    """`same_behaviour` with where the classes differ: ("row", d) when they differ on the
    cells of destination d, ("col", s) on those of source s, ("ext", -1) outside."""
    every = np.arange(conn.n_classes, dtype=np.intp)
    differ = _differs_on(conn, cls, every, every)
    if differ is not None:
        return False, differ
    for table in (to_external_block(conn, cls), from_external_block(conn, cls)):
        if not bool((table == table[0]).all()):
            return False, ("ext", -1)
    return True, None


def _differs_on(conn: Connectivity, cls: Index, rows: Index, cols: Index) -> tuple[str, int] | None:
    """Where the classes `cls` differ on the cells of destinations `rows` (as sources) or
    of sources `cols` (as destinations), or None."""
    if len(rows):
        block = incoming_block(conn, rows, cls)  # [rows, cls, words]
        bad = np.flatnonzero((block != block[:, :1]).any(axis=(1, 2)))
        if len(bad):
            return "row", int(rows[bad[0]])
    if len(cols):
        block = incoming_block(conn, cls, cols)  # [cls, cols, words]
        bad = np.flatnonzero((block != block[:1]).any(axis=(0, 2)))
        if len(bad):
            return "col", int(cols[bad[0]])
    return None


def _mapped(m: Index, classes: Index) -> Index:
    there = m[classes]
    return there[there >= 0].astype(np.intp)


def _one(c: object) -> Index:
    return np.array([c], dtype=np.intp)


def _union(parts: list[Index]) -> Index:
    if not parts:
        return _EMPTY
    return np.unique(np.concatenate(parts)).astype(np.intp)
