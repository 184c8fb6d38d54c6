"""Semantic difference of connectivity between two inputs (OLD = ref1, NEW = ref2).

Why this shape: a diff of two connectivity lists as text is meaningless, because the same
connectivity prints differently (external ranges are cut at whatever CIDRs each input's
policies mention). So both inputs are compared as sets: workload pairs by name, and external
address ranges re-cut to a common refinement of both sides' ranges, then merged again into
maximal runs where the pair of connection sets (old, new) stays the same.

Semantics follow np-guard/netpol-analyzer's `pkg/netpol/diff` (diff.go, diff_formatter.go),
which the expected outputs in ../shared/conformance/netpol-analyzer/expected/diff/ come from:

- a (source, destination) key present in both inputs with different connection sets is
  `changed`; present only in OLD, `removed`; only in NEW, `added`. Equal sets are omitted.
- IP peers: both sides' address ranges are refined to disjoint blocks, compared per block,
  and touching blocks with the same (old, new) connection pair are merged again.
- a workload that exists in only one input is "new or lost": rows touching it carry that
  workload in `workloads-diff-info`. Address ranges and the ingress controller never count.
  Workload existence is judged on every workload of the input, not only on those with
  connections (netpol-analyzer passes the full peer list of each side).
- address families: a connectivity list shows IPv6 ranges only when its input mentions one
  (engine/index/atoms.py `IPAtoms.show_v6`), but every input has IPv6 connectivity. When either
  side shows IPv6, both are compared over IPv6, each side's rows computed from its own
  Connectivity (`comparable`), so that a policy naming `::/0` on one side only is no
  difference by itself while a real IPv6 change is still reported.

Workload pairs are compared with numpy over integer keys (no Python loop over pairs); only the
rows that differ become Python objects, since each of them is printed anyway.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, replace
from enum import Enum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from microseg.engine import INGRESS_CONTROLLER_NAME, Connectivity, WorkloadGraph
from microseg.model.sets import ConnSet, IntervalSet, IPSet

__all__ = ["ConnectivityDiff", "DiffRow", "DiffType", "Peer", "comparable", "diff_graphs"]

Peer = str | IPSet
"""A workload node name (`ns/name[Kind]`), `{ingress-controller}`, or one contiguous
address range of a single family."""


class DiffType(Enum):
    """netpol-analyzer's diff categories, in the order its outputs list them."""

    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


class DiffRow(NamedTuple):
    """One (source, destination) whose allowed connections differ. `ref1` is OLD's set and
    `ref2` NEW's (empty for added / removed rows). `new_or_lost` names the endpoints, source
    first, that exist in only one of the inputs. A NamedTuple rather than a frozen dataclass:
    as immutable, and about ten times cheaper to build, which counts when two unrelated
    clusters differ in hundreds of thousands of pairs."""

    kind: DiffType
    src: Peer
    dst: Peer
    ref1: ConnSet
    ref2: ConnSet
    new_or_lost: tuple[str, ...] = ()

    @property
    def from_ingress_controller(self) -> bool:
        return self.src == INGRESS_CONTROLLER_NAME


@dataclass(frozen=True, slots=True)
class ConnectivityDiff:
    """The differences, changed then added then removed; within each category, workload
    pairs by (source, destination), then address rows by (source, destination), then the
    ingress controller's rows by destination (netpol-analyzer also lists those last)."""

    rows: tuple[DiffRow, ...]
    added_workloads: tuple[str, ...]
    removed_workloads: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def count(self, kind: DiffType) -> int:
        return sum(1 for r in self.rows if r.kind is kind)


def comparable(old: Connectivity, new: Connectivity) -> tuple[Connectivity, Connectivity]:
    """The two inputs set to show the same address families: IPv6 on both when either shows
    it. Only the display flag changes; the tables already hold every IPv6 atom, so the side
    that mentions no IPv6 gets its real IPv6 rows (one atom, `::/0`) in its WorkloadGraph."""
    v6 = old.ips.show_v6 or new.ips.show_v6

    def shown(c: Connectivity) -> Connectivity:
        return c if c.ips.show_v6 == v6 else replace(c, ips=replace(c.ips, show_v6=v6))

    return shown(old), shown(new)


def diff_graphs(old: WorkloadGraph, new: WorkloadGraph) -> ConnectivityDiff:
    """The connectivity of `new` compared with `old` (ref1 = old, ref2 = new). Build both
    graphs from `comparable` Connectivities: an address family one graph hides is otherwise
    taken as allowing nothing."""
    old_names, new_names = set(old.nodes), set(new.nodes)
    pairs = _pair_rows(old, new, old_names, new_names)  # already in (src, dst) order
    others = _external_rows(old, new, old_names, new_names)
    others.sort(key=lambda r: (_key(r.src), _key(r.dst)))
    ingress = _ingress_rows(old, new, old_names, new_names)  # by destination
    rows: list[DiffRow] = []
    for kind in DiffType:
        rows += pairs[kind]
        rows += [r for r in others if r.kind is kind]
        rows += [r for r in ingress if r.kind is kind]
    return ConnectivityDiff(
        tuple(rows),
        tuple(sorted(new_names - old_names)),
        tuple(sorted(old_names - new_names)),
    )


