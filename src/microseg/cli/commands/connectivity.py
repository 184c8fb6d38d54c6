"""`microseg connectivity`: the allowed connections between workloads and external addresses,
as a table (txt, csv, md), JSON or a Graphviz graph."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

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

if TYPE_CHECKING:
    from microseg.engine import Connectivity, WorkloadGraph
    from microseg.render.connlist import Row

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
    staged: Annotated[
        bool,
        typer.Option(
            "--staged",
            help="Compare with Calico's staged policies enforced: the connections they "
            "would add, remove or change, beside what is enforced now (txt, json, csv, md).",
        ),
    ] = False,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """List the allowed connections between workloads and external addresses."""
    # Imported when the command runs, so that the CLI starts without the engine (numpy).
    from microseg.analyses.potential import potential_exposure
    from microseg.engine import (
        UnknownEndpointError,
        WorkloadGraph,
        edge_conditions,
        external_conditions,
    )
    from microseg.render.connlist import connlist_chunks, connlist_rows
    from microseg.render.connlist_text import write_connlist_stream
    from microseg.render.dot import write_dot
    from microseg.render.escape import terminal_safe
    from microseg.render.potential import render_with_exposure

    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    if staged:
        _staged(conn, output, quiet)
        return
    graph = WorkloadGraph.build(conn)  # nodes and external edges; pairs come by blocks
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
    conditions = edge_conditions(conn, graph)
    outside = external_conditions(conn, graph)
    if exposure:
        # The exposure section repeats rows per workload, so the list is held whole here;
        # without --exposure it streams.
        if output is ConnectivityFormat.DOT:
            fail("--exposure has no dot form: use -o txt, json, csv or md")
        if conn.cluster.has_calico:
            # analyses/potential.py reads NetworkPolicy's selectors only: over Calico's
            # tiers it would report as open what a GlobalNetworkPolicy denies.
            fail(
                "--exposure reads NetworkPolicies only and is not computed for input with "
                "Calico objects; use `microseg exposure` or `connectivity` on it"
            )
        names = None if focus is None else {graph.nodes[i] for i in focus}
        rows = connlist_rows(graph, focus, conditions, outside)
        text = render_with_exposure(rows, potential_exposure(conn, names), output.value)
        emit(text, escaped=True)  # every format escapes names per cell (render/escape.py)
        return

    def chunks(cell: Callable[[str], str] | None = None) -> Iterator[list[Row]]:
        return connlist_chunks(graph, focus, conditions, outside, cell)

    # Written as computed; names escaped per format, cell by cell (render/escape.py).
    if output is ConnectivityFormat.DOT:
        write_dot(chunks, sys.stdout.write)
    elif sys.stdout.isatty():  # the spinner would mix with the rows
        write_connlist_stream(graph, output.value, sys.stdout.write, focus, conditions, outside)
    else:
        session.stage(
            "writing connections",
            lambda: write_connlist_stream(
                graph, output.value, sys.stdout.write, focus, conditions, outside
            ),
        )


def _staged(conn: Connectivity, output: ConnectivityFormat, quiet: bool) -> None:
    """What Calico's staged policies would change: the connectivity with them enforced
    (model/staged.py) compared with the connectivity enforced now, as `diff` compares two
    inputs (changed, added, removed), columns `enforced` and `staged`."""
    from microseg.analyses.diff import comparable, diff_graphs
    from microseg.engine import Connectivity
    from microseg.model.staged import enforce_staged
    from microseg.render.diff import render_diff

    if output is ConnectivityFormat.DOT:
        fail("--staged lists changes: use -o txt, json, csv or md")
    cluster = conn.cluster
    if not cluster.calico.staged:
        if not quiet:
            sys.stderr.write("notice: the input has no staged policies: nothing would change\n")
        emit(render_diff(diff_graphs(*_graphs(conn, conn)), output.value, _REFS, _REFS))
        return
    after = Connectivity.build(enforce_staged(cluster), conn.options).with_layer(conn.layer)
    result = diff_graphs(*_graphs(*comparable(conn, after)))
    emit(render_diff(result, output.value, _REFS, _REFS))
    if not quiet:
        n = len(cluster.calico.staged)
        sys.stderr.write(
            f"{n} staged polic{'y' if n == 1 else 'ies'}: {len(result.rows)} "
            f"connection row{'' if len(result.rows) == 1 else 's'} would change\n"
        )


_REFS = ("enforced", "staged")


def _graphs(a: Connectivity, b: Connectivity) -> tuple[WorkloadGraph, WorkloadGraph]:
    from microseg.engine import WorkloadGraph

    return WorkloadGraph.build(a), WorkloadGraph.build(b)
