"""The width of text output off a terminal, without rich: the CLI's usage and help read it
before (or without) importing rich (render/text.py says why it is fixed)."""

from __future__ import annotations

__all__ = ["TEXT_WIDTH", "text_width"]

TEXT_WIDTH = 160
"""Columns of text output off a terminal: wide enough for `ns/name[Kind]`, SPIFFE IDs and
explanations side by side, narrow enough to read in a CI log."""


def text_width() -> int:
    """The width off a terminal: TEXT_WIDTH. Not COLUMNS, which rich would read: CI runners
    and test harnesses export COLUMNS=80 for processes whose output is a log, which is
    how tables got squeezed in the first place."""
    return TEXT_WIDTH
