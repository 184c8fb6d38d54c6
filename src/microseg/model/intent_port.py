"""The port grammar of intents and of the CLI's `--port` (`IntentPort`, `parse_intent_port`).

Apart from model/intent.py, which re-exports both, so that a command that parses `--port`
(`microseg reach`) does not load the intent model with it (issue 22: start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

from microseg.model.netpol import port_name_error
from microseg.model.sets import BASE_PROTOCOLS, ConnSet, Protocol

__all__ = ["IntentPort", "parse_intent_port"]


@dataclass(frozen=True, slots=True)
class IntentPort:
    """`TCP/8080`, `UDP/53`, `TCP/8000-8080` (numbers) or `TCP/http` (a named container port,
    resolved on each destination pod as a NetworkPolicy named port is)."""

    protocol: Protocol
    start: int = 0
    end: int = 0
    name: str = ""

    def numeric(self) -> ConnSet:
        return ConnSet.single(self.protocol, self.start, self.end) if not self.name else ConnSet()

    def __str__(self) -> str:
        if self.name:
            return f"{self.protocol.value}/{self.name}"
        if self.start == self.end:
            return f"{self.protocol.value}/{self.start}"
        return f"{self.protocol.value}/{self.start}-{self.end}"


_BASE_BY_NAME = {p.value: p for p in BASE_PROTOCOLS}


def parse_intent_port(text: str) -> IntentPort:
    """The CLI's port grammar (UX.md): `PROTO/PORT`, `PROTO/START-END`, `PROTO/NAME`, or a bare
    number for TCP. Raises ValueError with a message that says what was expected."""
    proto_text, sep, port_text = text.strip().partition("/")
    if not sep:
        proto_text, port_text = "TCP", proto_text
    protocol = _BASE_BY_NAME.get(proto_text.upper())
    if protocol is None:
        raise ValueError(f"{text!r}: protocol must be TCP, UDP or SCTP")
    lo_text, dash, hi_text = port_text.partition("-")
    if (
        lo_text.isascii()
        and lo_text.isdigit()
        and (not dash or (hi_text.isascii() and hi_text.isdigit()))
    ):
        lo = int(lo_text)
        hi = int(hi_text) if dash else lo
        if not 1 <= lo <= hi <= 65535:
            raise ValueError(f"{text!r}: ports must be 1-65535 with start <= end")
        return IntentPort(protocol, lo, hi)
    if port_text and port_name_error(port_text) is None:
        return IntentPort(protocol, name=port_text)
    raise ValueError(f"{text!r}: expected PROTO/PORT, PROTO/START-END or PROTO/NAME, e.g. TCP/8080")
