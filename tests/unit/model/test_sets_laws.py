"""Set-algebra laws for IntervalSet, ConnSet and IPSet, checked against Python sets of ints.

The universes are small so that every set can be enumerated: canonical equality must be
exactly semantic equality.
"""

from __future__ import annotations

import ipaddress
import random
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from microseg.model.sets import BASE_PROTOCOLS, ConnSet, IntervalSet, IPSet, Protocol

LO, HI = 0, 40
UNIVERSE = IntervalSet.span(LO, HI)

intervals = st.tuples(st.integers(LO, HI), st.integers(LO, HI))
interval_sets = st.lists(intervals, max_size=6).map(IntervalSet.of)

PORT_HI = 24  # ports 1..24 keep the enumeration small
port_sets = st.lists(st.tuples(st.integers(1, PORT_HI), st.integers(1, PORT_HI)), max_size=4).map(
    IntervalSet.of
)
conn_sets = st.dictionaries(st.sampled_from(list(BASE_PROTOCOLS)), port_sets).map(ConnSet.of)
CONN_UNIVERSE = ConnSet.of(dict.fromkeys(Protocol, IntervalSet.span(1, PORT_HI)))

ip_sets = st.builds(IPSet, interval_sets, interval_sets)
IP_UNIVERSE = IPSet(UNIVERSE, UNIVERSE)


def ints(s: IntervalSet) -> set[int]:
    return {x for lo, hi in s for x in range(lo, hi + 1)}


def pairs(c: ConnSet) -> set[tuple[Protocol, int]]:
    return {(p, x) for p, ports in c.ports for x in ints(ports)}


def addrs(s: IPSet) -> set[tuple[int, int]]:
    return {(4, x) for x in ints(s.v4)} | {(6, x) for x in ints(s.v6)}


def is_canonical(s: IntervalSet) -> bool:
    ok = all(lo <= hi for lo, hi in s.intervals)
    return ok and all(a[1] + 1 < b[0] for a, b in pairwise(s.intervals))


# --- IntervalSet ----------------------------------------------------------------------------


@given(interval_sets, interval_sets)
def test_interval_ops_match_python_sets(a: IntervalSet, b: IntervalSet) -> None:
    for result, expected in (
        (a | b, ints(a) | ints(b)),
        (a & b, ints(a) & ints(b)),
        (a - b, ints(a) - ints(b)),
    ):
        assert ints(result) == expected
        assert is_canonical(result)
    assert (a <= b) == (ints(a) <= ints(b))
    assert a.size() == len(ints(a))
    assert bool(a) == bool(ints(a))


@given(interval_sets, interval_sets)
def test_interval_canonical_equality_is_semantic_equality(a: IntervalSet, b: IntervalSet) -> None:
    assert (a == b) == (ints(a) == ints(b))
    if a == b:
        assert hash(a) == hash(b)


@given(st.lists(intervals, max_size=8))
def test_interval_of_is_canonical_and_keeps_the_points(raw: list[tuple[int, int]]) -> None:
    s = IntervalSet.of(raw)
    assert is_canonical(s)
    assert ints(s) == {x for lo, hi in raw for x in range(lo, hi + 1)}
    # rebuilding from the canonical form is a fixed point
    assert IntervalSet.of(s.intervals) == s


@given(st.lists(intervals, max_size=8), st.randoms(use_true_random=False))
def test_interval_of_ignores_input_order(raw: list[tuple[int, int]], rnd: random.Random) -> None:
    shuffled = list(raw)
    rnd.shuffle(shuffled)
    assert IntervalSet.of(shuffled) == IntervalSet.of(raw)


@given(interval_sets, interval_sets)
def test_interval_commutativity(a: IntervalSet, b: IntervalSet) -> None:
    assert a | b == b | a
    assert a & b == b & a


@given(interval_sets, interval_sets, interval_sets)
def test_interval_associativity_and_distributivity(
    a: IntervalSet, b: IntervalSet, c: IntervalSet
) -> None:
    assert (a | b) | c == a | (b | c)
    assert (a & b) & c == a & (b & c)
    assert a & (b | c) == (a & b) | (a & c)
    assert a | (b & c) == (a | b) & (a | c)
    assert a - (b | c) == (a - b) - c


