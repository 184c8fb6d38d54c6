"""The workload-level connectivity list: txt, json, csv, md (netpol-analyzer's formats).

Rows are sorted by (source, destination, connection) and written as they are computed: an
open cluster of 12,000 pods allows 144 million pairs, so the list is never held whole.
`connlist_chunks` walks the sources in name order (workloads, external ranges and the
`{ingress-controller}` interleaved as the sort puts them), asks the graph for the edges
of a batch of source nodes against every destination (one engine block,
engine/views/workload.py), and yields the batch's rows in order; `write_connlist` turns
chunks into text as they come. Memory is bounded by one batch, whatever the output size.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt

from microseg.engine import (
    INGRESS_CONTROLLER_NAME,
    EdgeConditions,
    PairConditions,
    WorkloadGraph,
    paused_gc,
)
from microseg.render.conns import format_conditional, format_conns, format_ip_ranges
from microseg.render.escape import csv_cell, escape_rows, md_cell, needs_escape, visible
from microseg.render.shape import envelope

__all__ = [
    "CELLS",
    "Row",
    "connlist_chunks",
    "connlist_rows",
    "render_connlist",
    "write_connlist",
]

FORMATS = ("txt", "json", "csv", "md", "dot")
Row = tuple[str, str, str]
ROWS_PER_BATCH = 250_000
"""Rows a batch of sources aims at: a few tens of megabytes of tuples at most."""


def connlist_rows(
    graph: WorkloadGraph,
    focus: set[int] | None = None,
    conditions: PairConditions | None = None,
    external_conditions: EdgeConditions | None = None,
) -> list[Row]:
    """Sorted (src, dst, conn) rows, all at once (see `connlist_chunks`)."""
    return list(chain.from_iterable(connlist_chunks(graph, focus, conditions, external_conditions)))


def connlist_chunks(
    graph: WorkloadGraph,
    focus: set[int] | None = None,
    conditions: PairConditions | None = None,
    external_conditions: EdgeConditions | None = None,
    cell: Callable[[str], str] | None = None,
) -> Iterator[list[Row]]:
    """Sorted (src, dst, conn) rows in consecutive chunks; `focus` keeps rows touching
    those nodes. The ingress controller's rows have the source `{ingress-controller}`.
    `conditions` (engine edge_conditions) marks the parts the mesh allows only for some L7
    requests. `cell` (render/escape.py): every cell escaped for a format, after sorting."""
    with paused_gc():
        chunks = _Stream(graph, focus, conditions, external_conditions or {}).chunks()
        yield from chunks if cell is None else _escaped(chunks, graph.nodes, cell)


def _escaped(
    chunks: Iterator[list[Row]], names: Sequence[str], cell: Callable[[str], str]
) -> Iterator[list[Row]]:
    """Chunks with every cell through `cell`. Source and destination cells are node names
    or addresses and `{ingress-controller}`, which microseg writes itself: the names are
    checked once, and then only the connection cells (L7 conditions quote the input) of
    each chunk, each distinct one once; the common case escapes nothing."""
    names_clean = not needs_escape(names, cell)
    seen: dict[str, bool] = {}
    for rows in chunks:
        dirty = not names_clean
        if not dirty:
            if len(seen) > 100_000:
                seen.clear()
            for text in {c for _, _, c in rows}:
                bad = seen.get(text)
                if bad is None:
                    bad = seen[text] = cell(text) != text
                if bad:
                    dirty = True
                    break
        yield escape_rows(rows, cell) if dirty else rows


class _Stream:
    def __init__(
        self,
        graph: WorkloadGraph,
        focus: set[int] | None,
        conditions: PairConditions | None,
        external: EdgeConditions,
    ) -> None:
        self.graph = graph
        self.focus = focus
        self.conditions = conditions if conditions else None
        names = graph.nodes
        self.names = names
        n = len(names)
        self.order = np.array(sorted(range(n), key=names.__getitem__), dtype=np.int64)
        self.sorted_names = [names[i] for i in self.order.tolist()]
        self.dups = len(set(names)) != n
        in_focus = np.zeros(n, dtype=np.bool_)
        if focus is not None:
            in_focus[list(focus)] = True
        self.in_focus = in_focus
        self.focus_order = self.order[in_focus[self.order]]
        self.texts: list[str | None] = []
        self.outbound: dict[int, list[Row]] = defaultdict(list)
        self.inbound: dict[str, list[Row]] = defaultdict(list)
        for i, e in enumerate(graph.external):
            if focus is not None and e.node not in focus:
                continue
            text = (
                format_conditional(graph.conn_set(e.conns), external[i])
                if i in external
                else self.text(e.conns)
            )
            for rng in format_ip_ranges(e.addresses):
                peer = f"{rng}[External]"
                if e.outbound:
                    self.outbound[e.node].append((names[e.node], peer, text))
                else:
                    self.inbound[peer].append((peer, names[e.node], text))
        self.ingress = sorted(
            (INGRESS_CONTROLLER_NAME, names[node], self.text(k))
            for node, k in graph.ingress
            if focus is None or node in focus
        )

    def text(self, k: int) -> str:
        if k >= len(self.texts):
            self.texts.extend([None] * (k + 1 - len(self.texts)))
        t = self.texts[k]
        if t is None:
            t = self.texts[k] = format_conns(self.graph.conn_set(k))
        return t

    def chunks(self) -> Iterator[list[Row]]:
        """Sources in sort order: runs of nodes are computed a batch at a time, external
        ranges and the ingress controller (whose rows are already known) in between."""
        others = sorted(self.inbound)
        if self.ingress:
            others.append(INGRESS_CONTROLLER_NAME)
            others.sort()
        nodes = self.order
        pos = 0
        n_dst = max(1, len(nodes))
        per_batch = max(1, ROWS_PER_BATCH // n_dst)
        for other in [*others, None]:
            end = len(nodes) if other is None else bisect.bisect_left(self.sorted_names, other)
            while pos < end:
                stop = min(end, pos + per_batch)
                rows = self.node_rows(nodes[pos:stop])
                if rows:
                    yield rows
                pos = stop
            if other is not None:
                yield (
                    self.ingress
                    if other == INGRESS_CONTROLLER_NAME
                    else sorted(self.inbound[other])
                )

    def node_rows(self, batch: npt.NDArray[np.int64]) -> list[Row]:
        """The rows of a run of source nodes (in name order), in order."""
        if self.focus is None:
            per = self.block_rows(batch, self.order)
        else:
            mine = self.in_focus[batch]
            per = self.block_rows(batch[mine], self.order)
            per.update(self.block_rows(batch[~mine], self.focus_order))
        out: list[Row] = []
        names = self.names
        i = 0
        items = batch.tolist()
        while i < len(items):
            s = items[i]
            if self.dups and i + 1 < len(items) and names[items[i + 1]] == names[s]:
                j = i  # sources with one name: their rows together, sorted
                group: list[Row] = []
                while j < len(items) and names[items[j]] == names[s]:
                    group += per.get(items[j], []) + self.outbound.get(items[j], [])
                    j += 1
                out += sorted(group)
                i = j
                continue
            rows = per.get(s, [])
            extra = self.outbound.get(s)
            if extra:
                rows = list(rows)
                for row in extra:
                    bisect.insort(rows, row)
            elif self.dups:
                rows = sorted(rows)
            out += rows
            i += 1
        return out

    def block_rows(
        self, src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64]
    ) -> dict[int, list[Row]]:
        """Per source node, its rows toward `dst` (nodes in name order), in that order."""
        if not len(src) or not len(dst):
            return {}
        g = self.graph
        out: dict[int, list[Row]] = {}
        for rows in g.source_chunks(src, len(dst)):
            i, j, ids = g.block(rows, dst)
            if not len(i):
                continue
            texts = [self.text(k) for k in range(max(ids.tolist()) + 1)]
            labels = [texts[k] for k in ids.tolist()]
            if self.conditions is not None:
                found = self.conditions(rows[i], dst[j], ids)
                for e, parts in found.items():
                    labels[e] = format_conditional(g.conn_set(int(ids[e])), parts)
            names = self.names
            dnames = [names[d] for d in dst[j].tolist()]
            bounds = np.searchsorted(i, np.arange(len(rows) + 1)).tolist()
            for r, s in enumerate(rows.tolist()):
                lo, hi = bounds[r], bounds[r + 1]
                if lo == hi:
                    continue
                sname = names[s]
                out[s] = [(sname, d, c) for d, c in zip(dnames[lo:hi], labels[lo:hi], strict=True)]
        return out


def render_connlist(rows: list[Row], fmt: str) -> str:
    """The rows in one format (see `write_connlist`)."""
    parts: list[str] = []
    write_connlist([rows], fmt, parts.append)
    return "".join(parts)


CELLS: dict[str, Callable[[str], str] | None] = {
    "txt": visible,
    "csv": csv_cell,
    "md": md_cell,
    "json": None,  # the encoder escapes what JSON needs
}
"""How each format escapes a cell: what `connlist_chunks(cell=...)` is given when its rows
go to `write_connlist(..., escaped=True)`."""


def write_connlist(
    chunks: Iterable[list[Row]],
    fmt: str,
    write: Callable[[str], object],
    escaped: bool = False,
) -> None:
    """Chunks of sorted rows written in one format as they come; names from the input are
    escaped for it (render/escape.py), checked per chunk over its distinct cells so that
    ordinary input keeps the fast path. `escaped`: the chunks come escaped already
    (`connlist_chunks(cell=CELLS[fmt])`), which costs less."""
    if fmt == "txt":
        unsafe = _Unsafe(visible)
        for rows in chunks:
            if not escaped and unsafe(rows):
                rows = escape_rows(rows, visible)
            write("".join([f"{s} => {d} : {c}\n" for s, d, c in rows]))
    elif fmt == "json":
        _write_json(chunks, write)
    elif fmt == "csv":
        write("src,dst,conn\n")
        unsafe = _Unsafe(csv_cell)
        for rows in chunks:
            if not escaped and unsafe(rows):
                rows = escape_rows(rows, csv_cell)
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            write(buf.getvalue())
    elif fmt == "md":
        # A `|` inside a cell (L7 alternatives such as GET|POST) would end the cell.
        write("| src | dst | conn |\n|-----|-----|------|\n")
        for rows in chunks:
            if not escaped:
                rows = escape_rows(rows, md_cell)
            write("".join([f"| {s} | {d} | {c} |\n" for s, d, c in rows]))
    else:
        raise ValueError(f"unknown format {fmt!r}")


class _Unsafe:
    """Whether a chunk holds a cell that `cell` changes. Chunks repeat the same names (every
    destination, for each batch of sources), so cells found safe are remembered and only new
    ones are checked (up to a bound, then the memory starts again)."""

    LIMIT = 1_000_000

    def __init__(self, cell: Callable[[str], str]) -> None:
        self.cell = cell
        self.safe: set[str] = set()

    def __call__(self, rows: list[Row]) -> bool:
        fresh = set(chain.from_iterable(rows))
        fresh -= self.safe
        if needs_escape(fresh, self.cell):
            return True
        if len(self.safe) + len(fresh) > self.LIMIT:
            self.safe.clear()
        self.safe |= fresh
        return False


_dumps = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str


def _write_json(chunks: Iterable[list[Row]], write: Callable[[str], object]) -> None:
    """Exactly `json.dumps(envelope(..., connections=rows), indent=2)`, one chunk at a time."""
    empty = json.dumps(envelope("ConnectivityList", connections=[]), indent=2)
    head, tail = empty.split('"connections": []', 1)
    write(head + '"connections": [')
    first = True
    for rows in chunks:
        if not rows:
            continue
        items = ",".join(
            [
                f'\n    {{\n      "src": {_dumps(s)},\n      "dst": {_dumps(d)},\n'
                f'      "conn": {_dumps(c)}\n    }}'
                for s, d, c in rows
            ]
        )
        write(items if first else "," + items)
        first = False
    write(("]" if first else "\n  ]") + tail + "\n")
