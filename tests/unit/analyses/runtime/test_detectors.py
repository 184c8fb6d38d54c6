"""Detectors over replayed streams: what fires, what merges, what is ignored and why, and
that every event is accounted for."""

from __future__ import annotations

import json

from microseg.analyses.runtime.book import AlertBook, Tally
from microseg.analyses.runtime.config import Thresholds
from microseg.analyses.runtime.detect_audit import AuditDetector
from microseg.analyses.runtime.detect_falco import FalcoDetector
from microseg.analyses.runtime.detect_flows import Endpoint, FlowDetector
from microseg.ingest.events import Line, parse_audit, parse_falco
from microseg.ingest.events.flows import FlowParser
from microseg.ingest.flows import FlowFormat
from microseg.model.events import Severity
from microseg.model.flows import ObservedEndpoint
from tests.unit.analyses.runtime.streams import audit, falco, hubble


def lines(texts: list[str]) -> list[Line]:
    return [Line("s.json", i + 1, t.encode()) for i, t in enumerate(texts)]


def book(**kw: float) -> AlertBook:
    t = Thresholds()
    for k, v in kw.items():
        t = t.set(f"{k.replace('_', '.', 1)}={v}")
    return AlertBook(t, Tally())


def test_falco_shell_alert_merges_duplicates() -> None:
    b = book()
    d = FalcoDetector(b)
    events = parse_falco(lines([falco(0), falco(1), falco(2, pod="webapp-7d9f8b6c5-other")])).events
    alerts = d.feed(events)
    assert [(a.pod, a.severity, a.technique.id if a.technique else "") for a in alerts] == [
        ("webapp-7d9f8b6c5-x7k2p", Severity.HIGH, "T1059.004"),
        ("webapp-7d9f8b6c5-other", Severity.HIGH, "T1059.004"),
    ]
    assert b.open[alerts[0].key].count == 2
    assert b.tally.alerted["falco"] == 3
    assert b.tally.balanced()


def test_falco_rule_mapping_by_name_tag_and_unknown() -> None:
    b = book()
    d = FalcoDetector(b, Severity.INFO)
    events = parse_falco(
        lines(
            [
                falco(
                    0,
                    rule="Launch Suspicious Network Tool in Container",
                    cmdline="nmap -sS 10.0.0.0/24",
                    process="nmap",
                ),
                falco(1, rule="Contact K8S API Server From Container", tags=["T1565", "k8s"]),
                falco(2, rule="My own rule", tags=["mitre_privilege_escalation", "T1068"]),
                falco(3, rule="Something else", priority="Critical", tags=["T1496"]),
            ]
        )
    ).events
    got = {
        a.rule: (a.technique.id if a.technique else "", a.details["category"], a.severity)
        for a in d.feed(events)
    }
    assert got["Launch Suspicious Network Tool in Container"][:2] == ("T1046", "network-tool")
    # Falco tags it T1565 (Data Manipulation); it is discovery through the API.
    assert got["Contact K8S API Server From Container"][0] == "T1613"
    assert got["My own rule"][:2] == ("T1068", "privilege-escalation")
    assert got["Something else"] == ("T1496", "generic", Severity.CRITICAL)
    assert d.unknown_rules == {"Something else"}


def test_falco_below_min_severity_is_ignored_with_reason() -> None:
    b = book()
    d = FalcoDetector(b, Severity.HIGH)
    d.feed(parse_falco(lines([falco(0, rule="Run shell untrusted", tags=[])])).events)
    assert b.tally.ignored[("falco", "below --min-severity")] == 1
    assert b.tally.balanced()


def test_rate_limit_counts_what_it_drops() -> None:
    b = book(rate_subject=2)
    d = FalcoDetector(b, Severity.INFO)
    rules = [f"rule {i}" for i in range(4)]
    alerts = d.feed(
        parse_falco(lines([falco(i, rule=r, tags=[]) for i, r in enumerate(rules)])).events
    )
    assert len(alerts) == 2
    assert b.rate_limited == 2
    assert b.tally.balanced()


