"""`microseg audit` for people, programs and code-scanning UIs: text, JSON and SARIF, and
the remediation text (YAML, JSON patches) the HTML report shares.

JSON shape (apiVersion microseg.dev/v1alpha1, kind AuditReport):
  generated: ISO time; inputs: [what was available]; pss: the Pod Security level used
  counts: {namespaces, workloads, networkPolicies, roles, bindings, auditEvents}
  score: {overall, checks, failed, findings}; namespaces[]: {namespace, score, checks, failed, findings}
  findings[]: {id, code, title, category, severity, subject, namespace, message,
               evidence[]: {text, file, line, conns}, remediation: {summary, yaml, patches[]}}
  frameworks[]: {id, name, version, summary: {pass, fail, notAssessable},
                 controls[]: {id, title, status, reason, findings[ids], kubescape[]}}
  rbac: {powerful[]: {subject, score, capabilities[]: {code, scope}},
         subjects[]: {subject, kind, name, namespace, grants[]: {scope, namespace, binding,
                      role, aggregatedFrom, via, verbs, apiGroups, resources, resourceNames, nonResourceURLs,
                      file, line (the binding's)}}}
  graph: the namespace graph of the report's picture; trend (with --baseline):
  {previous, overallDelta, namespaces[]: {namespace, delta}, new[], resolved[]}
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import yaml
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from microseg.analyses.audit import AuditReport, Finding, Patch, Status
from microseg.errors import Origin
from microseg.render.conns import format_conns
from microseg.render.policy_yaml import dump
from microseg.render.sarif import SARIF_SCHEMA, _location
from microseg.render.shape import envelope
from microseg.render.text import keep_words, plain

__all__ = [
    "audit_json",
    "audit_sarif",
    "audit_text",
    "evidence_text",
    "grant_rows",
    "json_pointer",
    "patch_text",
    "remediation_yaml",
]

_SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def json_pointer(path: tuple[str | int, ...]) -> str:
    """RFC 6901: `/spec/template/spec/containers/0/securityContext/privileged`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def merge_body(p: Patch) -> dict[str, Any]:
    """The strategic merge patch of a keyed patch: list items by their merge key, `null`
    to delete a field (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/)."""
    keys = {i: (field, value) for i, field, value in p.keys}
    body: Any = p.value
    for i in range(len(p.path) - 1, -1, -1):
        step = p.path[i]
        if isinstance(step, int):
            field, value = keys[i]
            body = [{field: value, **(body if isinstance(body, dict) else {})}]
        else:
            body = {step: body}
    assert isinstance(body, dict)
    return body


def patch_text(p: Patch) -> str:
    """The patch as a `kubectl patch` command: a strategic merge patch when every list
    item on its path is keyed, else an RFC 6902 JSON patch (its `test` operations first).
    Every word from the input is shell-quoted: a user name may hold any character, and
    the command is meant to be pasted into a shell."""
    ns = f" -n {shlex.quote(p.namespace)}" if p.namespace else ""
    target = f"kubectl patch {p.kind.lower()} {shlex.quote(p.name)}{ns}"
    if p.strategic:
        body = json.dumps(merge_body(p), separators=(",", ":"))
        return f"{target} --type=strategic -p {shlex.quote(body)}"
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": json_pointer(path), "value": value} for path, value in p.test
    ]
    ops.append(
        {"op": "remove", "path": json_pointer(p.path)}
        if p.value is None
        else {"op": "add", "path": json_pointer(p.path), "value": p.value}
    )
    return f"{target} --type=json -p {shlex.quote(json.dumps(ops))}"


def remediation_yaml(f: Finding) -> str:
    """The generated objects of a finding's remediation as one YAML stream ("" if none)."""
    docs = [dump(g) for g in f.remediation.policies]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    docs += [yaml.dump(o, Dumper=dumper, sort_keys=False) for o in f.remediation.objects]
    return "---\n".join(docs)


def evidence_text(text: str, conns: Any) -> str:
    return f"{text} {format_conns(conns)}" if conns is not None else text


