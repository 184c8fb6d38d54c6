"""`microseg watch` output: one line per alert (JSON Lines with `-o json`, a short block of
text for people), and the closing summary that accounts for every event read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from microseg.analyses.runtime.book import Tally
from microseg.analyses.runtime.reach import Reach
from microseg.analyses.runtime.report import AlertReport, Response
from microseg.model.events import Alert, Record
from microseg.render.conns import format_conns, format_ip_ranges
from microseg.render.escape import terminal_safe
from microseg.render.quarantine import plan_json, residual_text

__all__ = ["alert_json", "alert_text", "iso", "summary_json", "summary_text"]

API_VERSION = "microseg.dev/v1alpha1"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _record(r: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"source": r.source.value, "file": r.file, "line": r.line}
    try:
        out["record"] = json.loads(r.text)
    except ValueError:
        out["text"] = r.text
    return out


def _reach(reach: Reach) -> dict[str, Any]:
    return {
        "from": reach.source,
        "workloads": reach.reachable,
        "byHops": {str(h): n for h, n in reach.by_hops},
        "direct": [{"workload": w, "conns": format_conns(c)} for w, c in reach.direct],
        "directTotal": reach.direct_total,
        "external": [
            {"addresses": format_ip_ranges(a), "conns": format_conns(c)} for a, c in reach.external
        ],
    }


def _response(r: Response) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": r.mode, "dryRun": r.dry_run, "applied": r.applied}
    if r.latency_ms is not None:
        out["latencyMs"] = round(r.latency_ms, 1)
    if r.file:
        out["file"] = r.file
    if r.skipped:
        out["skipped"] = r.skipped
    if r.errors:
        out["errors"] = list(r.errors)
    if r.plan is not None:
        out["plan"] = plan_json(r.plan)
    return out


def alert_json(report: AlertReport) -> str:
    a: Alert = report.alert
    t = a.technique
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Alert",
        "id": a.id,
        "time": iso(a.time),
        "detector": a.detector,
        "rule": a.rule,
        "title": a.title,
        "severity": a.severity.word,
        "technique": (
            {"id": t.id, "name": t.name, "tactic": t.tactic, "url": t.url}
            if t is not None
            else None
        ),
        "namespace": a.namespace,
        "pod": a.pod,
        "workload": a.workload,
        "subject": a.subject,
        "count": a.count,
        "evidence": [_record(r) for r in a.evidence],
        "details": dict(a.details),
        "reach": _reach(report.reach) if report.reach is not None else None,
        "response": _response(report.response),
    }
    if report.note:
        doc["note"] = report.note
    return json.dumps(doc, ensure_ascii=False, default=str) + "\n"


def _hops(reach: Reach) -> str:
    parts = [f"{n} in {h} hop{'s' if h != 1 else ''}" for h, n in reach.by_hops]
    return f" ({', '.join(parts)})" if parts else ""


def alert_text(report: AlertReport) -> str:
    a = report.alert
    who = f"{a.namespace}/{a.pod}" if a.pod else a.subject
    if a.workload and a.pod:
        who += f" ({a.workload})"
    tech = f"  {a.technique.id} {a.technique.name}".rstrip() if a.technique else ""
    lines = [f"ALERT {a.severity.word.upper()} {a.id} {a.title}  {who}{tech}"]
    details = " ".join(f"{k}={v}" for k, v in a.details.items() if k not in ("category",))
    where = ", ".join(f"{r.file}:{r.line}" for r in a.evidence[:3])
    lines.append(f"  evidence {where}{' (+more)' if a.count > 3 else ''}  {details}".rstrip())
    r = report.reach
    if r is not None:
        direct = "; ".join(f"{w} {format_conns(c)}" for w, c in r.direct)
        more = f" (+{r.direct_total - len(r.direct)})" if r.direct_total > len(r.direct) else ""
        lines.append(
            f"  reaches {r.reachable} workloads{_hops(r)}; directly: {direct or 'none'}{more}"
        )
        if r.external:
            ext = "; ".join(
                f"{', '.join(format_ip_ranges(x))} {format_conns(c)}" for x, c in r.external
            )
            lines.append(f"  to addresses: {ext}")
    elif report.note:
        lines.append(f"  {report.note}")
    lines.extend(_response_text(report.response))
    return terminal_safe("\n".join(lines) + "\n")


def _response_text(r: Response) -> list[str]:
    if r.mode == "off":
        return []
    if r.skipped:
        return [f"  no {r.mode}: {r.skipped}"]
    plan = r.plan
    out: list[str] = []
    if plan is not None:
        what = [f"NP {plan.namespace}/{plan.name}"]
        if plan.admin is not None:
            what.append(f"ANP {plan.name} (priority {plan.admin.priority})")
        if plan.detached:
            what.append("other labels removed (detached)")
        verb = (
            f"would isolate (dry run, {r.file})"
            if r.dry_run
            else (f"isolated in {r.latency_ms:.0f} ms" if r.applied else "isolation FAILED")
        )
        if r.mode == "label":
            verb = verb.replace("isolate", "label")
            what = [f"label {plan.id}"]
        out.append(f"  {verb}: {', '.join(what)}")
        if r.mode == "isolate":
            proof = "holds" if plan.proof.holds else "does NOT hold"
            kept = "; ".join(residual_text(k) for k in plan.proof.kept) or "nothing"
            out.append(f"  proof {proof}: kept {kept}")
            out.extend(f"    still open {residual_text(x)}" for x in plan.proof.residual[:5])
    out.extend(f"  error: {e}" for e in r.errors)
    return out


def summary_json(tally: Tally, alerts: int, extra: dict[str, Any]) -> str:
    ignored: dict[str, dict[str, int]] = {}
    for (source, reason), n in sorted(tally.ignored.items()):
        ignored.setdefault(source, {})[reason] = n
    doc = {
        "apiVersion": API_VERSION,
        "kind": "WatchSummary",
        "events": dict(sorted(tally.events.items())),
        "alerted": dict(sorted(tally.alerted.items())),
        "ignored": ignored,
        "outOfOrder": dict(sorted((k, v) for k, v in tally.out_of_order.items() if v)),
        "alerts": alerts,
        "bySeverity": dict(sorted(tally.alerts.items())),
        "balanced": tally.balanced(),
        **extra,
    }
    return json.dumps(doc) + "\n"


def summary_text(tally: Tally, alerts: int, extra: dict[str, Any]) -> str:
    lines = []
    for source in sorted(tally.events):
        n = tally.events[source]
        ign = sum(v for (s, _), v in tally.ignored.items() if s == source)
        lines.append(
            f"{source}: {n:,} events, {tally.alerted[source]:,} in alerts, {ign:,} ignored"
        )
        for (s, reason), v in sorted(tally.ignored.items(), key=lambda kv: -kv[1]):
            if s == source:
                lines.append(f"  {v:,} {reason}")
    late = sum(tally.out_of_order.values())
    lines.append(f"{alerts} alerts" + (f"; {late:,} events out of time order" if late else ""))
    for k, v in extra.items():
        if v:
            lines.append(f"{k}: {v}")
    return terminal_safe("\n".join(lines) + "\n")
