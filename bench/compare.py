"""Compare a microseg connectivity list with NCA's `txt_no_fw_rules` output by meaning.

Both tools list one line per (source, destination) with the connections allowed:

    microseg   ns/a[Deployment] => ns/b[Deployment] : TCP 8080,UDP 53
               1.2.0.0-1.2.255.255[External] => ns/b[Deployment] : All Connections
    NCA        ns/a[Deployment] => ns/b[Deployment] : {protocols:TCP,dst_ports:8080},{protocols:UDP,dst_ports:53}
               1.2.0.0-1.2.255.255 => ns/b[Deployment] : All connections
               ns/a[Deployment] => ns/b[Deployment] : All but {protocols:TCP,dst_ports:22}

The canonical form (the same as tests/conformance/canonical.py builds for microseg's grammar,
in plain types here so the bench needs no test code): for each workload pair a connection
set, and for each workload and direction the external IPv4 address intervals, split where
the connections change and merged where adjacent intervals allow the same. A connection set
maps TCP, UDP and SCTP to port intervals; NCA's "All connections" also covers ICMP and every
other IP protocol, which NetworkPolicy cannot name, so those are dropped. NCA may add
`*-livesim` peers (stand-ins it invents for ingress controllers and the like): not
workloads of the cluster, so their lines are ignored.

With Calico policies (`wide=True`) every protocol counts, in microseg's buckets: TCP, UDP,
SCTP and UDPLite by port; ICMP and ICMPv6 by type * 256 + code (types 0-254, as NCA and
Calico's validation have them; microseg's type 255 is dropped); `IP` for every other
protocol, by number (1-255 less the named ones; NCA's protocol 0 is dropped). microseg
prints `ICMP type 8 code 0`, `UDPLite`, `protocol 47`, `other protocols`; NCA prints
`{protocols:ICMP,icmp_type:8,icmp_code:0}` and `all but ICMP, TCP`.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Canonical",
    "canonical_microseg",
    "canonical_nca",
    "compare",
    "known_workloads",
    "parse_microseg_conn",
    "parse_nca_conn",
]

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PORT_MIN, PORT_MAX = 1, 65535
PROTOCOLS = ("SCTP", "TCP", "UDP")  # microseg's (and netpol-analyzer's) print order
PROTOCOL_NUMBERS = {"6": "TCP", "17": "UDP", "132": "SCTP"}
# With Calico: microseg's order after the three (model/sets.py Protocol).
WIDE_PROTOCOLS = (*PROTOCOLS, "ICMP", "ICMPv6", "UDPLite", "IP")
WIDE_NUMBERS = {**PROTOCOL_NUMBERS, "1": "ICMP", "58": "ICMPv6", "136": "UDPLite"}
NAMED_NUMBERS = {int(n) for n in WIDE_NUMBERS}
ICMP_MAX = 254 * 256 + 255  # type 254, code 255
WORKLOAD_KINDS = {
    "Pod",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
}

Ports = tuple[tuple[int, int], ...]
Conn = tuple[tuple[str, Ports], ...]  # sorted by protocol, no empty port sets
Piece = tuple[int, int, Conn]  # an IPv4 interval and its connections
ALL_PORTS: Ports = ((PORT_MIN, PORT_MAX),)
ALL: Conn = tuple((p, ALL_PORTS) for p in PROTOCOLS)
NONE: Conn = ()
OTHER_NUMBERS: Ports = ()  # set below, once norm and subtract exist


# ---------------------------------------------------------------- connection sets


def norm(intervals: Iterable[tuple[int, int]]) -> Ports:
    """Sorted, with overlapping and touching intervals merged."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def subtract(a: Ports, b: Ports) -> Ports:
    out: list[tuple[int, int]] = []
    for lo, hi in a:
        for blo, bhi in b:
            if bhi < lo or blo > hi:
                continue
            if blo > lo:
                out.append((lo, blo - 1))
            lo = bhi + 1
            if lo > hi:
                break
        if lo <= hi:
            out.append((lo, hi))
    return norm(out)


