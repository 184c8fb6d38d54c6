"""A LintReport for people (grouped by file, count first), for programs (JSON envelope
`LintReport`) and for code-scanning tools (SARIF 2.1.0, OASIS standard: one run, one
reportingDescriptor per code, results with physicalLocation file and startLine)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from microseg.analyses.lint import CODES, Finding, LintReport
from microseg.errors import Severity
from microseg.render.shape import envelope

__all__ = ["DESCRIPTIONS", "lint_json", "lint_sarif", "lint_text"]

DESCRIPTIONS = {
    "ML001": "Removing the rule alone changes no connectivity.",
    "ML002": "Removing the policy changes no connectivity.",
    "ML003": "The policy's podSelector or subject selects no pod.",
    "ML004": "A peer of a rule matches no pod, namespace or node of the input.",
    "ML005": "Earlier admin or baseline rules match first everything the rule matches.",
    "ML006": "A named port is not a container port of any pod the rule applies to.",
    "ML010": "A Linkerd Server selects no pod port, or only pods outside Linkerd's mesh.",
    "ML011": "A Linkerd authorization or authentication that no Server uses.",
    "ML012": "A Linkerd authorization that admits every client, or every meshed identity.",
    "ML013": "A Linkerd Server with routes on a port where pods have HTTP probes: kubelet gets no probe route.",
}
_ALONE = (
    "Each finding is about removing that one rule or policy alone; removing several at once "
    "may change connectivity."
)


def _plural(n: int, word: str, many: str = "") -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _counts(report: LintReport) -> str:
    by = Counter(f.severity for f in report.findings)
    parts = [_plural(by[s], s.value) for s in Severity if by[s]]
    return ", ".join(parts)


def _subject(f: Finding) -> str:
    where = f" {f.field}" if f.field else ""
    return f"{f.policy}{where}"


def lint_text(report: LintReport) -> str:
    policies = _plural(report.policies, "policy", "policies")
    checked = f"{policies}, {_plural(report.rules, 'rule')} checked"
    if not report.findings:
        return f"No findings ({checked}).\n"
    files = sorted({f.origin.file for f in report.findings})
    lines = [
        f"{_plural(len(report.findings), 'finding')} in {_plural(len(files), 'file')} "
        f"({_counts(report)}; {checked})"
    ]
    for file in files:
        lines.append("")
        lines.append(file)
        for f in report.findings:
            if f.origin.file != file:
                continue
            line = f"{f.origin.line}" if f.origin.line is not None else "-"
            head = f"{f.severity.value}[{f.code}]"
            lines.append(f"  {line:>5}  {head:<16} {_subject(f)}")
            lines.append(f"         {f.name}: {f.message}")
    if any(f.code in ("ML001", "ML002") for f in report.findings):
        lines.append("")
        lines.append(_ALONE)
    return "\n".join(lines) + "\n"


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "name": f.name,
        "severity": f.severity.value,
        "policy": f.policy,
        "file": f.origin.file,
        "line": f.origin.line,
        "field": f.field or None,
        "direction": f.direction.value if f.direction is not None else None,
        "rule": f.rule,
        "message": f.message,
    }


def lint_json(report: LintReport) -> str:
    by = Counter(f.severity for f in report.findings)
    doc = envelope(
        "LintReport",
        summary={
            "findings": len(report.findings),
            "policies": report.policies,
            "rules": report.rules,
            "bySeverity": {s.value: by[s] for s in Severity},
        },
        findings=[_finding_json(f) for f in report.findings],
    )
    return json.dumps(doc, indent=2) + "\n"


_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}


def _result(f: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": f.origin.file}}
    if f.origin.line is not None and f.origin.line >= 1:
        location["region"] = {"startLine": f.origin.line}
    return {
        "ruleId": f.code,
        "level": _LEVEL[f.severity],
        "message": {"text": f"{_subject(f)}: {f.message}"},
        "locations": [{"physicalLocation": location}],
    }


def lint_sarif(report: LintReport, version: str = "") -> str:
    rules = [
        {
            "id": code,
            "name": name,
            "shortDescription": {"text": DESCRIPTIONS[code]},
            "defaultConfiguration": {"level": _LEVEL[severity]},
        }
        for code, (name, severity) in CODES.items()
    ]
    driver: dict[str, Any] = {"name": "microseg", "rules": rules}
    if version:
        driver["version"] = version
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": [_result(f) for f in report.findings]}],
    }
    return json.dumps(doc, indent=2) + "\n"
