"""`microseg exposure`: what outside addresses can reach, what reaches out, and the entry
points (LoadBalancer/NodePort Services, Ingress, Route) with whether policies let them in.

It is a report, so it exits 0 whatever it finds; 2 on bad input.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from microseg.cli.common import Session, check_output
from microseg.cli.mesh_session import mesh_connectivity
from microseg.cli.options import HostNet, IstioRoot, LayerOpt, NoColor, Paths, Quiet, TrustDomain
from microseg.engine import WorkloadGraph

__all__ = ["exposure"]


def exposure(
    paths: Paths,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
    host_network: HostNet = "node",
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Workloads reachable from or reaching addresses outside the cluster, by address
    class (public, private, ...), and entry points with whether policies allow them."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.exposure import compute_exposure
    from microseg.render.exposure import exposure_json, exposure_renderable

    check_output(output, ("text", "json"))
    session = Session(quiet, no_color, host_network)
    # The same loading and layers as `microseg connectivity`, so both agree on what
    # outside addresses reach (the mesh, when counted, governs inbound traffic).
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    graph = session.stage("workload graph", lambda: WorkloadGraph.build(conn))
    report = session.stage("exposure", lambda: compute_exposure(conn, graph))
    if output == "json":
        sys.stdout.write(exposure_json(report))
        return
    session.out.print(exposure_renderable(report))