def conn_of(by_proto: dict[str, Ports]) -> Conn:
    return tuple((p, by_proto[p]) for p in WIDE_PROTOCOLS if by_proto.get(p))


def conn_union(a: Conn, b: Conn) -> Conn:
    if not a or a == b:
        return b
    if not b:
        return a
    da, db = dict(a), dict(b)
    return conn_of({p: norm((*da.get(p, ()), *db.get(p, ()))) for p in WIDE_PROTOCOLS})


def domain(proto: str) -> Ports:
    if proto in ("ICMP", "ICMPv6"):
        return ((0, ICMP_MAX),)
    return OTHER_NUMBERS if proto == "IP" else ALL_PORTS


WIDE_ALL: Conn = ()  # set below


def conn_minus(a: Conn, b: Conn) -> Conn:
    db = dict(b)
    return conn_of({p: subtract(ports, db.get(p, ())) for p, ports in a})


OTHER_NUMBERS = subtract(((1, 255),), norm((n, n) for n in NAMED_NUMBERS))
WIDE_ALL = tuple((p, domain(p)) for p in WIDE_PROTOCOLS)


def format_ports(ports: Ports) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def _icmp_item(lo: int, hi: int) -> str:
    """As microseg's render/conns.py prints a piece of an ICMP set."""
    t_lo, c_lo, t_hi, c_hi = lo // 256, lo % 256, hi // 256, hi % 256
    if c_lo == 0 and c_hi == 255:
        return f"type {t_lo}" if t_lo == t_hi else f"types {t_lo}-{t_hi}"
    if t_lo == t_hi:
        return f"type {t_lo} code {c_lo}" if c_lo == c_hi else f"type {t_lo} codes {c_lo}-{c_hi}"
    return f"type {t_lo} code {c_lo} to type {t_hi} code {c_hi}"


def _format_part(p: str, ports: Ports) -> str:
    if p in ("ICMP", "ICMPv6", "UDPLite", "IP") and ports == domain(p):
        return "other protocols" if p == "IP" else p
    if p in ("ICMP", "ICMPv6"):
        return ",".join(f"{p} {_icmp_item(lo, hi)}" for lo, hi in ports)
    if p == "IP":
        return ",".join(
            f"protocol {lo}" if lo == hi else f"protocols {lo}-{hi}" for lo, hi in ports
        )
    return f"{p} {format_ports(ports)}"


def format_conn(c: Conn) -> str:
    """In microseg's grammar, whichever tool the set came from."""
    if c in (ALL, WIDE_ALL):
        return "All Connections"
    if not c:
        return "No Connections"
    return ",".join(_format_part(p, ports) for p, ports in c)


def parse_ports(text: str) -> Ports:
    out = []
    for item in text.split(","):
        lo, dash, hi = item.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"not a port or port range: {item!r}")
        out.append((int(lo), int(hi) if dash else int(lo)))
    return norm(out)


_MICROSEG_PROTO_SPLIT = re.compile(r",(?=(?:SCTP|TCP|UDP) )")


_ICMP_PIECE = re.compile(
    r"^(?:type (?P<t>\d+)(?: code (?P<c>\d+)| codes (?P<c1>\d+)-(?P<c2>\d+)"
    r"| code (?P<cf>\d+) to type (?P<t2>\d+) code (?P<ct>\d+))?"
    r"|types (?P<types>[\d,-]+))$"
)


def _icmp_pieces(text: str) -> Ports:
    """`type 8`, `type 8 code 0`, `type 8 codes 1-255`, `types 0-7,9-254`,
    `type 3 code 4 to type 5 code 2` in ICMP's type * 256 + code numbers."""
    m = _ICMP_PIECE.match(text)
    if m is None:
        raise ValueError(f"not an ICMP set: {text!r}")
    if m["types"]:
        return norm((lo * 256, hi * 256 + 255) for lo, hi in parse_ports(m["types"]))
    t = int(m["t"])
    if m["c"]:
        return ((t * 256 + int(m["c"]),) * 2,)
    if m["c1"]:
        return ((t * 256 + int(m["c1"]), t * 256 + int(m["c2"])),)
    if m["cf"]:
        return ((t * 256 + int(m["cf"]), int(m["t2"]) * 256 + int(m["ct"])),)
    return ((t * 256, t * 256 + 255),)


