"""`microseg diff` in netpol-analyzer's diff grammar (txt, csv, md) and as JSON.

The grammar and order follow np-guard/netpol-analyzer `pkg/netpol/diff/diff_formatter*.go`
and its expected outputs: the txt header `Connectivity diff:`, then one line per difference,
`diff-type: T, source: S, destination: D, ref1: C1, ref2: C2[, workloads-diff-info: I]`;
categories in the order changed, added, removed, with the ingress controller's rows after all
the others; within a section, lines sorted as strings (so each format sorts its own lines).
Absent connections print as `No Connections`. The column names `ref1`/`ref2` can be renamed
(netpol-analyzer's `WithArgNames`, e.g. `old`/`new`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from operator import itemgetter

from microseg.analyses.diff import ConnectivityDiff, DiffRow, DiffType, Peer
from microseg.engine import INGRESS_CONTROLLER_NAME
from microseg.model.sets import ConnSet, IPSet
from microseg.render.conns import format_conns, format_ip_ranges
from microseg.render.escape import csv_cell, md_cell, visible
from microseg.render.shape import envelope

__all__ = [
    "DIFF_FORMATS",
    "diff_document",
    "diff_fields",
    "format_peer",
    "render_diff",
    "workloads_info",
]

DIFF_FORMATS = ("txt", "json", "csv", "md")
HEADER = "Connectivity diff:"


def format_peer(peer: Peer) -> str:
    if isinstance(peer, str):
        return peer
    return f"{format_ip_ranges(peer)[0]}[External]"


def workloads_info(row: DiffRow) -> str:
    """`workload A added`, `workload A and B removed`, or empty."""
    if not row.new_or_lost:
        return ""
    return f"workload {' and '.join(row.new_or_lost)} {row.kind.value}"


def diff_fields(row: DiffRow) -> tuple[str, str, str, str, str, str]:
    """(diff-type, source, destination, ref1, ref2, workloads-diff-info) as printed."""
    return _Fields()(row)


class _Fields:
    """`diff_fields` with the texts of connection sets and address ranges memoised: a large
    diff repeats a few sets and ranges hundreds of thousands of times. The memo is keyed by
    object identity (hashing a ConnSet walks all its intervals), and keeps each object it
    has seen, so an identity is never reused while the memo lives."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[object, str]] = {}

    def _text(self, obj: ConnSet | IPSet) -> str:
        hit = self._texts.get(id(obj))
        if hit is None:
            text = format_conns(obj) if isinstance(obj, ConnSet) else format_peer(obj)
            hit = self._texts[id(obj)] = (obj, text)
        return hit[1]

    def __call__(self, row: DiffRow) -> tuple[str, str, str, str, str, str]:
        kind, src, dst, ref1, ref2, lost = row
        word = _kind_text(kind)
        info = f"workload {' and '.join(lost)} {word}" if lost else ""
        return (
            word,
            src if isinstance(src, str) else self._text(src),
            dst if isinstance(dst, str) else self._text(dst),
            self._text(ref1),
            self._text(ref2),
            info,
        )


_CHANGED, _ADDED = DiffType.CHANGED, DiffType.ADDED  # class attribute lookups on an Enum are slow


def _kind_text(kind: DiffType) -> str:
    return "changed" if kind is _CHANGED else "added" if kind is _ADDED else "removed"


Fields = tuple[str, str, str, str, str, str]


def _sections(diff: ConnectivityDiff, line: Callable[[Fields], str]) -> list[tuple[str, DiffRow]]:
    """(line, row) per (ingress?, category) section, each section sorted by its lines."""
    fields = _Fields()
    parts: list[list[tuple[str, DiffRow]]] = [[] for _ in range(6)]
    for r in diff.rows:
        k = r.kind  # compared by identity: hashing an Enum member runs Python code
        i = 0 if k is _CHANGED else 1 if k is _ADDED else 2
        parts[i + 3 * (r.src == INGRESS_CONTROLLER_NAME)].append((line(fields(r)), r))
    out: list[tuple[str, DiffRow]] = []
    for part in parts:
        part.sort(key=itemgetter(0))
        out += part
    return out


