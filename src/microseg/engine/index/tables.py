"""Per-direction allow tables: admin tier, NetworkPolicy, baseline tier, default.

`allow[t, q, a]` says whether target class t admits peer column q on port atom a in the
table's direction: for ingress the peer is the source, for egress the destination.

Order of evaluation per direction (network-policy-api, AdminNetworkPolicy and
BaselineAdminNetworkPolicy API reference):
1. Admin tier: policies by ascending priority, rules in written order; the first rule that
   matches decides. Allow and Deny are final; Pass skips every remaining admin rule.
2. NetworkPolicy: if any NetworkPolicy isolates the pod in this direction, its allow rules
   decide, and the baseline is never consulted.
3. Baseline tier (only for pods no NetworkPolicy isolates): first matching rule decides.
4. Default: allow.
Each port atom is decided on its own, so one connection can be split across tiers.

A table is held as its compiled rules, not as its cells: rules with identical peers and
ports are merged into groups (target classes x peer columns x port words), and any block
`[rows, cols]` of the table is materialised from them on demand, one numpy operation per
group that touches the block, never per pod pair. Small clusters materialise the whole
table once (`bits`); at 150,000 pods the whole table would be tens of gigabytes, so counts
walk it in row or column chunks (`block`) and single queries read one cell (`cell`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from microseg.engine.combine import (
    ALLOW,
    CODE_OF,
    DENY,
    Code,
    PackedTier,
    stack_packed,
)
from microseg.engine.index.packed import Bits, full_word, unpack
from microseg.engine.index.rules import RuleCompiler
from microseg.engine.index.unique import sorted_unique
from microseg.model.admin import AdminPolicy, AdminRule
from microseg.model.netpol import Direction, NetworkPolicy, Peer, PortSpec

if TYPE_CHECKING:  # Calico's tiers (calico_compile.py): only with Calico input
    from microseg.engine.index.firstmatch import FirstMatchTier

__all__ = [
    "DirectionTable",
    "Selection",
    "build_table",
    "make_group",
]


Index = npt.NDArray[np.intp]


class Selection:
    """Sorted row or column indices of a block; `None` for all. Contiguous runs (the chunks
    of a count) intersect a group's sorted indices with two binary searches, other sets
    through a position map built once per block."""

    def __init__(self, index: Index | None, size: int) -> None:
        self.size = size
        self.index = index
        self.all = index is None
        n = size if index is None else len(index)
        self.count = n
        self.lo = 0 if index is None or not n else int(index[0])
        self.contiguous = index is None or not n or int(index[-1]) - self.lo + 1 == n
        self._pos: Index | None = None

    def bounds(self) -> tuple[int, int]:
        """The first and last selected index (the selection is not empty)."""
        if self.index is None:
            return 0, self.size - 1
        return self.lo, int(self.index[-1])

    def positions(self) -> Index:
        """Every selected index in order (what `index` is, or `arange` for all)."""
        return np.arange(self.size) if self.index is None else self.index

    def restrict(self, members: Index) -> tuple[Index, Index]:
        """`(positions in the block, the members themselves)` of sorted `members` that the
        selection holds."""
        if self.all:
            return members, members
        if self.contiguous:
            i0, i1 = np.searchsorted(members, (self.lo, self.lo + self.count))
            sub = members[i0:i1]
            return sub - self.lo, sub
        if self._pos is None:
            pos = np.full(self.size, -1, dtype=np.intp)
            assert self.index is not None
            pos[self.index] = np.arange(len(self.index))
            self._pos = pos
        p = self._pos[members]
        keep = p >= 0
        return p[keep], members[keep]


GroupKey = tuple[tuple[Peer, ...] | None, tuple[PortSpec, ...] | None]


@dataclass(frozen=True, slots=True)
class _Group:
    """NetworkPolicy rules that share peers and ports, with the union of their targets.
    `sources` keeps each contributing policy's targets (by index into cluster.policies), so
    that an incremental update can take one policy out again."""

    targets: Index
    peers: Index
    ports: tuple[PortSpec, ...] | None
    peer_list: tuple[Peer, ...] | None = None
    sources: tuple[tuple[int, Index], ...] = ()

    @property
    def key(self) -> GroupKey:
        return (self.peer_list, self.ports)


@dataclass(frozen=True, slots=True)
class _TierPolicy:
    """One admin or baseline policy with rules in this direction: its subjects (class
    indices) and its rules in order as `(peer columns, ports, action code)`."""

    subjects: Index
    rules: tuple[tuple[Index, tuple[PortSpec, ...] | None, Code], ...]
    policy: AdminPolicy | None = None


def _port_words(
    rc: RuleCompiler,
    ports: tuple[PortSpec, ...] | None,
    direction: Direction,
    t_idx: Index,
    q_idx: Index,
) -> Bits:
    """The packed port atoms a rule covers for targets `t_idx` and peers `q_idx`, only as
    wide as they vary: `[1, 1, W]` for numeric ports, `[T, 1, W]` or `[1, Q, W]` when named
    ports resolve on the destination: the target for ingress, the peer for egress
    (external peers have no named ports)."""
    words = rc.numeric_words(ports)
    named = rc.named_words(ports)
    if named is None:
        return words[None, None, :]
    if direction is Direction.INGRESS:
        return (named[t_idx] | words)[:, None, :]
    per_peer = np.broadcast_to(words, (len(q_idx), len(words))).copy()
    pods = q_idx < rc.n_classes
    per_peer[pods] |= named[q_idx[pods]]
    return per_peer[None, :, :]


def _csr(parts: Sequence[Index], n_rows: int) -> tuple[Index, Index]:
    """`(start, ids)`: for row r, `ids[start[r]:start[r + 1]]` are the k with r in parts[k]."""
    if not parts:
        return np.zeros(n_rows + 1, dtype=np.intp), np.zeros(0, dtype=np.intp)
    rows = np.concatenate(parts)
    ids = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    order = np.argsort(rows, kind="stable")
    start = np.zeros(n_rows + 1, dtype=np.intp)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=start[1:])
    return start, ids[order]


@dataclass(frozen=True, slots=True)
class DirectionTable:
    """One direction's compiled rules, materialised on demand. `bits[t, q]` holds the
    allowed port atoms packed into words (engine/index/packed.py) for the whole table, built on
    first use; `allow` is the same as one boolean per atom."""

    direction: Direction
    isolated: npt.NDArray[np.bool_]
    n_atoms: int
    rc: RuleCompiler = field(repr=False, compare=False)
    groups: tuple[_Group, ...] = field(repr=False, compare=False)
    selecting: tuple[tuple[int, Index], ...] = field(repr=False, compare=False)
    """`(index into cluster.policies, target classes)` of the NetworkPolicies of this
    direction that select some class, in input order."""
    admin: tuple[_TierPolicy, ...] = field(repr=False, compare=False)
    baseline: tuple[_TierPolicy, ...] = field(repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    calico: tuple[FirstMatchTier, ...] | None = field(default=None, repr=False, compare=False)
    """With Calico objects in the input: every tier as a first-match tier, top first
    (engine/index/calico_compile.py); `isolated` is then where what no rule allows is
    dropped, and the NetworkPolicy groups are empty."""

    @property
    def n_rows(self) -> int:
        return self.rc.n_classes

    @property
    def n_cols(self) -> int:
        return self.rc.n_peers

    @property
    def materialised(self) -> bool:
        return "bits" in self._cache

    @property
    def bits(self) -> Bits:
        """The whole table `[t, q, word]`."""
        if "bits" not in self._cache:
            self._cache["bits"] = self.block(None, None)
        out: Bits = self._cache["bits"]
        return out

    @property
    def allow(self) -> npt.NDArray[np.bool_]:
        """`[t, q, atom]` booleans."""
        if "allow" not in self._cache:
            self._cache["allow"] = unpack(self.bits, self.n_atoms)
        out: npt.NDArray[np.bool_] = self._cache["allow"]
        return out

    def cell(self, t: int | np.integer[Any], q: int | np.integer[Any]) -> npt.NDArray[np.bool_]:
        """`allow[t, q]`, read from the table when it is materialised, else computed from the
        groups that target `t` alone (for single queries on large clusters)."""
        if self.materialised:
            return unpack(self.bits[t, q], self.n_atoms)
        if self.calico is not None:
            one_t, one_q = np.array([t], dtype=np.intp), np.array([q], dtype=np.intp)
            return unpack(self.block(one_t, one_q)[0, 0], self.n_atoms)
        start, ids = self._row_groups()
        mine = ids[start[t] : start[t + 1]]
        if not self.admin and not self.baseline:
            return unpack(self._netpol_cell(int(t), int(q), mine.tolist()), self.n_atoms)
        one = np.array([t], dtype=np.intp), np.array([q], dtype=np.intp)
        return unpack(self.block(one[0], one[1], mine.tolist())[0, 0], self.n_atoms)

    def _netpol_cell(self, t: int, q: int, mine: list[int]) -> Bits:
        """One cell when no guardrail tier applies: the OR of the port words of the groups
        that target t and have q as a peer, or every port when nothing isolates t. A query
        asks for two cells, so this skips the block machinery entirely."""
        if not self.isolated[t]:
            return full_word(self.n_atoms)
        word = np.zeros(self.rc.n_words, dtype=np.uint64)
        one_t, one_q = np.array([t], dtype=np.intp), np.array([q], dtype=np.intp)
        for k in mine:
            g = self.groups[k]
            i = int(np.searchsorted(g.peers, q))
            if i < len(g.peers) and g.peers[i] == q:
                word |= _port_words(self.rc, g.ports, self.direction, one_t, one_q)[0, 0]
        return word

    def policies_of(self, t: int | np.integer[Any]) -> list[int]:
        """Indices into `cluster.policies` of the NetworkPolicies of this direction that
        select class `t`, in input order."""
        if "policy_rows" not in self._cache:
            self._cache["policy_rows"] = _csr([idx for _, idx in self.selecting], self.n_rows)
        start, ids = self._cache["policy_rows"]
        return [self.selecting[int(k)][0] for k in sorted(ids[start[t] : start[t + 1]].tolist())]

    # -- what incremental updates (engine/incremental/apply.py) carry from one table to the next --
    def selector_counts(self) -> npt.NDArray[np.int64]:
        """How many NetworkPolicies of this direction select each class."""
        if "counts" not in self._cache:
            parts = [t for _, t in self.selecting]
            rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)
            self._cache["counts"] = np.bincount(rows, minlength=self.n_rows).astype(np.int64)
        out: npt.NDArray[np.int64] = self._cache["counts"]
        return out

    def group_index(self) -> dict[GroupKey, int]:
        """Group position by its `(peers, ports)` key."""
        if "group_index" not in self._cache:
            self._cache["group_index"] = {g.key: k for k, g in enumerate(self.groups)}
        out: dict[GroupKey, int] = self._cache["group_index"]
        return out

    def cached_bounds(self) -> npt.NDArray[np.intp] | None:
        out: npt.NDArray[np.intp] | None = self._cache.get("bounds")
        return out

    def adopt(
        self,
        counts: npt.NDArray[np.int64],
        index: dict[GroupKey, int],
        bounds: npt.NDArray[np.intp] | None,
    ) -> None:
        """Take over what an incremental update already knows about this table."""
        self._cache["counts"] = counts
        self._cache["group_index"] = index
        if bounds is not None:
            self._cache["bounds"] = bounds

    def adopt_bits(self, bits: Bits) -> None:
        self._cache["bits"] = bits

    def compile_tier(self, policies: tuple[AdminPolicy, ...]) -> tuple[_TierPolicy, ...]:
        return _compile_tier(self.rc, policies, self.direction)

    def _bounds(self) -> npt.NDArray[np.intp]:
        """`[group, (first target, last target, first peer, last peer)]`: a block skips the
        groups whose spans miss it with one vectorised test. Targets are one namespace's
        classes and most peers too, so a chunk of a large cluster meets few groups."""
        if "bounds" not in self._cache:
            spans = [
                (g.targets[0], g.targets[-1], g.peers[0], g.peers[-1])
                if len(g.targets) and len(g.peers)
                else (1, 0, 1, 0)  # meets no block
                for g in self.groups
            ]
            self._cache["bounds"] = np.array(spans, dtype=np.intp).reshape(-1, 4)
        out: npt.NDArray[np.intp] = self._cache["bounds"]
        return out

    def _candidates(self, r_sel: Selection, c_sel: Selection) -> list[int] | None:
        """The groups whose target and peer spans meet the block; None: all of them."""
        if r_sel.all and c_sel.all:
            return None
        b = self._bounds()
        hit = np.ones(len(b), dtype=np.bool_)
        for sel, lo_col in ((r_sel, 0), (c_sel, 2)):
            if sel.all or not sel.count:
                hit &= bool(sel.count)
                continue
            first, last = sel.bounds()
            hit &= (b[:, lo_col] <= last) & (b[:, lo_col + 1] >= first)
        return np.flatnonzero(hit).tolist()

    def _row_groups(self) -> tuple[Index, Index]:
        if "group_rows" not in self._cache:
            self._cache["group_rows"] = _csr([g.targets for g in self.groups], self.n_rows)
        out: tuple[Index, Index] = self._cache["group_rows"]
        return out

    def block(
        self,
        rows: Index | None,
        cols: Index | None,
        groups: Sequence[int] | None = None,
        transposed: bool = False,
    ) -> Bits:
        """`bits[rows][:, cols]` computed from the rules: sorted class indices for `rows`,
        sorted peer columns for `cols` (None: all). `groups` limits the NetworkPolicy groups
        looked at to those that can target the rows (a caller's index). `transposed` gives
        the block as `[cols, rows]`, written that way rather than transposed afterwards, so
        that combining it with the other direction's block reads memory in order."""
        rc = self.rc
        r_sel, c_sel = Selection(rows, self.n_rows), Selection(cols, self.n_cols)
        if self.calico is not None:
            return self._calico_block(r_sel, c_sel, transposed)
        shape = (r_sel.count, c_sel.count, rc.n_words)
        out = np.zeros((shape[1], shape[0], shape[2]) if transposed else shape, dtype=np.uint64)
        if groups is None:
            groups = self._candidates(r_sel, c_sel)
        chosen = self.groups if groups is None else [self.groups[k] for k in groups]
        for g in chosen:
            tp, tm = r_sel.restrict(g.targets)
            if not len(tp):
                continue
            qp, qm = c_sel.restrict(g.peers)
            if not len(qp):
                continue
            words = _port_words(rc, g.ports, self.direction, tm, qm)
            if transposed:
                out[np.ix_(qp, tp)] |= words.transpose(1, 0, 2)
            else:
                out[np.ix_(tp, qp)] |= words
        view = out.transpose(1, 0, 2) if transposed else out  # [rows, cols] either way
        row_ids = r_sel.positions()
        above = self._tier(self.admin, r_sel, c_sel)
        below = self._tier(self.baseline, r_sel, c_sel)
        stack_packed(
            view,
            self.isolated[row_ids],
            () if above is None else (above,),
            () if below is None else (below,),
            full_word(self.n_atoms),
        )
        return out

    def _calico_block(self, r_sel: Selection, c_sel: Selection, transposed: bool) -> Bits:
        """A block under Calico's tiers: everything, then each tier over it from the
        bottom up (as engine/combine.py over_packed lays a tier, by kinds of rows and columns:
        firstmatch.TierKinds.over), one tier's arrays alive at a time."""
        assert self.calico is not None
        rc = self.rc
        everything = full_word(self.n_atoms)
        table = np.empty((r_sel.count, c_sel.count, rc.n_words), dtype=np.uint64)
        table[...] = everything
        for tier in reversed(self.calico):
            kinds = tier.decide(
                rc, rc.n_classes, self.direction, r_sel, c_sel, rc.n_words, everything
            )
            if kinds is not None:
                kinds.over(table)
        return np.ascontiguousarray(table.transpose(1, 0, 2)) if transposed else table

    def _tier(
        self, policies: tuple[_TierPolicy, ...], r_sel: Selection, c_sel: Selection
    ) -> PackedTier | None:
        """First-match-wins decisions of one tier over the block, for the block rows it has
        subjects in (engine/combine.py stacks them); None when no rule applies. Guardrails
        usually cover a part of the cluster, so only those rows are materialised."""
        active = []
        for policy in policies:
            pos, members = r_sel.restrict(policy.subjects)
            if len(pos):
                active.append((policy, pos, members))
        if not active:
            return None
        rows = sorted_unique(np.concatenate([pos for _, pos, _ in active]))
        position = np.full(r_sel.count, -1, dtype=np.intp)
        position[rows] = np.arange(len(rows))
        shape = (len(rows), c_sel.count, self.rc.n_words)
        decided = np.zeros(shape, dtype=np.uint64)
        verdict = {ALLOW: np.zeros(shape, dtype=np.uint64), DENY: np.zeros(shape, dtype=np.uint64)}
        for policy, pos, members in active:
            t_pos = position[pos]
            for peers, ports, code in policy.rules:
                qp, qm = c_sel.restrict(peers)
                if not len(qp):
                    continue
                cells = np.ix_(t_pos, qp)
                before = decided[cells]
                hit = _port_words(self.rc, ports, self.direction, members, qm) & ~before
                decided[cells] = before | hit
                if code in verdict:
                    verdict[code][cells] |= hit
        return PackedTier(rows, verdict[ALLOW], verdict[DENY])


def _compile_tier(
    rc: RuleCompiler, policies: tuple[AdminPolicy, ...], direction: Direction
) -> tuple[_TierPolicy, ...]:
    out = []
    for policy in policies:
        rules: tuple[AdminRule, ...] = policy.rules(direction)
        if not rules:
            continue
        # Kept without subjects too: a pod added or relabelled later may become one.
        subjects = np.flatnonzero(rc.subject_targets(policy.subject))
        compiled = tuple((rc.peer_index(r.peers), r.ports, CODE_OF[r.action]) for r in rules)
        out.append(_TierPolicy(subjects, compiled, policy))
    return tuple(out)


def build_table(
    rc: RuleCompiler,
    policies: tuple[NetworkPolicy, ...],
    direction: Direction,
    admin: tuple[AdminPolicy, ...] = (),
    baseline: tuple[AdminPolicy, ...] = (),
) -> DirectionTable:
    """Compile one direction. Rules with identical peers and ports are merged first
    (DESIGN.md, "Engine"): real policy sets repeat the same few selectors thousands of
    times. Their targets are collected as index lists and united once per group."""
    isolated = np.zeros(rc.n_classes, dtype=np.bool_)
    grouped: dict[GroupKey, list[tuple[int, Index]]] = {}
    selecting: list[tuple[int, Index]] = []
    for i, policy in enumerate(policies):
        if not policy.affects(direction):
            continue
        t_idx = rc.policy_target_index(policy)
        if not len(t_idx):
            continue
        selecting.append((i, t_idx))
        isolated[t_idx] = True
        for rule in policy.rules(direction):
            grouped.setdefault((rule.peers, rule.ports), []).append((i, t_idx))
    groups = []
    for (peers, ports), parts in grouped.items():
        q_idx = rc.peer_index(peers)
        groups.append(make_group(peers, ports, q_idx, tuple(parts)))
    isolated.setflags(write=False)
    return DirectionTable(
        direction,
        isolated,
        len(rc.ports),
        rc,
        tuple(groups),  # those with no peer yet too: a new pod may become one
        tuple(selecting),
        _compile_tier(rc, admin, direction),
        _compile_tier(rc, baseline, direction),
    )


def make_group(
    peers: tuple[Peer, ...] | None,
    ports: tuple[PortSpec, ...] | None,
    q_idx: Index,
    sources: tuple[tuple[int, Index], ...],
) -> _Group:
    """A group with the union of its sources' targets."""
    parts = [t for _, t in sources]
    if len(parts) == 1:
        t_idx = parts[0]
    elif parts:
        t_idx = sorted_unique(np.concatenate(parts))
    else:
        t_idx = np.zeros(0, dtype=np.intp)
    return _Group(t_idx, q_idx, ports, peers, sources)
