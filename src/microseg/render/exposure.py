"""The exposure report as text (rich tables for people) and JSON (for programs).

Why a summary of address ranges in text: a workload open to 0.0.0.0/0 touches some twenty
address classes; people want "any address" or "any address except 169.254.169.254
(link-local)", while programs want every run with its class, which the JSON keeps.

JSON shape (`kind: ExposureReport`):

    {
      "apiVersion": "microseg.dev/v1alpha1",
      "kind": "ExposureReport",
      "ipv6": false,                       # whether IPv6 addresses were considered
      "summary": {
        "workloads": 12,                   # workloads (nodes) in the input
        "reachableFromPublic": 2,          # workloads some public address may reach
        "reachPublic": 8,                  # workloads that may reach some public address
        "entryPoints": 3,
        "entryPointsByStatus": {"open": 1, "partial": 1, "blocked": 1, "no-endpoints": 0}
      },
      "workloads": [                       # only workloads with something external
        {
          "workload": "ns/name[Kind]",
          "reachableFromPublic": true,
          "reachesPublic": false,
          "fromEveryPublicAddress": "TCP 8080",  # allowed from every public address
          "toEveryPublicAddress": "No Connections",
          "inbound":  [{"first": "1.0.0.0", "last": "9.255.255.255", "class": "public",
                        "conn": "TCP 8080"}],
          "outbound": [...],               # same shape; runs in address order, one class each
          "entryPoints": ["LoadBalancer ns/name"]
        }
      ],
      "entryPoints": [
        {
          "kind": "LoadBalancer",          # LoadBalancer, NodePort, Ingress or Route
          "object": "ns/name",
          "service": "ns/name",
          "workload": "ns/name[Kind]",     # null when it reaches no pod
          "source": "public addresses",    # or "{ingress-controller}"
          "ports": [{"protocol": "TCP", "port": 80, "targetPort": "http", "podPorts": [8080]}],
          "requested": "TCP 8080",         # what the object routes to the pods
          "allowed": "TCP 8080",           # allowed from every source
          "allowedFromSome": "TCP 8080",   # allowed from at least one public address
          "status": "open",                # open, partial, blocked or no-endpoints
          "blockedBy": ["[NP isolated: no rule allows]"],  # why the blocked part is, as reach
          "isolatedBy": ["ns/policy"],     # policies isolating the workload (that direction)
          "origin": "file.yaml:12"
        }
      ]
    }
"""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from microseg.analyses.exposure import (
    SERVICE_ENTRY_TYPES,
    AddressRun,
    EntryPoint,
    EntryPort,
    EntryStatus,
    ExposureReport,
    WorkloadExposure,
)
from microseg.model.addresses import AddressClass, class_set, classify_ranges
from microseg.model.sets import ConnSet, IPSet
from microseg.render.conns import format_conns
from microseg.render.escape import terminal_safe, visible
from microseg.render.shape import envelope
from microseg.render.steps import step_label
from microseg.render.text import keep_words, plain

__all__ = [
    "describe_addresses",
    "entry_status_text",
    "exposure_json",
    "exposure_renderable",
    "exposure_summary",
    "format_entry_ports",
]

_EXCEPT_LIMIT = 3


def exposure_summary(report: ExposureReport) -> str:
    n_in, n_out = len(report.reachable_from_public), len(report.reaching_public)
    n_entries = len(report.entries)
    statuses = ", ".join(f"{report.count(s)} {s.value}" for s in EntryStatus if report.count(s))
    return (
        f"{n_in} workload{'s' if n_in != 1 else ''} reachable from public addresses, "
        f"{n_out} can reach public addresses, "
        f"{n_entries} entry point{'s' if n_entries != 1 else ''}"
        + (f" ({statuses})" if n_entries else "")
    )


def exposure_renderable(report: ExposureReport) -> RenderableType:
    parts: list[RenderableType] = [_headline(report)]
    if report.entries:
        parts += [Text(""), _entries_table(report)]
        parts += [Text(""), Text(terminal_safe(_entries_note(report)))]
    if any(w.inbound or w.outbound for w in report.workloads):
        parts += [Text(""), _external_table(report)]
    parts += [Text(""), Text(terminal_safe(exposure_summary(report)))]
    return Group(*parts)