def _key(peer: Peer) -> tuple[int, str, int, int]:
    """Order: names, then IPv4 ranges, then IPv6 ranges, each by first address."""
    if isinstance(peer, str):
        return (0, peer, 0, 0)
    if peer.v4:
        return (1, "", peer.v4.intervals[0][0], peer.v4.intervals[0][1])
    lo, hi = peer.v6.intervals[0] if peer.v6 else (0, 0)
    return (2, "", lo, hi)


def _row(
    a: ConnSet, b: ConnSet, src: Peer, dst: Peer, old_names: set[str], new_names: set[str]
) -> DiffRow:
    """Classify one differing (src, dst); `a` and `b` must differ."""
    if a and b:
        return DiffRow(DiffType.CHANGED, src, dst, a, b)
    kind, other = (DiffType.ADDED, old_names) if b else (DiffType.REMOVED, new_names)
    lost = tuple(
        p
        for p in (src, dst)
        if isinstance(p, str) and p != INGRESS_CONTROLLER_NAME and p not in other
    )
    return DiffRow(kind, src, dst, a, b, lost)


# --- workload pairs ----------------------------------------------------------------------


PAIRS_PER_BLOCK = 4_000_000
"""Source x destination pairs one block of the comparison looks at: a few tens of
megabytes of keys, whatever the size of the clusters compared."""


