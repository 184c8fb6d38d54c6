"""`microseg exposure`: registered on the app by `register`; the command body lives here."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add this module's command(s) to the app (none yet)."""
