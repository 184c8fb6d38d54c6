"""`microseg diff OLD NEW`: what changes in allowed connectivity from OLD to NEW.

Exit codes follow diff(1) and UX.md: 0 when the two inputs allow exactly the same
connections, 1 when they differ, 2 on bad input or usage.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from functools import partial
from typing import Annotated

import typer

from microseg.cli.common import EXIT_VIOLATION, FILES, Inputs, check_output, emit, fail
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
    Quiet,
    TrustDomain,
    output_option,
    reads_inputs,
)
from microseg.engine import WorkloadGraph

__all__ = ["DiffFormat", "diff"]


class DiffFormat(StrEnum):
    """-o for `diff`: render/diff.py's DIFF_FORMATS (a unit test keeps the two equal)."""

    TXT = "txt"
    JSON = "json"
    CSV = "csv"
    MD = "md"


@reads_inputs
def diff(
    old: Annotated[
        str | None,
        typer.Argument(
            metavar="OLD",
            help="The old input (ref1): a file, a folder, or - for stdin. With --cluster: "
            "the only argument, a folder applied over the live cluster (as kubectl diff -f).",
            show_default=False,
        ),
    ],
    new: Annotated[
        str | None,
        typer.Argument(
            metavar="NEW",
            help="The new input (ref2): a file, a folder, or - for stdin.",
            show_default=False,
        ),
    ],
    output: Annotated[DiffFormat, output_option(DiffFormat)] = DiffFormat.TXT,
    ref1_name: Annotated[
        str, typer.Option("--ref1-name", help="Column name for OLD's connections.")
    ] = "ref1",
    ref2_name: Annotated[
        str, typer.Option("--ref2-name", help="Column name for NEW's connections.")
    ] = "ref2",
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
    """Compare the connectivity two inputs allow: changed, added and removed connections.
    Exit 0 when they allow the same, 1 when they differ."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.diff import comparable, diff_graphs
    from microseg.render.diff import DIFF_FORMATS, render_diff

    check_output(output.value, DIFF_FORMATS)  # the renderer's list is the authority
    if inputs.cluster and (old is None or new is not None):
        fail("diff --cluster DIR: give one file or folder, applied over the live cluster")
    if not inputs.cluster and (old is None or new is None):
        fail("give OLD and NEW (files, folders or -), or --cluster DIR")
    if old == "-" and new == "-":
        fail("OLD and NEW cannot both be - (stdin can be read once)")
    for name, value in (("--ref1-name", ref1_name), ("--ref2-name", ref2_name)):
        if not value.strip() or any(c in value for c in ",|\n"):
            fail(f"{name} {value!r}: expected a non-empty name without ',', '|' or newlines")
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    graphs: list[WorkloadGraph] = []
    mesh = partial(
        mesh_connectivity,
        session,
        layer=layer,
        trust_domain=trust_domain,
        root=istio_root_namespace,
    )
    assert old is not None
    if inputs.cluster:
        # The live cluster, then the cluster with OLD applied over it (kubectl diff -f).
        sides = ("cluster", old)
        before, after = mesh(None), mesh([old], overlay=True)
    else:
        assert new is not None
        sides = (old, new)
        before, after = mesh([old]), mesh([new])
    # Both sides show the same address families (analyses/diff.py `comparable`).
    conns = comparable(before, after)
    for path, conn in zip(sides, conns, strict=True):
        graph = session.stage("workload graph", partial(WorkloadGraph.build, conn))
        if graph.split and not quiet:
            sys.stderr.write(
                f"warning: {path}: workloads split into pods because their pods differ in "
                f"connectivity: {', '.join(graph.split)}\n"
            )
        graphs.append(graph)
    result = session.stage("comparing", lambda: diff_graphs(graphs[0], graphs[1]))
    emit(render_diff(result, output.value, (ref1_name, ref2_name), sides))
    if not result:
        if not quiet:
            sys.stderr.write("no difference in connectivity\n")
        return
    raise typer.Exit(EXIT_VIOLATION)
