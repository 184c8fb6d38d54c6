"""`microseg lint PATH...`: redundant rules and policies, policies that select no pod, peers
that match nothing, shadowed admin rules, unresolved named ports; each with file and line.

Exit codes (UX.md, as for checks): 0 when there is no finding, 1 when there are findings
(after --ignore), 2 on bad input or usage. Codes are documented in analyses/lint.py and
the README.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from microseg.cli.common import EXIT_VIOLATION, FILES, Inputs, emit, fail
from microseg.cli.mesh_session import mesh_connectivity, reading_session
from microseg.cli.options import (
    AssumeMesh,
    AssumeSystemPods,
    HostNet,
    HostNetworkChoice,
    IstioRoot,
    LayerOpt,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    TrustDomain,
    output_option,
    reads_inputs,
)

__all__ = ["LintFormat", "lint_cmd"]


class LintFormat(StrEnum):
    """-o for `lint`: SARIF for code-scanning dashboards."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


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


@reads_inputs
def lint_cmd(
    paths: Paths,
    output: Annotated[LintFormat, output_option(LintFormat)] = LintFormat.TEXT,
    ignore: Annotated[
        str,
        typer.Option(
            "--ignore",
            help="Comma-separated codes or names to leave out, e.g. ML003,peer-matches-nothing.",
        ),
    ] = "",
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    assume_mesh: AssumeMesh = False,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Facts about the policies worth a look, each with its file and line: redundant rules
    (ML001) and policies (ML002), policies selecting no pod (ML003), peers matching
    nothing (ML004), shadowed admin rules (ML005), unresolved named ports (ML006).
    Exit 0 when there is no finding, 1 when there are findings."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.lint import LintReport, lint
    from microseg.render.lint import lint_json, lint_sarif, lint_text

    skip = _ignored(ignore)
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    report = session.stage("linting", lambda: lint(conn))
    kept = tuple(f for f in report.findings if f.code not in skip)
    report = LintReport(kept, report.policies, report.rules)
    if output is LintFormat.JSON:
        emit(lint_json(report))
    elif output is LintFormat.SARIF:
        emit(lint_sarif(report))
    else:
        emit(lint_text(report))
    raise typer.Exit(EXIT_VIOLATION if report.findings else 0)
