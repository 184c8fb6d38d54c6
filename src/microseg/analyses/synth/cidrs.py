"""External addresses in generated rules: aggregated into CIDRs no wider than a maximum
prefix, labelled with their IANA address class, and the public internet as one block.

Aggregation: addresses are grouped by the block of the maximum prefix that holds them (a
/24 by default for IPv4, a /64 for IPv6), and each group becomes the smallest CIDR that
covers it. So one address stays a /32 (/128), two addresses of one /24 become their common
prefix, never more than the /24: the rule opens at most the neighbourhood the flows showed.

The public internet (`--allow-internet-egress`) is `0.0.0.0/0` (and `::/0` when IPv6 was
seen) with every non-public range of the IANA special-purpose registries in `except`
(model/addresses.py PUBLIC), so that "the internet" never silently includes private,
shared, link-local or other special space.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable

from microseg.model.addresses import PUBLIC, classify_runs
from microseg.model.sets import IPSet

__all__ = ["address_classes", "aggregate", "is_public", "public_block"]

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def aggregate(addresses: Iterable[str], max_v4: int, max_v6: int) -> list[tuple[str, list[str]]]:
    """(cidr, member addresses) per block, sorted by family then address."""
    groups: dict[Net, list[ipaddress.IPv4Address | ipaddress.IPv6Address]] = defaultdict(list)
    for text in addresses:
        ip = ipaddress.ip_address(text)
        limit = max_v4 if ip.version == 4 else max_v6
        groups[ipaddress.ip_network(f"{ip}/{limit}", strict=False)].append(ip)
    out = []
    for block in sorted(groups, key=lambda n: (n.version, int(n.network_address))):
        members = sorted(set(groups[block]))
        lo, hi = int(members[0]), int(members[-1])
        bits = block.max_prefixlen - (lo ^ hi).bit_length()
        net = ipaddress.ip_network(f"{members[0]}/{bits}", strict=False)
        out.append((str(net), [str(m) for m in members]))
    return out


def address_classes(cidr: str) -> str:
    """The IANA classes a CIDR spans, as reports print them (`private`, `public`, ...)."""
    seen: list[str] = []
    for _, cls in classify_runs(IPSet.from_cidr(cidr)):
        if cls.value not in seen:
            seen.append(cls.value)
    return "+".join(seen)


def is_public(address: str) -> bool:
    return IPSet.from_address(address).issubset(PUBLIC)


def _cidrs(lo: int, hi: int, version: int) -> list[str]:
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return [str(n) for n in ipaddress.summarize_address_range(cls(lo), cls(hi))]


def public_block(version: int) -> tuple[str, tuple[str, ...]]:
    """`(cidr, excepts)` holding exactly the public addresses of one family."""
    top = (1 << 32) - 1 if version == 4 else (1 << 128) - 1
    public = PUBLIC.v4 if version == 4 else PUBLIC.v6
    excepts: list[str] = []
    cur = 0
    for lo, hi in public:
        if lo > cur:
            excepts += _cidrs(cur, lo - 1, version)
        cur = hi + 1
    if cur <= top:
        excepts += _cidrs(cur, top, version)
    return ("0.0.0.0/0" if version == 4 else "::/0"), tuple(excepts)
