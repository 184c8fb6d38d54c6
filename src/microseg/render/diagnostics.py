"""Diagnostics as `file:line: error[CODE]: field.path: message` lines."""

from __future__ import annotations

from collections.abc import Iterable

from microseg.errors import Diagnostic

__all__ = ["render_diagnostics"]


def render_diagnostics(diags: Iterable[Diagnostic]) -> str:
    return "".join(d.render() + "\n" for d in diags)
