"""What every event parser shares: the raw line, the result of a batch, and the reason a
line is refused, worded from msgspec's error (`Expected `str`, got `int` - at `$.rule``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, NamedTuple, TypeVar

from microseg.model.events import EventSource, Record, Reject

__all__ = ["Line", "Parsed", "decode_error", "epoch", "record"]

T = TypeVar("T")


class Line(NamedTuple):
    """One complete line of a source: its bytes without the newline, its 1-based number,
    and `cut` when the source ended (or disappeared) before the line did. A named tuple,
    built once per line read (see model/events.py)."""

    file: str
    number: int
    data: bytes
    cut: bool = False


@dataclass(slots=True)
class Parsed(Generic[T]):
    events: list[T] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    blank: int = 0
    """Empty lines: not events, not errors, not counted."""


def record(source: EventSource, line: Line) -> Record:
    return Record(source, line.file, line.number, line.data)


def decode_error(exc: Exception, line: Line) -> str:
    """A reason for the user: truncated, not JSON, or which field has the wrong type."""
    text = str(exc)
    if line.cut or "truncated" in text:
        return "truncated record (the line ends before the JSON does)"
    if " - at `$" in text:
        what, where = text.rsplit(" - at `", 1)
        path = where.rstrip("`").removeprefix("$").lstrip(".") or "(the record)"
        return f"{path}: {what[0].lower()}{what[1:]}"
    if text.startswith("Expected `object`"):
        return "not a JSON object"
    if text.startswith("Object missing required field"):
        return f"(the record): {text[0].lower()}{text[1:]}"
    return "invalid JSON"


def epoch(moment: datetime) -> float:
    """Seconds since the epoch; a time without a zone is UTC (as Falco and the API write)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
