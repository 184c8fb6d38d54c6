"""Exposure-analysis outputs (netpol-analyzer's `list --exposure`, microseg's
`connectivity --exposure`) read into one comparable form, in any of the four formats.

Read as rows `(section, a, b, conn)`: section `connlist` (a => b), `egress` (workload a
=> peer b), `ingress` (workload a <= peer b) or `unprotected` (a is not protected on b).
A file written for one focus connection (`--focus-conn udp-52`) has no conn column: each
row stands for the focus. The canonical form compares by meaning:

- peers: `entire-cluster`, or a potential peer as (namespace requirements, pod
  requirements or None), whatever the selector syntax: `backend/...` is the namespace name
  label, `{app=x}` and `{{Key:app,Operator:In,Values:[x],}}` (Go's struct print) and
  `{app in (x)}` are one requirement;
- connections: numbers as per-protocol intervals, plus named ports (protocol or none);
- external addresses: per workload and direction, merged intervals (canonical.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from typing import Any

from microseg.model.sets import ConnSet, IntervalSet, Protocol
from tests.conformance.canonical import _external, _merge

Row = tuple[str, str, str, str | None]
Req = tuple[str, str, frozenset[str]]
PeerKey = tuple[str, frozenset[Req] | None, frozenset[Req] | None]
Ports = tuple[ConnSet, frozenset[tuple[str, str]]]
NAME_LABEL = "kubernetes.io/metadata.name"
_PROTO = re.compile(r",(?=(?:SCTP|TCP|UDP) )")
_GO_REQ = re.compile(r"\{Key:(?P<key>[^,]+),Operator:(?P<op>\w+),Values:\[(?P<values>[^\]]*)\],\}")


# --- connections -----------------------------------------------------------------------------


def parse_ports(text: str) -> Ports:
    text = text.strip()
    if text == "All Connections":
        return ConnSet.all(), frozenset()
    if text in ("", "No Connections"):
        return ConnSet.none(), frozenset()
    numbers: dict[Protocol, IntervalSet] = {}
    named: set[tuple[str, str]] = set()
    for part in _PROTO.split(text):
        head, _, rest = part.partition(" ")
        if head in ("SCTP", "TCP", "UDP"):
            proto, items = head, rest
        else:  # a named port of no protocol (an admin namedPort): netpol-analyzer writes " name"
            proto, items = "", part
        for item in items.split(","):
            item = item.strip()
            if not item:
                continue
            lo, dash, hi = item.partition("-")
            if lo.isdigit() and (not dash or hi.isdigit()):
                span = IntervalSet.span(int(lo), int(hi) if dash else int(lo))
                numbers[Protocol(proto)] = numbers.get(Protocol(proto), IntervalSet()) | span
            else:
                named.add((proto, item))
    return ConnSet.of(numbers), frozenset(named)


# --- potential peers ---------------------------------------------------------------------------


def _split_top(text: str) -> list[str]:
    """Split at commas outside braces, brackets and parentheses."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def _requirement(item: str) -> Req:
    item = item.strip()
    m = _GO_REQ.fullmatch(item)
    if m:
        values = frozenset(m["values"].split()) if m["values"].strip() else frozenset()
        return m["key"], m["op"], values
    m = re.fullmatch(r"(?P<key>\S+) (?P<op>in|notin) \((?P<values>[^)]*)\)", item)
    if m:
        return m["key"], "In" if m["op"] == "in" else "NotIn", frozenset(m["values"].split(","))
    if "=" in item:
        key, _, value = item.partition("=")
        return key, "In", frozenset([value])
    if item.startswith("!"):
        return item[1:], "DoesNotExist", frozenset()
    return item, "Exists", frozenset()


def _selector(text: str) -> frozenset[Req]:
    return frozenset(_requirement(x) for x in _split_top(text))


def peer_key(text: str) -> PeerKey:
    text = text.strip()
    if text == "entire-cluster":
        return ("cluster", None, None)
    ns_part, _, pod_part = text.partition("/[")
    pod_part = "[" + pod_part
    if ns_part == "[all namespaces]":
        ns: frozenset[Req] = frozenset()
    elif ns_part.startswith("[namespace with {"):
        ns = _selector(ns_part[len("[namespace with {") : -len("}]")])
    else:
        ns = frozenset({(NAME_LABEL, "In", frozenset([ns_part]))})
    if pod_part == "[all pods]":
        pods = None
    else:
        assert pod_part.startswith("[pod with {"), text
        pods = _selector(pod_part[len("[pod with {") : -len("}]")])
    return ("potential", ns, pods)


# --- the four formats --------------------------------------------------------------------------


