"""IntervalSet, ConnSet and IPSet: construction, canonical form and set operations."""

from __future__ import annotations

from itertools import pairwise

import pytest

from microseg.model.sets import (
    ALL_PORTS,
    BASE_PROTOCOLS,
    IPV4_MAX,
    IPV6_MAX,
    PORT_MAX,
    PORT_MIN,
    ConnSet,
    IntervalSet,
    IPSet,
    Protocol,
)


def assert_canonical(s: IntervalSet) -> None:
    """Sorted, each interval non-empty, disjoint and not adjacent to the next."""
    for lo, hi in s.intervals:
        assert lo <= hi
    for (_, hi1), (lo2, _) in pairwise(s.intervals):
        assert hi1 + 1 < lo2, s.intervals


# --- IntervalSet: canonical form -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ([], ()),
        ([(5, 5)], ((5, 5),)),
        ([(1, 3), (4, 6)], ((1, 6),)),  # adjacent intervals merge
        ([(4, 6), (1, 3)], ((1, 6),)),  # order of input does not matter
        ([(1, 3), (5, 6)], ((1, 3), (5, 6))),  # a gap of one keeps them apart
        ([(1, 10), (3, 4)], ((1, 10),)),  # contained interval disappears
        ([(1, 5), (3, 8)], ((1, 8),)),  # overlapping intervals merge
        ([(2, 2), (2, 2), (2, 2)], ((2, 2),)),  # duplicates
        ([(5, 4)], ()),  # empty interval (lo > hi) is dropped
        ([(7, 9), (9, 3), (1, 1), (2, 2), (3, 3)], ((1, 3), (7, 9))),
        ([(1, 1), (3, 3), (2, 2)], ((1, 3),)),  # single points chain into one interval
    ],
)
def test_of_builds_canonical_intervals(
    given: list[tuple[int, int]], canonical: tuple[tuple[int, int], ...]
) -> None:
    s = IntervalSet.of(given)
    assert s.intervals == canonical
    assert_canonical(s)


def test_equal_sets_built_differently_are_equal_and_hash_equal() -> None:
    a = IntervalSet.of([(1, 3), (4, 10), (20, 20)])
    b = IntervalSet.of([(20, 20), (1, 10)])
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_span_and_empty() -> None:
    assert IntervalSet.span(3, 7).intervals == ((3, 7),)
    assert IntervalSet.span(7, 3) == IntervalSet()
    assert not IntervalSet()
    assert not IntervalSet.span(7, 3)
    assert IntervalSet.span(1, 1)


def test_contains_size_and_iteration() -> None:
    s = IntervalSet.of([(1, 3), (10, 12)])
    assert 1 in s
    assert 3 in s
    assert 4 not in s
    assert 9 not in s
    assert 12 in s
    assert 13 not in s
    assert "1" not in s
    assert s.size() == 6
    assert list(s) == [(1, 3), (10, 12)]
    assert IntervalSet().size() == 0


# --- IntervalSet: operations ----------------------------------------------------------------


def test_union_merges_adjacent_results() -> None:
    a = IntervalSet.of([(1, 3), (10, 12)])
    b = IntervalSet.of([(4, 9)])
    u = a | b
    assert u.intervals == ((1, 12),)
    assert u == a.union(b)


def test_intersection() -> None:
    a = IntervalSet.of([(1, 10), (20, 30)])
    b = IntervalSet.of([(5, 25)])
    assert (a & b).intervals == ((5, 10), (20, 25))
    assert a.intersection(IntervalSet()) == IntervalSet()
    assert (a & IntervalSet.of([(11, 19)])) == IntervalSet()
    assert (a & a) == a


def test_difference_splits_and_trims() -> None:
    a = IntervalSet.span(1, 100)
    b = IntervalSet.of([(10, 20), (30, 30), (90, 200)])
    assert (a - b).intervals == ((1, 9), (21, 29), (31, 89))
    assert (b - a).intervals == ((101, 200),)
    assert (a - a) == IntervalSet()
    assert (a - IntervalSet()) == a
    assert (IntervalSet() - a) == IntervalSet()


