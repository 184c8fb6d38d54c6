"""`microseg lint PATH...`: redundant rules and policies, policies that select no pod, peers
that match nothing, shadowed admin rules, unresolved named ports; each with file and line.

Exit codes (UX.md, as for checks): 0 when there is no finding, 1 when there are findings
(after --ignore), 2 on bad input or usage. Codes are documented in analyses/lint.py and
the README.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from microseg.cli.common import EXIT_VIOLATION, Session, check_output, fail
from microseg.cli.options import HostNet, NoColor, Paths, Quiet

__all__ = ["lint_cmd"]

FORMATS = ("text", "json", "sarif")


def _ignored(spec: str) -> set[str]:
    from microseg.analyses.lint import CODES

    codes = {c.strip().upper() for c in spec.split(",") if c.strip()}
    names = {name: code for code, (name, _) in CODES.items()}
    out = {names.get(c.lower(), c) for c in codes}
    unknown = sorted(out - set(CODES))
    if unknown:
        fail(
            f"--ignore {', '.join(unknown)}: expected codes or names among "
            + ", ".join(f"{c} ({n})" for c, (n, _) in CODES.items())
        )
    return out


def lint_cmd(
    paths: Paths,
    output: Annotated[str, typer.Option("--output", "-o", help="text, json or sarif.")] = "text",
    ignore: Annotated[
        str,
        typer.Option(
            "--ignore",
            help="Comma-separated codes or names to leave out, e.g. ML003,peer-matches-nothing.",
        ),
    ] = "",
    host_network: HostNet = "node",
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Facts about the policies worth a look, each with its file and line: redundant rules
    (ML001) and policies (ML002), policies selecting no pod (ML003), peers matching
    nothing (ML004), shadowed admin rules (ML005), unresolved named ports (ML006).
    Exit 0 when there is no finding, 1 when there are findings."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.lint import LintReport, lint
    from microseg.render.lint import lint_json, lint_sarif, lint_text

    check_output(output, FORMATS)
    skip = _ignored(ignore)
    session = Session(quiet, no_color, host_network)
    conn = session.connectivity(paths)
    report = session.stage("linting", lambda: lint(conn))
    kept = tuple(f for f in report.findings if f.code not in skip)
    report = LintReport(kept, report.policies, report.rules)
    if output == "json":
        sys.stdout.write(lint_json(report))
    elif output == "sarif":
        sys.stdout.write(lint_sarif(report))
    else:
        sys.stdout.write(lint_text(report))
    raise typer.Exit(EXIT_VIOLATION if report.findings else 0)