def _txt(text: str) -> list[Row]:
    rows: list[Row] = []
    section = "connlist"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("Permitted connections on"):
            continue
        if line.startswith("Exposure Analysis Result"):
            section = "exposure"
            continue
        if line == "Egress Exposure:":
            section = "egress"
            continue
        if line == "Ingress Exposure:":
            section = "ingress"
            continue
        if line.startswith("Workloads not protected"):
            section = "unprotected"
            continue
        if section == "unprotected":
            workload, _, direction = line.partition(" is not protected on ")
            rows.append(("unprotected", workload, direction, None))
            continue
        if "\t" in raw:  # `W \t=> \tpeer : conn` (or `<=`)
            parts = [p.strip() for p in raw.split("\t") if p.strip()]
            peer, sep, conn = parts[2].partition(" : ")
            rows.append((section, parts[0], peer, conn if sep else None))
            continue
        pair, sep, conn = line.partition(" : ")
        src, _, dst = pair.partition(" => ")
        rows.append(("connlist", src, dst, conn if sep else None))
    return rows


def _json(text: str) -> list[Row]:
    doc: Any = json.loads(text)
    if isinstance(doc, list):  # a plain connlist file is a list of rows
        doc = {"connlist_results": doc}
    rows: list[Row] = []
    conns = (
        doc.get("connlist_results")
        or doc.get("connlist_conn_focus_results")
        or doc.get("connections")
        or []
    )
    for r in conns:
        rows.append(("connlist", r["src"], r["dst"], r.get("conn")))
    exposure = (
        doc.get("exposure_results")
        or doc.get("exposure_conn_focus_results")
        or doc.get("exposure")
        or {}
    )
    for key, section in (("egress_exposure", "egress"), ("egress", "egress")):
        for r in exposure.get(key) or []:
            rows.append((section, r["src"], r["dst"], r.get("conn")))
    for key in ("ingress_exposure", "ingress"):
        for r in exposure.get(key) or []:
            rows.append(("ingress", r["dst"], r["src"], r.get("conn")))
    for r in exposure.get("unprotected") or []:
        rows.append(("unprotected", r["workload"], r["direction"], None))
    return rows


def _table_rows(section: str, header: list[str], cells: list[str]) -> Row:
    fields = dict(zip(header, cells, strict=False))
    if section == "ingress":
        return ("ingress", fields["dst"], fields["src"], fields.get("conn"))
    return (section, fields["src"], fields["dst"], fields.get("conn"))


def _csv(text: str) -> list[Row]:
    rows: list[Row] = []
    section, header = "connlist", ["src", "dst", "conn"]
    for cells in csv.reader(io.StringIO(text)):
        if not cells or not any(cells):
            continue
        first = cells[0]
        if first.startswith("Exposure Analysis Result"):
            continue
        if first == "Egress Exposure:":
            section = "egress"
            continue
        if first == "Ingress Exposure:":
            section = "ingress"
            continue
        if first in ("src", "dst"):
            header = [c for c in cells if c]
            continue
        rows.append(_table_rows(section, header, cells))
    return rows


def _md(text: str) -> list[Row]:
    rows: list[Row] = []
    section, header = "connlist", ["src", "dst", "conn"]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("## Exposure Analysis Result") or line.startswith("|--"):
            continue
        if line.startswith("### Egress"):
            section = "egress"
            continue
        if line.startswith("### Ingress"):
            section = "ingress"
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if cells[0] in ("src", "dst") and cells[1] in ("src", "dst"):
            header = cells
            continue
        rows.append(_table_rows(section, header, cells))
    return rows


PARSERS = {"txt": _txt, "json": _json, "csv": _csv, "md": _md}


def parse(text: str, fmt: str, focus_conn: str | None = None) -> list[Row]:
    rows = PARSERS[fmt](text)
    if focus_conn is not None:
        rows = [
            (s, a, b, c if c is not None or s == "unprotected" else focus_conn)
            for s, a, b, c in rows
        ]
    return rows


# --- canonical form ------------------------------------------------------------------------------


def canonical(rows: list[Row]) -> dict[str, Any]:
    """{connlist: connlist rows, potential: {(w, dir, peer): ports}, external: {(w, dir):
    merged ranges}, unprotected: {(w, dir)}}."""
    from tests.conformance.canonical import canonical as connlist_canonical

    connlist = [f"{a} => {b} : {c}" for s, a, b, c in rows if s == "connlist"]
    potential: dict[tuple[str, str, PeerKey], Ports] = {}
    external: dict[tuple[str, str], list[tuple[int, int, ConnSet]]] = defaultdict(list)
    unprotected = set()
    for section, a, b, c in rows:
        if section == "unprotected":
            unprotected.add((a, b))
        elif section in ("egress", "ingress"):
            assert c is not None
            ext = _external(b)
            if ext is not None:
                external[(a, section)].append((*ext, parse_ports(c)[0]))
            elif ":" in b and "[External]" in b:
                continue  # IPv6 ranges: netpol-analyzer's outputs carry none
            else:
                potential[(a, section, peer_key(b))] = parse_ports(c)
    return {
        "connlist": connlist_canonical(connlist),
        "potential": potential,
        "external": {k: _merge(v) for k, v in external.items()},
        "unprotected": unprotected,
    }