@given(interval_sets, interval_sets)
def test_interval_de_morgan(a: IntervalSet, b: IntervalSet) -> None:
    assert UNIVERSE - (a | b) == (UNIVERSE - a) & (UNIVERSE - b)
    assert UNIVERSE - (a & b) == (UNIVERSE - a) | (UNIVERSE - b)


@given(interval_sets, interval_sets)
def test_interval_difference_identities(a: IntervalSet, b: IntervalSet) -> None:
    assert a - b == a & (UNIVERSE - b)
    assert (a - b) | (a & b) == a
    assert (a - b) & b == IntervalSet()
    assert (a - b) & (a & b) == IntervalSet()
    assert a - a == IntervalSet()
    assert a | a == a
    assert a & a == a
    assert a | IntervalSet() == a
    assert a & IntervalSet() == IntervalSet()
    assert (a & b) <= a
    assert a <= (a | b)
    assert (a <= b) == (a | b == b) == (a & b == a)


# --- ConnSet --------------------------------------------------------------------------------


@given(conn_sets, conn_sets)
def test_conn_ops_match_python_sets(a: ConnSet, b: ConnSet) -> None:
    assert pairs(a | b) == pairs(a) | pairs(b)
    assert pairs(a & b) == pairs(a) & pairs(b)
    assert pairs(a - b) == pairs(a) - pairs(b)
    assert (a <= b) == (pairs(a) <= pairs(b))
    assert (a == b) == (pairs(a) == pairs(b))
    assert bool(a) == bool(pairs(a))
    for result in (a | b, a & b, a - b):
        # no protocol is kept with an empty port set, and protocols stay in enum order
        assert all(ports for _, ports in result.ports)
        order = [p for p, _ in result.ports]
        assert order == [p for p in BASE_PROTOCOLS if p in order]


@given(conn_sets, conn_sets, conn_sets)
def test_conn_laws(a: ConnSet, b: ConnSet, c: ConnSet) -> None:
    assert a | b == b | a
    assert a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert (a & b) & c == a & (b & c)
    assert a & (b | c) == (a & b) | (a & c)
    assert CONN_UNIVERSE - (a | b) == (CONN_UNIVERSE - a) & (CONN_UNIVERSE - b)
    assert CONN_UNIVERSE - (a & b) == (CONN_UNIVERSE - a) | (CONN_UNIVERSE - b)
    assert a - b == a & (CONN_UNIVERSE - b)
    assert (a - b) | (a & b) == a


@given(conn_sets)
def test_conn_all_is_top(a: ConnSet) -> None:
    assert a <= ConnSet.all()
    assert a | ConnSet.all() == ConnSet.all()
    assert a & ConnSet.all() == a
    assert (a | ConnSet.all()).is_all()
    assert (ConnSet.all() - a).is_all() == (not a)


# --- IPSet ----------------------------------------------------------------------------------


@given(ip_sets, ip_sets)
def test_ip_ops_match_python_sets(a: IPSet, b: IPSet) -> None:
    assert addrs(a | b) == addrs(a) | addrs(b)
    assert addrs(a & b) == addrs(a) & addrs(b)
    assert addrs(a - b) == addrs(a) - addrs(b)
    assert (a <= b) == (addrs(a) <= addrs(b))
    assert (a == b) == (addrs(a) == addrs(b))
    assert bool(a) == bool(addrs(a))


@given(ip_sets, ip_sets, ip_sets)
def test_ip_laws(a: IPSet, b: IPSet, c: IPSet) -> None:
    assert a | b == b | a
    assert a & b == b & a
    assert (a | b) | c == a | (b | c)
    assert (a & b) & c == a & (b & c)
    assert IP_UNIVERSE - (a | b) == (IP_UNIVERSE - a) & (IP_UNIVERSE - b)
    assert IP_UNIVERSE - (a & b) == (IP_UNIVERSE - a) | (IP_UNIVERSE - b)
    assert (a - b) | (a & b) == a
    assert (a - b) & b == IPSet()


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_ip_cidr_contains_its_addresses(address: int, prefix: int) -> None:
    net = ipaddress.ip_network((address, prefix), strict=False)
    s = IPSet.from_cidr(str(net))
    assert s.v4.size() == net.num_addresses
    assert s.contains_address(str(ipaddress.IPv4Address(address)))
    assert s.contains_address(str(net.network_address))
    assert s.contains_address(str(net.broadcast_address))
