"""The workload-level connectivity list: txt, json, csv, md (netpol-analyzer's formats)."""

from __future__ import annotations

import csv
import io
import json

from microseg.engine.gcpause import paused_gc
from microseg.engine.workload_view import INGRESS_CONTROLLER_NAME, WorkloadGraph
from microseg.render.conns import format_conns, format_ip_ranges
from microseg.render.shape import envelope

__all__ = ["connlist_rows", "render_connlist"]

FORMATS = ("txt", "json", "csv", "md", "dot")


def connlist_rows(
    graph: WorkloadGraph, focus: set[int] | None = None
) -> list[tuple[str, str, str]]:
    """Sorted (src, dst, conn) rows; `focus` keeps rows touching those nodes. The ingress
    controller's rows have the source `{ingress-controller}`."""
    with paused_gc():
        return _rows(graph, focus)


def _rows(graph: WorkloadGraph, focus: set[int] | None) -> list[tuple[str, str, str]]:
    texts = [format_conns(c) for c in graph.conns]
    nodes = graph.nodes
    edges = zip(graph.src.tolist(), graph.dst.tolist(), graph.conn_id.tolist(), strict=True)
    # One comprehension per case: this loop runs once per allowed pair (300,000 in B2).
    rows: list[tuple[str, str, str]] = (
        [(nodes[s], nodes[d], texts[k]) for s, d, k in edges]
        if focus is None
        else [(nodes[s], nodes[d], texts[k]) for s, d, k in edges if s in focus or d in focus]
    )
    for e in graph.external:
        if focus is not None and e.node not in focus:
            continue
        for rng in format_ip_ranges(e.addresses):
            peer = f"{rng}[External]"
            rows.append(
                (graph.nodes[e.node], peer, texts[e.conns])
                if e.outbound
                else (peer, graph.nodes[e.node], texts[e.conns])
            )
    for node, k in graph.ingress:
        if focus is None or node in focus:
            rows.append((INGRESS_CONTROLLER_NAME, graph.nodes[node], texts[k]))
    rows.sort()  # "{ingress-controller}" after every workload and address, as netpol-analyzer
    return rows


def render_connlist(rows: list[tuple[str, str, str]], fmt: str) -> str:
    if fmt == "txt":
        return "".join(f"{s} => {d} : {c}\n" for s, d, c in rows)
    if fmt == "json":
        connections = [{"src": s, "dst": d, "conn": c} for s, d, c in rows]
        doc = envelope("ConnectivityList", connections=connections)
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["src", "dst", "conn"])
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "md":
        lines = ["| src | dst | conn |", "|-----|-----|------|"]
        lines += [f"| {s} | {d} | {c} |" for s, d, c in rows]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r}")
