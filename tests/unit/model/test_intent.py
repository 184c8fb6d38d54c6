"""The intent model: the port grammar shared with the CLI, and what intents say of themselves."""

from __future__ import annotations

import pytest

from microseg.model.intent import FlowIntent, FlowKind, IntentPort, parse_intent_port
from microseg.model.sets import ConnSet, Protocol


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TCP/8080", IntentPort(Protocol.TCP, 8080, 8080)),
        ("udp/53", IntentPort(Protocol.UDP, 53, 53)),
        ("TCP/8000-8080", IntentPort(Protocol.TCP, 8000, 8080)),
        ("SCTP/http", IntentPort(Protocol.SCTP, name="http")),
        ("443", IntentPort(Protocol.TCP, 443, 443)),
    ],
)
def test_port_grammar(text: str, expected: IntentPort) -> None:
    assert parse_intent_port(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ICMP/1", "protocol must be TCP, UDP or SCTP"),
        ("TCP/0", "1-65535"),
        ("TCP/90-80", "start <= end"),
        ("TCP/70000", "1-65535"),
        ("TCP/Not_A_Name", "expected PROTO/PORT"),
        ("TCP/", "expected PROTO/PORT"),
    ],
)
def test_port_grammar_rejects(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(")):
        parse_intent_port(text)


def test_named_ports_have_no_numeric_part() -> None:
    assert parse_intent_port("TCP/http").numeric() == ConnSet()
    assert parse_intent_port("TCP/80-81").numeric() == ConnSet.single(Protocol.TCP, 80, 81)
    assert str(parse_intent_port("tcp/80-81")) == "TCP/80-81"


def test_flow_descriptions_state_the_quantifier() -> None:
    allow = FlowIntent(FlowKind.ALLOW, "x", 0, "a", "b")
    deny = FlowIntent(FlowKind.DENY, "x", 2, "a", "b", (parse_intent_port("TCP/80"),))
    assert allow.describe() == "a must reach b on all connections"
    assert deny.describe() == "a must not reach b on TCP/80"
    assert (allow.id, deny.id) == ("x/allow[0]", "x/deny[2]")