def test_audit_detections() -> None:
    b = book(audit_forbidden=3)
    d = AuditDetector(b, b.t)
    role = {"kind": "ClusterRole", "rules": [{"verbs": ["bind"], "resources": ["clusterroles"]}]}
    stream = [
        audit(0, stage="RequestReceived"),
        audit(0),  # SA reads a secret
        audit(0, audit_id="id-0-get-secrets--200"),  # same request, later duplicate
        audit(
            1,
            verb="create",
            resource="pods",
            namespace="shop",
            name="api-0",
            subresource="exec",
            stage="ResponseStarted",
            audit_id="x1",
        ),
        audit(
            9,
            verb="create",
            resource="pods",
            namespace="shop",
            name="api-0",
            subresource="exec",
            audit_id="x1",
        ),
        audit(
            2,
            verb="create",
            resource="clusterroles",
            namespace="",
            name="sneaky",
            body=role,
            api_group="rbac.authorization.k8s.io",
        ),
        *[
            audit(3 + i, verb="list", resource="nodes", namespace="", name="", code=403)
            for i in range(4)
        ],
        audit(10, verb="get", resource="configmaps", name="x"),
        audit(11, user="system:serviceaccount:kube-system:replicaset-controller", pod=None),
    ]
    alerts = d.feed(parse_audit(lines(stream)).events)
    got = {a.rule: a for a in alerts}
    assert set(got) == {"secret-read", "pod-exec", "rbac-escalation", "api-forbidden"}
    assert got["pod-exec"].pod == "api-0"
    assert got["pod-exec"].technique.id == "T1609"
    assert got["secret-read"].pod == "webapp-7d9f8b6c5-x7k2p"
    assert got["secret-read"].technique.id == "T1552.007"
    assert got["rbac-escalation"].technique.id == "T1098.006"
    assert got["api-forbidden"].details["refused"] == 3
    ignored = {r for (_, r) in b.tally.ignored}
    assert "stage RequestReceived (the request is judged at a later stage)" in ignored
    assert "a later stage of a request already judged (same auditID)" in ignored
    assert b.tally.balanced()
    assert b.tally.events["audit"] == len(stream)


def flow_detector(b: AlertBook) -> FlowDetector:
    def resolve(e: ObservedEndpoint) -> Endpoint:
        if e.ns and e.pod:
            return Endpoint(f"{e.ns}/{e.pod}", e.ns, e.pod, ip=e.ip)
        return Endpoint(e.ip, ip=e.ip)

    return FlowDetector(b, b.t, resolve)


def test_flow_port_scan_sweep_and_denied_burst() -> None:
    b = book(scan_ports=20, sweep_hosts=10, denied_count=15)
    d = flow_detector(b)
    parser = FlowParser(FlowFormat.HUBBLE)
    scan = [hubble(i * 0.1, port=1000 + i) for i in range(25)]
    sweep = [
        hubble(3 + i * 0.1, src_pod="probe-1", dst_ip=f"10.244.3.{i}", port=22, verdict="FORWARDED")
        for i in range(12)
    ]
    batch, rejects, skipped = parser.parse(lines([*scan, *sweep, "garbage"]), 0.0)
    assert len(rejects) == 1
    assert skipped == 0
    alerts = d.feed(batch)
    got = {(a.rule, a.pod) for a in alerts}
    assert ("port-scan", "webapp-7d9f8b6c5-x7k2p") in got
    assert ("denied-burst", "webapp-7d9f8b6c5-x7k2p") in got
    assert ("sweep", "probe-1") in got
    assert ("sensitive-scan", "webapp-7d9f8b6c5-x7k2p") not in got
    assert b.tally.balanced()


def test_flow_windows_slide() -> None:
    # 19 ports in the first minute, 19 more two minutes later: never 20 within a minute.
    b = book(scan_ports=20, denied_count=1000)
    d = flow_detector(b)
    parser = FlowParser(FlowFormat.HUBBLE)
    first = [hubble(i, port=2000 + i) for i in range(19)]
    later = [hubble(180 + i, port=3000 + i) for i in range(19)]
    for part in (first, later):
        batch, _, _ = parser.parse(lines(part), 0.0)
        assert d.feed(batch) == []
    assert (
        b.tally.ignored[("flows", "no detection (counted in the scan, sweep and denial windows)")]
        == 38
    )


def test_records_keep_the_source_line() -> None:
    e = parse_falco(lines([falco(0)])).events[0]
    assert json.loads(e.record.text)["rule"] == "Terminal shell in container"


def test_flow_alert_counts_do_not_depend_on_batching() -> None:
    # A scan of 60 ports, some dropped: read whole, or 7 lines at a time, the same alerts
    # with the same counts and the same accounting.
    stream = [
        hubble(i * 0.1, port=1000 + i, verdict=("DROPPED", "FORWARDED")[i % 3 == 0])
        for i in range(60)
    ]

    def run(size: int) -> tuple[dict[str, int], dict[str, int], int]:
        b = book(scan_ports=20, denied_count=15)
        d = flow_detector(b)
        parser = FlowParser(FlowFormat.HUBBLE)
        for k in range(0, len(stream), size):
            part = [
                Line("s.json", k + i + 1, t.encode()) for i, t in enumerate(stream[k : k + size])
            ]
            batch, _, _ = parser.parse(part, 0.0)
            d.feed(batch)
        parser.close()
        assert b.tally.balanced()
        counts = {key[1]: a.count for key, a in b.open.items()}
        ignored = sum(v for (src, _), v in b.tally.ignored.items() if src == "flows")
        return counts, dict(b.tally.alerted), ignored

    whole = run(len(stream))
    assert whole == run(7)
    counts, alerted, ignored = whole
    # Port scan: fires at the 20th port and takes every flow of the scan from then on.
    assert counts["port-scan"] == 41
    # Denied burst: 40 dropped; fires at the 15th and takes the 25 after it.
    assert counts["denied-burst"] == 26
    assert alerted["flows"] == 41
    assert ignored == 19
