"""Flow stores as text, JSON and CSV: `flows import` summaries, `flows stats`, `flows show`.

JSON shapes (apiVersion microseg.dev/v1alpha1): `FlowStats` (the FlowStats fields; groups as
objects) and `FlowList` (`items`: src, dst, protocol, port, verdict, count, replies,
firstSeen, lastSeen, format, detail).
"""

from __future__ import annotations

import csv
import io
import json

from microseg.model.flows import FlowStats, ShownFlow
from microseg.render.escape import csv_cell, visible
from microseg.render.shape import envelope

__all__ = [
    "balance_line",
    "flows_csv",
    "flows_json",
    "flows_table",
    "stats_json",
    "stats_text",
]


def balance_line(read: int, stored: int, rejected: int) -> str:
    """The account every import prints: nothing read goes unaccounted."""
    return f"read {read:,} = stored {stored:,} + rejected {rejected:,}"


def stats_text(s: FlowStats) -> str:
    out = [
        f"files imported   {s.files:,}",
        f"flow keys        {s.keys:,}",
        f"records          {s.records:,} (+ {s.replies:,} replies folded into their requests)",
        f"rejected         {s.rejected:,}",
        f"seen             {s.first_seen or '-'} .. {s.last_seen or '-'}",
    ]
    for title, groups in (
        ("verdict", s.by_verdict),
        ("format", s.by_format),
        ("protocol", s.by_protocol),
    ):
        out.append(f"by {title}:")
        out += [f"  {visible(g):<14} {k:>10,} keys {n:>12,} records" for g, k, n in groups]
    if s.reject_reasons:
        out.append("rejects:")
        out += [f"  {n:>8,}  {visible(r)}" for r, n in s.reject_reasons]
    if s.endpoints:
        out.append("endpoints (resolved against the cluster snapshot):")
        out += [f"  {kind:<12} {n:>8,}" for kind, n in s.endpoints]
    return "\n".join(out) + "\n"


def stats_json(s: FlowStats) -> str:
    def groups(g: tuple[tuple[str, int, int], ...]) -> list[dict[str, object]]:
        return [{"name": a, "keys": b, "records": c} for a, b, c in g]

    doc = envelope(
        "FlowStats",
        files=s.files,
        keys=s.keys,
        records=s.records,
        replies=s.replies,
        rejected=s.rejected,
        firstSeen=s.first_seen or None,
        lastSeen=s.last_seen or None,
        byVerdict=groups(s.by_verdict),
        byFormat=groups(s.by_format),
        byProtocol=groups(s.by_protocol),
        rejectReasons=[{"reason": r, "count": n} for r, n in s.reject_reasons],
        endpoints={kind: n for kind, n in s.endpoints},
    )
    return json.dumps(doc, indent=2) + "\n"


HEADER = ("src", "dst", "protocol", "port", "count", "first_seen", "last_seen", "verdict")


def _cells(f: ShownFlow) -> tuple[str, ...]:
    return (
        f.src,
        f.dst,
        f.protocol,
        str(f.port),
        str(f.count),
        f.first_seen,
        f.last_seen,
        f.verdict,
    )


def flows_table(flows: list[ShownFlow]) -> str:
    """An aligned table (never cut to the terminal's width: names are the point), then the count."""
    rows = [tuple(h.upper().replace("_", " ") for h in HEADER)]
    rows += [tuple(visible(c) for c in _cells(f)) for f in flows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    right = {3, 4}
    out = [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    out.append(f"{len(flows):,} flow key{'s' if len(flows) != 1 else ''}")
    return "\n".join(out) + "\n"


def flows_csv(flows: list[ShownFlow]) -> str:
    """The same columns as the import CSV format, so `show -o csv` re-imports."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(tuple(csv_cell(c) for c in _cells(f)) for f in flows)
    return buf.getvalue()


def flows_json(flows: list[ShownFlow]) -> str:
    items = [
        {
            "src": f.src,
            "dst": f.dst,
            "protocol": f.protocol,
            "port": f.port,
            "verdict": f.verdict,
            "count": f.count,
            "replies": f.replies,
            "firstSeen": f.first_seen or None,
            "lastSeen": f.last_seen or None,
            "format": f.format,
            "detail": f.detail or None,
        }
        for f in flows
    ]
    return json.dumps(envelope("FlowList", items=items), indent=2) + "\n"