def _lines(diff: ConnectivityDiff, line: Callable[[Fields], str]) -> list[str]:
    return [text for text, _ in _sections(diff, line)]


def _txt_line(names: tuple[str, str]) -> Callable[[Fields], str]:
    def line(f: Fields) -> str:
        t, s, d, c1, c2, info = f
        s, d = visible(s), visible(d)
        text = f"diff-type: {t}, source: {s}, destination: {d}, {names[0]}: {c1}, {names[1]}: {c2}"
        return f"{text}, workloads-diff-info: {info}" if info else text

    return line


def _csv_line(f: Fields) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([csv_cell(x) for x in f])
    return buf.getvalue()


def _md_line(f: Fields) -> str:
    return "| " + " | ".join(md_cell(x) for x in f) + " |"


def render_diff(
    diff: ConnectivityDiff,
    fmt: str,
    names: tuple[str, str] = ("ref1", "ref2"),
    sources: tuple[str, str] | None = None,
) -> str:
    """The whole output. With no difference txt, csv and md are empty, as netpol-analyzer's
    and diff(1)'s (the exit code says it); JSON has an empty `diffs` list. `sources` labels
    the inputs in JSON."""
    if fmt in ("txt", "csv", "md") and not diff:
        return ""
    if fmt == "txt":
        return "\n".join([HEADER, *_lines(diff, _txt_line(names))]) + "\n"
    if fmt == "csv":
        head = ",".join(["diff-type", "source", "destination", *names, "workloads-diff-info"])
        return "\n".join([head, *_lines(diff, _csv_line)]) + "\n"
    if fmt == "md":
        head = (
            f"| diff-type | source | destination | {names[0]} | {names[1]} | workloads-diff-info |"
        )
        rule = "|-----------|--------|-------------|------|------|---------------------|"
        return "\n".join([head, rule, *_lines(diff, _md_line)]) + "\n"
    if fmt == "json":
        return json.dumps(diff_document(diff, names, sources), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def diff_document(
    diff: ConnectivityDiff, names: tuple[str, str], sources: tuple[str, str] | None
) -> dict[str, object]:
    """The JSON shape (kind ConnectivityDiff), besides apiVersion and kind:

    - `refs`: `{"ref1": {"name", "path"}, "ref2": {...}}`, ref1 being OLD (path when known);
    - `summary`: counts `changed`, `added`, `removed`, and the workload names in one input
      only, `addedWorkloads` and `removedWorkloads`;
    - `diffs`: one object per line of the txt output, in the same order, with `diffType`,
      `src`, `dst`, `ref1`, `ref2` (connections in the txt grammar) and, when a workload
      exists in one input only, `workloadsDiffInfo` and `workloadsAdded`/`workloadsRemoved`.
    """
    diffs = []
    fields = _Fields()
    for _, r in _sections(diff, _txt_line(names)):
        t, s, d, c1, c2, info = fields(r)
        item: dict[str, object] = {"diffType": t, "src": s, "dst": d, "ref1": c1, "ref2": c2}
        if r.new_or_lost:
            item["workloadsDiffInfo"] = info
            item["workloads" + r.kind.value.capitalize()] = list(r.new_or_lost)
        diffs.append(item)
    refs: dict[str, object] = {"ref1": {"name": names[0]}, "ref2": {"name": names[1]}}
    if sources is not None:
        refs = {
            "ref1": {"name": names[0], "path": sources[0]},
            "ref2": {"name": names[1], "path": sources[1]},
        }
    doc = envelope(
        "ConnectivityDiff",
        refs=refs,
        summary={
            "changed": diff.count(DiffType.CHANGED),
            "added": diff.count(DiffType.ADDED),
            "removed": diff.count(DiffType.REMOVED),
            "addedWorkloads": list(diff.added_workloads),
            "removedWorkloads": list(diff.removed_workloads),
        },
        diffs=diffs,
    )
    return doc
