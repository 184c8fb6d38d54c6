"""Address classes from the IANA special-purpose address registries.

Why: an exposure report that says "reachable from 0.0.0.0/0" is not an answer; users need to
know which part of that is the public internet and which part is private, shared (CGNAT),
documentation or link-local space. The built-in intent group `internet` is `PUBLIC`.

Sources (read, not copied; the tables below are our own transcription):

- RFC 6890, "Special-Purpose IP Address Registries" (BCP 153), which defines the registries
  and their "Globally Reachable" column: https://www.rfc-editor.org/rfc/rfc6890
- IANA IPv4 Special-Purpose Address Registry, current entries:
  https://www.iana.org/assignments/iana-ipv4-special-registry/
- IANA IPv6 Special-Purpose Address Registry, current entries (incl. RFC 9637 3fff::/20 and
  RFC 9602 5f00::/16): https://www.iana.org/assignments/iana-ipv6-special-registry/
- Multicast is not in the special-purpose registries; it comes from RFC 5771 (224.0.0.0/4)
  and RFC 4291 section 2.7 (ff00::/8).
- IPv6 space outside 2000::/3, fc00::/7, fe80::/10 and ff00::/8 is "Reserved by IETF" in the
  IANA IPv6 Address Space registry (RFC 4291 section 2.4):
  https://www.iana.org/assignments/ipv6-address-space/

Semantic decisions:

- Most specific entry wins (longest prefix): 192.0.0.9/32 (PCP anycast, globally reachable)
  is public although 192.0.0.0/24 is not; ::1/128 is loopback although ::/3 is reserved.
- Entries the registry marks globally reachable (AS112, AMT, PCP/TURN anycast, the NAT64
  well-known prefix 64:ff9b::/96, ORCHIDv2, DETs) are classed `PUBLIC`: for reachability they
  are the internet.
- Entries whose "Globally Reachable" is N/A (6to4 2002::/16, Teredo 2001::/32, the deprecated
  6to4 relay anycast 192.88.99.0/24) are not counted as public: the registry does not promise
  reachability, and CPython's `ipaddress.is_global` makes the same choice.
- Multicast is its own class and not public: a pod does not talk to the internet through it.

Pure model code: everything here is computed from constant tables, no I/O.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass
from enum import Enum

from microseg.model.sets import IPV4_MAX, IPV6_MAX, IntervalSet, IPSet

__all__ = [
    "PUBLIC",
    "REGISTRY",
    "AddressClass",
    "AddressEntry",
    "class_of",
    "class_set",
    "classify",
    "classify_ranges",
    "classify_runs",
]


class AddressClass(Enum):
    """What an address is for; the value is what reports print."""

    PUBLIC = "public"
    PRIVATE = "private"
    SHARED = "shared"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    UNIQUE_LOCAL = "unique-local"
    DOCUMENTATION = "documentation"
    BENCHMARKING = "benchmarking"
    MULTICAST = "multicast"
    THIS_NETWORK = "this-network"
    UNSPECIFIED = "unspecified"
    LIMITED_BROADCAST = "limited-broadcast"
    RESERVED = "reserved"
    PROTOCOL_ASSIGNMENTS = "protocol-assignments"
    IPV4_MAPPED = "ipv4-mapped"
    TRANSLATION = "translation"
    DISCARD = "discard"
    TUNNEL = "tunnel"
    SEGMENT_ROUTING = "segment-routing"


@dataclass(frozen=True, slots=True)
class AddressEntry:
    """One registry row: the block, its class, the registry's name and the defining RFC."""

    prefix: str
    cls: AddressClass
    name: str
    rfc: str

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.prefix)


_C = AddressClass

