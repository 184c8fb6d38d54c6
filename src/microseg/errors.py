"""Diagnostics and the error tree.

User input problems are values (`Diagnostic`) collected while loading, so that one run can
report every problem at once with its file, line and field path; `InputError` carries them
to the adapter, which prints them and exits 2. Programming errors are ordinary exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Diagnostic",
    "InputError",
    "MicrosegError",
    "Origin",
    "Severity",
]


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a model object came from, so every verdict can point back at a file and line."""

    file: str = "<input>"
    document: int = 0
    line: int | None = None
    kind: str = ""
    namespace: str = ""
    name: str = ""
    rule: int | None = None

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def with_rule(self, rule: int, line: int | None) -> Origin:
        return Origin(
            self.file,
            self.document,
            line if line is not None else self.line,
            self.kind,
            self.namespace,
            self.name,
            rule,
        )


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in the input. `code` is stable and documented (see README, Diagnostics)."""

    severity: Severity
    code: str
    message: str
    origin: Origin | None = None
    field: str = ""

    def render(self) -> str:
        where = f"{self.origin.location()}: " if self.origin is not None else ""
        path = f"{self.field}: " if self.field else ""
        return f"{where}{self.severity.value}[{self.code}]: {path}{self.message}"


class MicrosegError(Exception):
    """Base of every error microseg raises on purpose."""


class InputError(MicrosegError):
    """The input cannot be analysed; carries every error diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("; ".join(d.render() for d in diagnostics))
