"""Diagnostics as `file:line: error[CODE]: field.path: message` lines."""

from __future__ import annotations

from collections.abc import Iterable

from microseg.errors import Diagnostic
from microseg.render.escape import terminal_safe

__all__ = ["render_diagnostics"]


def render_diagnostics(diags: Iterable[Diagnostic]) -> str:
    """Messages quote the input (names, values), so they are made safe for a terminal."""
    return terminal_safe("".join(d.render() + "\n" for d in diags))
