"""The audit report as one self-contained HTML page (jinja2, autoescaped; CSS and SVG
inline, no script, nothing fetched when it is viewed), from which the PDF is printed.

Layout for an auditor: a summary page (score, trend, severities, each framework's pass /
fail / not-assessable count, the inputs that were missing), the segmentation as pictures,
RBAC's most powerful subjects, one table per framework whose failed controls link to their
findings, and the findings with their evidence (file:line) and fix (patch or generated
YAML).
"""

from __future__ import annotations

import re
from collections import Counter

from jinja2 import Environment, PackageLoader, select_autoescape

from microseg.analyses.audit import CODES, INPUTS, AuditReport, Evidence, Finding, Status
from microseg.render.audit import evidence_text, grant_rows, patch_text, remediation_yaml
from microseg.render.audit_svg import coverage_svg, namespace_graph_svg, power_svg

__all__ = ["audit_html"]

_MAX_GRANT_ROWS = 400
"""Past this, the access review reads the JSON report: a page of thousands of rows helps no one."""

_CATEGORIES = (
    ("network", "Network"),
    ("identity", "Identity and mesh"),
    ("pod-security", "Pod security"),
    ("rbac", "RBAC"),
)


_PER_CODE = 25
"""Findings of one code shown in full; the rest of that code are one table row each (with
their anchor, so every control's link still lands): a cluster of thousands of workloads
has thousands of findings of a code, and a report of 16,000 full entries is not read."""


def _by_code(items: list[Finding]) -> list[tuple[str, list[Finding], list[Finding]]]:
    """(code, shown in full, the rest) in the order the findings come (most severe first)."""
    codes: dict[str, list[Finding]] = {}
    for f in items:
        codes.setdefault(f.code, []).append(f)
    return [(c, fs[:_PER_CODE], fs[_PER_CODE:]) for c, fs in codes.items()]


def _anchor(f: Finding) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f.id).strip("-")


def _score_css(value: float | None) -> str:
    if value is None:
        return "na"
    return "ok" if value >= 90 else ("meh" if value >= 70 else "bad")


def _score_class(score: float | None, by_severity: Counter[str]) -> str:
    """The score card's colour: its band, but never green beside a critical finding (a
    share of passed checks can be high while one subject is cluster-admin)."""
    band = "good" if (score or 0) >= 90 else ("fair" if (score or 0) >= 70 else "poor")
    if by_severity.get("critical"):
        return "poor"
    if by_severity.get("high") and band == "good":
        return "fair"
    return band


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def audit_html(report: AuditReport, generated: str, title: str, version: str) -> str:
    env = Environment(
        loader=PackageLoader("microseg.render", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    graph, caption = namespace_graph_svg(report)
    by_severity = Counter(f.level.value for f in report.findings)
    groups = [
        (label, [f for f in report.findings if f.info.category.value == key])
        for key, label in _CATEGORIES
    ]
    score = report.overall.score
    rbac_codes = sorted({(c, CODES[c].title) for p in report.power[:10] for c, _ in p.capabilities})

    grants = [(str(p.subject), g) for p in report.permissions for g in grant_rows(p)]

    def evidence(e: Evidence) -> str:
        return evidence_text(e.text, e.conns)

    return env.get_template("audit/report.html.j2").render(
        title=title,
        generated=generated,
        version=version,
        counts=report.counts,
        pss=report.pss,
        frameworks=report.frameworks,
        overall=report.overall,
        score_text=_fmt(score),
        score_class=_score_class(score, by_severity),
        trend=report.trend,
        deltas=dict(report.trend.namespace_deltas) if report.trend else {},
        new_ids=set(report.trend.new) if report.trend else set(),
        severities=("critical", "high", "medium", "low"),
        by_severity=by_severity,
        namespaces=report.namespaces,
        missing_inputs=[(k, v) for k, v in INPUTS.items() if k not in report.available],
        graph_svg=graph,
        graph_caption=caption,
        coverage_svg=coverage_svg(report),
        power_svg=power_svg(report),
        rbac_codes=rbac_codes,
        grants=grants[:_MAX_GRANT_ROWS],
        grants_left=max(0, len(grants) - _MAX_GRANT_ROWS),
        by_category=[(label, len(items), _by_code(items)) for label, items in groups if items],
        per_code=_PER_CODE,
        top=report.findings[:10],
        findings_total=len(report.findings),
        where=lambda f: next((e.location for e in f.evidence if e.origin is not None), ""),
        PASS=Status.PASS,
        FAIL=Status.FAIL,
        NA=Status.NOT_ASSESSABLE,
        anchor=_anchor,
        evidence=evidence,
        patch=patch_text,
        remediation=remediation_yaml,
        score_css=_score_css,
        fmt_score=_fmt,
    )