def _origin_json(o: Origin | None) -> dict[str, Any]:
    if o is None:
        return {}
    return {"file": o.file, "line": o.line}


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "code": f.code,
        "title": f.info.title,
        "category": f.info.category.value,
        "severity": f.level.value,
        "subject": f.subject,
        "namespace": f.namespace,
        "message": f.message,
        "evidence": [
            {
                "text": e.text,
                **_origin_json(e.origin),
                **({"conns": format_conns(e.conns)} if e.conns is not None else {}),
            }
            for e in f.evidence
        ],
        "remediation": {
            "summary": f.remediation.summary,
            "yaml": remediation_yaml(f),
            "patches": [patch_text(p) for p in f.remediation.patches],
        },
    }


def grant_rows(perms: Any) -> list[dict[str, Any]]:
    """A subject's effective grants, one row per rule: where it applies, which binding and
    role grant it (and through which group), and the rule itself."""
    rows = []
    for g in perms.grants:
        r = g.rule
        rows.append(
            {
                "scope": "cluster" if g.cluster_wide else "namespace",
                "namespace": g.namespace,
                "binding": f"{g.binding.kind} {g.binding.ref}",
                "role": f"{g.role.kind} {g.role.ref}",
                "aggregatedFrom": g.source.name if g.source is not None else "",
                "via": g.via,
                "verbs": list(r.verbs),
                "apiGroups": list(r.api_groups),
                "resources": list(r.resources),
                "resourceNames": list(r.resource_names),
                "nonResourceURLs": list(r.non_resource_urls),
                **_origin_json(g.binding.origin),
            }
        )
    return rows


def _permissions_json(perms: Any) -> dict[str, Any]:
    s = perms.subject
    return {
        "subject": str(s),
        "kind": s.kind.value,
        "name": s.name,
        "namespace": s.namespace,
        "grants": grant_rows(perms),
    }


def audit_data(report: AuditReport, generated: str) -> dict[str, Any]:
    g = report.graph
    data = envelope(
        "AuditReport",
        generated=generated,
        inputs=sorted(report.available),
        pss=report.pss,
        counts=report.counts,
        score={
            "overall": report.overall.score,
            "checks": report.overall.checks,
            "failed": report.overall.failed,
            "findings": report.overall.findings,
        },
        namespaces=[
            {
                "namespace": s.scope,
                "score": s.score,
                "checks": s.checks,
                "failed": s.failed,
                "findings": s.findings,
            }
            for s in report.namespaces
        ],
        findings=[_finding_json(f) for f in report.findings],
        frameworks=[
            {
                "id": r.framework.id,
                "name": r.framework.name,
                "version": r.framework.version,
                "summary": {
                    "pass": r.count(Status.PASS),
                    "fail": r.count(Status.FAIL),
                    "notAssessable": r.count(Status.NOT_ASSESSABLE),
                },
                "controls": [
                    {
                        "id": c.control.id,
                        "title": c.control.title,
                        "status": c.status.value,
                        "reason": c.reason,
                        "findings": [f.id for f in c.findings],
                        "kubescape": list(c.control.kubescape),
                    }
                    for c in r.controls
                ],
            }
            for r in report.frameworks
        ],
        rbac={
            "powerful": [
                {
                    "subject": p.subject,
                    "score": p.score,
                    "capabilities": [{"code": c, "scope": s} for c, s in p.capabilities],
                }
                for p in report.power
            ],
            "subjects": [_permissions_json(p) for p in report.permissions],
        },
        graph={
            "namespaces": [
                {
                    "name": n,
                    "workloads": g.workloads[i],
                    "isolatedIngress": g.isolated_in[i],
                    "isolatedEgress": g.isolated_out[i],
                    "fromInternet": g.internet_in[i] if g.internet_in else 0,
                    "toInternet": g.internet_out[i] if g.internet_out else 0,
                }
                for i, n in enumerate(g.namespaces)
            ],
            "edges": [
                {
                    "from": g.namespaces[a],
                    "to": g.namespaces[b],
                    "pairs": n,
                    "violation": (a, b) in g.violations,
                }
                for a, b, n in g.edges
            ],
        },
    )
    if report.trend is not None:
        t = report.trend
        data["trend"] = {
            "previous": t.previous,
            "overallDelta": t.overall_delta,
            "namespaces": [{"namespace": n, "delta": d} for n, d in t.namespace_deltas],
            "new": list(t.new),
            "resolved": list(t.resolved),
        }
    return data


