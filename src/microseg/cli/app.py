"""The `microseg` typer app: which commands it has, in which order, and how it is run.

Each command lives in its own module under microseg.cli.commands as a plain function;
`COMMANDS` below is the one list that puts them on the app, so adding a command is one
module and one line here, and importing a command module registers nothing by itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import typer

from microseg.cli.commands import (
    apply,
    blast_radius,
    check,
    connectivity,
    demo,
    diff,
    exposure,
    flows,
    generate,
    guardrails,
    identity,
    lint,
    monitor,
    quarantine,
    reach,
    recommend,
    schema,
    simulate,
    stats,
    ui,
    verify,
    watch,
    webhook,
)
from microseg.cli.common import EXIT_BAD_INPUT, footprint_text
from microseg.cli.usage import MicrosegCommand, MicrosegGroup
from microseg.errors import MicrosegError
from microseg.render.escape import terminal_safe

__all__ = ["COMMANDS", "app", "main"]

# The order is the order of `microseg --help`.
COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("connectivity", connectivity.connectivity),
    ("reach", reach.reach),
    ("stats", stats.stats),
    ("demo", demo.demo),
    ("verify", verify.verify),
    ("schema", schema.schema),
    ("blast-radius", blast_radius.blast_radius_cmd),
    ("exposure", exposure.exposure),
    ("diff", diff.diff),
    ("lint", lint.lint_cmd),
    ("identity", identity.identity),
    ("simulate", simulate.simulate),
    ("recommend", recommend.recommend),
    ("generate", generate.generate),
    ("monitor", monitor.monitor),
    ("apply", apply.apply),
    ("check", check.check),
    ("ui", ui.ui),
    ("watch", watch.watch),
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="microseg",
        cls=MicrosegGroup,
        # Markdown joins a docstring's wrapped lines into one paragraph; "rich" keeps the
        # source's line breaks, which cut sentences in the middle.
        rich_markup_mode="markdown",
        help="Zero-trust micro-segmentation for Kubernetes: exact, explained connectivity.",
        no_args_is_help=True,
        # --install-completion / --show-completion for bash, zsh, fish and PowerShell
        # (typer's, which runs the shell's completion through this same program).
        add_completion=True,
        pretty_exceptions_enable=False,
    )
    for name, command in COMMANDS:
        app.command(name=name, cls=MicrosegCommand)(command)
    app.add_typer(flows.app, name="flows")
    app.add_typer(webhook.app, name="webhook")
    app.add_typer(guardrails.app, name="guardrails")
    app.add_typer(quarantine.app, name="quarantine")
    return app


app = build_app()


def out_of_memory(exc: MemoryError) -> str:
    """The one line for a MemoryError: what was asked (numpy says how much, for which
    shape), at what size of input, and what to do."""
    asked = str(exc).strip()
    size = footprint_text()
    parts = ["error: out of memory"]
    if asked:
        parts.append(f" ({asked[:200]})")
    if size:
        parts.append(f" with {size}")
    return terminal_safe(
        "".join(parts) + ": the input is too large to analyse on this machine; analyse fewer "
        "namespaces at a time, or use `microseg stats` (which never holds whole tables)\n"
    )


def main() -> None:
    # Whatever reaches a stream (a lone surrogate from a JSON string, say) is written, never
    # a UnicodeEncodeError: renderers escape what they can, this catches the rest.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    # Run as a kubectl plugin (`kubectl microseg`), usage and completion say so.
    plugin = os.path.basename(sys.argv[0]) == "kubectl-microseg"
    try:
        app(prog_name="kubectl microseg" if plugin else None)
    except MicrosegError as exc:  # an input problem that slipped past a command's own checks
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(EXIT_BAD_INPUT)
    except MemoryError as exc:
        # Never a traceback, even here: say at what size it ran out, and what to do.
        sys.stderr.write(out_of_memory(exc))
        sys.exit(EXIT_BAD_INPUT)
    except RecursionError:
        sys.stderr.write("error: the input nests too deeply to analyse; refused\n")
        sys.exit(EXIT_BAD_INPUT)
