"""Connection sets and peers in netpol-analyzer's grammar (`TCP 80,443,UDP 53`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from microseg.engine import MeshVerdict
from microseg.model.sets import IPV4_MAX, ConnSet, IntervalSet, IPSet

__all__ = [
    "condition_label",
    "format_conditional",
    "format_conns",
    "format_ip_ranges",
    "format_ports",
]


def format_ports(ports: IntervalSet) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def format_conns(conns: ConnSet) -> str:
    if conns.is_all():
        return "All Connections"
    if not conns:
        return "No Connections"
    return ",".join(f"{proto.value} {format_ports(ports)}" for proto, ports in conns.ports)


def format_ip_ranges(addresses: IPSet) -> list[str]:
    """One `first-last` per maximal range, IPv4 then IPv6."""
    out = [f"{ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(hi)}" for lo, hi in addresses.v4]
    out += [f"{ipaddress.IPv6Address(lo)}-{ipaddress.IPv6Address(hi)}" for lo, hi in addresses.v6]
    return out


def is_all_v4(addresses: IPSet) -> bool:
    return addresses.v4.intervals == ((0, IPV4_MAX),)


def condition_label(verdict: MeshVerdict) -> str:
    """`{methods: GET, paths: /api/*}`; alternatives joined by `or`; DENY conditions after `unless`."""
    text = " or ".join(verdict.requires)
    if verdict.unless:
        text = (text + " " if text else "") + "unless " + " or ".join(verdict.unless)
    return text


def format_conditional(allowed: ConnSet, conditions: Sequence[tuple[ConnSet, MeshVerdict]]) -> str:
    """`TCP 8080 {methods: GET, paths: /api/*},TCP 9100`: the conditional parts of a
    connection set carry their L7 conditions; the rest prints as netpol-analyzer does."""
    if not conditions:
        return format_conns(allowed)
    rest = allowed
    parts = []
    for conns, verdict in conditions:
        parts.append(f"{format_conns(conns)} {condition_label(verdict)}")
        rest = rest - conns
    if rest:
        parts.insert(0, format_conns(rest))
    return ",".join(parts)
