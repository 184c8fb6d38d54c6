"""`microseg verify` (segmentation intents against the policies) and `microseg schema`.

Exit codes (UX.md): 0 when every intent holds, 1 when any is violated, 2 on bad input
(manifests or intent files), with located diagnostics on stderr.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated

import typer

from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, Session, check_output, fail
from microseg.cli.options import HostNet, NoColor, Paths, Quiet
from microseg.engine import WorkloadGraph
from microseg.errors import InputError
from microseg.render.diagnostics import render_diagnostics
from microseg.schemas import SCHEMAS, schema_text

if TYPE_CHECKING:
    from microseg.model.intent import IntentSet

__all__ = ["load_intent_files", "register", "tool_version"]

OUTPUTS = ("text", "json", "sarif", "junit")


def tool_version() -> str:
    try:
        return version("microseg")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


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


def register(app: typer.Typer) -> None:
    """Add `verify` and `schema` to the app."""

    @app.command()
    def verify(
        paths: Paths,
        intents: Annotated[
            list[str],
            typer.Option(
                "--intents",
                help="SegmentationIntent file or folder (repeatable); `microseg schema intent` "
                "prints its JSON Schema.",
                show_default=False,
            ),
        ],
        output: Annotated[
            str, typer.Option("--output", "-o", help="text, json, sarif or junit.")
        ] = "text",
        host_network: HostNet = "node",
        quiet: Quiet = False,
        no_color: NoColor = False,
    ) -> None:
        """Check segmentation intents against the policies. Exit 0 all hold, 1 violated."""
        # Imported when the command runs: every command's modules at start-up slow them all.
        from microseg.analyses.verify import verify as run_verify
        from microseg.render.junit import report_junit
        from microseg.render.sarif import report_sarif
        from microseg.render.verify import report_json, report_text

        check_output(output, OUTPUTS)
        intent_set = load_intent_files(intents, quiet)
        session = Session(quiet, no_color, host_network)
        conn = session.connectivity(paths)
        graph = session.stage("workload graph", lambda: WorkloadGraph.build(conn))
        report = session.stage("verifying", lambda: run_verify(conn, intent_set, graph))
        if not quiet:
            for note in report.notes:
                sys.stderr.write(f"notice: {note}\n")
        if output == "json":
            sys.stdout.write(report_json(report))
        elif output == "sarif":
            sys.stdout.write(report_sarif(report, tool_version()))
        elif output == "junit":
            sys.stdout.write(report_junit(report))
        else:
            sys.stdout.write(report_text(report))
        raise typer.Exit(0 if report.ok else EXIT_VIOLATION)

    @app.command()
    def schema(
        name: Annotated[
            str, typer.Argument(help=f"Which schema: {', '.join(SCHEMAS)}.", show_default=False)
        ],
    ) -> None:
        """Print a JSON Schema shipped with microseg (e.g. `intent`, for editors and CI)."""
        if name not in SCHEMAS:
            fail(f"no schema {name!r}; expected one of: {', '.join(SCHEMAS)}")
        sys.stdout.write(schema_text(name))
