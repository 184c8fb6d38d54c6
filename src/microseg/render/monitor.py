"""`microseg monitor`'s lines: one per violation opened or closed.

JSON (one object per line, apiVersion microseg.dev/v1alpha1):
  kind: ViolationOpened | ViolationClosed
  time: RFC 3339 UTC
  cause: {type, kind, namespace, name, resourceVersion}: the watch event (ADDED,
         MODIFIED, DELETED), LIST at start, RELIST after 410 Gone or a lost event, FILE
  latencyMs: from the event's arrival to the verdict; batched: events applied together
  finding: the intent's verdict as `verify -o json` prints it (flows, explanation, related)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from microseg.analyses.verdicts import Cause, VerdictChange
from microseg.render.shape import envelope
from microseg.render.verify import finding_json, violation_lines

__all__ = ["cause_json", "change_json", "change_text"]


def cause_json(cause: Cause) -> dict[str, str]:
    return {
        "type": cause.type,
        "kind": cause.kind,
        "namespace": cause.namespace,
        "name": cause.name,
        "resourceVersion": cause.resource_version,
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def change_json(change: VerdictChange) -> str:
    kind = "ViolationOpened" if change.opened else "ViolationClosed"
    doc = envelope(
        kind,
        time=_now(),
        cause=cause_json(change.cause),
        latencyMs=round(change.latency * 1000, 3),
        batched=change.batched,
        finding=finding_json(change.finding),
    )
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


def _cause_text(cause: Cause) -> str:
    where = f"{cause.namespace}/{cause.name}" if cause.namespace else cause.name
    what = f"{cause.type} {cause.kind} {where}".strip()
    return what + (f" (resourceVersion {cause.resource_version})" if cause.resource_version else "")


def change_text(change: VerdictChange) -> str:
    f = change.finding
    head = "OPENED" if change.opened else "CLOSED"
    lines = [
        f"{_now()} {head} {f.id}: {f.description}",
        f"  after {_cause_text(change.cause)}, {change.latency * 1000:.0f} ms",
    ]
    if change.opened:
        lines.extend("  " + line for line in violation_lines(f)[1:])
    return "\n".join(lines) + "\n"
