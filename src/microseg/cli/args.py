"""Parsing command-line values: `TCP/8080`, `UDP/53`, `TCP/8000-8080`, `TCP/http`, `8080`."""

from __future__ import annotations

from dataclasses import dataclass

from microseg.model.netpol import port_name_error
from microseg.model.sets import ConnSet, Protocol

__all__ = ["PortArg", "parse_port"]


@dataclass(frozen=True, slots=True)
class PortArg:
    protocol: Protocol
    start: int = 0
    end: int = 0
    name: str = ""

    def conns(self) -> ConnSet:
        return ConnSet.single(self.protocol, self.start, self.end)


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_port(text: str) -> PortArg:
    """Raises ValueError with a message that says what was expected."""
    proto_text, sep, port_text = text.strip().partition("/")
    if not sep:
        proto_text, port_text = "TCP", proto_text
    try:
        protocol = Protocol(proto_text.upper())
    except ValueError:
        raise ValueError(f"--port {text!r}: protocol must be TCP, UDP or SCTP") from None
    lo_text, dash, hi_text = port_text.partition("-")
    if _number(lo_text) and (not dash or _number(hi_text)):
        lo = int(lo_text)
        hi = int(hi_text) if dash else lo
        if not 1 <= lo <= hi <= 65535:
            raise ValueError(f"--port {text!r}: ports must be 1-65535 with start <= end")
        return PortArg(protocol, lo, hi)
    if port_text and port_name_error(port_text) is None:
        return PortArg(protocol, name=port_text)
    raise ValueError(
        f"--port {text!r}: expected PROTO/PORT, PROTO/START-END or PROTO/NAME, e.g. TCP/8080"
    )