def test_difference_with_many_subtrahends_per_interval() -> None:
    a = IntervalSet.of([(1, 10), (12, 20)])
    b = IntervalSet.of([(2, 2), (4, 4), (9, 13), (15, 15)])
    assert (a - b).intervals == ((1, 1), (3, 3), (5, 8), (14, 14), (16, 20))


def test_subset() -> None:
    a = IntervalSet.of([(5, 6)])
    b = IntervalSet.of([(1, 10)])
    assert a <= b
    assert a.issubset(b)
    assert not b <= a
    assert IntervalSet() <= a
    assert a <= a
    assert not IntervalSet.of([(5, 6), (11, 11)]) <= b


def test_operations_do_not_mutate_operands() -> None:
    a = IntervalSet.of([(1, 10)])
    b = IntervalSet.of([(5, 15)])
    _ = a | b, a & b, a - b
    assert a.intervals == ((1, 10),)
    assert b.intervals == ((5, 15),)


def test_all_ports_constant() -> None:
    assert ALL_PORTS.intervals == ((PORT_MIN, PORT_MAX),)
    assert ALL_PORTS.size() == 65535


# --- ConnSet --------------------------------------------------------------------------------


def test_connset_of_drops_empty_protocols_and_orders_by_protocol() -> None:
    c = ConnSet.of(
        {
            Protocol.UDP: IntervalSet.span(53, 53),
            Protocol.TCP: IntervalSet.span(80, 80),
            Protocol.SCTP: IntervalSet(),
        }
    )
    assert [p for p, _ in c.ports] == [Protocol.TCP, Protocol.UDP]
    assert ConnSet.of({Protocol.TCP: IntervalSet()}) == ConnSet.none()
    assert not ConnSet.none()
    assert c


def test_connset_protocol_order_is_sctp_tcp_udp() -> None:
    c = ConnSet.of({p: IntervalSet.span(1, 1) for p in reversed(list(BASE_PROTOCOLS))})
    assert [p for p, _ in c.ports] == [Protocol.SCTP, Protocol.TCP, Protocol.UDP]


def test_connset_single_and_contains() -> None:
    c = ConnSet.single(Protocol.TCP, 8000, 8080)
    assert c.contains(Protocol.TCP, 8000)
    assert c.contains(Protocol.TCP, 8080)
    assert not c.contains(Protocol.TCP, 8081)
    assert not c.contains(Protocol.UDP, 8000)
    assert ConnSet.single(Protocol.UDP, 53).get(Protocol.UDP).intervals == ((53, 53),)
    assert c.get(Protocol.SCTP) == IntervalSet()


def test_connset_all() -> None:
    everything = ConnSet.all()
    assert everything.is_all()
    for p in BASE_PROTOCOLS:
        assert everything.get(p) == ALL_PORTS
    assert not (everything - ConnSet.single(Protocol.TCP, 1)).is_all()
    assert not ConnSet.none().is_all()
    # built piecewise it is still "all"
    pieces = ConnSet.none()
    for p in BASE_PROTOCOLS:
        pieces = pieces | ConnSet.single(p, 1, 100) | ConnSet.single(p, 101, PORT_MAX)
    assert pieces.is_all()
    assert pieces == everything


def test_connset_union_intersection_difference() -> None:
    web = ConnSet.single(Protocol.TCP, 80) | ConnSet.single(Protocol.TCP, 443)
    dns = ConnSet.single(Protocol.UDP, 53) | ConnSet.single(Protocol.TCP, 53)
    u = web | dns
    assert u.get(Protocol.TCP).intervals == ((53, 53), (80, 80), (443, 443))
    assert u.get(Protocol.UDP).intervals == ((53, 53),)
    assert (u & dns) == dns
    assert (u - dns) == web
    assert (web & dns) == ConnSet.none()
    assert dns <= u
    assert not u <= dns
    assert ConnSet.none() <= web
    # difference removes a protocol entirely when nothing is left of it
    assert [p for p, _ in (u - ConnSet.single(Protocol.UDP, 1, PORT_MAX)).ports] == [Protocol.TCP]


