"""parse_port: the `--port` value of `microseg reach`."""

from __future__ import annotations

import pytest

from microseg.cli.args import PortArg, parse_port
from microseg.model.sets import ConnSet, Protocol


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TCP/8080", PortArg(Protocol.TCP, 8080, 8080)),
        ("UDP/53", PortArg(Protocol.UDP, 53, 53)),
        ("SCTP/9", PortArg(Protocol.SCTP, 9, 9)),
        ("TCP/8000-8080", PortArg(Protocol.TCP, 8000, 8080)),
        ("TCP/1-65535", PortArg(Protocol.TCP, 1, 65535)),
        ("TCP/80-80", PortArg(Protocol.TCP, 80, 80)),
        ("8080", PortArg(Protocol.TCP, 8080, 8080)),  # TCP by default
        ("8000-8080", PortArg(Protocol.TCP, 8000, 8080)),
        ("tcp/443", PortArg(Protocol.TCP, 443, 443)),  # protocol is case-insensitive
        ("udp/53", PortArg(Protocol.UDP, 53, 53)),
        (" TCP/22 ", PortArg(Protocol.TCP, 22, 22)),
        ("TCP/http", PortArg(Protocol.TCP, name="http")),
        ("UDP/dns", PortArg(Protocol.UDP, name="dns")),
        ("http", PortArg(Protocol.TCP, name="http")),
        ("TCP/metrics", PortArg(Protocol.TCP, name="metrics")),
    ],
)
def test_accepts(text: str, expected: PortArg) -> None:
    assert parse_port(text) == expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # IANA service names may contain hyphens; the demo's CoreDNS names its port `dns-tcp`
        ("TCP/dns-tcp", "dns-tcp"),
        ("TCP/http-alt", "http-alt"),
        ("UDP/my-svc-1", "my-svc-1"),
    ],
)
def test_accepts_named_ports_with_hyphens(text: str, name: str) -> None:
    arg = parse_port(text)
    assert arg.name == name
    assert (arg.start, arg.end) == (0, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GRE/8", "protocol must be TCP, UDP or SCTP"),
        ("HTTP/80", "protocol must be TCP, UDP or SCTP"),
        ("/80", "protocol must be TCP, UDP or SCTP"),
        ("TCP/0", "ports must be 1-65535 with start <= end"),
        ("TCP/65536", "ports must be 1-65535 with start <= end"),
        ("TCP/99999999999999999999", "ports must be 1-65535 with start <= end"),
        ("TCP/8080-8000", "ports must be 1-65535 with start <= end"),
        ("TCP/0-10", "ports must be 1-65535 with start <= end"),
        ("TCP/", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("TCP/8000-", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("TCP/-8000", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("TCP/80-90-100", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("TCP/80/90", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("TCP/ht tp", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("TCP/http_alt", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
        ("TCP/80.5", "expected PROTO/PORT, PROTO/START-END or PROTO/NAME"),
    ],
)
def test_rejects_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="--port") as info:
        parse_port(text)
    assert message in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["TCP/²", "TCP/8080-²"])
def test_rejects_unicode_digits_with_a_clear_message(text: str) -> None:
    # str.isdigit() accepts "²", which int() then refuses with a raw Python message.
    with pytest.raises(ValueError, match="--port") as info:
        parse_port(text)
    assert "invalid literal" not in str(info.value)


def test_port_arg_conns() -> None:
    assert parse_port("TCP/5432").conns() == ConnSet.single(Protocol.TCP, 5432)
    assert parse_port("UDP/1000-2000").conns() == ConnSet.single(Protocol.UDP, 1000, 2000)


@pytest.mark.parametrize(
    ("text", "protocol", "start", "end"),
    [
        ("ICMP", Protocol.ICMP, 0, 65535),
        ("icmp/8", Protocol.ICMP, 8 * 256, 8 * 256 + 255),
        ("ICMP/8/0", Protocol.ICMP, 8 * 256, 8 * 256),
        ("ICMPv6/128", Protocol.ICMPV6, 128 * 256, 128 * 256 + 255),
        ("UDPLite/53", Protocol.UDPLITE, 53, 53),
        ("UDPLite/1000-2000", Protocol.UDPLITE, 1000, 2000),
        ("IP/47", Protocol.IP, 47, 47),
    ],
)
def test_calico_protocols(text: str, protocol: Protocol, start: int, end: int) -> None:
    """The protocols only Calico rules name; ICMP keeps type * 256 + code (model/sets.py)."""
    port = parse_port(text)
    assert (port.protocol, port.start, port.end) == (protocol, start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ICMP/256", "the ICMP type must be a number 0-255"),
        ("ICMP/8/x", "the ICMP code must be a number 0-255"),
        ("UDPLite/0", "ports must be 1-65535"),
        ("IP/6", "protocol 6 is TCP: name it"),
        ("IP/0", "protocol numbers are 1-255"),
    ],
)
def test_calico_protocols_rejected_clearly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="--port") as info:
        parse_port(text)
    assert message in str(info.value)
