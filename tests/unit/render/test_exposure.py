"""Exposure rendering: address wording, entry ports, status words, JSON shape, summary."""

from __future__ import annotations

import json
from dataclasses import replace

from rich.console import Console

from microseg.analyses.exposure import (
    AddressRun,
    EntryPoint,
    EntryPort,
    EntryStatus,
    ExposureReport,
    WorkloadExposure,
)
from microseg.engine.query import Step, Tier, Verdict
from microseg.errors import Origin
from microseg.model import ConnSet, IPSet, Protocol
from microseg.model.addresses import PUBLIC, AddressClass, class_set
from microseg.render.exposure import (
    describe_addresses,
    entry_status_text,
    exposure_json,
    exposure_renderable,
    exposure_summary,
    format_entry_ports,
)

V4 = IPSet.all_v4()
TCP8080 = ConnSet.single(Protocol.TCP, 8080)
TCP9100 = ConnSet.single(Protocol.TCP, 9100)


def test_whole_scope_is_any_address() -> None:
    assert describe_addresses(V4, V4) == "any address"


def test_small_holes_are_said_as_exceptions() -> None:
    hole = IPSet.from_address("169.254.169.254")
    assert describe_addresses(V4 - hole, V4) == "any address except 169.254.169.254 (link-local)"


def test_otherwise_by_class_with_whole_classes_marked() -> None:
    private = class_set(AddressClass.PRIVATE) & V4
    doc = IPSet.from_cidr("198.51.100.0/25")
    assert describe_addresses(private | doc, V4) == (
        "private (all); documentation 198.51.100.0-198.51.100.127"
    )
    assert describe_addresses(PUBLIC & V4, V4) == "public (all)"


def test_entry_ports_show_the_path_to_the_pod() -> None:
    ports = (
        EntryPort(Protocol.TCP, 80, "http", (8080,)),
        EntryPort(Protocol.TCP, 9100, 9100, (9100,)),
        EntryPort(Protocol.UDP, 53, "dns", ()),
        EntryPort(Protocol.TCP, None, 8080, (8080,)),
    )
    assert format_entry_ports(ports).splitlines() == [
        "TCP 80 -> http -> 8080",
        "TCP 9100",
        "UDP 53 -> dns -> (not on the pods)",
        "TCP every Service port -> 8080",
    ]
    assert format_entry_ports(()) == "(no ports)"


def _entry(
    status: EntryStatus, allowed: ConnSet, some: ConnSet, kind: str = "LoadBalancer"
) -> EntryPoint:
    return EntryPoint(
        kind,
        "frontend",
        "webapp",
        "frontend/webapp",
        "frontend/webapp[Deployment]",
        (
            EntryPort(Protocol.TCP, 80, "http", (8080,)),
            EntryPort(Protocol.TCP, 9100, "metrics", (9100,)),
        ),
        TCP8080 | TCP9100,
        allowed,
        some,
        status,
        Origin("frontend.yaml", 0, 12),
    )


def _report() -> ExposureReport:
    entry = _entry(EntryStatus.PARTIAL, TCP8080, TCP8080)
    runs = (
        AddressRun(IPSet.from_cidr("10.0.0.0/8"), AddressClass.PRIVATE, TCP8080),
        AddressRun(IPSet.from_cidr("11.0.0.0/8"), AddressClass.PUBLIC, TCP8080),
    )
    groups = ((TCP8080, IPSet.from_cidr("10.0.0.0/7")),)
    web = WorkloadExposure(
        "frontend/webapp[Deployment]",
        runs,
        (),
        (entry,),
        TCP8080,
        ConnSet(),
        TCP8080,
        ConnSet(),
        groups,
        (),
    )
    return ExposureReport((web,), (entry,), V4, 3)


def test_json_envelope_and_fields() -> None:
    doc = json.loads(exposure_json(_report()))
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "ExposureReport"
    assert doc["ipv6"] is False
    assert doc["summary"] == {
        "workloads": 3,
        "reachableFromPublic": 1,
        "reachPublic": 0,
        "entryPoints": 1,
        "entryPointsByStatus": {"open": 0, "partial": 1, "blocked": 0, "no-endpoints": 0},
    }
    (w,) = doc["workloads"]
    assert w["inbound"] == [
        {"first": "10.0.0.0", "last": "10.255.255.255", "class": "private", "conn": "TCP 8080"},
        {"first": "11.0.0.0", "last": "11.255.255.255", "class": "public", "conn": "TCP 8080"},
    ]
    assert w["fromEveryPublicAddress"] == "TCP 8080"
    assert w["toEveryPublicAddress"] == "No Connections"
    assert w["entryPoints"] == ["LoadBalancer frontend/webapp"]
    (e,) = doc["entryPoints"]
    assert e["ports"][0] == {
        "protocol": "TCP",
        "port": 80,
        "targetPort": "http",
        "podPorts": [8080],
    }
    assert (e["requested"], e["allowed"], e["status"]) == ("TCP 8080,9100", "TCP 8080", "partial")
    assert e["source"] == "public addresses"
    assert e["origin"] == "frontend.yaml:12"


def test_text_leads_with_the_answer_and_ends_with_the_summary() -> None:
    console = Console(width=200, record=True, no_color=True)
    console.print(exposure_renderable(_report()))
    lines = console.export_text().rstrip("\n").splitlines()
    assert lines[0] == "Reachable from public addresses:"
    assert lines[1].split() == [
        "frontend/webapp[Deployment]",
        "TCP",
        "8080",
        "from",
        "every",
        "public",
        "address",
    ]
    text = "\n".join(lines)
    assert "partial: TCP 9100 blocked" in text
    assert "externalTrafficPolicy: Local" in text
    assert lines[-1] == exposure_summary(_report())
    assert lines[-1] == (
        "1 workload reachable from public addresses, 0 can reach public addresses, "
        "1 entry point (1 partial)"
    )


def test_status_words() -> None:
    both = TCP8080 | TCP9100
    assert entry_status_text(_entry(EntryStatus.OPEN, both, both)) == "open"
    assert entry_status_text(_entry(EntryStatus.BLOCKED, ConnSet(), ConnSet())) == (
        "BLOCKED: TCP 8080,9100"
    )
    assert entry_status_text(_entry(EntryStatus.PARTIAL, ConnSet(), TCP8080)) == (
        "partial: TCP 8080 from some addresses only; TCP 9100 blocked"
    )


def test_nothing_exposed() -> None:
    empty = ExposureReport((), (), V4, 4)
    console = Console(width=120, record=True, no_color=True)
    console.print(exposure_renderable(empty))
    assert console.export_text().splitlines() == [
        "No workload is reachable from public addresses.",
        "",
        "0 workloads reachable from public addresses, 0 can reach public addresses, 0 entry points",
    ]


def test_blocked_entries_say_why() -> None:
    isolated = Step(Tier.NETPOL, Verdict.DENY, TCP9100)
    entry = replace(
        _entry(EntryStatus.PARTIAL, TCP8080, TCP8080),
        denials=(isolated,),
        isolating=("frontend/webapp-ingress",),
    )
    assert entry_status_text(entry) == (
        "partial: TCP 9100 blocked by [NP isolated: no rule allows] "
        "(isolated by frontend/webapp-ingress)"
    )
    doc = json.loads(exposure_json(ExposureReport((), (entry,), V4, 1)))
    (e,) = doc["entryPoints"]
    assert e["blockedBy"] == ["[NP isolated: no rule allows]"]
    assert e["isolatedBy"] == ["frontend/webapp-ingress"]
