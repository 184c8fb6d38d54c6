"""`microseg` commands. Each is a thin shell over the library and the renderers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from microseg.analyses.stats import compute_stats
from microseg.cli import cmd_blast, cmd_diff, cmd_exposure, cmd_identity, cmd_lint, cmd_verify
from microseg.cli.args import parse_port
from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, Session, check_output, fail
from microseg.cli.mesh_session import mesh_connectivity
from microseg.cli.options import HostNet, IstioRoot, LayerOpt, NoColor, Paths, Quiet, TrustDomain
from microseg.engine import UnknownEndpointError, Verdict, WorkloadGraph
from microseg.engine.edge_conditions import edge_conditions, external_conditions
from microseg.errors import MicrosegError
from microseg.render.connlist import connlist_rows, render_connlist
from microseg.render.dot import render_dot
from microseg.render.reach import decision_json, decision_text
from microseg.render.stats import stats_json, stats_rows

app = typer.Typer(
    name="microseg",
    help="Zero-trust micro-segmentation for Kubernetes: exact, explained connectivity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def connectivity(
    paths: Paths,
    output: Annotated[
        str, typer.Option("--output", "-o", help="txt, json, csv, md or dot.")
    ] = "txt",
    focus_workload: Annotated[
        str | None,
        typer.Option("--focus-workload", help="Only connections of this workload (ns/name)."),
    ] = None,
    host_network: HostNet = "node",
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """List the allowed connections between workloads and external addresses."""
    check_output(output, ("txt", "json", "csv", "md", "dot"))
    session = Session(quiet, no_color, host_network)
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
            f"warning: workloads split into pods because their pods differ in connectivity: {', '.join(graph.split)}\n"
        )
    rows = connlist_rows(
        graph, focus, edge_conditions(conn, graph), external_conditions(conn, graph)
    )
    sys.stdout.write(render_dot(rows) if output == "dot" else render_connlist(rows, output))


@app.command()
def reach(
    paths: Paths,
    src: Annotated[
        str,
        typer.Option(
            "--from", help="Source: ns/name (workload or pod), an IP or a CIDR.", show_default=False
        ),
    ],
    dst: Annotated[
        str, typer.Option("--to", help="Destination: ns/name, an IP or a CIDR.", show_default=False)
    ],
    port: Annotated[
        str | None,
        typer.Option("--port", help="PROTO/PORT, PROTO/START-END or PROTO/NAME (e.g. TCP/5432)."),
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
    host_network: HostNet = "node",
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Can SRC reach DST? The verdict, then why, per direction. Exit 0 allowed, 1 denied."""
    check_output(output, ("text", "json"))
    try:
        port_arg = parse_port(port) if port is not None else None
    except ValueError as exc:
        fail(str(exc))
    session = Session(quiet, no_color, host_network)
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    try:
        s, d = conn.resolve(src), conn.resolve(dst)
        conns = None
        if port_arg is not None:
            conns = conn.port_conns(
                d, port_arg.protocol, port_arg.start, port_arg.end, port_arg.name
            )
        decision = conn.reach(s, d, conns)
    except UnknownEndpointError as exc:
        fail(str(exc))
    sys.stdout.write(decision_json(decision) if output == "json" else decision_text(decision))
    raise typer.Exit(0 if decision.verdict is Verdict.ALLOW else EXIT_VIOLATION)


@app.command()
def stats(
    paths: Paths,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
    host_network: HostNet = "node",
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Counts: workloads, classes, atoms, isolation, allowed pairs, and time per stage."""
    check_output(output, ("text", "json"))
    session = Session(quiet, no_color, host_network)
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    result = session.stage("counting", lambda: compute_stats(conn))
    if output == "json":
        sys.stdout.write(stats_json(result, session.timings))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    for name, value in stats_rows(result):
        table.add_row(name, value)
    for stage, seconds in session.timings.items():
        table.add_row(f"time: {stage}", f"{seconds:.3f} s")
    session.out.print(table)


@app.command()
def demo(
    path: Annotated[
        Path | None, typer.Option("--path", help="The demo folder (default: examples/demo).")
    ] = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Analyse the bundled demo shop: workloads, isolation, allowed edges, and the gap."""
    from microseg.cli import demo as demo_cmd  # only this command needs the whole tour

    demo_cmd.run(Session(quiet, no_color), path)


for _module in (cmd_verify, cmd_blast, cmd_exposure, cmd_diff, cmd_lint, cmd_identity):
    _module.register(app)


def main() -> None:
    try:
        app()
    except MicrosegError as exc:  # an input problem that slipped past a command's own checks
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(EXIT_BAD_INPUT)
