"""Immutable, canonical interval sets: ports, protocols-with-ports, and IP addresses.

Every set is kept as sorted, disjoint, non-adjacent closed intervals, so two sets are equal
exactly when their representations are equal. Operations return new objects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "ALL_PORTS",
    "BASE_PROTOCOLS",
    "EXTRA_PROTOCOLS",
    "IPV4_MAX",
    "IPV6_MAX",
    "PORT_MAX",
    "PORT_MIN",
    "PROTOCOL_NUMBERS",
    "ConnSet",
    "IPSet",
    "IntervalSet",
    "Protocol",
    "domain",
]

PORT_MIN = 1
PORT_MAX = 65535
IPV4_MAX = 2**32 - 1
IPV6_MAX = 2**128 - 1


class Protocol(Enum):
    """Protocols policies can name: first the three NetworkPolicy knows, in the order
    netpol-analyzer prints them; then those only Calico rules name (projectcalico.org/v3
    Rule `protocol`: TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255,
    docs.tigera.io/calico/latest/reference/resources/networkpolicy#rule).

    Each protocol's "ports" are numbers in its own domain (`domain`): ports 1-65535 for
    the port protocols; for ICMP and ICMPv6 `type * 256 + code` (type 0-255, code 0-255),
    so that a type is one interval and a type with a code one number; for IP, the
    protocol numbers no other member names."""

    SCTP = "SCTP"
    TCP = "TCP"
    UDP = "UDP"
    ICMP = "ICMP"
    ICMPV6 = "ICMPv6"
    UDPLITE = "UDPLite"
    IP = "IP"
    """Any other IP protocol, by number (GRE is 47)."""


BASE_PROTOCOLS = (Protocol.SCTP, Protocol.TCP, Protocol.UDP)
"""What Kubernetes NetworkPolicy names, and the whole universe of an analysis without Calico
policies (as in netpol-analyzer's output, where `All Connections` is these three)."""
EXTRA_PROTOCOLS = (Protocol.ICMP, Protocol.ICMPV6, Protocol.UDPLITE, Protocol.IP)
# IANA protocol numbers of the named members (RFC 790 and the IANA registry).
PROTOCOL_NUMBERS = {
    Protocol.ICMP: 1,
    Protocol.TCP: 6,
    Protocol.UDP: 17,
    Protocol.ICMPV6: 58,
    Protocol.SCTP: 132,
    Protocol.UDPLITE: 136,
}


def _canonical(intervals: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(i for i in intervals if i[0] <= i[1]):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class IntervalSet:
    """A set of integers as canonical closed intervals."""

    intervals: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def of(intervals: Iterable[tuple[int, int]]) -> IntervalSet:
        return IntervalSet(_canonical(intervals))

    @staticmethod
    def span(lo: int, hi: int) -> IntervalSet:
        return IntervalSet(((lo, hi),) if lo <= hi else ())

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.intervals)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        return any(lo <= value <= hi for lo, hi in self.intervals)

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet(_canonical(self.intervals + other.intervals))

    def intersection(self, other: IntervalSet) -> IntervalSet:
        out: list[tuple[int, int]] = []
        a, b = self.intervals, other.intervals
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(out))

    def difference(self, other: IntervalSet) -> IntervalSet:
        out: list[tuple[int, int]] = []
        b = other.intervals
        j = 0
        for lo, hi in self.intervals:
            cur = lo
            while j < len(b) and b[j][1] < cur:
                j += 1
            k = j
            while k < len(b) and b[k][0] <= hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0] - 1))
                cur = max(cur, b[k][1] + 1)
                k += 1
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet(tuple(out))

    def issubset(self, other: IntervalSet) -> bool:
        return not self.difference(other)

    __or__ = union
    __and__ = intersection
    __sub__ = difference
    __le__ = issubset


ALL_PORTS = IntervalSet.span(PORT_MIN, PORT_MAX)
_ICMP_DOMAIN = IntervalSet.span(0, 255 * 256 + 255)
_IP_DOMAIN = IntervalSet.span(1, 255) - IntervalSet.of((n, n) for n in PROTOCOL_NUMBERS.values())
_DOMAIN = {
    Protocol.SCTP: ALL_PORTS,
    Protocol.TCP: ALL_PORTS,
    Protocol.UDP: ALL_PORTS,
    Protocol.UDPLITE: ALL_PORTS,
    Protocol.ICMP: _ICMP_DOMAIN,
    Protocol.ICMPV6: _ICMP_DOMAIN,
    Protocol.IP: _IP_DOMAIN,
}


def domain(protocol: Protocol) -> IntervalSet:
    """Every "port" a protocol has (see Protocol)."""
    return _DOMAIN[protocol]


