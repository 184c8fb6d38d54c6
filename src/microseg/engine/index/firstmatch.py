"""First-match tiers in packed form: what one ordered tier decides over a block.

A tier is a list of rules, each over some target rows, some peer columns and some port
atoms, with a code (Allow, Deny, Pass); the first rule that matches a cell's atom decides
it, and the tier's end action (Calico's defaultAction: Deny, or Pass) decides what no rule
matched on the rows the tier applies to. engine/combine.py stacks the tiers.

Consecutive rules with one code decide like their union (first match among rules that
all allow is "some rule allows"), so a tier is held as runs of one code, each run as
groups of rules with the same peers and ports, targets united: 5,000 Kubernetes
NetworkPolicies in Calico's default tier are one run, materialised as the isolating tier
is (engine/index/tables.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from microseg.engine.combine import ALLOW, DENY, Code, PackedTier
from microseg.engine.index.packed import Bits
from microseg.model.netpol import Direction, PortSpec

if TYPE_CHECKING:
    from microseg.engine.index.tables import Selection

__all__ = ["FirstMatchTier", "Group", "PortMatch", "Run", "TierKinds", "runs_of"]

Index = npt.NDArray[np.intp]


class NamedWords(Protocol):
    """What a compiler offers for named ports: `[class, word]` bits of the atoms a list of
    named ports resolves to on each class (engine/index/rules.py RuleCompiler)."""

    def named_words(self, specs: tuple[PortSpec, ...] | None) -> Bits | None: ...


@dataclass(frozen=True, slots=True)
class PortMatch:
    """The port atoms a rule matches toward a destination: `(include | named(d)) &
    ~exclude & ~not_named(d)`, where named ports resolve on the destination d (the
    target for ingress, the peer for egress; addresses have none)."""

    include: Bits
    exclude: Bits
    named: tuple[PortSpec, ...] = ()
    not_named: tuple[PortSpec, ...] = ()

    def key(self) -> tuple[bytes, bytes, tuple[PortSpec, ...], tuple[PortSpec, ...]]:
        return (self.include.tobytes(), self.exclude.tobytes(), self.named, self.not_named)

    def words(
        self, rc: NamedWords, n_classes: int, direction: Direction, t_idx: Index, q_idx: Index
    ) -> Bits:
        """`[1, 1, W]`, `[T, 1, W]` or `[1, Q, W]`: only as wide as it varies."""
        base = self.include & ~self.exclude
        if not self.named and not self.not_named:
            return base[None, None, :]
        add = rc.named_words(self.named) if self.named else None
        sub = rc.named_words(self.not_named) if self.not_named else None
        if direction is Direction.INGRESS:
            w = np.broadcast_to(self.include, (len(t_idx), len(self.include))).copy()
            if add is not None:
                w |= add[t_idx]
            w &= ~self.exclude
            if sub is not None:
                w &= ~sub[t_idx]
            return w[:, None, :]
        w = np.broadcast_to(self.include, (len(q_idx), len(self.include))).copy()
        pods = q_idx < n_classes
        if add is not None:
            w[pods] |= add[q_idx[pods]]
        w &= ~self.exclude
        if sub is not None:
            w[pods] &= ~sub[q_idx[pods]]
        return w[None, :, :]


@dataclass(frozen=True, slots=True)
class Group:
    """Rules of one run with the same peers and ports: their targets united."""

    rows: Index
    peers: Index
    ports: PortMatch


@dataclass(frozen=True, slots=True)
class Run:
    code: Code
    groups: tuple[Group, ...]


def runs_of(entries: Sequence[tuple[Index, Index, PortMatch, Code, object]]) -> tuple[Run, ...]:
    """Consecutive entries `(rows, peers, ports, code, peer_key)` with one code as runs of
    groups (`peer_key` identifies equal peer columns cheaply)."""
    out: list[Run] = []
    current: Code | None = None
    groups: dict[tuple[object, object], list[tuple[Index, Index, PortMatch]]] = {}

    def flush() -> None:
        if current is not None and groups:
            made = []
            for parts in groups.values():
                rows = (
                    parts[0][0]
                    if len(parts) == 1
                    else np.unique(np.concatenate([p[0] for p in parts]))
                )
                made.append(Group(rows, parts[0][1], parts[0][2]))
            out.append(Run(current, tuple(made)))

    for rows, peers, ports, code, peer_key in entries:
        if code != current:
            flush()
            current, groups = code, {}
        if not len(rows) or not len(peers):
            continue
        groups.setdefault((peer_key, ports.key()), []).append((rows, peers, ports))
    flush()
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FirstMatchTier:
    """One tier: `rows` the endpoints it applies to (sorted class indices), its runs in
    order, and its end action on those rows (DENY, PASS) for what no rule decided."""

    rows: Index
    runs: tuple[Run, ...]
    end: Code
    name: str = ""
    _bounds: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def packed(
        self,
        rc: NamedWords,
        n_classes: int,
        direction: Direction,
        r_sel: Selection,
        c_sel: Selection,
        n_words: int,
        everything: Bits,
    ) -> PackedTier | None:
        """What the tier decides over the block `r_sel x c_sel` (engine/index/tables.py
        Selection objects), for the block rows it applies to; None when it applies to none."""
        kinds = self.decide(rc, n_classes, direction, r_sel, c_sel, n_words, everything)
        return None if kinds is None else kinds.expand()

    def decide(
        self,
        rc: NamedWords,
        n_classes: int,
        direction: Direction,
        r_sel: Selection,
        c_sel: Selection,
        n_words: int,
        everything: Bits,
    ) -> TierKinds | None:
        """`packed`, kept by kinds of rows and columns: rows that lie in the same groups
        (and, for ingress, resolve the tier's named ports alike) get the same answer, as do
        such columns, so the tier is decided once per kind and spread out only when laid
        over a table (TierKinds.over). A tier of GlobalNetworkPolicies over most of the
        cluster has a few hundred kinds of each where the block has thousands."""
        pos, members = r_sel.restrict(self.rows)
        if not len(pos):
            return None
        position = np.full(r_sel.count, -1, dtype=np.intp)
        position[pos] = np.arange(len(pos))
        cols = c_sel.positions()
        # Each group's rows and columns as one of the distinct sets: rules of a policy share
        # their rows, rules with the same peers their columns.
        row_sets: dict[bytes, int] = {}
        col_sets: dict[bytes, int] = {}
        row_list: list[Index] = []
        col_list: list[Index] = []
        placed: list[tuple[Code, Group, int, int]] = []
        for run in self.runs:
            for g in run.groups:
                tp, _ = r_sel.restrict(g.rows)
                if not len(tp):
                    continue
                qp, _ = c_sel.restrict(g.peers)
                if not len(qp):
                    continue
                r = row_sets.setdefault(tp.tobytes(), len(row_list))
                if r == len(row_list):
                    row_list.append(position[tp])
                c = col_sets.setdefault(qp.tobytes(), len(col_list))
                if c == len(col_list):
                    col_list.append(qp)
                placed.append((run.code, g, r, c))
        row_sig = np.zeros((len(pos), len(row_list)), dtype=np.bool_)
        for k, tp in enumerate(row_list):
            row_sig[tp, k] = True
        col_sig = np.zeros((c_sel.count, len(col_list)), dtype=np.bool_)
        for k, qp in enumerate(col_list):
            col_sig[qp, k] = True
        row_extra, col_extra = self._named_signatures(rc, n_classes, direction, members, cols)
        row_first, row_of = _kinds(row_sig, row_extra)
        col_first, col_of = _kinds(col_sig, col_extra)
        rows_u = [np.flatnonzero(m) for m in row_sig[row_first].T]
        cols_u = [np.flatnonzero(m) for m in col_sig[col_first].T]
        row_cls, col_cls = members[row_first], cols[col_first]
        shape = (len(row_first), len(col_first), n_words)
        decided = np.zeros(shape, dtype=np.uint64)
        verdict = {ALLOW: np.zeros(shape, dtype=np.uint64), DENY: np.zeros(shape, dtype=np.uint64)}
        # Group by group: the rules of a run share a code, so the first of them to match
        # decides as well as their union would. Consecutive groups on the same rows (the
        # rules of one policy) work on those rows taken out once, on whole rows where they
        # match every column.
        n_kinds = shape[1]
        # A group that matches every column on every port decides its rows whole: later
        # groups cannot change them, so such rows are left out of them from then on.
        catch = [
            len(cols_u[c]) == n_kinds and _covers(g.ports, everything) for _, g, _, c in placed
        ]
        done = np.zeros(shape[0], dtype=np.bool_)
        i = 0
        while i < len(placed):
            r = placed[i][2]
            j = i + 1
            while j < len(placed) and placed[j][2] == r:
                j += 1
            r_u = rows_u[r]
            if done.any():
                r_u = r_u[~done[r_u]]
                if not len(r_u):
                    i = j
                    continue
            whole = len(r_u) == shape[0]
            if any(catch[i:j]):
                j = i + catch[i:j].index(True) + 1  # what follows it here does nothing
            if j == i + 1 and not whole:  # one rule alone: just its cells
                code, g, _, c = placed[i]
                c_u = cols_u[c]
                cells = np.ix_(r_u, c_u)
                words = g.ports.words(rc, n_classes, direction, row_cls[r_u], col_cls[c_u])
                before = decided[cells]
                new = words & ~before
                decided[cells] = before | new
                if code in verdict:
                    verdict[code][cells] |= new
                done[r_u] |= catch[i]
                i = j
                continue
            sub_d = decided if whole else decided[r_u]
            subs = {
                code: (out if whole else out[r_u])
                for code, out in verdict.items()
                if any(p[0] is code for p in placed[i:j])
            }
            t_idx = row_cls[r_u]
            for code, g, _, c in placed[i:j]:
                c_u = cols_u[c]
                words = g.ports.words(rc, n_classes, direction, t_idx, col_cls[c_u])
                out = subs.get(code)
                if len(c_u) == n_kinds:
                    new = words & ~sub_d
                    sub_d |= new
                    if out is not None:
                        out |= new
                else:
                    before = sub_d[:, c_u]
                    new = words & ~before
                    sub_d[:, c_u] = before | new
                    if out is not None:
                        out[:, c_u] |= new
            if not whole:
                decided[r_u] = sub_d
                for code, sub in subs.items():
                    verdict[code][r_u] = sub
            done[r_u] |= catch[j - 1]
            i = j
        if self.end is DENY:  # in place: `decided` is not needed after this
            np.bitwise_not(decided, out=decided)
            decided &= everything
            verdict[DENY] |= decided
        return TierKinds(pos, row_of, col_of, verdict[ALLOW], verdict[DENY])

    def _named_signatures(
        self, rc: NamedWords, n_classes: int, direction: Direction, rows: Index, cols: Index
    ) -> tuple[Bits | None, Bits | None]:
        """The named-port words a row (ingress) or column (egress) resolves the tier's
        named ports to, side by side: rows or columns that differ there differ in answer."""
        specs = {
            s
            for run in self.runs
            for g in run.groups
            for s in (g.ports.named, g.ports.not_named)
            if s
        }
        words = [w for w in (rc.named_words(s) for s in sorted(specs, key=repr)) if w is not None]
        if not words:
            return None, None
        table = np.concatenate(words, axis=1)
        if direction is Direction.INGRESS:
            return table[rows], None
        out = np.zeros((len(cols), table.shape[1]), dtype=np.uint64)
        pods = cols < n_classes
        out[pods] = table[cols[pods]]
        return None, out


@dataclass(frozen=True, slots=True)
class TierKinds:
    """A tier's decisions by kinds: block row `rows[i]` is of kind `row_of[i]`, block
    column j of kind `col_of[j]`; `allow` and `deny` are `[row kind, column kind, words]`."""

    rows: Index
    row_of: Index
    col_of: Index
    allow: Bits
    deny: Bits

    def expand(self) -> PackedTier:
        allow = self.allow[:, self.col_of][self.row_of]
        deny = self.deny[:, self.col_of][self.row_of]
        return PackedTier(self.rows, allow, deny)

    def over(self, table: Bits) -> None:
        """engine/combine.py over_packed without spreading the kinds out first: each kind
        of row's answer is widened to the columns once and laid over its rows; kinds that
        decide nothing (everything passed on) are skipped."""
        order = np.argsort(self.row_of, kind="stable")
        ends = np.cumsum(np.bincount(self.row_of, minlength=len(self.allow)))
        keep = ~self.deny
        busy: npt.NDArray[np.bool_] = np.asarray(
            self.allow.any(axis=(1, 2)) | self.deny.any(axis=(1, 2)), dtype=np.bool_
        )
        start = 0
        for kind, end in enumerate(ends):
            members = self.rows[order[start:end]]
            start = int(end)
            if not busy[kind] or not len(members):
                continue
            k, a = keep[kind][self.col_of], self.allow[kind][self.col_of]
            lo, hi = int(members[0]), int(members[-1])
            if hi - lo + 1 == len(members):  # contiguous: work on the table in place
                view = table[lo : hi + 1]
                view &= k
                view |= a
            else:
                sub = table[members]
                sub &= k
                sub |= a
                table[members] = sub


def _covers(ports: PortMatch, everything: Bits) -> bool:
    """Whether the rule matches every port atom whatever the endpoints (no named ports)."""
    if ports.named or ports.not_named:
        return False
    return not bool(np.any(everything & ~(ports.include & ~ports.exclude)))


def _kinds(members: npt.NDArray[np.bool_], extra: Bits | None) -> tuple[Index, Index]:
    """`(first, of)`: the first line of each distinct kind, and each line's kind. Lines are
    told apart by a 64-bit hash of their bits, checked afterwards (a collision, which
    would merge two kinds, falls back to comparing whole lines)."""
    n = len(members)
    words = np.packbits(members, axis=1)
    if extra is not None:
        words = np.concatenate([words, extra.view(np.uint8).reshape(n, -1)], axis=1)
    if not words.shape[1]:
        return np.zeros(min(n, 1), dtype=np.intp), np.zeros(n, dtype=np.intp)
    pad = -words.shape[1] % 8
    if pad:
        words = np.concatenate([words, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    lanes = np.ascontiguousarray(words).view(np.uint64)
    mult = np.random.default_rng(0x5EED).integers(1, 2**63, lanes.shape[1], dtype=np.uint64) | 1
    with np.errstate(over="ignore"):
        hashed = (lanes * mult).sum(axis=1, dtype=np.uint64)
    _, first, of = np.unique(hashed, return_index=True, return_inverse=True)
    of = of.reshape(-1)
    if not np.array_equal(lanes[first[of]], lanes):
        _, first, of = np.unique(lanes, axis=0, return_index=True, return_inverse=True)
        of = of.reshape(-1)
    return first.astype(np.intp), of.astype(np.intp)
