"""The workload-level connectivity list: txt, json, csv, md (netpol-analyzer's formats)."""

from __future__ import annotations

import csv
import io
import json

from microseg.engine import INGRESS_CONTROLLER_NAME, EdgeConditions, WorkloadGraph, paused_gc
from microseg.render.conns import format_conditional, format_conns, format_ip_ranges
from microseg.render.escape import csv_cell, escape_rows, md_cell, needs_escape, visible
from microseg.render.shape import envelope

__all__ = ["connlist_rows", "render_connlist"]

FORMATS = ("txt", "json", "csv", "md", "dot")


def connlist_rows(
    graph: WorkloadGraph,
    focus: set[int] | None = None,
    conditions: EdgeConditions | None = None,
    external_conditions: EdgeConditions | None = None,
) -> list[tuple[str, str, str]]:
    """Sorted (src, dst, conn) rows; `focus` keeps rows touching those nodes. The ingress
    controller's rows have the source `{ingress-controller}`. `conditions` (engine
    edge_conditions) marks the parts the mesh allows only for some L7 requests."""
    with paused_gc():
        return _rows(graph, focus, conditions or {}, external_conditions or {})


def _rows(
    graph: WorkloadGraph,
    focus: set[int] | None,
    conditions: EdgeConditions,
    external: EdgeConditions,
) -> list[tuple[str, str, str]]:
    texts = [format_conns(c) for c in graph.conns]
    nodes = graph.nodes
    if conditions:
        # One text per conditional edge, written into a per-edge id space past `texts`.
        edge_ids = graph.conn_id.copy()
        for edge, parts in conditions.items():
            edge_ids[edge] = len(texts)
            texts.append(format_conditional(graph.conns[int(graph.conn_id[edge])], parts))
    else:
        edge_ids = graph.conn_id
    edges = zip(graph.src.tolist(), graph.dst.tolist(), edge_ids.tolist(), strict=True)
    # One comprehension per case: this loop runs once per allowed pair (300,000 in B2).
    rows: list[tuple[str, str, str]] = (
        [(nodes[s], nodes[d], texts[k]) for s, d, k in edges]
        if focus is None
        else [(nodes[s], nodes[d], texts[k]) for s, d, k in edges if s in focus or d in focus]
    )
    for i, e in enumerate(graph.external):
        if focus is not None and e.node not in focus:
            continue
        text = (
            format_conditional(graph.conns[e.conns], external[i])
            if i in external
            else texts[e.conns]
        )
        for rng in format_ip_ranges(e.addresses):
            peer = f"{rng}[External]"
            rows.append(
                (graph.nodes[e.node], peer, text)
                if e.outbound
                else (peer, graph.nodes[e.node], text)
            )
    for node, k in graph.ingress:
        if focus is None or node in focus:
            rows.append((INGRESS_CONTROLLER_NAME, graph.nodes[node], texts[k]))
    rows.sort()  # "{ingress-controller}" after every workload and address, as netpol-analyzer
    return rows


def render_connlist(rows: list[tuple[str, str, str]], fmt: str) -> str:
    """The rows in one format; names from the input are escaped for it (render/escape.py),
    checked once over the distinct cells so that ordinary input keeps the fast path."""
    cells = [x for row in rows for x in row]
    if fmt == "txt":
        if needs_escape(cells, visible):
            rows = escape_rows(rows, visible)
        return "".join(f"{s} => {d} : {c}\n" for s, d, c in rows)
    if fmt == "json":
        connections = [{"src": s, "dst": d, "conn": c} for s, d, c in rows]
        doc = envelope("ConnectivityList", connections=connections)
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        if needs_escape(cells, csv_cell):
            rows = escape_rows(rows, csv_cell)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["src", "dst", "conn"])
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "md":
        # A `|` inside a cell (L7 alternatives such as GET|POST) would end the cell.
        lines = ["| src | dst | conn |", "|-----|-----|------|"]
        lines += [f"| {s} | {d} | {c} |" for s, d, c in escape_rows(rows, md_cell)]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r}")
