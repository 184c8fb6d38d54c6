"""`microseg exposure`: what outside addresses can reach, what reaches out, and the entry
points (LoadBalancer/NodePort Services, Ingress, Route) with whether policies let them in.

It is a report, so it exits 0 whatever it finds; 2 on bad input.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from microseg.analyses.exposure import compute_exposure
from microseg.cli.common import Session, check_output
from microseg.cli.options import HostNet, NoColor, Paths, Quiet
from microseg.engine import WorkloadGraph
from microseg.render.exposure import exposure_json, exposure_renderable

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add `exposure` to the app."""

    @app.command()
    def exposure(
        paths: Paths,
        output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
        host_network: HostNet = "node",
        quiet: Quiet = False,
        no_color: NoColor = False,
    ) -> None:
        """Workloads reachable from or reaching addresses outside the cluster, by address
        class (public, private, ...), and entry points with whether policies allow them."""
        check_output(output, ("text", "json"))
        session = Session(quiet, no_color, host_network)
        conn = session.connectivity(paths)
        graph = session.stage("workload graph", lambda: WorkloadGraph.build(conn))
        report = session.stage("exposure", lambda: compute_exposure(conn, graph))
        if output == "json":
            sys.stdout.write(exposure_json(report))
            return
        session.out.print(exposure_renderable(report))
