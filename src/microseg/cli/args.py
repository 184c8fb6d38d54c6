"""Parsing command-line values: `TCP/8080`, `UDP/53`, `TCP/8000-8080`, `TCP/http`, `8080`;
sizes such as `200M`, `1Gi` or `1048576`; and the protocols only Calico rules name: `ICMP`,
`ICMP/8`, `ICMP/8/0` (type, code), `ICMPv6/128`, `UDPLite/53`, `IP/47` (a protocol by number)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from microseg.cli.usage import OptionValueError
from microseg.model.sets import PROTOCOL_NUMBERS, ConnSet, Protocol

__all__ = ["PortArg", "parse_port", "parse_size", "port_value", "size_value"]


@dataclass(frozen=True, slots=True)
class PortArg:
    protocol: Protocol
    start: int = 0
    end: int = 0
    name: str = ""
    # As typed, for messages that quote it (blast-radius's unknown port name); not compared.
    text: str = field(default="", compare=False, repr=False)

    def conns(self) -> ConnSet:
        return ConnSet.single(self.protocol, self.start, self.end)


def parse_port(text: str) -> PortArg:
    """Raises ValueError with a message that says what was expected. The grammar is the
    intents' one (model/intent.py), so that `--port` and intent `ports` never drift apart."""
    extra = _calico_port(text)
    if extra is not None:
        return extra
    # Imported here: it brings the NetworkPolicy model, which `--help` never needs.
    from microseg.model.intent_port import parse_intent_port

    try:
        port = parse_intent_port(text)
    except ValueError as exc:
        raise ValueError(f"--port {exc}") from None
    return PortArg(port.protocol, port.start, port.end, port.name, text)


_EXTRA = {"ICMP": Protocol.ICMP, "ICMPV6": Protocol.ICMPV6, "UDPLITE": Protocol.UDPLITE}
_NAMED_NUMBERS = {n: p for p, n in PROTOCOL_NUMBERS.items()}


def _number(text: str, what: str, top: int, whole: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > top:
        raise ValueError(f"--port {whole!r}: {what} must be a number 0-{top}")
    return int(text)


def _calico_port(text: str) -> PortArg | None:
    """ICMP and ICMPv6 `[/TYPE[/CODE]]` (ports type*256+code, as model/sets.py keeps them),
    `UDPLite/PORT[-END]`, `IP/N`; None for anything else (the intents' grammar)."""
    head, _, rest = text.strip().partition("/")
    proto = _EXTRA.get(head.upper())
    if proto in (Protocol.ICMP, Protocol.ICMPV6):
        if not rest:
            return PortArg(proto, 0, 65535, text=text)
        type_text, slash, code_text = rest.partition("/")
        icmp_type = _number(type_text, "the ICMP type", 255, text)
        if not slash:
            return PortArg(proto, icmp_type * 256, icmp_type * 256 + 255, text=text)
        code = _number(code_text, "the ICMP code", 255, text)
        return PortArg(proto, icmp_type * 256 + code, icmp_type * 256 + code, text=text)
    if proto is Protocol.UDPLITE:
        lo_text, dash, hi_text = rest.partition("-")
        lo = _number(lo_text, "the port", 65535, text)
        hi = _number(hi_text, "the port", 65535, text) if dash else lo
        if not 1 <= lo <= hi:
            raise ValueError(f"--port {text!r}: ports must be 1-65535 with start <= end")
        return PortArg(proto, lo, hi, text=text)
    if head.upper() == "IP" and rest:
        number = _number(rest, "the protocol number", 255, text)
        named = _NAMED_NUMBERS.get(number)
        if number == 0:
            raise ValueError(f"--port {text!r}: protocol numbers are 1-255")
        if named is not None:
            raise ValueError(f"--port {text!r}: protocol {number} is {named.value}: name it")
        return PortArg(Protocol.IP, number, number, text=text)
    return None


def port_value(text: str | PortArg) -> PortArg:
    """The `parser=` of every `--port` option (options.port_option): parse_port's message,
    as a usage error that typer reports with exit 2 before the command runs."""
    if isinstance(text, PortArg):
        return text
    try:
        return parse_port(text)
    except ValueError as exc:
        raise OptionValueError(str(exc)) from None


# Kubernetes quantity suffixes (https://kubernetes.io/docs/reference/kubernetes-api/
# common-definitions/quantity/): decimal k, M, G, T and binary Ki, Mi, Gi, Ti; an optional
# trailing B (200MB, 1GiB) and an upper-case K are taken as the same.
_SIZE = re.compile(r"(\d+)\s*([kKMGT]i?)?B?")


def parse_size(flag: str, text: str) -> int:
    """Bytes from `200M`, `1Gi`, `512Ki`, `1048576`; a ValueError that names `flag`."""
    m = _SIZE.fullmatch(text.strip())
    if m is None or int(m.group(1)) == 0:
        raise ValueError(
            f"{flag} {text!r}: expected a positive size in bytes, optionally with a unit: "
            "k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024), e.g. 200M or 1Gi"
        )
    unit = (m.group(2) or "").replace("K", "k")
    power = "kMGT".index(unit[0]) + 1 if unit else 0
    factor: int = 1024**power if unit.endswith("i") else 1000**power
    return int(m.group(1)) * factor


def size_value(flag: str) -> Callable[[str | int], int]:
    """The `parser=` of a size option: parse_size's message as a usage error (exit 2)."""

    def parse(text: str | int) -> int:
        if isinstance(text, int):  # the default
            return text
        try:
            return parse_size(flag, text)
        except ValueError as exc:
            raise OptionValueError(str(exc)) from None

    return parse
