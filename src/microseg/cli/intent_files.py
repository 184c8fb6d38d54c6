"""Loading SegmentationIntent files for the commands that take `--intents` (verify,
blast-radius) and for the demo: one place, so that all of them report bad intents alike."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from microseg.cli.common import EXIT_BAD_INPUT, fail
from microseg.errors import InputError
from microseg.render.diagnostics import render_diagnostics

if TYPE_CHECKING:
    from microseg.model.intent import IntentSet

__all__ = ["load_intent_files"]


def load_intent_files(files: list[str], quiet: bool) -> IntentSet:
    """The intent files, or exit 2 with every problem located."""
    from microseg.ingest.intents import load_intents

    if not files:
        fail("no intents: give --intents FILE (repeatable)")
    try:
        intents, warnings = load_intents(files)
    except InputError as exc:
        sys.stderr.write(render_diagnostics(exc.diagnostics))
        n = len(exc.diagnostics)
        sys.stderr.write(f"{n} error{'s' if n != 1 else ''} in the intents; nothing was verified\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not quiet:
        sys.stderr.write(render_diagnostics(warnings))
    return intents
