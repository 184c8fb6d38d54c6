"""format_conns and friends: netpol-analyzer's connection grammar."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microseg.model.sets import BASE_PROTOCOLS, ConnSet, IntervalSet, IPSet, Protocol
from microseg.render.conns import format_conns, format_ip_ranges, format_ports

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP


def tcp(*ports: int) -> ConnSet:
    out = ConnSet.none()
    for p in ports:
        out = out | ConnSet.single(TCP, p)
    return out


@pytest.mark.parametrize(
    ("conns", "text"),
    [
        (ConnSet.all(), "All Connections"),
        (ConnSet.none(), "No Connections"),
        (tcp(80), "TCP 80"),
        (tcp(443, 80), "TCP 80,443"),
        (tcp(80, 443) | ConnSet.single(UDP, 53), "TCP 80,443,UDP 53"),
        (ConnSet.single(TCP, 8000, 8100), "TCP 8000-8100"),
        (tcp(443) | ConnSet.single(TCP, 8000, 8100), "TCP 443,8000-8100"),
        # adjacent ports print as one range
        (tcp(80, 81, 82), "TCP 80-82"),
        # protocols print SCTP < TCP < UDP whatever the order of construction
        (
            ConnSet.single(UDP, 53) | ConnSet.single(TCP, 53) | ConnSet.single(SCTP, 9),
            "SCTP 9,TCP 53,UDP 53",
        ),
        # one whole protocol is not "All Connections"
        (ConnSet.single(TCP, 1, 65535), "TCP 1-65535"),
        (
            ConnSet.single(TCP, 1, 65535) | ConnSet.single(UDP, 1, 65535),
            "TCP 1-65535,UDP 1-65535",
        ),
        (ConnSet.all() - ConnSet.single(UDP, 53), "SCTP 1-65535,TCP 1-65535,UDP 1-52,54-65535"),
    ],
)
def test_format_conns(conns: ConnSet, text: str) -> None:
    assert format_conns(conns) == text


def test_format_ports() -> None:
    assert format_ports(IntervalSet()) == ""
    assert format_ports(IntervalSet.of([(1, 1)])) == "1"
    assert format_ports(IntervalSet.of([(1, 2), (5, 5), (7, 9)])) == "1-2,5,7-9"


GRAMMAR = re.compile(
    r"^(SCTP|TCP|UDP) \d+(-\d+)?(,\d+(-\d+)?)*(,(SCTP|TCP|UDP) \d+(-\d+)?(,\d+(-\d+)?)*)*$"
)

port_sets = st.lists(
    st.tuples(st.integers(1, 65535), st.integers(1, 65535)).map(lambda t: (min(t), max(t))),
    max_size=4,
).map(IntervalSet.of)
conn_sets = st.dictionaries(st.sampled_from(list(BASE_PROTOCOLS)), port_sets).map(ConnSet.of)


def parse(text: str) -> ConnSet:
    """Read format_conns output back, to check nothing is lost."""
    out = ConnSet.none()
    proto = TCP
    for part in text.split(","):
        if " " in part:
            name, part = part.split(" ")
            proto = Protocol(name)
        lo, _, hi = part.partition("-")
        out = out | ConnSet.single(proto, int(lo), int(hi or lo))
    return out


@given(conn_sets)
def test_format_conns_grammar_and_round_trip(conns: ConnSet) -> None:
    text = format_conns(conns)
    if conns.is_all():
        assert text == "All Connections"
    elif not conns:
        assert text == "No Connections"
    else:
        assert GRAMMAR.match(text), text
        names = re.findall(r"(SCTP|TCP|UDP)", text)
        assert names == sorted(names, key=["SCTP", "TCP", "UDP"].index)
        assert len(names) == len(set(names))
        assert parse(text) == conns


def test_format_ip_ranges() -> None:
    assert format_ip_ranges(IPSet()) == []
    assert format_ip_ranges(IPSet.from_cidr("198.51.100.0/24")) == ["198.51.100.0-198.51.100.255"]
    block = IPSet.all_v4() - IPSet.from_cidr("169.254.169.254/32")
    assert format_ip_ranges(block) == [
        "0.0.0.0-169.254.169.253",
        "169.254.169.255-255.255.255.255",
    ]
    assert format_ip_ranges(IPSet.from_cidr("fd00::/120") | IPSet.from_address("10.0.0.1")) == [
        "10.0.0.1-10.0.0.1",
        "fd00::-fd00::ff",
    ]