def _clip(c: Conn) -> Conn:
    """To the compared domains (ICMP types 0-254; IP without the named numbers)."""
    return conn_of({p: subtract(ports, subtract(ports, domain(p))) for p, ports in c})


def parse_microseg_wide(text: str) -> Conn:
    """With Calico: `All Connections`, or parts such as `TCP 80,443`, `ICMP type 8 code 0`,
    `ICMP types 0-7`, `ICMPv6`, `UDPLite 53`, `protocol 47`, `other protocols`."""
    text = text.strip()
    if text == "All Connections":
        return WIDE_ALL
    if text in ("", "No Connections"):
        return NONE
    out: dict[str, list[tuple[int, int]]] = {}
    for part in re.split(r",(?=[A-Za-z])", text):
        if part == "other protocols":
            out.setdefault("IP", []).extend(OTHER_NUMBERS)
            continue
        head, _, rest = part.partition(" ")
        if head in ("protocol", "protocols"):
            out.setdefault("IP", []).extend(parse_ports(rest))
        elif head in ("ICMP", "ICMPv6"):
            out.setdefault(head, []).extend(_icmp_pieces(rest) if rest else domain(head))
        elif head in ("SCTP", "TCP", "UDP", "UDPLite"):
            out.setdefault(head, []).extend(parse_ports(rest) if rest else ALL_PORTS)
        else:
            raise ValueError(f"unknown protocol {head!r} in {text!r}")
    return _clip(conn_of({p: norm(v) for p, v in out.items()}))


def parse_microseg_conn(text: str) -> Conn:
    """`All Connections`, `No Connections` or `SCTP 3868-3870,TCP 80,443,UDP 53`."""
    text = text.strip()
    if text == "All Connections":
        return ALL
    if text in ("", "No Connections"):
        return NONE
    out: dict[str, Ports] = {}
    for part in _MICROSEG_PROTO_SPLIT.split(text):
        proto, _, items = part.partition(" ")
        if proto not in PROTOCOLS:
            raise ValueError(f"unknown protocol {proto!r} in {text!r}")
        out[proto] = norm((*out.get(proto, ()), *parse_ports(items)))
    return conn_of(out)


_NCA_KEY_SPLIT = re.compile(r",(?=[a-z_]+:)")


def _nca_protocols(text: str) -> list[str]:
    """NCA's ProtocolSet text: `*`, `TCP, UDP`, `all but ICMP, ICMPv6`, or numbers for
    protocols without a name; only the ones NetworkPolicy can name are kept."""
    text = text.strip()
    if text == "*":
        return list(PROTOCOLS)
    negated = text.startswith("all but ")
    names = {n.strip() for n in text.removeprefix("all but ").split(",")}
    names = {PROTOCOL_NUMBERS.get(n, n) for n in names}
    return [p for p in PROTOCOLS if (p in names) != negated]


def _nca_cubes(text: str) -> Conn:
    """`{protocols:TCP, UDP,dst_ports:53},{protocols:SCTP}`: the union of the cubes. A
    dimension NCA leaves out of a cube is unrestricted in it."""
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not NCA connection cubes: {text!r}")
    out = NONE
    for cube in text[1:-1].split("},{"):
        fields: dict[str, str] = {}
        for item in _NCA_KEY_SPLIT.split(cube):
            key, sep, value = item.partition(":")
            if not sep:
                raise ValueError(f"no key in {item!r} of {text!r}")
            fields[key] = value
        protocols = _nca_protocols(fields.pop("protocols", "*"))
        ports = parse_ports(fields.pop("dst_ports")) if "dst_ports" in fields else ALL_PORTS
        if not protocols:
            continue  # ICMP or another protocol NetworkPolicy cannot name: absent here
        if fields:  # src_ports, HTTP methods or paths: nothing microseg could print
            raise ValueError(f"unsupported dimensions {sorted(fields)} in {text!r}")
        out = conn_union(out, conn_of(dict.fromkeys(protocols, ports)))
    return out


