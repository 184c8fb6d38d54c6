"""`microseg reach`: can SRC reach DST, and why, per direction. A check: exit 0 when
allowed, 1 when denied, 2 on bad input."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from microseg.cli.args import parse_port
from microseg.cli.common import EXIT_VIOLATION, Session, check_output, fail
from microseg.cli.mesh_session import mesh_connectivity
from microseg.cli.options import HostNet, IstioRoot, LayerOpt, NoColor, Paths, Quiet, TrustDomain
from microseg.engine import UnknownEndpointError, Verdict
from microseg.render.reach import decision_json, decision_text

__all__ = ["reach"]


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
