"""One direction table taken apart for editing and put together again: the rule groups
gain or lose one policy's targets, rows are recomputed from the groups."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from microseg.engine.incremental.common import EMPTY, Index
from microseg.engine.index.packed import Bits
from microseg.engine.index.tables import (
    DirectionTable,
    GroupKey,
    make_group,
)
from microseg.model.netpol import NetworkPolicy

__all__ = ["TableEdit", "union"]


class TableEdit:
    """A DirectionTable being changed: groups, selecting policies, isolation and the rows
    whose cells must be recomputed."""

    def __init__(self, table: DirectionTable) -> None:
        self.table = table
        self.rc = table.rc
        self.groups = list(table.groups)
        self.selecting = dict(table.selecting)
        self.counts = table.selector_counts().copy()
        self.index = dict(table.group_index())
        self.admin = table.admin
        self.baseline = table.baseline
        self.selecting_changed = False
        self.out_of_order = False
        self.touched: set[int] = set()
        self.dirty_rows: list[Index] = []
        self.dirty_cols: list[Index] = []

    def drop_policy_index(self, at: int) -> None:
        """Policies after `at` move up one place in cluster.policies."""
        self.selecting = {(i - 1 if i > at else i): t for i, t in self.selecting.items()}
        self.selecting_changed = True
        for k, g in enumerate(self.groups):
            if any(i >= at for i, _ in g.sources):
                self.groups[k] = replace(
                    g, sources=tuple((i - 1 if i > at else i, t) for i, t in g.sources)
                )

    def remove_policy(self, at: int, policy: NetworkPolicy) -> None:
        targets = self.selecting.pop(at, None)
        if targets is None:
            return
        self.selecting_changed = True
        self.counts[targets] -= 1
        self.dirty_rows.append(targets)
        for rule in policy.rules(self.table.direction):
            k = self.index[(rule.peers, rule.ports)]
            g = self.groups[k]
            sources = tuple((i, t) for i, t in g.sources if i != at)
            self.groups[k] = make_group(g.peer_list, g.ports, g.peers, sources)
            self.touched.add(k)

    def add_policy(self, at: int, policy: NetworkPolicy, targets: Index) -> None:
        if not len(targets):
            return
        self.select(at, targets)
        self.counts[targets] += 1
        self.dirty_rows.append(targets)
        for rule in policy.rules(self.table.direction):
            self.add_source((rule.peers, rule.ports), at, targets)

    def add_source(self, key: GroupKey, at: int, targets: Index) -> None:
        k = self.index.get(key)
        if k is None:
            peers, ports = key
            g = make_group(peers, ports, self.rc.peer_index(peers), ((at, targets),))
            self.index[key] = len(self.groups)
            self.touched.add(len(self.groups))
            self.groups.append(g)
            return
        g = self.groups[k]
        self.groups[k] = make_group(g.peer_list, g.ports, g.peers, (*g.sources, (at, targets)))
        self.touched.add(k)

    def finish(
        self,
        admin: tuple[Any, ...] | None = None,
        baseline: tuple[Any, ...] | None = None,
        bits: Bits | None = None,
    ) -> DirectionTable:
        """The new table, with its materialised cells recomputed where they may differ.
        `bits`: the old cells already renumbered (when classes changed)."""
        old = self.table
        isolated = self.counts > 0
        isolated.setflags(write=False)
        new = DirectionTable(
            old.direction,
            isolated,
            old.n_atoms,
            self.rc,
            tuple(self.groups),
            self._selecting(),
            self.admin if admin is None else admin,
            self.baseline if baseline is None else baseline,
        )
        new.adopt(self.counts, self.index, self._bounds())
        if bits is None and old.materialised:
            bits = old.bits.copy()
        if bits is not None:
            rows = union(self.dirty_rows)
            if len(rows):
                bits[rows] = new.block(rows, None)
            cols = union(self.dirty_cols)
            if len(cols):
                bits[:, cols] = new.block(None, cols)
            new.adopt_bits(bits)
        return new

    def _selecting(self) -> tuple[tuple[int, Index], ...]:
        """In policy order: the dict keeps insertion order, which is that order unless a
        policy was added out of it."""
        if not self.selecting_changed:
            return self.table.selecting
        items = tuple(self.selecting.items())
        if self.out_of_order:
            return tuple(sorted(items, key=lambda item: item[0]))
        return items

    def select(self, at: int, targets: Index) -> None:
        if at not in self.selecting and self.selecting and at < next(reversed(self.selecting)):
            self.out_of_order = True
        self.selecting[at] = targets
        self.selecting_changed = True

    def _bounds(self) -> npt.NDArray[np.intp] | None:
        """The old group spans with the touched groups' redone, when the old ones exist."""
        old = self.table.cached_bounds()
        if old is None or len(self.groups) > len(old) + 64:
            return None
        out = np.empty((len(self.groups), 4), dtype=np.intp)
        out[: len(old)] = old
        for k in self.touched | set(range(len(old), len(self.groups))):
            g = self.groups[k]
            out[k] = (
                (g.targets[0], g.targets[-1], g.peers[0], g.peers[-1])
                if len(g.targets) and len(g.peers)
                else (1, 0, 1, 0)
            )
        return out


def union(parts: list[Index]) -> Index:
    if not parts:
        return EMPTY
    return np.unique(np.concatenate(parts)).astype(np.intp)
