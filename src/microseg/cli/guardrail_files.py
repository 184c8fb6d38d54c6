"""Loading guardrail files for the commands that take `--guardrails` (check, webhook serve,
guardrails export): one place, so that all of them report bad files alike."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from microseg.cli.common import EXIT_BAD_INPUT, fail
from microseg.errors import InputError
from microseg.render.diagnostics import render_diagnostics

if TYPE_CHECKING:
    from microseg.model.guardrails import GuardrailSet

__all__ = ["load_guardrail_files"]


def load_guardrail_files(files: list[str], quiet: bool) -> GuardrailSet:
    """The guardrail files, or exit 2 with every problem located."""
    from microseg.ingest.guardrails import load_guardrails

    if not files:
        fail("no guardrails: give --guardrails FILE (repeatable)")
    try:
        guardrails, warnings = load_guardrails(files)
    except InputError as exc:
        sys.stderr.write(render_diagnostics(exc.diagnostics))
        n = len(exc.diagnostics)
        sys.stderr.write(
            f"{n} error{'s' if n != 1 else ''} in the guardrails; nothing was checked\n"
        )
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not quiet:
        sys.stderr.write(render_diagnostics(warnings))
    return guardrails
