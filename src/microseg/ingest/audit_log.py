"""Kubernetes API audit logs (`audit.k8s.io/v1` Event, one JSON object per line as the log
backend writes them, or an `EventList`) to `AuditEvent`s (MS910, MS911).

The fields read (https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/,
Event): `auditID` and `stage` (one request is logged at up to four stages; it counts
once, by its `ResponseComplete` or `Panic` event when there is one), `verb`, `user`
(`impersonatedUser` when set: the request was authorized as that user), `objectRef`
(`apiGroup`, `resource`, `subresource`, `namespace`, `name`), `requestURI` for
non-resource requests, and whether it was allowed: the `authorization.k8s.io/decision`
annotation (`allow` or `forbid`), or, without it, a response code other than 403.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from microseg.errors import Diagnostic, Origin, Severity
from microseg.model.rbac import AuditEvent

__all__ = ["read_audit_logs"]

_STAGES = {"ResponseComplete": 3, "Panic": 3, "ResponseStarted": 2, "RequestReceived": 1}


def _event(raw: dict[str, Any], origin: Origin) -> AuditEvent | None:
    user = raw.get("impersonatedUser") or raw.get("user")
    verb = raw.get("verb")
    if not isinstance(user, dict) or not isinstance(verb, str):
        return None
    name = user.get("username")
    if not isinstance(name, str):
        return None
    groups = tuple(g for g in user.get("groups") or () if isinstance(g, str))
    ref = raw.get("objectRef") if isinstance(raw.get("objectRef"), dict) else None
    raw_annotations = raw.get("annotations")
    annotations = raw_annotations if isinstance(raw_annotations, dict) else {}
    decision = annotations.get("authorization.k8s.io/decision")
    status = raw.get("responseStatus")
    code = status.get("code") if isinstance(status, dict) else None
    allowed = decision == "allow" if decision in ("allow", "forbid") else code != 403

    def text(d: dict[str, Any] | None, key: str) -> str:
        v = d.get(key) if d else None
        return v if isinstance(v, str) else ""

    path = text(raw, "requestURI").partition("?")[0] if ref is None else ""
    return AuditEvent(
        name,
        groups,
        verb,
        text(ref, "namespace"),
        text(ref, "apiGroup"),
        text(ref, "resource"),
        text(ref, "subresource"),
        text(ref, "name"),
        path,
        allowed,
        origin,
    )


def _items(path: str) -> tuple[list[tuple[Any, int]], list[Diagnostic]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [], [
            Diagnostic(
                Severity.ERROR, "MS910", f"cannot read the audit log: {reason}", Origin(path)
            )
        ]
    stripped = text.lstrip()
    if stripped.startswith("{") and '"EventList"' in stripped[:2000]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            return [(item, 1) for item in data["items"]], []
    out: list[tuple[Any, int]] = []
    bad: list[Diagnostic] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), n))
        except json.JSONDecodeError as exc:
            bad.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS911",
                    f"not a JSON audit event ({exc.msg}); line skipped",
                    Origin(path, line=n),
                )
            )
    if bad and not out:
        return [], [
            Diagnostic(
                Severity.ERROR,
                "MS910",
                "not an audit log: expected audit.k8s.io/v1 Event objects, one JSON object per line",
                Origin(path, line=bad[0].origin.line if bad[0].origin else None),
            )
        ]
    return out, bad


def read_audit_logs(paths: list[str]) -> tuple[tuple[AuditEvent, ...], list[Diagnostic]]:
    """Every request of the logs once; diagnostics: MS910 (a file that is not an audit log:
    error), MS911 (a line or event skipped: warning, at most one per file and reason)."""
    chosen: dict[str, tuple[int, AuditEvent]] = {}
    anonymous: list[AuditEvent] = []
    notes: list[Diagnostic] = []
    for path in paths:
        items, diags = _items(path)
        notes += diags[:1] if all(d.severity is Severity.WARNING for d in diags) else diags
        skipped = 0
        first_skipped: int | None = None
        for raw, line in items:
            origin = Origin(path, line=line, kind="Event")
            event = None
            if isinstance(raw, dict) and str(raw.get("apiVersion", "audit.k8s.io/v1")).startswith(
                "audit.k8s.io/"
            ):
                event = _event(raw, origin)
            if event is None:
                skipped += 1
                first_skipped = first_skipped or line
                continue
            rank = _STAGES.get(str(raw.get("stage")), 0)
            key = raw.get("auditID")
            if not isinstance(key, str) or not key:
                anonymous.append(event)
                continue
            if key not in chosen or rank > chosen[key][0]:
                chosen[key] = (rank, event)
        if skipped:
            notes.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS911",
                    f"{skipped} record(s) are not audit.k8s.io/v1 Events with a user and a verb; skipped",
                    Origin(path, line=first_skipped),
                )
            )
    return tuple(e for _, e in chosen.values()) + tuple(anonymous), notes
