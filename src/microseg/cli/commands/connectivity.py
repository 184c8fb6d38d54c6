"""`microseg connectivity`: the allowed connections between workloads and external addresses,
as a table (txt, csv, md), JSON or a Graphviz graph."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from microseg.analyses.potential import potential_exposure
from microseg.cli.common import FILES, Inputs, emit, fail
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
from microseg.engine import (
    UnknownEndpointError,
    WorkloadGraph,
    edge_conditions,
    external_conditions,
)
from microseg.render.connlist import connlist_rows, render_connlist
from microseg.render.dot import render_dot
from microseg.render.escape import terminal_safe
from microseg.render.potential import render_with_exposure

__all__ = ["ConnectivityFormat", "connectivity"]


class ConnectivityFormat(StrEnum):
    """-o for `connectivity`: the connlist tables and JSON, or a Graphviz graph."""

    TXT = "txt"
    JSON = "json"
    CSV = "csv"
    MD = "md"
    DOT = "dot"


@reads_inputs
def connectivity(
    paths: Paths,
    output: Annotated[
        ConnectivityFormat, output_option(ConnectivityFormat, "Output format (dot: Graphviz).")
    ] = ConnectivityFormat.TXT,
    focus_workload: Annotated[
        str | None,
        typer.Option("--focus-workload", help="Only connections of this workload (ns/name)."),
    ] = None,
    exposure: Annotated[
        bool,
        typer.Option(
            "--exposure",
            help="Also what the policies open to the entire cluster and to workloads that "
            "match their selectors but do not exist yet (txt, json, csv, md).",
        ),
    ] = False,
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    assume_mesh: AssumeMesh = False,
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """List the allowed connections between workloads and external addresses."""
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    graph = WorkloadGraph.build(conn)
    focus = None
    if focus_workload is not None:
        try:
            ep = conn.resolve(focus_workload)
        except UnknownEndpointError as exc:
            fail(str(exc))
        if ep.klass is None:
            fail(f"--focus-workload {focus_workload!r}: expected a workload, not an address")
        # The workload's own nodes (several when its pods differ), or the one pod named.
        focus = {i for i, w in enumerate(graph.node_workload) if w == ep.name}
        focus |= {i for i, n in enumerate(graph.nodes) if n == ep.name}
    if graph.split and not quiet:
        sys.stderr.write(
            terminal_safe(
                "warning: workloads split into pods because their pods differ in "
                f"connectivity: {', '.join(graph.split)}\n"
            )
        )
    rows = connlist_rows(
        graph, focus, edge_conditions(conn, graph), external_conditions(conn, graph)
    )
    if exposure:
        if output is ConnectivityFormat.DOT:
            fail("--exposure has no dot form: use -o txt, json, csv or md")
        names = None if focus is None else {graph.nodes[i] for i in focus}
        text = render_with_exposure(rows, potential_exposure(conn, names), output.value)
    elif output is ConnectivityFormat.DOT:
        text = render_dot(rows)
    else:
        text = render_connlist(rows, output.value)
    emit(text, escaped=True)  # every format escapes names per cell (render/escape.py)
