"""Parsing command-line values: `TCP/8080`, `UDP/53`, `TCP/8000-8080`, `TCP/http`, `8080`."""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.cli.usage import OptionValueError
from microseg.model.intent import parse_intent_port
from microseg.model.sets import ConnSet, Protocol

__all__ = ["PortArg", "parse_port", "port_value"]


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
    try:
        port = parse_intent_port(text)
    except ValueError as exc:
        raise ValueError(f"--port {exc}") from None
    return PortArg(port.protocol, port.start, port.end, port.name, text)


def port_value(text: str | PortArg) -> PortArg:
    """The `parser=` of every `--port` option (options.port_option): parse_port's message,
    as a usage error that typer reports with exit 2 before the command runs."""
    if isinstance(text, PortArg):
        return text
    try:
        return parse_port(text)
    except ValueError as exc:
        raise OptionValueError(str(exc)) from None