def _entries_note(report: ExposureReport) -> str:
    notes = []
    if any(e.kind in SERVICE_ENTRY_TYPES for e in report.entries):
        notes.append(
            "LoadBalancer/NodePort: judged for clients at public addresses, as policies see "
            "them when the client address is kept (externalTrafficPolicy: Local); behind SNAT "
            "they see a node address instead."
        )
    if any(e.kind not in SERVICE_ENTRY_TYPES for e in report.entries):
        notes.append("Ingress/Route: judged for the {ingress-controller} peer.")
    return "\n".join(notes)


def _headline(report: ExposureReport) -> Text:
    exposed = report.reachable_from_public
    if not exposed:
        return Text("No workload is reachable from public addresses.")
    out = Text("Reachable from public addresses:")
    for w in exposed:
        every = format_conns(w.public_in)
        line = f"  {visible(w.name)}  "
        some = w.public_in_some
        if w.public_in == some:
            line += f"{every} from every public address"
        elif w.public_in:
            line += f"{every} from every public address, {format_conns(some)} from some"
        else:
            line += f"{format_conns(some)} from some public addresses"
        out.append("\n" + line)
    return out


def _entries_table(report: ExposureReport) -> Table:
    table = Table(title="Entry points", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Entry -> workload", no_wrap=True)
    table.add_column("Routed ports", overflow="fold")
    table.add_column("Status", overflow="fold")
    for e in report.entries:
        entry = f"{e.kind} {e.namespace}/{e.name}"
        if e.kind not in SERVICE_ENTRY_TYPES:
            entry += f" (Service {e.service.split('/', 1)[1]})"
        cell = plain(entry) + "\n  -> " + plain(e.workload or "(no pods)")
        table.add_row(cell, format_entry_ports(e.ports), plain(entry_status_text(e)))
    return keep_words(table)


def entry_status_text(e: EntryPoint) -> str:
    """The status, with what is blocked; who the sources are is said under the table."""
    if e.status is EntryStatus.OPEN:
        return "open"
    if e.status is EntryStatus.NO_ENDPOINTS:
        return "no endpoints"
    blocked = format_conns(e.requested - e.some)
    if e.status is EntryStatus.BLOCKED:
        return f"BLOCKED: {blocked}{_why(e)}"
    parts = []
    if e.some != e.allowed:
        parts.append(f"{format_conns(e.some - e.allowed)} from some addresses only")
    if e.requested - e.some:
        parts.append(f"{blocked} blocked{_why(e)}")
    return "partial: " + "; ".join(parts)


def _why(e: EntryPoint) -> str:
    """` by [NP isolated: no rule allows] (isolated by ns/policy)`: the reach explanation's
    denying steps, shortened."""
    labels = list(dict.fromkeys(step_label(s) for s in e.denials))
    text = f" by {', '.join(labels)}" if labels else ""
    if e.isolating:
        text += f" (isolated by {', '.join(e.isolating)})"
    return text


def format_entry_ports(ports: tuple[EntryPort, ...]) -> str:
    """`TCP 80 -> http -> 8080` per port: asked port, targetPort when it differs, pod ports."""
    items = []
    for p in ports:
        text = f"{p.protocol.value} {p.port if p.port is not None else 'every Service port'}"
        if p.target is not None and p.target != p.port:
            text += f" -> {p.target}"
        landed = ",".join(str(n) for n in p.pod_ports)
        if not p.pod_ports:
            text += " -> (not on the pods)"
        elif landed != str(p.target):
            text += f" -> {landed}"
        items.append(text)
    return "\n".join(items) if items else "(no ports)"


def _external_table(report: ExposureReport) -> Table:
    table = Table(
        title="External connectivity", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False
    )
    table.add_column("Workload", no_wrap=True)
    table.add_column("Dir", no_wrap=True)
    table.add_column("Connections", overflow="fold")
    table.add_column("Addresses", overflow="fold")
    words: dict[IPSet, str] = {}
    for w in report.workloads:
        first = True  # workloads with entry points only have no rows here
        for direction, groups in (("in", w.groups_in), ("out", w.groups_out)):
            for conns, addresses in groups:
                table.add_row(
                    plain(w.name) if first else "",
                    direction,
                    format_conns(conns),
                    words.get(addresses)
                    or words.setdefault(addresses, describe_addresses(addresses, report.scope)),
                )
                first = False
    return keep_words(table)


def describe_addresses(addresses: IPSet, scope: IPSet) -> str:
    """Short words for an address set: `any address`, `any address except X (class)`, or
    per class `public (all)` / ranges with their class."""
    if addresses == scope:
        return "any address"
    missing = scope - addresses
    missing_runs = classify_ranges(missing)
    if len(missing_runs) <= _EXCEPT_LIMIT:
        return "any address except " + ", ".join(
            f"{_range(a, b)} ({cls.value})" for a, b, cls in missing_runs
        )
    parts: list[str] = []
    seen: set[AddressClass] = set()
    for _, _, cls in classify_ranges(addresses):
        if cls in seen:
            continue
        seen.add(cls)
        whole = class_set(cls) & scope
        mine = addresses & whole
        if mine == whole:
            parts.append(f"{cls.value} (all)")
        else:
            ranges = ", ".join(_range(a, b) for a, b, _ in classify_ranges(mine))
            parts.append(f"{cls.value} {ranges}")
    return "; ".join(parts)


def _range(first: str, last: str) -> str:
    return first if first == last else f"{first}-{last}"


# -- JSON --------------------------------------------------------------------------------


def exposure_json(report: ExposureReport) -> str:
    summary = {
        "workloads": report.total_workloads,
        "reachableFromPublic": len(report.reachable_from_public),
        "reachPublic": len(report.reaching_public),
        "entryPoints": len(report.entries),
        "entryPointsByStatus": {s.value: report.count(s) for s in EntryStatus},
    }
    texts = _Texts()
    doc = envelope(
        "ExposureReport",
        ipv6=report.ipv6,
        summary=summary,
        workloads=[_workload_json(w, texts) for w in report.workloads],
        entryPoints=[_entry_json(e) for e in report.entries],
    )
    return json.dumps(doc, indent=2) + "\n"


class _Texts:
    """Memoised words for the JSON: the same sets recur on most workloads of a cluster."""

    def __init__(self) -> None:
        self._conns: dict[ConnSet, str] = {}
        self._runs: dict[IPSet, tuple[str, str]] = {}

    def conns(self, c: ConnSet) -> str:
        text = self._conns.get(c)
        if text is None:
            text = self._conns[c] = format_conns(c)
        return text

    def run(self, addresses: IPSet) -> tuple[str, str]:
        pair = self._runs.get(addresses)
        if pair is None:
            pair = self._runs[addresses] = next(addresses.ranges())
        return pair

    def runs(self, runs: tuple[AddressRun, ...]) -> list[dict[str, str]]:
        out = []
        for r in runs:
            first, last = self.run(r.addresses)
            out.append(
                {"first": first, "last": last, "class": r.cls.value, "conn": self.conns(r.conns)}
            )
        return out


def _workload_json(w: WorkloadExposure, texts: _Texts) -> dict[str, Any]:
    return {
        "workload": w.name,
        "reachableFromPublic": w.reachable_from_public,
        "reachesPublic": w.reaches_public,
        "fromEveryPublicAddress": texts.conns(w.public_in),
        "toEveryPublicAddress": texts.conns(w.public_out),
        "inbound": texts.runs(w.inbound),
        "outbound": texts.runs(w.outbound),
        "entryPoints": [f"{e.kind} {e.namespace}/{e.name}" for e in w.entries],
    }


def _entry_json(e: EntryPoint) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "object": f"{e.namespace}/{e.name}",
        "service": e.service,
        "workload": e.workload,
        "source": e.source,
        "ports": [
            {
                "protocol": p.protocol.value,
                "port": p.port,
                "targetPort": p.target,
                "podPorts": list(p.pod_ports),
            }
            for p in e.ports
        ],
        "requested": format_conns(e.requested),
        "allowed": format_conns(e.allowed),
        "allowedFromSome": format_conns(e.some),
        "status": e.status.value,
        "blockedBy": list(dict.fromkeys(step_label(s) for s in e.denials)),
        "isolatedBy": list(e.isolating),
        "origin": e.origin.location(),
    }