def test_connset_adjacent_ranges_merge() -> None:
    a = ConnSet.single(Protocol.TCP, 8000, 8049) | ConnSet.single(Protocol.TCP, 8050, 8100)
    assert a == ConnSet.single(Protocol.TCP, 8000, 8100)
    assert a.get(Protocol.TCP).intervals == ((8000, 8100),)


def test_connset_as_dict() -> None:
    c = ConnSet.single(Protocol.SCTP, 7) | ConnSet.single(Protocol.UDP, 9)
    assert c.as_dict() == {
        Protocol.SCTP: IntervalSet.span(7, 7),
        Protocol.UDP: IntervalSet.span(9, 9),
    }


# --- IPSet ----------------------------------------------------------------------------------


def test_ipset_from_cidr() -> None:
    s = IPSet.from_cidr("10.0.0.0/8")
    assert s.v4.intervals == ((10 << 24, (11 << 24) - 1),)
    assert s.v6 == IntervalSet()
    # host bits are ignored, as the API server does
    assert IPSet.from_cidr("10.1.2.3/8") == s
    assert IPSet.from_cidr(" 10.0.0.0/8 ") == s


def test_ipset_from_cidr_v6_and_single_address() -> None:
    s = IPSet.from_cidr("2001:db8::/32")
    assert s.v4 == IntervalSet()
    lo = 0x20010DB8 << 96
    assert s.v6.intervals == ((lo, lo + 2**96 - 1),)
    assert IPSet.from_cidr("192.0.2.7/32") == IPSet.from_address("192.0.2.7")
    assert IPSet.from_address("::1").v6.intervals == ((1, 1),)


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-cidr", "300.0.0.0/8", "", "10.0.0.0/-1"])
def test_ipset_from_cidr_rejects_invalid(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - ipaddress's messages vary
        IPSet.from_cidr(bad)


def test_ipset_everything_and_all_v4() -> None:
    assert IPSet.all_v4().v4.intervals == ((0, IPV4_MAX),)
    assert not IPSet.all_v4().v6
    e = IPSet.everything()
    assert e.v4.intervals == ((0, IPV4_MAX),)
    assert e.v6.intervals == ((0, IPV6_MAX),)
    assert IPSet.all_v4() <= e
    assert not e <= IPSet.all_v4()


def test_ipset_ipblock_with_except() -> None:
    block = IPSet.all_v4() - IPSet.from_cidr("169.254.169.254/32")
    assert list(block.ranges()) == [
        ("0.0.0.0", "169.254.169.253"),
        ("169.254.169.255", "255.255.255.255"),
    ]
    assert block.contains_address("8.8.8.8")
    assert not block.contains_address("169.254.169.254")
    assert not block.contains_address("::1")


def test_ipset_operations_keep_families_apart() -> None:
    a = IPSet.from_cidr("10.0.0.0/24") | IPSet.from_cidr("fd00::/64")
    b = IPSet.from_cidr("10.0.0.128/25")
    assert (a & b) == b
    assert (a - b).v4 == IPSet.from_cidr("10.0.0.0/25").v4
    assert (a - b).v6 == a.v6
    assert b <= a
    assert not a <= b
    assert not IPSet()
    assert a
    # union of two adjacent /25s is the /24
    assert IPSet.from_cidr("10.0.0.0/25") | IPSet.from_cidr("10.0.0.128/25") == IPSet.from_cidr(
        "10.0.0.0/24"
    )


def test_ipset_ranges_lists_v4_then_v6() -> None:
    s = IPSet.from_cidr("fd00::/127") | IPSet.from_cidr("192.0.2.0/31")
    assert list(s.ranges()) == [("192.0.2.0", "192.0.2.1"), ("fd00::", "fd00::1")]