# IANA IPv4 Special-Purpose Address Registry, plus RFC 5771 multicast.
_V4: tuple[AddressEntry, ...] = (
    AddressEntry("0.0.0.0/8", _C.THIS_NETWORK, "This network", "RFC 791"),
    AddressEntry("0.0.0.0/32", _C.UNSPECIFIED, "This host on this network", "RFC 1122"),
    AddressEntry("10.0.0.0/8", _C.PRIVATE, "Private-Use", "RFC 1918"),
    AddressEntry("100.64.0.0/10", _C.SHARED, "Shared Address Space", "RFC 6598"),
    AddressEntry("127.0.0.0/8", _C.LOOPBACK, "Loopback", "RFC 1122"),
    AddressEntry("169.254.0.0/16", _C.LINK_LOCAL, "Link Local", "RFC 3927"),
    AddressEntry("172.16.0.0/12", _C.PRIVATE, "Private-Use", "RFC 1918"),
    AddressEntry("192.0.0.0/24", _C.PROTOCOL_ASSIGNMENTS, "IETF Protocol Assignments", "RFC 6890"),
    AddressEntry(
        "192.0.0.0/29", _C.PROTOCOL_ASSIGNMENTS, "IPv4 Service Continuity Prefix", "RFC 7335"
    ),
    AddressEntry("192.0.0.8/32", _C.PROTOCOL_ASSIGNMENTS, "IPv4 dummy address", "RFC 7600"),
    AddressEntry("192.0.0.9/32", _C.PUBLIC, "Port Control Protocol Anycast", "RFC 7723"),
    AddressEntry("192.0.0.10/32", _C.PUBLIC, "TURN Anycast", "RFC 8155"),
    AddressEntry("192.0.0.170/32", _C.PROTOCOL_ASSIGNMENTS, "NAT64/DNS64 Discovery", "RFC 8880"),
    AddressEntry("192.0.0.171/32", _C.PROTOCOL_ASSIGNMENTS, "NAT64/DNS64 Discovery", "RFC 8880"),
    AddressEntry("192.0.2.0/24", _C.DOCUMENTATION, "Documentation (TEST-NET-1)", "RFC 5737"),
    AddressEntry("192.31.196.0/24", _C.PUBLIC, "AS112-v4", "RFC 7535"),
    AddressEntry("192.52.193.0/24", _C.PUBLIC, "AMT", "RFC 7450"),
    AddressEntry("192.88.99.0/24", _C.TUNNEL, "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
    AddressEntry("192.168.0.0/16", _C.PRIVATE, "Private-Use", "RFC 1918"),
    AddressEntry("192.175.48.0/24", _C.PUBLIC, "Direct Delegation AS112 Service", "RFC 7534"),
    AddressEntry("198.18.0.0/15", _C.BENCHMARKING, "Benchmarking", "RFC 2544"),
    AddressEntry("198.51.100.0/24", _C.DOCUMENTATION, "Documentation (TEST-NET-2)", "RFC 5737"),
    AddressEntry("203.0.113.0/24", _C.DOCUMENTATION, "Documentation (TEST-NET-3)", "RFC 5737"),
    AddressEntry("224.0.0.0/4", _C.MULTICAST, "Multicast", "RFC 5771"),
    AddressEntry("240.0.0.0/4", _C.RESERVED, "Reserved", "RFC 1112"),
    AddressEntry("255.255.255.255/32", _C.LIMITED_BROADCAST, "Limited Broadcast", "RFC 919"),
)

# IANA IPv6 Special-Purpose Address Registry, plus RFC 4291 multicast and the IETF-reserved
# parts of the IPv6 Address Space registry (as three covering prefixes; the more specific
# fc00::/7, fe80::/10, ff00::/8 and registry rows inside them win).
_V6: tuple[AddressEntry, ...] = (
    AddressEntry("::/3", _C.RESERVED, "Reserved by IETF", "RFC 4291"),
    AddressEntry("4000::/2", _C.RESERVED, "Reserved by IETF", "RFC 4291"),
    AddressEntry("8000::/1", _C.RESERVED, "Reserved by IETF", "RFC 4291"),
    AddressEntry("::1/128", _C.LOOPBACK, "Loopback Address", "RFC 4291"),
    AddressEntry("::/128", _C.UNSPECIFIED, "Unspecified Address", "RFC 4291"),
    AddressEntry("::ffff:0:0/96", _C.IPV4_MAPPED, "IPv4-mapped Address", "RFC 4291"),
    AddressEntry("64:ff9b::/96", _C.PUBLIC, "IPv4-IPv6 Translat.", "RFC 6052"),
    AddressEntry("64:ff9b:1::/48", _C.TRANSLATION, "IPv4-IPv6 Translat.", "RFC 8215"),
    AddressEntry("100::/64", _C.DISCARD, "Discard-Only Address Block", "RFC 6666"),
    AddressEntry("2001::/23", _C.PROTOCOL_ASSIGNMENTS, "IETF Protocol Assignments", "RFC 2928"),
    AddressEntry("2001::/32", _C.TUNNEL, "TEREDO", "RFC 4380"),
    AddressEntry("2001:1::1/128", _C.PUBLIC, "Port Control Protocol Anycast", "RFC 7723"),
    AddressEntry("2001:1::2/128", _C.PUBLIC, "TURN Anycast", "RFC 8155"),
    AddressEntry("2001:1::3/128", _C.PUBLIC, "DNS-SD Service Registration Protocol", "RFC 9665"),
    AddressEntry("2001:2::/48", _C.BENCHMARKING, "Benchmarking", "RFC 5180"),
    AddressEntry("2001:3::/32", _C.PUBLIC, "AMT", "RFC 7450"),
    AddressEntry("2001:4:112::/48", _C.PUBLIC, "AS112-v6", "RFC 7535"),
    AddressEntry("2001:10::/28", _C.PROTOCOL_ASSIGNMENTS, "Deprecated (ORCHID)", "RFC 4843"),
    AddressEntry("2001:20::/28", _C.PUBLIC, "ORCHIDv2", "RFC 7343"),
    AddressEntry("2001:30::/28", _C.PUBLIC, "Drone Remote ID Protocol Entity Tags", "RFC 9374"),
    AddressEntry("2001:db8::/32", _C.DOCUMENTATION, "Documentation", "RFC 3849"),
    AddressEntry("2002::/16", _C.TUNNEL, "6to4", "RFC 3056"),
    AddressEntry("2620:4f:8000::/48", _C.PUBLIC, "Direct Delegation AS112 Service", "RFC 7534"),
    AddressEntry("3fff::/20", _C.DOCUMENTATION, "Documentation", "RFC 9637"),
    AddressEntry("5f00::/16", _C.SEGMENT_ROUTING, "Segment Routing (SRv6) SIDs", "RFC 9602"),
    AddressEntry("fc00::/7", _C.UNIQUE_LOCAL, "Unique-Local", "RFC 4193"),
    AddressEntry("fe80::/10", _C.LINK_LOCAL, "Link-Local Unicast", "RFC 4291"),
    AddressEntry("ff00::/8", _C.MULTICAST, "Multicast", "RFC 4291"),
)

REGISTRY: tuple[AddressEntry, ...] = _V4 + _V6
"""Every entry, IPv4 first; the class of an address is that of its most specific entry."""


def _paint(entries: tuple[AddressEntry, ...], top: int) -> dict[AddressClass, IntervalSet]:
    """Longest-prefix match as painting: apply entries from least to most specific."""
    sets: dict[AddressClass, IntervalSet] = {_C.PUBLIC: IntervalSet.span(0, top)}
    for entry in sorted(entries, key=lambda e: e.network.prefixlen):
        net = entry.network
        block = IntervalSet.span(int(net.network_address), int(net.broadcast_address))
        for cls in list(sets):
            sets[cls] = sets[cls] - block
        sets[entry.cls] = sets.get(entry.cls, IntervalSet()) | block
    return {cls: s for cls, s in sets.items() if s}


def _build() -> dict[AddressClass, IPSet]:
    v4 = _paint(_V4, IPV4_MAX)
    v6 = _paint(_V6, IPV6_MAX)
    return {
        cls: IPSet(v4.get(cls, IntervalSet()), v6.get(cls, IntervalSet()))
        for cls in AddressClass
        if cls in v4 or cls in v6
    }


_CLASS_SETS: dict[AddressClass, IPSet] = _build()


def _table(family: str) -> tuple[list[int], list[tuple[int, int, AddressClass]]]:
    """The painted space of one family as sorted (first, last, class) segments."""
    segs = sorted(
        (lo, hi, cls)
        for cls, s in _CLASS_SETS.items()
        for lo, hi in (s.v4 if family == "v4" else s.v6)
    )
    return [lo for lo, _, _ in segs], segs


_TABLE_V4 = _table("v4")
_TABLE_V6 = _table("v6")

PUBLIC: IPSet = _CLASS_SETS[_C.PUBLIC]
"""Globally reachable addresses, IPv4 and IPv6: everything no non-global entry claims."""


def class_set(cls: AddressClass) -> IPSet:
    """Every address (v4 and v6) whose most specific registry entry has this class."""
    return _CLASS_SETS.get(cls, IPSet())


def classify(ips: IPSet) -> tuple[tuple[IPSet, AddressClass], ...]:
    """Split `ips` into disjoint pieces, one per address class present, covering it exactly.

    Pieces come in address order of their first address (IPv4 before IPv6), so a report
    reads from low to high addresses."""
    pieces = [(ips & s, cls) for cls, s in _CLASS_SETS.items()]
    present = [(p, cls) for p, cls in pieces if p]
    return tuple(sorted(present, key=lambda pc: _first(pc[0])))


def classify_runs(ips: IPSet) -> tuple[tuple[IPSet, AddressClass], ...]:
    """Each maximal run of one class as a one-range IPSet with its class, in address order
    (IPv4 first). A binary search in the painted table per input range: cost grows with the
    number of runs, not with the number of classes."""
    out: list[tuple[IPSet, AddressClass]] = []
    for ivs, (starts, table), v4 in ((ips.v4, _TABLE_V4, True), (ips.v6, _TABLE_V6, False)):
        for lo, hi in ivs:
            k = bisect.bisect_right(starts, lo) - 1
            while k < len(table) and table[k][0] <= hi:
                span = IntervalSet.span(max(lo, table[k][0]), min(hi, table[k][1]))
                out.append((IPSet(v4=span) if v4 else IPSet(v6=span), table[k][2]))
                k += 1
    return tuple(out)


def classify_ranges(ips: IPSet) -> tuple[tuple[str, str, AddressClass], ...]:
    """Each maximal run of one class as printable (first, last, class), in address order."""
    out = []
    for run, cls in classify_runs(ips):
        ((first, last),) = run.ranges()
        out.append((first, last, cls))
    return tuple(out)


def class_of(address: str) -> AddressClass:
    """The class of one address. Raises ValueError for a malformed address."""
    point = IPSet.from_address(address)
    for cls, s in _CLASS_SETS.items():
        if point <= s:
            return cls
    raise AssertionError("the class sets cover the whole address space")  # pragma: no cover


def _first(ips: IPSet) -> tuple[int, int]:
    if ips.v4:
        return (4, ips.v4.intervals[0][0])
    return (6, ips.v6.intervals[0][0])
