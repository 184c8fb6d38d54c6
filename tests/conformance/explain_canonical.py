"""netpol-analyzer's `list --explain` text read as meaning: per workload pair, blocks of
connections (allowed or denied) and, per direction, the set of reasons behind them.

A reason is a tuple:
- (kind, policy, rule, verb): `NetworkPolicy 'ns/p' allows connections by Ingress rule #1`
  is ("NP", "ns/p", "1", "allows"); admin rules are named (`... by Egress rule deny-x`);
- ("isolation", policy): a NetworkPolicy that selects the endpoint and whose rules do not
  allow the connection (no rule selects the peer, or one does on other ports, or its named
  ports do not resolve: one meaning, the isolation's deny);
- ("default",): the system default, allow all;
- ("udn",): the endpoints sit on different primary networks;
- ("entry", kind, name, service, "allows" | "mismatch"): an Ingress or Route that opens the
  service's port to the ingress controller, or does not open this one.

Sections for secondary networks (`in secondary NAD ...`, MultiNetworkPolicy) are skipped:
microseg does not model them (test_netpol_analyzer_vm_nad.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from microseg.model.sets import ConnSet, IntervalSet, Protocol

Reason = tuple[str, ...]
KINDS = {
    "NetworkPolicy": "NP",
    "AdminNetworkPolicy": "ANP",
    "BaselineAdminNetworkPolicy": "BANP",
    "ClusterNetworkPolicy": "CNP",
}
_RULE = re.compile(
    r"^(?P<kind>NetworkPolicy|AdminNetworkPolicy|BaselineAdminNetworkPolicy|ClusterNetworkPolicy)"
    r" '(?P<name>[^']*)' (?P<verb>allows|denies|passes) connections by (?:Ingress|Egress) rule (?P<rule>.*)$"
)
_ISOLATION = re.compile(r"^NetworkPolicy '(?P<name>[^']*)' selects ")
_ENTRY_OK = re.compile(
    r"^(?P<kind>Route|Ingress) '(?P<name>[^']*)' allows ingress connections through service (?P<svc>\S+)$"
)
_ENTRY_NO = re.compile(
    r"^(?P<kind>Route|Ingress) '(?P<name>[^']*)' allows ingress to service (?P<svc>\S+), but the protocols and ports do not match$"
)
_DESC_SPLIT = re.compile(r", (?=(?:TCP|UDP|SCTP)\b)")


@dataclass
class Block:
    allowed: bool
    conns: ConnSet
    reasons: dict[str, set[Reason]] = field(
        default_factory=lambda: {"Egress": set(), "Ingress": set()}
    )


@dataclass
class Pair:
    src: str
    dst: str
    blocks: list[Block] = field(default_factory=list)


def parse_desc(text: str) -> ConnSet:
    """`TCP:[1-79,81-65535], UDP, SCTP` as a connection set."""
    out: dict[Protocol, IntervalSet] = {}
    for item in _DESC_SPLIT.split(text.strip()):
        proto, _, ranges = item.partition(":")
        ports = IntervalSet.span(1, 65535)
        if ranges:
            spans = []
            for part in ranges.strip("[]").split(","):
                lo, _, hi = part.partition("-")
                spans.append((int(lo), int(hi or lo)))
            ports = IntervalSet.of(spans)
        out[Protocol(proto.strip())] = ports
    return ConnSet.of(out)


def reason(line: str) -> Reason | None:
    line = line.strip().removeprefix("- ").strip()
    if not line or line in ("NetworkPolicy list:", "Route list:", "Ingress list:"):
        return None
    if m := _RULE.match(line):
        return (KINDS[m["kind"]], m["name"], m["rule"].removeprefix("#"), m["verb"])
    if m := _ISOLATION.match(line):
        return ("isolation", m["name"])
    if line == "the system default (Allow all)":
        return ("default",)
    if re.match(r"^(Cluster)?UserDefinedNetwork '", line):
        return ("udn",)
    if m := _ENTRY_OK.match(line):
        return ("entry", m["kind"], m["name"], m["svc"], "allows")
    if m := _ENTRY_NO.match(line):
        return ("entry", m["kind"], m["name"], m["svc"], "mismatch")
    raise ValueError(f"unknown explanation line: {line!r}")


def parse(text: str) -> list[Pair]:
    """The explained pairs, up to an exposure section. A pair of the `All Connections due to
    the system default` section gets one allowed block, default in both directions."""
    pairs: list[Pair] = []
    pair: Pair | None = None
    block: Block | None = None
    direction = ""
    skip = default_section = False
    for raw in text.splitlines():
        if raw.startswith("Exposure Analysis Result"):
            break
        tabs = len(raw) - len(raw.lstrip("\t"))
        line = raw.strip()
        if not line or line.startswith("---") or line.startswith("*** Note"):
            continue
        if line.startswith("#"):
            if line.strip("#").strip():
                skip = "secondary NAD" in line
                default_section = "due to the system default" in line
            continue
        if skip:
            continue
        if tabs == 0:
            if line.startswith("Connections between "):
                src, _, dst = (
                    line.removeprefix("Connections between ").removesuffix(":").partition(" => ")
                )
                pair = Pair(src, dst)
                pairs.append(pair)
            elif default_section and " => " in line:
                src, _, dst = line.partition(" => ")
                every = Block(True, ConnSet.all())
                every.reasons = {"Egress": {("default",)}, "Ingress": {("default",)}}
                pairs.append(Pair(src, dst, [every]))
            continue
        assert pair is not None, raw
        if tabs == 1:
            verdict, _, rest = line.partition(" ")
            desc, _, why = rest.partition(" due to ")
            block = Block(verdict == "Allowed", parse_desc(desc))
            pair.blocks.append(block)
            if why.startswith("the system default"):
                block.reasons = {"Egress": {("default",)}, "Ingress": {("default",)}}
            elif why.startswith("existence of user defined networks"):
                block.reasons = {"Egress": {("udn",)}, "Ingress": {("udn",)}}
            continue
        assert block is not None, raw
        if tabs == 2:
            direction = line.split(" ", 1)[0]
            if line.endswith("due to the system default (Allow all)"):
                block.reasons[direction].add(("default",))
            continue
        found = reason(line)
        if found is not None and found != ("udn",):
            block.reasons[direction].add(found)
    return pairs
