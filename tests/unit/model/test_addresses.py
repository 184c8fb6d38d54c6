"""IANA special-purpose address classes: block boundaries, precedence, and PUBLIC."""

from __future__ import annotations

import ipaddress
import random

import pytest

from microseg.model.addresses import (
    PUBLIC,
    REGISTRY,
    AddressClass,
    class_of,
    class_set,
    classify,
    classify_ranges,
    classify_runs,
)
from microseg.model.sets import IPSet

C = AddressClass

# (block, class, public neighbour just below or None, public neighbour just above or None)
BLOCKS = [
    ("10.0.0.0/8", C.PRIVATE, "9.255.255.255", "11.0.0.0"),
    ("172.16.0.0/12", C.PRIVATE, "172.15.255.255", "172.32.0.0"),
    ("192.168.0.0/16", C.PRIVATE, "192.167.255.255", "192.169.0.0"),
    ("100.64.0.0/10", C.SHARED, "100.63.255.255", "100.128.0.0"),
    ("127.0.0.0/8", C.LOOPBACK, "126.255.255.255", "128.0.0.0"),
    ("169.254.0.0/16", C.LINK_LOCAL, "169.253.255.255", "169.255.0.0"),
    ("192.0.2.0/24", C.DOCUMENTATION, "192.0.1.255", "192.0.3.0"),
    ("198.51.100.0/24", C.DOCUMENTATION, "198.51.99.255", "198.51.101.0"),
    ("203.0.113.0/24", C.DOCUMENTATION, "203.0.112.255", "203.0.114.0"),
    ("198.18.0.0/15", C.BENCHMARKING, "198.17.255.255", "198.20.0.0"),
    ("224.0.0.0/4", C.MULTICAST, "223.255.255.255", None),
    ("240.0.0.0/5", C.RESERVED, None, None),
    ("1.0.0.0/32", C.PUBLIC, None, "1.0.0.1"),
    ("0.0.0.1/32", C.THIS_NETWORK, None, None),
    ("0.255.255.255/32", C.THIS_NETWORK, None, "1.0.0.0"),
    ("0.0.0.0/32", C.UNSPECIFIED, None, None),
    ("255.255.255.255/32", C.LIMITED_BROADCAST, None, None),
    ("255.255.255.254/32", C.RESERVED, None, None),
    ("192.0.0.0/29", C.PROTOCOL_ASSIGNMENTS, "191.255.255.255", None),
    ("192.0.0.255/32", C.PROTOCOL_ASSIGNMENTS, None, "192.0.1.0"),
    ("192.88.99.0/24", C.TUNNEL, "192.88.98.255", "192.88.100.0"),
    ("::1/128", C.LOOPBACK, None, None),
    ("::/128", C.UNSPECIFIED, None, None),
    ("::ffff:0:0/96", C.IPV4_MAPPED, None, None),
    ("fe80::/10", C.LINK_LOCAL, None, None),
    ("fc00::/7", C.UNIQUE_LOCAL, None, None),
    ("ff00::/8", C.MULTICAST, None, None),
    ("2001:db8::/32", C.DOCUMENTATION, None, "2001:db9::"),
    ("3fff::/20", C.DOCUMENTATION, "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::"),
    ("2001:2::/48", C.BENCHMARKING, None, None),
    ("2002::/16", C.TUNNEL, "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2003::"),
    ("2001::/32", C.TUNNEL, "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("64:ff9b::/96", C.PUBLIC, None, None),
    ("64:ff9b:1::/48", C.TRANSLATION, None, None),
    ("5f00::/16", C.SEGMENT_ROUTING, None, None),
    ("2000::/16", C.PUBLIC, None, "2000:1::"),
]


@pytest.mark.parametrize(("block", "cls", "below", "above"), BLOCKS)
def test_block_boundaries(
    block: str, cls: AddressClass, below: str | None, above: str | None
) -> None:
    net = ipaddress.ip_network(block)
    assert class_of(str(net.network_address)) is cls
    assert class_of(str(net.broadcast_address)) is cls
    assert IPSet.from_cidr(block) <= class_set(cls)
    if below is not None:
        assert class_of(below) is C.PUBLIC
        assert PUBLIC.contains_address(below)
    if above is not None:
        assert class_of(above) is C.PUBLIC
        assert PUBLIC.contains_address(above)


def test_most_specific_entry_wins() -> None:
    # PCP anycast is globally reachable inside the non-global 192.0.0.0/24.
    assert class_of("192.0.0.9") is C.PUBLIC
    assert class_of("192.0.0.8") is C.PROTOCOL_ASSIGNMENTS
    assert class_of("192.0.0.11") is C.PROTOCOL_ASSIGNMENTS
    assert class_of("2001:1::1") is C.PUBLIC
    assert class_of("2001:1::4") is C.PROTOCOL_ASSIGNMENTS
    assert class_of("2001:20::1") is C.PUBLIC


def test_ipv6_outside_global_unicast_is_reserved() -> None:
    assert class_of("4000::1") is C.RESERVED
    assert class_of("1fff::") is C.RESERVED
    assert class_of("fec0::1") is C.RESERVED
    assert class_of("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") is C.RESERVED
    assert class_of("2000::") is C.PUBLIC
    assert class_of("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") is C.PUBLIC
    assert class_of("2a00:1450:4001::1") is C.PUBLIC


def test_classes_partition_the_address_space() -> None:
    everything = IPSet.everything()
    union = IPSet()
    total = 0
    for cls in AddressClass:
        s = class_set(cls)
        assert (union & s) == IPSet(), cls
        union = union | s
        total += s.v4.size() + s.v6.size()
    assert union == everything
    assert total == everything.v4.size() + everything.v6.size()


def test_public_excludes_every_non_global_entry() -> None:
    for entry in REGISTRY:
        block = IPSet.from_cidr(entry.prefix)
        if entry.cls is C.PUBLIC:
            assert block <= PUBLIC, entry
        else:
            # Less specific entries may contain public sub-blocks; the first address is
            # never one of them in this registry.
            assert not IPSet.from_address(str(entry.network.network_address)) <= PUBLIC


def test_public_agrees_with_stdlib_on_plain_unicast() -> None:
    for addr in ["8.8.8.8", "1.1.1.1", "52.1.2.3", "2606:4700::1111"]:
        assert ipaddress.ip_address(addr).is_global
        assert PUBLIC.contains_address(addr)
    for addr in ["10.1.2.3", "100.64.0.1", "169.254.1.1", "fd00::1", "2001:db8::1"]:
        assert not ipaddress.ip_address(addr).is_global
        assert not PUBLIC.contains_address(addr)


def test_classify_covers_input_exactly_in_address_order() -> None:
    ips = IPSet.from_cidr("0.0.0.0/0") | IPSet.from_cidr("2001:db8::/31")
    pieces = classify(ips)
    union = IPSet()
    for piece, _ in pieces:
        assert not (union & piece)
        union = union | piece
    assert union == ips
    assert len({cls for _, cls in pieces}) == len(pieces)
    assert pieces[0][1] is C.THIS_NETWORK or pieces[0][1] is C.UNSPECIFIED


def test_classify_ranges_splits_a_cidr_across_blocks() -> None:
    runs = classify_ranges(IPSet.from_cidr("203.0.112.0/22"))
    assert runs == (
        ("203.0.112.0", "203.0.112.255", C.PUBLIC),
        ("203.0.113.0", "203.0.113.255", C.DOCUMENTATION),
        ("203.0.114.0", "203.0.115.255", C.PUBLIC),
    )
    assert classify_ranges(IPSet()) == ()


def test_classify_ranges_mixed_families() -> None:
    ips = IPSet.from_cidr("10.0.0.0/8") | IPSet.from_cidr("2001:db8::/32")
    assert classify_ranges(ips) == (
        ("10.0.0.0", "10.255.255.255", C.PRIVATE),
        ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", C.DOCUMENTATION),
    )


def test_class_of_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="does not appear"):
        class_of("not-an-ip")


def test_classify_runs_agrees_with_class_sets_on_random_sets() -> None:
    rng = random.Random(7)
    for _ in range(200):
        ips = IPSet()
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.7:
                base = rng.randrange(2**32)
                ips = ips | IPSet.from_cidr(f"{ipaddress.IPv4Address(base)}/{rng.randint(0, 32)}")
            else:
                base = rng.randrange(2**128)
                ips = ips | IPSet.from_cidr(f"{ipaddress.IPv6Address(base)}/{rng.randint(0, 128)}")
        runs = classify_runs(ips)
        union = IPSet()
        for run, cls in runs:
            assert run <= class_set(cls)
            assert not (union & run)
            union = union | run
        assert union == ips
        expected = {cls: piece for piece, cls in classify(ips)}
        for cls in expected:
            got = IPSet()
            for run, c in runs:
                if c is cls:
                    got = got | run
            assert got == expected[cls]
