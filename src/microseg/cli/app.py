"""The `microseg` typer app: which commands it has, in which order, and how it is run.

Each command lives in its own module under microseg.cli.commands as a plain function;
`_COMMANDS` below is the one list that puts them on the app, so adding a command is one
module and one line here, and importing a command module registers nothing by itself.

A run that names its command (`microseg reach ...`) builds an app with that command alone:
typer reads the signature of every command it is given, and importing every command's
module and reading 40 signatures was a fifth of a short command's start-up. `--help`,
completion and anything unknown get the whole app, as do `app` and `COMMANDS` here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

import typer

from microseg.cli.common import EXIT_BAD_INPUT, footprint_text
from microseg.cli.usage import MicrosegCommand, MicrosegGroup
from microseg.errors import MicrosegError
from microseg.render.escape import terminal_safe

__all__ = ["COMMANDS", "app", "build_app", "main"]

if TYPE_CHECKING:  # made on first use, by __getattr__ below
    app: typer.Typer
    COMMANDS: tuple[tuple[str, Callable[..., None]], ...]

# The order is the order of `microseg --help`: (name, module under microseg.cli.commands,
# function). Modules are imported when their command is built, not before (see `main`).
_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("connectivity", "connectivity", "connectivity"),
    ("reach", "reach", "reach"),
    ("stats", "stats", "stats"),
    ("demo", "demo", "demo"),
    ("verify", "verify", "verify"),
    ("schema", "schema", "schema"),
    ("blast-radius", "blast_radius", "blast_radius_cmd"),
    ("exposure", "exposure", "exposure"),
    ("diff", "diff", "diff"),
    ("lint", "lint", "lint_cmd"),
    ("identity", "identity", "identity"),
    ("simulate", "simulate", "simulate"),
    ("recommend", "recommend", "recommend"),
    ("generate", "generate", "generate"),
    ("monitor", "monitor", "monitor"),
    ("apply", "apply", "apply"),
    ("check", "check", "check"),
    ("audit", "audit", "audit"),
    ("ui", "ui", "ui"),
    ("watch", "watch", "watch"),
)
# Command groups, each a typer app of its module (`app`), after the commands.
_GROUPS = ("flows", "webhook", "guardrails", "quarantine")
_NAMES = frozenset([name for name, _, _ in _COMMANDS] + list(_GROUPS))


def _module(name: str) -> Any:
    return import_module(f"microseg.cli.commands.{name}")


def _function(module: str, attr: str) -> Callable[..., None]:
    function: Callable[..., None] = getattr(_module(module), attr)
    return function


def build_app(only: str | None = None) -> typer.Typer:
    """The typer app; `only`: with that one command or group alone, for a run that names
    it (typer would otherwise read every command's signature and import its module)."""
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
    for name, module, attr in _COMMANDS:
        if only is None or only == name:
            app.command(name=name, cls=MicrosegCommand)(_function(module, attr))
    for name in _GROUPS:
        if only is None or only == name:
            app.add_typer(_module(name).app, name=name)
    if only is not None:
        # One command alone would make typer run it as the program itself (no command
        # name): a callback that does nothing keeps the group, and `microseg NAME ...`.
        app.callback()(_nothing)
    return app


def _nothing() -> None:
    """Zero-trust micro-segmentation for Kubernetes: exact, explained connectivity."""


def _chosen(argv: list[str]) -> str | None:
    """The command this run names, when it is a known one and nothing needs the whole app:
    shell completion, or help and errors at the top level."""
    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None
    if argv and argv[0] in _NAMES:
        return argv[0]
    return None


def __getattr__(name: str) -> Any:
    # The whole app and the list of commands, for tests and tools that want them all
    # (PEP 562): built on first use, which imports every command module.
    if name == "app":
        value: Any = build_app()
    elif name == "COMMANDS":
        value = tuple((n, _function(m, a)) for n, m, a in _COMMANDS)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


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
        chosen = _chosen(sys.argv[1:])
        run = build_app(chosen) if chosen is not None else __getattr__("app")
        run(prog_name="kubectl microseg" if plugin else None)
    except MicrosegError as exc:  # an input problem that slipped past a command's own checks
        sys.stderr.write(terminal_safe(f"error: {exc}\n"))
        sys.exit(EXIT_BAD_INPUT)
    except MemoryError as exc:
        # Never a traceback, even here: say at what size it ran out, and what to do.
        sys.stderr.write(out_of_memory(exc))
        sys.exit(EXIT_BAD_INPUT)
    except RecursionError:
        sys.stderr.write("error: the input nests too deeply to analyse; refused\n")
        sys.exit(EXIT_BAD_INPUT)