def _pair_rows(
    old: WorkloadGraph, new: WorkloadGraph, old_names: set[str], new_names: set[str]
) -> dict[DiffType, list[DiffRow]]:
    """Rows per category, each in (source, destination) order: names are sorted, so the
    sorted integer keys src * n + dst are too.

    Both graphs are walked together by blocks of source names (in the sorted union), each
    block's edges computed from the engine's tables and compared at once: only the rows
    that differ are kept, never the edges of a whole graph (two open clusters of 12,000
    pods are 144 million edges each, and equal)."""
    names = sorted(old_names | new_names)
    pos = {n: i for i, n in enumerate(names)}
    n = max(len(names), 1)
    sets: dict[ConnSet, int] = {}
    table: list[ConnSet] = []
    in_old = np.array([x in old_names for x in names], dtype=np.bool_)
    in_new = np.array([x in new_names for x in names], dtype=np.bool_)
    none = ConnSet.none()
    rows: dict[DiffType, list[DiffRow]] = {kind: [] for kind in DiffType}

    class Side:
        """One graph's nodes in union order, and its connection ids as the diff's."""

        def __init__(self, g: WorkloadGraph) -> None:
            self.g = g
            self.index = np.array([pos[x] for x in g.nodes], dtype=np.int64)
            self.by_pos = np.argsort(self.index, kind="stable")  # graph nodes, union order
            self.sorted_pos = self.index[self.by_pos]
            self.every = np.arange(len(g.nodes), dtype=np.int64)
            self.lut = np.zeros(0, dtype=np.int64)  # the diff's id of each graph id so far

        def gids(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
            """The diff's connection ids of graph ids: one gather through a table that
            grows as the graph registers sets (they are few), not a sort per block."""
            top = int(ids.max()) + 1 if len(ids) else 0
            if top > len(self.lut):
                more = []
                for k in range(len(self.lut), top):
                    c = self.g.conn_set(k)
                    gid = sets.get(c)
                    if gid is None:
                        gid = sets[c] = len(table)
                        table.append(c)
                    more.append(gid)
                self.lut = np.concatenate([self.lut, np.array(more, dtype=np.int64)])
            mapped: npt.NDArray[np.int64] = self.lut[ids]
            return mapped

        def edges(self, lo: int, hi: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
            """(key, connection id) of the edges from sources at union positions [lo, hi),
            sorted by key."""
            a, b = np.searchsorted(self.sorted_pos, [lo, hi])
            sources = self.by_pos[a:b]
            keys: list[npt.NDArray[np.int64]] = []
            conns: list[npt.NDArray[np.int64]] = []
            if len(sources) and len(self.every):
                for part in self.g.source_chunks(sources, len(self.every)):
                    i, j, k = self.g.block(np.asarray(part, dtype=np.int64), self.every)
                    keys.append(self.index[part[i]] * n + self.index[j])
                    conns.append(self.gids(k))
            if not keys:
                return np.zeros(0, np.int64), np.zeros(0, np.int64)
            key, conn = np.concatenate(keys), np.concatenate(conns)
            order = np.argsort(key, kind="stable")
            return key[order], conn[order]

    def emit(
        kind: DiffType,
        keys: npt.NDArray[np.int64],
        a: npt.NDArray[np.int64] | None,
        b: npt.NDArray[np.int64] | None,
    ) -> None:
        """Rows of one category; `None` for the side that allows nothing. Which endpoints
        exist on one side only is decided for the whole block at once."""
        s, d = np.divmod(keys, n)
        other = in_new if kind is DiffType.REMOVED else in_old
        lost_s = (~other[s]).tolist() if kind is not DiffType.CHANGED else [False] * len(s)
        lost_d = (~other[d]).tolist() if kind is not DiffType.CHANGED else [False] * len(d)
        xs = [table[i] for i in a.tolist()] if a is not None else [none] * len(keys)
        ys = [table[i] for i in b.tolist()] if b is not None else [none] * len(keys)
        out = rows[kind]
        for si, di, x, y, ls, ld in zip(
            s.tolist(), d.tolist(), xs, ys, lost_s, lost_d, strict=True
        ):
            src, dst = names[si], names[di]
            lost = (src, dst) if ls and ld else (src,) if ls else (dst,) if ld else ()
            out.append(DiffRow(kind, src, dst, x, y, lost))

    one, two = Side(old), Side(new)
    step = max(1, PAIRS_PER_BLOCK // n)
    for lo in range(0, len(names), step):
        k1, c1 = one.edges(lo, lo + step)
        k2, c2 = two.edges(lo, lo + step)
        # Both key arrays are sorted and unique: one binary search pairs them up.
        at = np.minimum(np.searchsorted(k2, k1), max(len(k2) - 1, 0))
        found = k2[at] == k1 if len(k2) else np.zeros(len(k1), dtype=np.bool_)
        i1, i2 = np.flatnonzero(found), at[found]
        changed = c1[i1] != c2[i2]
        only_old = ~found
        only_new = np.ones(len(k2), dtype=np.bool_)
        only_new[i2] = False
        emit(DiffType.CHANGED, k1[i1][changed], c1[i1][changed], c2[i2][changed])
        emit(DiffType.ADDED, k2[only_new], None, c2[only_new])
        emit(DiffType.REMOVED, k1[only_old], c1[only_old], None)
    return rows


# --- the ingress controller ----------------------------------------------------------------


def _ingress_rows(
    old: WorkloadGraph, new: WorkloadGraph, old_names: set[str], new_names: set[str]
) -> list[DiffRow]:
    a = {old.nodes[i]: old.conn_set(k) for i, k in old.ingress}
    b = {new.nodes[i]: new.conn_set(k) for i, k in new.ingress}
    none = ConnSet.none()
    return [
        _row(a.get(d, none), b.get(d, none), INGRESS_CONTROLLER_NAME, d, old_names, new_names)
        for d in sorted(set(a) | set(b))
        if a.get(d, none) != b.get(d, none)
    ]


# --- external address ranges -----------------------------------------------------------------

Runs = list[tuple[int, int, ConnSet]]  # disjoint (first, last, conns), sorted


def _runs_by_node(g: WorkloadGraph) -> dict[tuple[str, bool, int], Runs]:
    """(node name, outbound, family 4|6) -> the node's address runs in that family."""
    out: dict[tuple[str, bool, int], Runs] = defaultdict(list)
    for e in g.external:
        name, conns = g.nodes[e.node], g.conn_set(e.conns)
        for family, ivs in ((4, e.addresses.v4), (6, e.addresses.v6)):
            out[(name, e.outbound, family)].extend((lo, hi, conns) for lo, hi in ivs)
    for runs in out.values():
        runs.sort(key=lambda r: r[0])
    return out


def refine(a: Runs, b: Runs) -> list[tuple[int, int, ConnSet, ConnSet]]:
    """Cut both sides' runs at every boundary of either side, then merge touching pieces
    whose (old, new) pair is equal. Pieces where neither side allows anything are dropped."""
    points = sorted({r[0] for r in a + b} | {r[1] + 1 for r in a + b})
    none = ConnSet.none()
    out: list[tuple[int, int, ConnSet, ConnSet]] = []
    i = j = 0
    for lo, nxt in itertools.pairwise(points):
        hi = nxt - 1
        while i < len(a) and a[i][1] < lo:
            i += 1
        while j < len(b) and b[j][1] < lo:
            j += 1
        x = a[i][2] if i < len(a) and a[i][0] <= lo else none
        y = b[j][2] if j < len(b) and b[j][0] <= lo else none
        if not x and not y:
            continue
        if out and out[-1][1] + 1 == lo and out[-1][2] == x and out[-1][3] == y:
            out[-1] = (out[-1][0], hi, x, y)
        else:
            out.append((lo, hi, x, y))
    return out


def _external_rows(
    old: WorkloadGraph, new: WorkloadGraph, old_names: set[str], new_names: set[str]
) -> list[DiffRow]:
    a, b = _runs_by_node(old), _runs_by_node(new)
    rows: list[DiffRow] = []
    for key in set(a) | set(b):
        ra, rb = a.get(key, []), b.get(key, [])
        if ra == rb:
            continue
        name, outbound, family = key
        for lo, hi, x, y in refine(ra, rb):
            if x == y:
                continue
            span = IntervalSet.span(lo, hi)
            peer = IPSet(v4=span) if family == 4 else IPSet(v6=span)
            src, dst = (name, peer) if outbound else (peer, name)
            rows.append(_row(x, y, src, dst, old_names, new_names))
    return rows
