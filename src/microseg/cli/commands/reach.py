"""`microseg reach`: can SRC reach DST, and why, per direction. A check: exit 0 when
allowed, 1 when denied, 2 on bad input."""

from __future__ import annotations

import sys
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
    Port,
    Quiet,
    TextOrJson,
    TrustDomain,
    output_option,
    reads_inputs,
)
from microseg.engine import Connectivity, Decision, UnknownEndpointError, Verdict
from microseg.model import ConnSet
from microseg.model.staged import enforce_staged
from microseg.render.reach import decision_json, decision_text, staged_text

__all__ = ["ReachFormat", "reach"]


ReachFormat = TextOrJson


@reads_inputs
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
    port: Port = None,
    output: Annotated[ReachFormat, output_option(ReachFormat)] = ReachFormat.TEXT,
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
    """Can SRC reach DST? The verdict, then why, per direction. Exit 0 allowed, 1 denied."""
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    try:
        s, d = conn.resolve(src), conn.resolve(dst)
        conns = None
        if port is not None:
            conns = conn.port_conns(d, port.protocol, port.start, port.end, port.name)
        decision = conn.reach(s, d, conns)
    except UnknownEndpointError as exc:
        fail(str(exc))
    for flag, text, ep in (("--from", src, s), ("--to", dst, d)):
        aliased = (
            ep.name.endswith("[ReplicaSet]")
            and ep.name.split("[")[0] != (text.strip().split("[")[0])
        )
        if aliased and not quiet:
            sys.stderr.write(
                f"notice: {flag} {text}: read as {ep.name}, the ReplicaSet of its pods "
                "(the Deployment is not in the input; its name is the ReplicaSet's "
                "without the pod-template-hash)\n"
            )
    staged = _staged(conn, decision, conns)
    if output is ReachFormat.JSON:
        emit(decision_json(decision, staged))
    else:
        emit(decision_text(decision) + (staged_text(decision, staged) if staged else ""))
    raise typer.Exit(0 if decision.verdict is Verdict.ALLOW else EXIT_VIOLATION)


def _staged(conn: Connectivity, decision: Decision, conns: ConnSet | None) -> Decision | None:
    """The same query with Calico's staged policies enforced (model/staged.py), when the
    input has staged policies; the exit code stays the enforced verdict's."""
    if not conn.cluster.calico.staged:
        return None
    after = Connectivity.build(enforce_staged(conn.cluster), conn.options).with_layer(conn.layer)
    return after.reach(after.resolve(decision.src), after.resolve(decision.dst), conns)
