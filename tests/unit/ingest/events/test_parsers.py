"""Falco and audit lines parsed: fields read, wrong shapes refused with their reason."""

from __future__ import annotations

import json

from microseg.ingest.events import Line, parse_audit, parse_falco
from tests.unit.analyses.runtime.streams import T0, audit, falco


def lines(*texts: str, cut_last: bool = False) -> list[Line]:
    return [
        Line("events.json", i + 1, t.encode(), cut_last and i == len(texts) - 1)
        for i, t in enumerate(texts)
    ]


def test_falco_fields_and_time_with_nanoseconds() -> None:
    got = parse_falco(lines(falco(1.5)))
    assert not got.rejects
    (e,) = got.events
    assert (e.rule, e.namespace, e.pod, e.cmdline, e.user, e.process) == (
        "Terminal shell in container",
        "frontend",
        "webapp-7d9f8b6c5-x7k2p",
        "bash",
        "root",
        "bash",
    )
    assert abs(e.time - (T0.timestamp() + 1.5)) < 1e-6
    assert "shell" in e.tags
    assert e.record.line == 1


def test_falco_optional_properties_left_out() -> None:
    # json_include_output_property / json_include_tags_property false: only rule and time.
    text = json.dumps({"rule": "Custom rule", "time": "2026-12-07T16:32:56Z", "priority": "Error"})
    (e,) = parse_falco(lines(text)).events
    assert (e.output, e.tags, e.pod) == ("", (), "")


def test_falco_rejects_with_reasons() -> None:
    got = parse_falco(
        lines(
            "not json",
            json.dumps({"time": "2026-12-07T16:32:56Z"}),
            json.dumps({"rule": 5, "time": "2026-12-07T16:32:56Z"}),
            "",
            '{"rule": "Terminal shell in container", "ti',
            cut_last=True,
        )
    )
    reasons = [r.reason for r in got.rejects]
    assert reasons[0] == "invalid JSON"
    assert reasons[1] == "not a Falco alert (no rule or time)"
    assert reasons[2].startswith("rule: expected `str`")
    assert reasons[3].startswith("truncated")
    assert got.blank == 1
    assert not got.events


def test_audit_fields() -> None:
    body = {
        "kind": "ClusterRole",
        "rules": [{"verbs": ["get", "escalate"], "resources": ["roles"]}],
    }
    got = parse_audit(
        lines(
            audit(0),
            audit(1, verb="create", resource="clusterroles", namespace="", name="x", body=body),
        )
    )
    a, b = got.events
    assert a.service_account == ("frontend", "webapp")
    assert a.pod == ("frontend", "webapp-7d9f8b6c5-x7k2p")
    assert (a.resource, a.verb, a.code, a.decision, a.stage) == (
        "secrets",
        "get",
        200,
        "allow",
        "ResponseComplete",
    )
    assert b.rule_verbs == ("escalate", "get")
    assert b.has_body


def test_audit_refuses_other_kinds() -> None:
    other = json.dumps({"kind": "Pod", "apiVersion": "v1"})
    no_time = json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get"})
    got = parse_audit(lines(other, no_time))
    assert [r.reason for r in got.rejects] == [
        "not an audit.k8s.io Event (v1 Pod)",
        "no stageTimestamp or requestReceivedTimestamp",
    ]
