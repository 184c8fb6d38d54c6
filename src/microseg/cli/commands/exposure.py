"""`microseg exposure`: what outside addresses can reach, what reaches out, and the entry
points (LoadBalancer/NodePort Services, Ingress, Route) with whether policies let them in.

It is a report, so it exits 0 whatever it finds; 2 on bad input.
"""

from __future__ import annotations

from typing import Annotated

from microseg.cli.common import FILES, Inputs, emit
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
    TextOrJson,
    TrustDomain,
    output_option,
    reads_inputs,
)
from microseg.engine import WorkloadGraph

__all__ = ["ExposureFormat", "exposure"]


ExposureFormat = TextOrJson


@reads_inputs
def exposure(
    paths: Paths,
    output: Annotated[ExposureFormat, output_option(ExposureFormat)] = ExposureFormat.TEXT,
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
    """Workloads reachable from or reaching addresses outside the cluster, by address
    class (public, private, ...), and entry points with whether policies allow them."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.exposure import compute_exposure
    from microseg.render.exposure import exposure_json, exposure_renderable
    from microseg.render.text import print_text

    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    # The same loading and layers as `microseg connectivity`, so both agree on what
    # outside addresses reach (the mesh, when counted, governs inbound traffic).
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    graph = session.stage("workload graph", lambda: WorkloadGraph.build(conn))
    report = session.stage("exposure", lambda: compute_exposure(conn, graph))
    if output is ExposureFormat.JSON:
        emit(exposure_json(report))
        return
    print_text(session.out, exposure_renderable(report))