def _nca_wide_protocols(text: str) -> dict[str, Ports]:
    """NCA's ProtocolSet text as microseg's buckets, each with the numbers it covers
    (ports and ICMP types are applied by the caller)."""
    text = text.strip()
    if text == "*":
        return {p: domain(p) if p == "IP" else () for p in WIDE_PROTOCOLS}
    negated = text.startswith("all but ")
    named: set[str] = set()
    numbers: list[tuple[int, int]] = []
    for raw in text.removeprefix("all but ").split(","):
        name = raw.strip()
        name = WIDE_NUMBERS.get(name, name)
        if name in WIDE_PROTOCOLS and name != "IP":
            named.add(name)
        elif name.isdigit():
            numbers.append((int(name), int(name)))
        else:
            raise ValueError(f"NCA protocol {name!r} has no number here: {text!r}")
    others = subtract(norm(numbers), subtract(((0, 255),), OTHER_NUMBERS))
    if negated:
        out = {p: () for p in WIDE_PROTOCOLS if p != "IP" and p not in named}
        out["IP"] = subtract(OTHER_NUMBERS, others)
        return out
    out = {p: () for p in named}
    if others:
        out["IP"] = others
    return out


def _nca_wide_cubes(text: str) -> Conn:
    """`{protocols:ICMP,icmp_type:8,icmp_code:0},{protocols:TCP,dst_ports:80}`."""
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not NCA connection cubes: {text!r}")
    out = NONE
    for cube in text[1:-1].split("},{"):
        fields: dict[str, str] = {}
        for item in _NCA_KEY_SPLIT.split(cube):
            key, sep, value = item.partition(":")
            if not sep:
                raise ValueError(f"no key in {item!r} of {text!r}")
            fields[key] = value
        protocols = _nca_wide_protocols(fields.pop("protocols", "*"))
        ports = parse_ports(fields.pop("dst_ports")) if "dst_ports" in fields else ALL_PORTS
        types = parse_ports(fields.pop("icmp_type")) if "icmp_type" in fields else ((0, 254),)
        codes = parse_ports(fields.pop("icmp_code")) if "icmp_code" in fields else ((0, 255),)
        if fields:  # src_ports, HTTP methods or paths: nothing microseg could print
            raise ValueError(f"unsupported dimensions {sorted(fields)} in {text!r}")
        icmp = norm(
            (t * 256 + c_lo, t * 256 + c_hi)
            for t_lo, t_hi in types
            for t in range(t_lo, t_hi + 1)
            for c_lo, c_hi in codes
        )
        by_proto: dict[str, Ports] = {}
        for p, numbers in protocols.items():
            if p == "IP":
                by_proto[p] = numbers
            elif p in ("ICMP", "ICMPv6"):
                by_proto[p] = icmp
            else:
                by_proto[p] = ports
        out = conn_union(out, _clip(conn_of(by_proto)))
    return out


def parse_nca_wide(text: str) -> Conn:
    """parse_nca_conn with every protocol (Calico): see the module docstring."""
    text = text.strip()
    if text == "All connections":
        return WIDE_ALL
    if text in ("", "No connections"):
        return NONE
    if text.startswith("All but "):
        return conn_minus(WIDE_ALL, _nca_wide_cubes(text.removeprefix("All but ").strip()))
    return _nca_wide_cubes(text)


def parse_nca_conn(text: str) -> Conn:
    """`All connections`, `No connections`, cubes, or `All but <cubes>` (the complement NCA
    prints when it is shorter)."""
    text = text.strip()
    if text == "All connections":
        return ALL
    if text in ("", "No connections"):
        return NONE
    if text.startswith("All but "):
        return conn_minus(ALL, _nca_cubes(text.removeprefix("All but ").strip()))
    return _nca_cubes(text)


