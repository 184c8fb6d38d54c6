"""Guardrail findings for people, programs and CI: `microseg check`'s text, JSON, SARIF and
JUnit, and the lines the admission webhook puts in its responses.

JSON shape (apiVersion microseg.dev/v1alpha1, kind GuardrailsCheck):
  summary: {objects, denied, enforced, warnings, audits}
  objects[]: {file, document, line, kind, namespace, name, allowed, findings[]}
  state[]: findings about the whole state (segmentation intents)
  findings[]: {rule, kind, mode, control, message, field, file, document, line, flows[],
               related[], details[]}
  notes[]
Locations: `lines` maps (object uid, field path) to the line of the field in its file, as
the adapter found it; a finding without one points at its object's line.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from microseg.analyses.guardrails import CheckReport, Finding
from microseg.errors import Origin
from microseg.model.admission import ReviewRequest
from microseg.model.guardrails import Mode
from microseg.model.podspec import FieldPath
from microseg.render.conns import format_conns
from microseg.render.escape import visible
from microseg.render.sarif import SARIF_SCHEMA, _location, _where
from microseg.render.shape import envelope
from microseg.render.verify import endpoint_label, origin_label

__all__ = [
    "Lines",
    "check_json",
    "check_junit",
    "check_sarif",
    "check_text",
    "field_text",
    "finding_line",
    "object_label",
]

Lines = Mapping[tuple[str, FieldPath], int | None]
_LEVEL = {Mode.ENFORCE: "error", Mode.WARN: "warning", Mode.AUDIT: "note"}
_WORD = {Mode.ENFORCE: "error", Mode.WARN: "warning", Mode.AUDIT: "audit"}


def field_text(path: FieldPath) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def object_label(r: ReviewRequest) -> str:
    name = f"{r.namespace}/{r.name}" if r.namespace else r.name
    return f"{name}[{r.kind}]"


def _origin(r: ReviewRequest | None, f: Finding, lines: Lines) -> Origin | None:
    if f.origin is not None:
        return f.origin
    if r is None:
        return None
    line = lines.get((r.uid, f.path), r.origin.line)
    o = r.origin
    return Origin(o.file, o.document, line, o.kind, o.namespace, o.name)


def finding_line(f: Finding) -> str:
    """`[rule/control] field: message`, one line: what the webhook returns and logs."""
    where = f"{field_text(f.path)}: " if f.path else ""
    return f"[{f.rule}/{f.control}] {where}{f.message}"


def _flow_lines(f: Finding, limit: int = 10) -> list[str]:
    out = []
    for row in f.rows[:limit]:
        conns = f" {format_conns(row.conns)}" if row.conns else ""
        out.append(f"{endpoint_label(row.src)} -> {endpoint_label(row.dst)}{conns}")
    if f.total > len(out) and out:
        out.append(f"... and {f.total - len(out)} more")
    return out


def _finding_text(r: ReviewRequest | None, f: Finding, lines: Lines) -> list[str]:
    o = _origin(r, f, lines)
    at = f" ({o.location()})" if o is not None else ""
    where = f"{field_text(f.path)}: " if f.path else ""
    out = [f"  {_WORD[f.mode]}[{f.rule}/{f.control}]{at} {where}{f.message}"]
    out += [f"      {line}" for line in _flow_lines(f)]
    out += [f"      {d}" for d in f.details[:10]]
    if f.related:
        out.append(
            "      responsible: "
            + "; ".join(f"{origin_label(p)} ({p.location()})" for p in f.related)
        )
    return out


def check_text(report: CheckReport, lines: Lines) -> str:
    enforced, warned = report.count(Mode.ENFORCE), report.count(Mode.WARN)
    bad = [r for r in report.reviews if not r.result.allowed]
    n = len(report.reviews)
    head = (
        f"FAIL {len(bad)} of {n} object{'s' if n != 1 else ''} denied"
        + (
            ", and the state breaks segmentation intents"
            if any(f.enforced for f in report.state)
            else ""
        )
        if report.failed
        else f"PASS {n} object{'s' if n != 1 else ''} admitted"
    )
    out = [
        f"{head} ({enforced} enforced, {warned} warning{'s' if warned != 1 else ''}, {report.count(Mode.AUDIT)} audit)"
    ]
    for r in report.reviews:
        if not r.result.findings:
            continue
        verdict = (
            "DENIED "
            if not r.result.allowed
            else "WARNED "
            if r.result.by_mode(Mode.WARN)
            else "AUDITED"
        )
        out.append("")
        out.append(f"{verdict} {object_label(r.request)}  ({r.request.origin.location()})")
        for f in r.result.findings:
            out += _finding_text(r.request, f, lines)
    if report.state:
        out.append("")
        out.append("segmentation (the whole state):")
        for f in report.state:
            out += _finding_text(None, f, lines)
    return "\n".join(out) + "\n"


def _finding_json(r: ReviewRequest | None, f: Finding, lines: Lines) -> dict[str, Any]:
    o = _origin(r, f, lines)
    out: dict[str, Any] = {
        "rule": f.rule,
        "kind": f.kind,
        "mode": f.mode.value,
        "control": f.control,
        "message": f.message,
        "field": field_text(f.path),
        "file": o.file if o else None,
        "document": o.document if o else None,
        "line": o.line if o else None,
    }
    if f.rows:
        out["flows"] = [
            {
                "src": endpoint_label(x.src),
                "dst": endpoint_label(x.dst),
                "conn": format_conns(x.conns),
            }
            for x in f.rows
        ]
        out["total"] = f.total
    if f.related:
        out["related"] = [
            {"file": p.file, "line": p.line, "policy": origin_label(p)} for p in f.related
        ]
    if f.details:
        out["details"] = list(f.details)
    return out


def check_json(report: CheckReport, lines: Lines) -> str:
    doc = envelope(
        "GuardrailsCheck",
        summary={
            "objects": len(report.reviews),
            "denied": sum(not r.result.allowed for r in report.reviews),
            "enforced": report.count(Mode.ENFORCE),
            "warnings": report.count(Mode.WARN),
            "audits": report.count(Mode.AUDIT),
        },
        objects=[
            {
                "file": r.request.origin.file,
                "document": r.request.origin.document,
                "line": r.request.origin.line,
                "kind": r.request.kind,
                "namespace": r.request.namespace,
                "name": r.request.name,
                "allowed": r.result.allowed,
                "findings": [_finding_json(r.request, f, lines) for f in r.result.findings],
            }
            for r in report.reviews
        ],
        state=[_finding_json(None, f, lines) for f in report.state],
        notes=list(report.notes),
    )
    return json.dumps(doc, indent=2) + "\n"


def check_sarif(report: CheckReport, lines: Lines, version: str) -> str:
    """SARIF 2.1.0: one reportingDescriptor per guardrail rule, one result per finding at
    its field's line (levels: enforce error, warn warning, audit note)."""
    rules = report.guardrails.rules
    index = {r.name: i for i, r in enumerate(rules)}
    descriptors = [
        {
            "id": f"guardrail/{r.name}",
            "name": r.kind,
            "shortDescription": {"text": f"{r.kind} rule {r.name} ({r.mode.value})"},
            "defaultConfiguration": {"level": _LEVEL[r.mode]},
        }
        for r in rules
    ]
    results = []
    for req, f in report.findings():
        o = _origin(req, f, lines)
        location = _location(o) if o is not None else {}
        subject = object_label(req) if req is not None else "segmentation"
        location["logicalLocations"] = [{"name": subject, "kind": "object"}]
        where = f" {field_text(f.path)}" if f.path else ""
        text = f"{subject}{where}: {f.message}{_where(o) if o is not None else ''}"
        result: dict[str, Any] = {
            "ruleId": f"guardrail/{f.rule}",
            "ruleIndex": index[f.rule],
            "level": _LEVEL[f.mode],
            "message": {"text": text},
            "locations": [location],
            "partialFingerprints": {
                "guardrailFinding/v1": f"{f.rule}/{f.control}/{subject}{where}"
            },
        }
        if f.related:
            result["relatedLocations"] = [
                {"id": i, **_location(p), "message": {"text": origin_label(p)}}
                for i, p in enumerate(f.related, start=1)
            ]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "microseg", "version": version, "rules": descriptors}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def check_junit(report: CheckReport, lines: Lines) -> str:
    """One testsuite per guardrail rule, one testcase per object it judged (and one for the
    whole state under an intents rule); a failure per object with enforced findings."""
    root = ET.Element("testsuites", name="microseg check", errors="0", time="0")
    total = failures = 0
    for rule in report.guardrails.rules:
        cases: list[tuple[str, str, list[str], bool]] = []
        subjects = [(r.request, r.result.findings) for r in report.reviews]
        for req, found in subjects:
            mine = [f for f in found if f.rule == rule.name]
            label = object_label(req)
            text = [line for f in mine for line in _finding_text(req, f, lines)]
            cases.append((label, req.origin.file, text, any(f.enforced for f in mine)))
        state = [f for f in report.state if f.rule == rule.name]
        if state or rule.kind == "intents":
            text = [line for f in state for line in _finding_text(None, f, lines)]
            cases.append(("segmentation state", "", text, any(f.enforced for f in state)))
        failed = sum(c[3] for c in cases)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=visible(rule.name),
            tests=str(len(cases)),
            failures=str(failed),
            errors="0",
            skipped="0",
            time="0",
        )
        for label, file, text, bad in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=visible(f"microseg.check.{rule.name}"),
                name=visible(label),
                file=visible(file),
                time="0",
            )
            if bad:
                failure = ET.SubElement(
                    case, "failure", message=visible(f"{rule.name}: denied"), type=rule.kind
                )
                failure.text = "\n".join(visible(t) for t in text) + "\n"
            elif text:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(visible(t) for t in text) + "\n"
        total += len(cases)
        failures += failed
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
