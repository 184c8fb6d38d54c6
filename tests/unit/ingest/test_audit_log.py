"""Kubernetes API audit logs (audit.k8s.io/v1 Event, JSON lines) to AuditEvents."""

from __future__ import annotations

import json
from pathlib import Path

from microseg.errors import Severity
from microseg.ingest.audit_log import read_audit_logs


def event(audit_id: str, stage: str, **kw: object) -> str:
    base: dict[str, object] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": stage,
        "requestURI": "/api/v1/namespaces/a/pods/p1",
        "verb": "get",
        "user": {"username": "system:serviceaccount:a:web", "groups": ["system:serviceaccounts"]},
        "objectRef": {"resource": "pods", "namespace": "a", "name": "p1", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "annotations": {"authorization.k8s.io/decision": "allow"},
    }
    base.update(kw)
    return json.dumps(base)


def test_one_event_per_request_impersonation_and_decisions(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(
        "\n".join(
            [
                event("1", "RequestReceived"),
                event("1", "ResponseComplete"),
                event(
                    "2",
                    "ResponseComplete",
                    verb="create",
                    user={"username": "alice", "groups": ["system:authenticated"]},
                    impersonatedUser={"username": "system:serviceaccount:b:x", "groups": []},
                    objectRef={
                        "resource": "pods",
                        "subresource": "exec",
                        "namespace": "b",
                        "name": "q",
                    },
                ),
                event(
                    "3",
                    "ResponseComplete",
                    annotations={"authorization.k8s.io/decision": "forbid"},
                    responseStatus={"code": 403},
                ),
                event(
                    "4",
                    "ResponseComplete",
                    objectRef=None,
                    requestURI="/healthz?verbose=1",
                    annotations={},
                ),
                "",
            ]
        ),
        encoding="utf-8",
    )
    events, notes = read_audit_logs([str(log)])
    assert notes == []
    by_id = sorted(events, key=lambda e: e.origin.line or 0)
    assert len(events) == 4
    first, exec_, forbidden, health = by_id
    assert first.origin.line == 2  # the ResponseComplete stage, not RequestReceived
    assert (exec_.username, exec_.resource, exec_.subresource) == (
        "system:serviceaccount:b:x",
        "pods",
        "exec",
    )
    assert not forbidden.allowed
    assert health.path == "/healthz"
    assert health.resource == ""


def test_bad_lines_and_files(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_text(
        event("1", "ResponseComplete") + '\nnot json\n{"kind": "Other"}\n', encoding="utf-8"
    )
    events, notes = read_audit_logs([str(log)])
    assert len(events) == 1
    assert [d.code for d in notes] == ["MS911", "MS911"]
    assert all(d.severity is Severity.WARNING for d in notes)
    junk = tmp_path / "junk.log"
    junk.write_text("hello\nworld\n", encoding="utf-8")
    _, notes = read_audit_logs([str(junk)])
    assert [(d.code, d.severity) for d in notes] == [("MS910", Severity.ERROR)]
    _, notes = read_audit_logs([str(tmp_path / "missing.log")])
    assert [d.code for d in notes] == ["MS910"]