# ---------------------------------------------------------------- peers


_IPV4_ITEM = r"\d+\.\d+\.\d+\.\d+(?:-\d+\.\d+\.\d+\.\d+|/\d+)?"
_NCA_IPS = re.compile(rf"^{_IPV4_ITEM}(?:,{_IPV4_ITEM})*$")
_MICROSEG_EXTERNAL = re.compile(r"^(?P<ips>[^\[\]]+)\[External\]$")
_WORKLOAD = re.compile(r"^(?P<ns>[^/\s]+)/(?P<name>[^/\[\]\s]+)(?:\[(?P<kind>[A-Za-z]+)\])?$")


def ip_intervals(text: str) -> list[tuple[int, int]]:
    """`a.b.c.d-e.f.g.h`, `a.b.c.d/n` or `a.b.c.d`, comma-separated."""
    out = []
    for item in text.split(","):
        if "/" in item:
            net = ipaddress.IPv4Network(item, strict=False)
            out.append((int(net.network_address), int(net.broadcast_address)))
        else:
            lo, _, hi = item.partition("-")
            first = int(ipaddress.IPv4Address(lo))
            out.append((first, int(ipaddress.IPv4Address(hi)) if hi else first))
    return out


def known_workloads(cluster: Path) -> set[str]:
    """`ns/name[Kind]` of every workload in the cluster's YAML and JSON files."""
    out: set[str] = set()
    for path in sorted(cluster.rglob("*")):
        if path.name.startswith(".") or path.suffix not in (".yaml", ".yml", ".json"):
            continue
        text = path.read_text(encoding="utf-8")
        docs = [json.loads(text)] if path.suffix == ".json" else yaml.load_all(text, _Loader)
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            items = doc.get("items", []) if doc.get("kind", "").endswith("List") else [doc]
            for item in items:
                meta = item.get("metadata") or {}
                if item.get("kind") in WORKLOAD_KINDS and meta.get("name"):
                    ns = meta.get("namespace") or "default"
                    out.add(f"{ns}/{meta['name']}[{item['kind']}]")
    return out


@dataclass(slots=True)
class Canonical:
    """One tool's connectivity in canonical form, with what was left out and why."""

    pairs: dict[tuple[str, str], Conn] = field(default_factory=dict)
    external: dict[tuple[str, str], tuple[Piece, ...]] = field(default_factory=dict)
    lines: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    renamed: dict[str, str] = field(default_factory=dict)  # printed name -> workload
    unknown: set[str] = field(default_factory=set)  # names mapped to no workload


