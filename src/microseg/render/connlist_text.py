"""The connectivity list written as text straight from the engine's blocks (json and txt).

At 150,000 pods the list is 61 million rows (about 10 GB of JSON): building a tuple per row
and formatting it with an f-string costs over a microsecond a row, more than the engine
spends computing the blocks. Here a row is the concatenation of two pieces: one for its
source (`src` and what comes before `dst`) and one for its destination and connections,
so a source's rows are `head + head.join(pieces)` (str.join at C speed), and the piece of
a (destination, connection set) pair is formatted once, however many sources reach that
destination with that set. The pieces are gathered with numpy from the block's edge
arrays; no Python loop runs over the rows, only over sources and distinct pieces.

The text is byte for byte what `write_connlist` makes of `connlist_chunks` (tests hold the
two equal on random clusters); inputs this path does not cover (a focus, L7 conditions of
the mesh, two nodes with one name) go through that general path.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from microseg.engine import (
    INGRESS_CONTROLLER_NAME,
    EdgeConditions,
    PairConditions,
    WorkloadGraph,
    paused_gc,
)
from microseg.render import connlist
from microseg.render.connlist import CELLS, Row, _Stream, connlist_chunks, write_connlist
from microseg.render.escape import visible
from microseg.render.shape import envelope

__all__ = ["write_connlist_stream"]

FAST_FORMATS = ("json", "txt")
_dumps = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str


class _Format:
    """`head(src)` and `piece(dst, conn)`: a row is `head + piece`. JSON rows are joined
    by commas, so every head starts with one and the first of the output is dropped."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt == "json"

    def head(self, src: str) -> str:
        if self.json:
            return f',\n    {{\n      "src": {_dumps(src)},\n      "dst": '
        return f"{visible(src)} => "

    def piece(self, dst: str, conn: str) -> str:
        if self.json:
            return f'{_dumps(dst)},\n      "conn": {_dumps(conn)}\n    }}'
        return f"{visible(dst)} : {visible(conn)}\n"

    def rows(self, rows: list[Row]) -> str:
        return "".join([self.head(s) + self.piece(d, c) for s, d, c in rows])


def write_connlist_stream(
    graph: WorkloadGraph,
    fmt: str,
    write: Callable[[str], object],
    focus: set[int] | None = None,
    conditions: PairConditions | None = None,
    external_conditions: EdgeConditions | None = None,
) -> None:
    """The connectivity list in `fmt` (txt, json, csv, md), written as computed: what
    `write_connlist(connlist_chunks(...), fmt, write)` writes, faster for json and txt."""
    general = fmt not in FAST_FORMATS or focus is not None or bool(conditions)
    if general or len(set(graph.nodes)) != len(graph.nodes):
        chunks = connlist_chunks(graph, focus, conditions, external_conditions, CELLS[fmt])
        write_connlist(chunks, fmt, write, escaped=True)
        return
    stream = _Stream(graph, None, None, external_conditions or {})
    form = _Format(fmt)
    if not form.json:
        with paused_gc():
            for text in _texts(stream, form):
                write(text)
        return
    empty = json.dumps(envelope("ConnectivityList", connections=[]), indent=2)
    head, tail = empty.split('"connections": []', 1)
    write(head + '"connections": [')
    first = True
    with paused_gc():
        for text in _texts(stream, form):
            write(text[1:] if first else text)  # the first row has no comma before it
            first = False
    write(("]" if first else "\n  ]") + tail + "\n")


def _texts(stream: _Stream, form: _Format) -> Iterator[str]:
    """The rows' text in chunks (never empty), in `_Stream.chunks`' order: node sources a
    block at a time, external ranges and the ingress controller between them."""
    writer = _Writer(stream, form)
    others = sorted(stream.inbound)
    if stream.ingress:
        others.append(INGRESS_CONTROLLER_NAME)
        others.sort()
    nodes = stream.order
    pos = 0
    for other in [*others, None]:
        end = len(nodes) if other is None else bisect.bisect_left(stream.sorted_names, other)
        if pos < end:
            yield from writer.nodes(nodes[pos:end])
            pos = end
        if other is not None:
            rows = (
                stream.ingress
                if other == INGRESS_CONTROLLER_NAME
                else sorted(stream.inbound[other])
            )
            if rows:
                yield form.rows(rows)


TABLE_BYTES = 256 * 2**20
"""The most the (destination, connection id) -> piece table may take; past it, pieces are
found by sorting each block's keys instead."""


