"""Compare connectivity lists by meaning (see ../shared/conformance/README.md, Comparing).

Canonical form: for each (source, destination) workload pair a connection set; for each
workload and direction a map from IPv4 address intervals to connection sets, with adjacent
intervals of equal sets merged. Connection sets are per-protocol frozensets of port intervals.
Special peers such as `{ingress-controller}` are sources of ordinary pairs: the pair
("{ingress-controller}", workload) holds what the ingress controller may open.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections import defaultdict

from microseg.model.sets import ConnSet, IntervalSet, Protocol

Canonical = tuple[
    dict[tuple[str, str], ConnSet], dict[tuple[str, str], tuple[tuple[int, int, ConnSet], ...]]
]

_PROTO_SPLIT = re.compile(r",(?=(?:SCTP|TCP|UDP) )")
INGRESS_CONTROLLER = "{ingress-controller}"
_SPECIAL = re.compile(r"^\{[^}]+\}$")
_EXTERNAL = re.compile(r"^(?P<lo>[0-9.]+)-(?P<hi>[0-9.]+)\[External\]$")


def parse_conn(text: str) -> ConnSet:
    text = text.strip()
    if text == "All Connections":
        return ConnSet.all()
    if text in ("", "No Connections"):
        return ConnSet.none()
    out: dict[Protocol, IntervalSet] = {}
    for part in _PROTO_SPLIT.split(text):
        proto, _, items = part.partition(" ")
        intervals = []
        for item in items.split(","):
            lo, dash, hi = item.partition("-")
            if not lo.isdigit():
                raise ValueError(f"named port {item!r} in {text!r}")
            intervals.append((int(lo), int(hi) if dash else int(lo)))
        out[Protocol(proto)] = out.get(Protocol(proto), IntervalSet()) | IntervalSet.of(intervals)
    return ConnSet.of(out)


def _external(peer: str) -> tuple[int, int] | None:
    m = _EXTERNAL.match(peer)
    if not m:
        return None
    return int(ipaddress.IPv4Address(m["lo"])), int(ipaddress.IPv4Address(m["hi"]))


def _merge(pieces: list[tuple[int, int, ConnSet]]) -> tuple[tuple[int, int, ConnSet], ...]:
    points = sorted({p[0] for p in pieces} | {p[1] + 1 for p in pieces})
    out: list[tuple[int, int, ConnSet]] = []
    for a, b in itertools.pairwise(points):
        conns = ConnSet.none()
        for lo, hi, c in pieces:
            if lo <= a and b - 1 <= hi:
                conns = conns | c
        if not conns:
            continue
        if out and out[-1][1] + 1 == a and out[-1][2] == conns:
            out[-1] = (out[-1][0], b - 1, conns)
        else:
            out.append((a, b - 1, conns))
    return tuple(out)


def canonical(lines: list[str]) -> Canonical:
    pairs: dict[tuple[str, str], ConnSet] = {}
    ext: dict[tuple[str, str], list[tuple[int, int, ConnSet]]] = defaultdict(list)
    for line in lines:
        line = line.strip()
        if not line:
            continue
        peers, _, conn_text = line.partition(" : ")
        src, _, dst = peers.partition(" => ")
        conns = parse_conn(conn_text)
        if not conns:
            continue
        if ":" in src or ":" in dst:
            continue  # IPv6 ranges: the peers' outputs carry none
        if _SPECIAL.match(dst):
            raise ValueError(f"a special peer as destination: {line!r}")
        s_ext, d_ext = _external(src), _external(dst)
        if _SPECIAL.match(src):
            pairs[(src, dst)] = pairs.get((src, dst), ConnSet.none()) | conns
        elif s_ext is not None:
            ext[(dst, "in")].append((*s_ext, conns))
        elif d_ext is not None:
            ext[(src, "out")].append((*d_ext, conns))
        else:
            pairs[(src, dst)] = pairs.get((src, dst), ConnSet.none()) | conns
    return pairs, {k: _merge(v) for k, v in ext.items()}


def differences(expected: Canonical, actual: Canonical, limit: int = 12) -> list[str]:
    """Human-readable differences, empty when the two agree in meaning."""
    out: list[str] = []
    for label, e, a in (("pair", expected[0], actual[0]), ("external", expected[1], actual[1])):
        for key in sorted(set(e) | set(a)):
            if e.get(key) != a.get(key):  # type: ignore[call-overload]
                what = "ingress" if key[0] == INGRESS_CONTROLLER else label
                out.append(f"{what} {key}: expected {e.get(key)!r}, got {a.get(key)!r}")  # type: ignore[call-overload]
    return out[:limit]
