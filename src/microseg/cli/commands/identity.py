"""`microseg identity`: who each workload is to the mesh (SPIFFE ID, mTLS, allowed callers),
then the findings. A report: exit 0 whatever it finds, 2 on bad input."""

from __future__ import annotations

from typing import Annotated

import typer

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

__all__ = ["IdentityFormat", "identity"]


IdentityFormat = TextOrJson


@reads_inputs
def identity(
    paths: Paths,
    output: Annotated[IdentityFormat, output_option(IdentityFormat)] = IdentityFormat.TEXT,
    expect_strict: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-strict",
            help="A namespace whose mesh workloads must refuse plaintext (repeatable).",
        ),
    ] = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    layer: LayerOpt = None,
    assume_mesh: AssumeMesh = False,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Workload identities: service account, SPIFFE ID, mesh membership, mTLS mode per
    port, allowed callers; then findings (weak mTLS, open ALLOW rules, unknown
    principals, plaintext callers of STRICT workloads)."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.identity import identity_report
    from microseg.render.identity import identity_json, identity_table, identity_text_findings
    from microseg.render.text import print_text

    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    report = identity_report(conn, tuple(expect_strict or ()))
    if output is IdentityFormat.JSON:
        emit(identity_json(report))
        return
    print_text(session.out, identity_table(report))
    session.out.print(identity_text_findings(report), end="", markup=False)
