"""`microseg verify`: segmentation intents checked against the policies.

Exit codes (UX.md): 0 when every intent holds, 1 when any is violated, 2 on bad input
(manifests or intent files), with located diagnostics on stderr.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from microseg.cli.common import EXIT_VIOLATION, FILES, Inputs, emit, say
from microseg.cli.intent_files import load_intent_files
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

__all__ = ["VerifyFormat", "tool_version", "verify"]


class VerifyFormat(StrEnum):
    """-o for `verify`: SARIF and JUnit for CI."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # 40 ms: not at start-up

    try:
        return version("microseg")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


@reads_inputs
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
    output: Annotated[VerifyFormat, output_option(VerifyFormat)] = VerifyFormat.TEXT,
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
    """Check segmentation intents against the policies. Exit 0 all hold, 1 violated."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.verify import verify as run_verify
    from microseg.engine import WorkloadGraph
    from microseg.render.junit import report_junit
    from microseg.render.sarif import report_sarif
    from microseg.render.verify import report_json, report_text

    intent_set = load_intent_files(intents, quiet)
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    graph = session.stage("workload graph", lambda: WorkloadGraph.build(conn))
    report = session.stage("verifying", lambda: run_verify(conn, intent_set, graph))
    if not quiet:
        for note in report.notes:
            say(f"notice: {note}\n")
    if output is VerifyFormat.JSON:
        emit(report_json(report))
    elif output is VerifyFormat.SARIF:
        emit(report_sarif(report, tool_version()))
    elif output is VerifyFormat.JUNIT:
        emit(report_junit(report))
    else:
        emit(report_text(report))
    raise typer.Exit(0 if report.ok else EXIT_VIOLATION)
