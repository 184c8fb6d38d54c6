"""Connection sets and peers in netpol-analyzer's grammar (`TCP 80,443,UDP 53`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from microseg.engine import MeshVerdict
from microseg.model.sets import (
    EXTRA_PROTOCOLS,
    IPV4_MAX,
    ConnSet,
    IntervalSet,
    IPSet,
    Protocol,
    domain,
)

__all__ = [
    "condition_label",
    "format_conditional",
    "format_conns",
    "format_ip_ranges",
    "format_ports",
    "format_protocol",
]


def format_ports(ports: IntervalSet) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def _icmp_item(lo: int, hi: int) -> str:
    """ICMP "ports" are type * 256 + code (model/sets.py): whole types print as types, a
    type's codes as codes."""
    t_lo, c_lo, t_hi, c_hi = lo // 256, lo % 256, hi // 256, hi % 256
    if c_lo == 0 and c_hi == 255:
        return f"type {t_lo}" if t_lo == t_hi else f"types {t_lo}-{t_hi}"
    if t_lo == t_hi:
        return f"type {t_lo} code {c_lo}" if c_lo == c_hi else f"type {t_lo} codes {c_lo}-{c_hi}"
    return f"type {t_lo} code {c_lo} to type {t_hi} code {c_hi}"


def format_protocol(proto: Protocol, ports: IntervalSet) -> str:
    """One protocol's part: `TCP 80,443`; `ICMP` (every type), `ICMP type 8`,
    `ICMPv6 type 1 code 4`; `protocol 47` for a protocol without a name."""
    if ports == domain(proto) and proto in EXTRA_PROTOCOLS:
        return "other protocols" if proto is Protocol.IP else proto.value
    if proto in (Protocol.ICMP, Protocol.ICMPV6):
        if all(lo % 256 == 0 and hi % 256 == 255 for lo, hi in ports):
            types = [(lo // 256, hi // 256) for lo, hi in ports]
            word = "type" if len(types) == 1 and types[0][0] == types[0][1] else "types"
            return f"{proto.value} {word} " + ",".join(
                str(a) if a == b else f"{a}-{b}" for a, b in types
            )
        return ",".join(f"{proto.value} {_icmp_item(lo, hi)}" for lo, hi in ports)
    if proto is Protocol.IP:
        return ",".join(
            f"protocol {lo}" if lo == hi else f"protocols {lo}-{hi}" for lo, hi in ports
        )
    return f"{proto.value} {format_ports(ports)}"


def format_conns(conns: ConnSet) -> str:
    if conns.is_all():
        return "All Connections"
    if not conns:
        return "No Connections"
    return ",".join(format_protocol(proto, ports) for proto, ports in conns.ports)


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