class Namer:
    """Maps a printed peer to a workload of the cluster: exactly, or (for a tool printing
    pods or ReplicaSets) by namespace and the longest name prefix ending at a dash, so
    `ns/web-5d8f9-x2x4z[Pod]`, `ns/web-1` and `ns/web[Deployment]` all become the
    Deployment `ns/web[Deployment]`. No known workloads: names are kept as printed."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.by_ns_name: dict[tuple[str, str], str] = {}
        for w in sorted(known):
            m = _WORKLOAD.match(w)
            if m:
                self.by_ns_name.setdefault((m["ns"], m["name"]), w)
        self.cache: dict[str, str | None] = {}

    def __call__(self, peer: str) -> str | None:
        if not self.known or peer in self.known:
            return peer
        if peer not in self.cache:
            self.cache[peer] = self._lookup(peer)
        return self.cache[peer]

    def _lookup(self, peer: str) -> str | None:
        m = _WORKLOAD.match(peer)
        if not m:
            return None
        parts = m["name"].split("-")
        for n in range(len(parts), 0, -1):
            hit = self.by_ns_name.get((m["ns"], "-".join(parts[:n])))
            if hit is not None:
                return hit
        return None


def _merge(pieces: list[Piece]) -> tuple[Piece, ...]:
    """Split at every boundary, union the connections over each segment, drop empty
    segments and join neighbours with equal connections."""
    points = sorted({p[0] for p in pieces} | {p[1] + 1 for p in pieces})
    ordered = sorted(pieces)
    out: list[Piece] = []
    for a, b in itertools.pairwise(points):
        conns = NONE
        for lo, hi, c in ordered:
            if lo > a:
                break
            if b - 1 <= hi:
                conns = conn_union(conns, c)
        if not conns:
            continue
        if out and out[-1][1] + 1 == a and out[-1][2] == conns:
            out[-1] = (out[-1][0], b - 1, conns)
        else:
            out.append((a, b - 1, conns))
    return tuple(out)


External = Callable[[str], list[tuple[int, int]] | None]


def _workload(peer: str, namer: Namer, out: Canonical) -> str | None:
    """The workload a printed peer stands for; None for a livesim peer."""
    if peer.split("[", 1)[0].endswith("-livesim"):
        return None
    mapped = namer(peer)
    if mapped is None:
        out.unknown.add(peer)
        return peer
    if mapped != peer:
        out.renamed[peer] = mapped
    return mapped


def _build(
    triples: Iterator[tuple[str, str, str]],
    parse: Callable[[str], Conn],
    external: External,
    namer: Namer,
) -> Canonical:
    """Shared by both tools: `external(peer)` gives a peer's IPv4 intervals, [] for an IPv6
    range, None for a workload."""
    out = Canonical()
    ext: dict[tuple[str, str], list[Piece]] = {}
    for src, dst, conn_text in triples:
        out.lines += 1
        conns = parse(conn_text)
        s_ips, d_ips = external(src), external(dst)
        s_name = _workload(src, namer, out) if s_ips is None else ""
        d_name = _workload(dst, namer, out) if d_ips is None else ""
        if not conns:
            out.ignored["no connections compared"] += 1
        elif s_ips == [] or d_ips == []:
            out.ignored["IPv6 peer"] += 1
        elif s_name is None or d_name is None:
            out.ignored["livesim peer"] += 1
        elif s_ips is not None and d_ips is not None:
            out.ignored["external to external"] += 1
        elif s_ips is not None:
            ext.setdefault((d_name, "ingress"), []).extend((lo, hi, conns) for lo, hi in s_ips)
        elif d_ips is not None:
            ext.setdefault((s_name, "egress"), []).extend((lo, hi, conns) for lo, hi in d_ips)
        else:
            key = (s_name, d_name)
            out.pairs[key] = conn_union(out.pairs.get(key, NONE), conns)
    out.external = {k: _merge(v) for k, v in ext.items()}
    return out


def _triples(text: str) -> Iterator[tuple[str, str, str]]:
    """`src => dst : conns` lines; headers, warnings and timings are skipped."""
    for line in text.splitlines():
        peers, sep, conn_text = line.strip().partition(" : ")
        src, arrow, dst = peers.partition(" => ")
        if sep and arrow:
            yield src.strip(), dst.strip(), conn_text


def _microseg_external(peer: str) -> list[tuple[int, int]] | None:
    m = _MICROSEG_EXTERNAL.match(peer)
    if m is None:
        return None
    return [] if ":" in m["ips"] else ip_intervals(m["ips"])


def _nca_external(peer: str) -> list[tuple[int, int]] | None:
    if _NCA_IPS.match(peer):
        return ip_intervals(peer)
    if ":" in peer:
        return []  # an IPv6 range (`::-ffff:...`), printed with --print_ipv6
    return None


def canonical_microseg(text: str, known: set[str] | None = None, wide: bool = False) -> Canonical:
    parse = parse_microseg_wide if wide else parse_microseg_conn
    return _build(_triples(text), parse, _microseg_external, Namer(known or set()))


def canonical_nca(text: str, known: set[str] | None = None, wide: bool = False) -> Canonical:
    parse = parse_nca_wide if wide else parse_nca_conn
    return _build(_triples(text), parse, _nca_external, Namer(known or set()))


# ---------------------------------------------------------------- differences


def _ip(n: int) -> str:
    return str(ipaddress.IPv4Address(n))


def _external_diffs(
    a: tuple[Piece, ...], b: tuple[Piece, ...]
) -> list[tuple[int, int, Conn, Conn]]:
    """The intervals where the two sides' connections differ, neighbours with the same
    pair of connection sets joined."""
    points = sorted({p[0] for p in (*a, *b)} | {p[1] + 1 for p in (*a, *b)})

    def at(pieces: tuple[Piece, ...], x: int) -> Conn:
        for lo, hi, c in pieces:
            if lo <= x <= hi:
                return c
        return NONE

    out: list[tuple[int, int, Conn, Conn]] = []
    for lo, nxt in itertools.pairwise(points):
        ca, cb = at(a, lo), at(b, lo)
        if ca == cb:
            continue
        if out and out[-1][1] + 1 == lo and out[-1][2:] == (ca, cb):
            out[-1] = (out[-1][0], nxt - 1, ca, cb)
        else:
            out.append((lo, nxt - 1, ca, cb))
    return out


def compare(ms: Canonical, nca: Canonical, limit: int = 10) -> dict[str, Any]:
    """Agreement, counts, the first `limit` differences (microseg's connections first, in
    microseg's grammar) and the commonest (microseg, NCA) pairs of connection sets among
    the differing workload pairs."""
    diffs: list[str] = []
    kinds: Counter[tuple[str, str]] = Counter()
    only_ms = only_nca = differ = cross_ns = ms_more = nca_more = 0
    for key in sorted(set(ms.pairs) | set(nca.pairs)):
        a, b = ms.pairs.get(key, NONE), nca.pairs.get(key, NONE)
        if a == b:
            continue
        only_ms += not b
        only_nca += not a
        differ += bool(a and b)
        cross_ns += key[0].split("/", 1)[0] != key[1].split("/", 1)[0]
        ms_more += not conn_minus(b, a)  # NCA's connections a subset of microseg's
        nca_more += not conn_minus(a, b)
        kinds[(format_conn(a), format_conn(b))] += 1
        diffs.append(f"{key[0]} => {key[1]}: microseg {format_conn(a)}; NCA {format_conn(b)}")
    ext_keys = 0
    for key in sorted(set(ms.external) | set(nca.external)):
        found = _external_diffs(ms.external.get(key, ()), nca.external.get(key, ()))
        ext_keys += bool(found)
        for lo, hi, a, b in found:
            ips = f"{_ip(lo)}-{_ip(hi)}"
            src, dst = (ips, key[0]) if key[1] == "ingress" else (key[0], ips)
            diffs.append(f"{src} => {dst}: microseg {format_conn(a)}; NCA {format_conn(b)}")
    return {
        "agree": not diffs,
        "pairs": {"microseg": len(ms.pairs), "nca": len(nca.pairs)},
        "pair_differences": {
            "total": only_ms + only_nca + differ,
            "only_microseg": only_ms,
            "only_nca": only_nca,
            "both_but_different": differ,
            "across_namespaces": cross_ns,
            "microseg_allows_more": ms_more,
            "nca_allows_more": nca_more,
        },
        "external": {
            "microseg": len(ms.external),
            "nca": len(nca.external),
            "workload_directions_differing": ext_keys,
        },
        "differences_total": len(diffs),
        "differences": diffs[:limit],
        "commonest_pair_differences": [
            {"microseg": a, "nca": b, "pairs": n} for (a, b), n in kinds.most_common(limit)
        ],
        "lines": {"microseg": ms.lines, "nca": nca.lines},
        "ignored": {"microseg": dict(ms.ignored), "nca": dict(nca.ignored)},
        "names": {
            "microseg_unknown": sorted(ms.unknown)[:limit],
            "nca_unknown": sorted(nca.unknown)[:limit],
            "nca_renamed": len(nca.renamed),
            "nca_renamed_examples": dict(sorted(nca.renamed.items())[:limit]),
        },
    }