class _Writer:
    def __init__(self, stream: _Stream, form: _Format) -> None:
        self.stream = stream
        self.form = form
        self.graph = stream.graph
        self.dst = stream.order  # every destination, in name order
        self.dst_names = stream.sorted_names
        # Piece numbers by (destination position, connection id), -1 until made; columns
        # are added as connection ids appear. `store` holds the pieces by number.
        self.codes = np.full((len(self.dst), 0), -1, dtype=np.int32)
        self.store: list[str] = []
        self.pieces: npt.NDArray[np.object_] = np.empty(0, dtype=object)
        self.conn_text: dict[int, str] = {}

    def nodes(self, run: npt.NDArray[np.int64]) -> Iterator[str]:
        """The rows of a run of source nodes (in name order), in order: one engine block
        per chunk of sources (engine/views/blocks.py `chunks`), its text given in parts
        of about ROWS_PER_BATCH rows."""
        names = self.stream.names
        outbound = self.stream.outbound
        budget = connlist.ROWS_PER_BATCH
        for rows in self.graph.source_chunks(run, len(self.dst)):
            i, j, ids = self.graph.block(rows, self.dst)
            pieces = self._pieces(j, ids)
            bounds = np.searchsorted(i, np.arange(len(rows) + 1)).tolist()
            out: list[str] = []
            size = 0
            for r, s in enumerate(rows.tolist()):
                lo, hi = bounds[r], bounds[r + 1]
                extra = outbound.get(s)
                if lo == hi and not extra:
                    continue
                parts: list[str] = pieces[lo:hi].tolist()
                if extra:
                    self._merge(parts, j[lo:hi], extra)
                head = self.form.head(names[s])
                out.append(head + head.join(parts))
                size += len(parts)
                if size >= budget:
                    yield "".join(out)
                    out, size = [], 0
            if out:
                yield "".join(out)

    def _merge(self, parts: list[str], js: npt.NDArray[np.int64], extra: list[Row]) -> None:
        """The source's rows to external ranges, put among its rows to nodes where the
        sort of (destination, connections) puts them: an external peer goes after the
        node names below it (no node is named like an address range)."""
        rows = sorted(extra)
        at = np.searchsorted(js, [bisect.bisect_left(self.dst_names, d) for _, d, _ in rows])
        for (_, d, c), k in zip(reversed(rows), reversed(at.tolist()), strict=True):
            parts.insert(k, self.form.piece(d, c))

    def _pieces(
        self, j: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.object_]:
        """The piece of each edge (destination position `j`, connection id `ids`)."""
        if not len(j):
            return np.empty(0, dtype=object)
        top = int(ids.max()) + 1
        if top > self.codes.shape[1]:
            if len(self.dst) * top * 4 > TABLE_BYTES:
                return self._sorted_pieces(j, ids)
            grown = np.full((len(self.dst), max(top, 2 * self.codes.shape[1])), -1, np.int32)
            grown[:, : self.codes.shape[1]] = self.codes
            self.codes = grown
        codes = self.codes[j, ids]
        new = np.flatnonzero(codes < 0)
        if len(new):
            keys = np.unique(j[new] * top + ids[new])
            base = len(self.store)
            for key in keys.tolist():
                d, k = divmod(key, top)
                self.store.append(self.form.piece(self.dst_names[d], self._conn(k)))
            made = np.arange(base, len(self.store), dtype=np.int32)
            self.codes[keys // top, keys % top] = made
            codes = self.codes[j, ids]
            self.pieces = np.empty(len(self.store), dtype=object)
            self.pieces[:] = self.store
        out: npt.NDArray[np.object_] = self.pieces[codes]
        return out

    def _sorted_pieces(
        self, j: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.object_]:
        """`_pieces` for connection ids too many for the table: each block's distinct keys
        formatted anew (the rare input with thousands of distinct connection sets)."""
        top = int(ids.max()) + 1
        keys, at = np.unique(j * top + ids, return_inverse=True)
        uniq = np.empty(len(keys), dtype=object)
        for r, key in enumerate(keys.tolist()):
            d, k = divmod(key, top)
            uniq[r] = self.form.piece(self.dst_names[d], self._conn(k))
        out: npt.NDArray[np.object_] = uniq[at.reshape(-1)]
        return out

    def _conn(self, k: int) -> str:
        text = self.conn_text.get(k)
        if text is None:
            text = self.conn_text[k] = self.stream.text(k)
        return text
