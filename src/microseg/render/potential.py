"""`connectivity --exposure`: the connectivity list followed by the exposure to the entire
cluster and to workloads that do not exist yet, in netpol-analyzer's exposure grammar
(txt, csv, md) or as one JSON document.

    Exposure Analysis Result:
    Egress Exposure:
    backend/checkout[Deployment] 	=> 	entire-cluster : UDP 5353
    Ingress Exposure:
    shop/api[Deployment]         	<= 	[namespace with {team=x}]/[pod with {app=web}] : TCP 8080

    Workloads not protected by network policies:
    shop/cache[Deployment] is not protected on Ingress

Each workload's connections with external addresses are repeated in its sections (they are
exposure too); the list above them is `render/connlist.py`'s, unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from microseg.analyses.potential import PortSet, Potential, PotentialExposure
from microseg.model.netpol import Direction
from microseg.model.sets import Protocol
from microseg.render.connlist import render_connlist
from microseg.render.conns import format_ports
from microseg.render.escape import csv_cell, md_cell, visible
from microseg.render.shape import envelope

__all__ = ["format_port_set", "peer_label", "render_with_exposure"]

ENTIRE_CLUSTER = "entire-cluster"


def format_port_set(ports: PortSet) -> str:
    """`TCP 80,http,UDP 53`; a name of an admin `namedPort` (no protocol) stands alone."""
    if ports.numbers.is_all():
        return "All Connections"
    if not ports:
        return "No Connections"
    parts = []
    anyproto = sorted(name for proto, name in ports.named if proto is None)
    if anyproto:
        parts.append(",".join(anyproto))
    numbers = ports.numbers.as_dict()
    for proto in Protocol:
        items = []
        if proto in numbers:
            items.append(format_ports(numbers[proto]))
        items += sorted(name for p, name in ports.named if p is proto)
        if items:
            parts.append(f"{proto.value} {','.join(items)}")
    return ",".join(parts)


def peer_label(peer: Potential | None) -> str:
    """`entire-cluster`, `ns/[all pods]`, `[namespace with {k=v}]/[pod with {app=x}]`."""
    if peer is None:
        return ENTIRE_CLUSTER
    name = peer.namespace_name()
    if name is not None:
        ns = name
    elif peer.namespaces.is_empty():
        ns = "[all namespaces]"
    else:
        ns = f"[namespace with {{{peer.namespaces}}}]"
    pods = "[all pods]" if peer.pods is None else f"[pod with {{{peer.pods}}}]"
    return f"{ns}/{pods}"


def _lines(
    exposure: PotentialExposure, rows: list[tuple[str, str, str]]
) -> dict[Direction, list[tuple[str, str, str]]]:
    """(workload, peer, conn) per direction, sorted by workload then peer."""
    out: dict[Direction, list[tuple[str, str, str]]] = {Direction.EGRESS: [], Direction.INGRESS: []}
    for e in exposure.entries:
        out[e.direction].append((e.workload, peer_label(e.peer), format_port_set(e.ports)))
    focus = {e.workload for e in exposure.entries} | {w for w, _ in exposure.unprotected}
    for src, dst, conn in rows:
        if dst.endswith("[External]") and src in focus:
            out[Direction.EGRESS].append((src, dst, conn))
        elif src.endswith("[External]") and dst in focus:
            out[Direction.INGRESS].append((dst, src, conn))
    for lines in out.values():
        lines.sort()
    return out


def _unprotected(exposure: PotentialExposure) -> list[str]:
    return sorted(f"{w} is not protected on {d.value}" for w, d in exposure.unprotected)


def render_with_exposure(
    rows: list[tuple[str, str, str]], exposure: PotentialExposure, fmt: str
) -> str:
    """`rows` (connlist_rows) then the exposure section. A workload's external connections
    are repeated there when it has any other exposure entry, as netpol-analyzer does."""
    lines = _lines(exposure, rows)
    egress, ingress = lines[Direction.EGRESS], lines[Direction.INGRESS]
    if fmt == "json":
        return _json(rows, egress, ingress, exposure)
    head = render_connlist(rows, fmt)
    if fmt == "txt":
        width = max((len(visible(w)) for w, _, _ in egress + ingress), default=0)
        text = head + "\nExposure Analysis Result:\n"
        if egress:
            text += "Egress Exposure:\n"
            text += "".join(
                f"{visible(w):<{width}} \t=> \t{visible(p)} : {c}\n" for w, p, c in egress
            )
        if ingress:
            text += "\nIngress Exposure:\n" if egress else "Ingress Exposure:\n"
            text += "".join(
                f"{visible(w):<{width}} \t<= \t{visible(p)} : {c}\n" for w, p, c in ingress
            )
        unprotected = _unprotected(exposure)
        if unprotected:
            text += "\nWorkloads not protected by network policies:\n"
            text += "".join(visible(u) + "\n" for u in unprotected)
        return text
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["Exposure Analysis Result:", "", ""])
        writer.writerow(["Egress Exposure:", "", ""])
        writer.writerow(["src", "dst", "conn"])
        writer.writerows((csv_cell(w), csv_cell(p), c) for w, p, c in egress)
        writer.writerow(["Ingress Exposure:", "", ""])
        writer.writerow(["dst", "src", "conn"])
        writer.writerows((csv_cell(w), csv_cell(p), c) for w, p, c in ingress)
        return head + buf.getvalue()
    if fmt == "md":
        text = head + "## Exposure Analysis Result:\n### Egress Exposure:\n"
        text += "| src | dst | conn |\n|-----|-----|------|\n"
        text += "".join(f"| {md_cell(w)} | {md_cell(p)} | {c} |\n" for w, p, c in egress)
        text += "\n### Ingress Exposure:\n| dst | src | conn |\n|-----|-----|------|\n"
        text += "".join(f"| {md_cell(w)} | {md_cell(p)} | {c} |\n" for w, p, c in ingress)
        return text
    raise ValueError(f"--exposure has no {fmt!r} form (txt, json, csv, md)")


def _json(
    rows: list[tuple[str, str, str]],
    egress: list[tuple[str, str, str]],
    ingress: list[tuple[str, str, str]],
    exposure: PotentialExposure,
) -> str:
    connections = [{"src": s, "dst": d, "conn": c} for s, d, c in rows]
    doc: dict[str, Any] = envelope(
        "ConnectivityList",
        connections=connections,
        exposure={
            "egress": [{"src": w, "dst": p, "conn": c} for w, p, c in egress],
            "ingress": [{"src": p, "dst": w, "conn": c} for w, p, c in ingress],
            "unprotected": [
                {"workload": w, "direction": d.value}
                for w, d in sorted(exposure.unprotected, key=lambda x: (x[0], x[1].value))
            ],
        },
    )
    return json.dumps(doc, indent=2) + "\n"