@dataclass(frozen=True, slots=True)
class ConnSet:
    """A set of (protocol, port) pairs; the unit of every connectivity answer.

    `wide` says the set belongs to an analysis whose universe holds every protocol (one
    with Calico policies), not only the three of NetworkPolicy: `is_all` then asks for
    ICMP and the rest too. It is carried through the set operations and is not part of
    equality (two sets are equal when they hold the same connections)."""

    ports: tuple[tuple[Protocol, IntervalSet], ...] = ()
    wide: bool = field(default=False, compare=False)

    @staticmethod
    def of(mapping: Mapping[Protocol, IntervalSet], wide: bool = False) -> ConnSet:
        return ConnSet(tuple((p, mapping[p]) for p in Protocol if mapping.get(p)), wide)

    @staticmethod
    def all() -> ConnSet:
        """Every port of SCTP, TCP and UDP: the universe of a NetworkPolicy analysis."""
        return ConnSet.of(dict.fromkeys(BASE_PROTOCOLS, ALL_PORTS))

    @staticmethod
    def everything() -> ConnSet:
        """Every protocol and port: the universe of an analysis with Calico policies."""
        return ConnSet.of({p: domain(p) for p in Protocol}, wide=True)

    @staticmethod
    def none() -> ConnSet:
        return ConnSet()

    @staticmethod
    def single(protocol: Protocol, lo: int, hi: int | None = None) -> ConnSet:
        return ConnSet.of({protocol: IntervalSet.span(lo, lo if hi is None else hi)})

    def as_dict(self) -> dict[Protocol, IntervalSet]:
        return dict(self.ports)

    def get(self, protocol: Protocol) -> IntervalSet:
        return self.as_dict().get(protocol, IntervalSet())

    def __bool__(self) -> bool:
        return bool(self.ports)

    def is_all(self) -> bool:
        """Whether the set holds its universe whole (see `wide`)."""
        have = dict(self.ports)
        wanted = Protocol if self.wide else BASE_PROTOCOLS
        return all(have.get(p) == domain(p) for p in wanted)

    def contains(self, protocol: Protocol, port: int) -> bool:
        return port in self.get(protocol)

    def _combine(self, other: ConnSet, op: str) -> ConnSet:
        a, b = self.as_dict(), other.as_dict()
        out: dict[Protocol, IntervalSet] = {}
        for p in Protocol:
            x, y = a.get(p, IntervalSet()), b.get(p, IntervalSet())
            out[p] = x.union(y) if op == "|" else x.intersection(y) if op == "&" else x - y
        return ConnSet.of(out, self.wide or other.wide)

    def union(self, other: ConnSet) -> ConnSet:
        return self._combine(other, "|")

    def intersection(self, other: ConnSet) -> ConnSet:
        return self._combine(other, "&")

    def difference(self, other: ConnSet) -> ConnSet:
        return self._combine(other, "-")

    def issubset(self, other: ConnSet) -> bool:
        return not self.difference(other)

    __or__ = union
    __and__ = intersection
    __sub__ = difference
    __le__ = issubset


def _network_interval(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


@dataclass(frozen=True, slots=True)
class IPSet:
    """IPv4 and IPv6 addresses, each family its own interval set."""

    v4: IntervalSet = IntervalSet()
    v6: IntervalSet = IntervalSet()

    @staticmethod
    def from_cidr(cidr: str) -> IPSet:
        """Parse a CIDR; host bits are ignored as the API server does. Raises ValueError."""
        net = ipaddress.ip_network(cidr.strip(), strict=False)
        span = IntervalSet.of([_network_interval(net)])
        return IPSet(v4=span) if net.version == 4 else IPSet(v6=span)

    @staticmethod
    def from_address(address: str) -> IPSet:
        ip = ipaddress.ip_address(address.strip())
        span = IntervalSet.span(int(ip), int(ip))
        return IPSet(v4=span) if ip.version == 4 else IPSet(v6=span)

    @staticmethod
    def all_v4() -> IPSet:
        return IPSet(v4=IntervalSet.span(0, IPV4_MAX))

    @staticmethod
    def everything() -> IPSet:
        return IPSet(IntervalSet.span(0, IPV4_MAX), IntervalSet.span(0, IPV6_MAX))

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def union(self, other: IPSet) -> IPSet:
        return IPSet(self.v4 | other.v4, self.v6 | other.v6)

    def intersection(self, other: IPSet) -> IPSet:
        return IPSet(self.v4 & other.v4, self.v6 & other.v6)

    def difference(self, other: IPSet) -> IPSet:
        return IPSet(self.v4 - other.v4, self.v6 - other.v6)

    def issubset(self, other: IPSet) -> bool:
        return not self.difference(other)

    def contains_address(self, address: str) -> bool:
        return IPSet.from_address(address).issubset(self)

    __or__ = union
    __and__ = intersection
    __sub__ = difference
    __le__ = issubset

    def ranges(self) -> Iterator[tuple[str, str]]:
        """Each maximal range as printable first and last address, IPv4 first."""
        for lo, hi in self.v4:
            yield str(ipaddress.IPv4Address(lo)), str(ipaddress.IPv4Address(hi))
        for lo, hi in self.v6:
            yield str(ipaddress.IPv6Address(lo)), str(ipaddress.IPv6Address(hi))
