"""A VerificationReport for people (answer first, then each violation with its why) and
for programs (JSON envelope `kind: VerificationReport`).

JSON shape (apiVersion microseg.dev/v1alpha1):
  summary: {intents, violated, holds}
  findings[]: {id, kind, description, status: holds|violated, origin: {file, line},
               message, total, flows[]: {src, dst, conn, note}, explanation (a ReachDecision
               without its envelope, for the first flow), related[]: {file, line, policy},
               details[]}
  notes[]: what the groups resolved to that deserves a word (a missing workload, ...).
"""

from __future__ import annotations

import json
from typing import Any

from microseg.analyses.verify import Finding, FlowRow, VerificationReport
from microseg.analyses.verify_flows import ip_name
from microseg.errors import Origin
from microseg.model.sets import IPSet
from microseg.render.conns import format_conns
from microseg.render.reach import decision_json, decision_text
from microseg.render.shape import envelope

__all__ = [
    "endpoint_label",
    "finding_json",
    "origin_label",
    "report_json",
    "report_text",
    "summary_line",
    "violation_lines",
]

TEXT_ROWS = 20
_SHORT = {
    "NetworkPolicy": "NP",
    "AdminNetworkPolicy": "ANP",
    "BaselineAdminNetworkPolicy": "BANP",
    "ClusterNetworkPolicy": "CNP",
}


def endpoint_label(x: str | IPSet) -> str:
    return x if isinstance(x, str) else f"{ip_name(x)}[External]"


def origin_label(o: Origin) -> str:
    """`NP shop/postgres-allow-shop-tenant`: the policy an origin points at."""
    kind = _SHORT.get(o.kind, o.kind)
    name = f"{o.namespace}/{o.name}" if o.namespace else o.name
    return f"{kind} {name}".strip()


def summary_line(report: VerificationReport) -> str:
    n, bad = len(report.findings), len(report.violations)
    if bad:
        return f"FAIL {bad} of {n} intent{'s' if n != 1 else ''} violated"
    return f"PASS all {n} intent{'s' if n != 1 else ''} hold"


def _row_text(row: FlowRow) -> str:
    note = f"  ({row.note})" if row.note else ""
    conns = format_conns(row.conns) if row.conns else ""
    return f"{endpoint_label(row.src)} -> {endpoint_label(row.dst)}  {conns}".rstrip() + note


def violation_lines(f: Finding) -> list[str]:
    lines = [f"VIOLATED {f.id}: {f.description}  ({f.origin.location()})", f"  {f.message}"]
    for row in f.rows[:TEXT_ROWS]:
        lines.append(f"    {_row_text(row)}")
    for d in f.details[:TEXT_ROWS]:
        lines.append(f"    {d}")
    shown = min(len(f.rows), TEXT_ROWS) + min(len(f.details), TEXT_ROWS)
    more = max(f.total - shown, 0)
    if more and (f.rows or f.details):
        lines.append(
            f"    ... and {more} more (-o json lists up to {len(f.rows) or len(f.details)})"
        )
    if f.decision is not None:
        lines.append("  why (the first flow):")
        lines += ["  " + line for line in decision_text(f.decision).splitlines()]
    if f.related:
        lines.append(
            "  responsible: " + "; ".join(f"{origin_label(o)} ({o.location()})" for o in f.related)
        )
    return lines


def report_text(report: VerificationReport) -> str:
    lines = [summary_line(report)]
    for f in report.violations:
        lines.append("")
        lines += violation_lines(f)
    holding = [f for f in report.findings if f.holds]
    if holding:
        lines.append("")
        for f in holding:
            lines.append(f"ok       {f.id}: {f.description}")
    return "\n".join(lines) + "\n"


def _origin_json(o: Origin) -> dict[str, Any]:
    return {"file": o.file, "line": o.line}


def finding_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "kind": f.kind,
        "description": f.description,
        "status": "holds" if f.holds else "violated",
        "origin": _origin_json(f.origin),
    }
    if not f.holds:
        out["message"] = f.message
        out["total"] = f.total
        out["flows"] = [
            {
                "src": endpoint_label(r.src),
                "dst": endpoint_label(r.dst),
                "conn": format_conns(r.conns),
                **({"note": r.note} if r.note else {}),
            }
            for r in f.rows
        ]
        if f.decision is not None:
            doc = json.loads(decision_json(f.decision))
            out["explanation"] = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
        out["related"] = [{**_origin_json(o), "policy": origin_label(o)} for o in f.related]
        out["details"] = list(f.details)
    return out


def report_json(report: VerificationReport) -> str:
    n, bad = len(report.findings), len(report.violations)
    doc = envelope(
        "VerificationReport",
        summary={"intents": n, "violated": bad, "holds": n - bad},
        findings=[finding_json(f) for f in report.findings],
        notes=list(report.notes),
    )
    return json.dumps(doc, indent=2) + "\n"