def audit_json(report: AuditReport, generated: str) -> str:
    return json.dumps(audit_data(report, generated), indent=2) + "\n"


def audit_sarif(report: AuditReport, version: str) -> str:
    from microseg.analyses.audit import CODES

    codes = sorted(CODES)
    index = {c: i for i, c in enumerate(codes)}
    rules = [
        {
            "id": c,
            "name": CODES[c].title.title().replace(" ", "").replace("-", ""),
            "shortDescription": {"text": CODES[c].title},
            "defaultConfiguration": {"level": _SARIF_LEVEL[CODES[c].severity.value]},
            "properties": {"category": CODES[c].category.value},
        }
        for c in codes
    ]
    results = []
    for f in report.findings:
        located = next((e.origin for e in f.evidence if e.origin is not None), None)
        location: dict[str, Any] = _location(located) if located is not None else {}
        location["logicalLocations"] = [{"name": f.subject, "kind": "object"}]
        text = f"{f.subject}: {f.message}"
        if f.remediation.summary:
            text += f". Fix: {f.remediation.summary}"
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": _SARIF_LEVEL[f.level.value],
                "message": {"text": text},
                "locations": [location],
                "partialFingerprints": {"auditFinding/v1": f.id},
                "properties": {"severity": f.level.value},
            }
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "microseg audit", "version": version, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def audit_text(report: AuditReport, verbose: bool = False) -> RenderableType:
    parts: list[RenderableType] = []
    head = Text()
    head.append(f"Score {_score(report.overall.score)}/100", style="bold")
    head.append(
        f"  {report.overall.findings} findings, {report.overall.failed} of "
        f"{report.overall.checks} checks failed"
    )
    if report.trend is not None and report.trend.overall_delta is not None:
        d = report.trend.overall_delta
        head.append(
            f"  ({'+' if d >= 0 else ''}{d:.1f} since {report.trend.previous}; "
            f"{len(report.trend.new)} new, {len(report.trend.resolved)} resolved)"
        )
    parts.append(head)
    table = Table(title="Findings", title_justify="left")
    for col in ("severity", "code", "subject", "finding", "where"):
        table.add_column(col)
    for f in report.findings:
        where = next((e.location for e in f.evidence if e.origin is not None), "")
        table.add_row(
            Text(f.level.value, style=_STYLE[f.level.value]),
            f.code,
            plain(f.subject),
            plain(f.message),
            plain(where),
        )
    parts.append(keep_words(table))
    if verbose:
        for f in report.findings:
            block = Text()
            block.append(f"{f.code} {f.subject}\n", style="bold")
            for e in f.evidence:
                at = f" ({e.location})" if e.location else ""
                block.append(f"  evidence: {evidence_text(e.text, e.conns)}{at}\n")
            block.append(f"  fix: {f.remediation.summary}\n")
            for p in f.remediation.patches:
                block.append(f"    {patch_text(p)}\n")
            parts.append(block)
    ns = Table(title="Scores per namespace", title_justify="left")
    for col in ("namespace", "score", "checks", "failed", "findings"):
        ns.add_column(col)
    for s in report.namespaces:
        ns.add_row(plain(s.scope), _score(s.score), str(s.checks), str(s.failed), str(s.findings))
    parts.append(keep_words(ns))
    for r in report.frameworks:
        t = Table(
            title=f"{r.framework.name} {r.framework.version}: {r.count(Status.PASS)} pass, "
            f"{r.count(Status.FAIL)} fail, {r.count(Status.NOT_ASSESSABLE)} not assessable",
            title_justify="left",
        )
        for col in ("control", "status", "title", "why"):
            t.add_column(col)
        for c in r.controls:
            style = {"pass": "green", "fail": "red", "not-assessable": "dim"}[c.status.value]
            t.add_row(c.control.id, Text(c.status.value, style=style), c.control.title, c.reason)
        parts.append(keep_words(t))
    return Group(*parts)
