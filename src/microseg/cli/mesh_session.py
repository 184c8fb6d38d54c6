"""Loading with the mesh options every mesh-aware command shares (--layer, --trust-domain,
--istio-root-namespace); a helper so that every mesh-aware command spells them alike."""

from __future__ import annotations

import sys
from dataclasses import replace

from microseg.cli.common import Inputs, Session, fail, record_connectivity
from microseg.cli.options import HostNetworkChoice, LayerChoice
from microseg.engine import Connectivity, Layer, inert_mesh_policies
from microseg.model import Cluster
from microseg.model.mesh import MeshSettings

__all__ = ["load_mesh", "mesh_connectivity", "parse_layer", "reading_session"]


def parse_layer(choice: LayerChoice | str | None) -> Layer | None:
    """The CLI's --layer as the engine's Layer (typer has refused any other spelling)."""
    if choice is None:
        return None
    text = choice.value if isinstance(choice, LayerChoice) else choice
    try:
        return Layer(text)
    except ValueError:
        fail(f"--layer {text!r}: expected network, mesh or both")


def load_mesh(
    session: Session, paths: list[str] | None, trust_domain: str, root: str, overlay: bool = False
) -> Cluster:
    if not trust_domain or "/" in trust_domain:
        fail(f"--trust-domain {trust_domain!r}: expected a domain such as cluster.local")
    cluster = session.load(paths, overlay=overlay)
    cluster = replace(cluster, mesh=MeshSettings(trust_domain, root, cluster.mesh.assume_mesh))
    if not session.quiet and cluster.has_mesh:
        _warn_inert(cluster)
    return cluster


def _warn_inert(cluster: Cluster) -> None:
    """Istio policies over workloads none of which is in the mesh change nothing: say so
    once, with the two ways to bring the workloads in (engine inert_mesh_policies)."""
    authz, peer = inert_mesh_policies(cluster)
    parts = [
        f"{n} {kind}{'' if n == 1 else 's'}"
        for n, kind in ((authz, "AuthorizationPolicy"), (peer, "PeerAuthentication"))
        if n
    ]
    if parts:
        verb = "has" if authz + peer == 1 else "have"
        sys.stderr.write(
            f"warning: {' and '.join(parts)} {verb} no effect: no selected workload is in "
            "the mesh; label the namespace istio-injection=enabled or pass --assume-mesh\n"
        )


def mesh_connectivity(
    session: Session,
    paths: list[str] | None,
    layer: LayerChoice | None,
    trust_domain: str,
    root: str,
    overlay: bool = False,
) -> Connectivity:
    """The index with the layer asked for; default both with mesh resources, else network.
    `paths` are the PATHs, or nothing with --cluster (`overlay`: applied over the cluster)."""
    chosen = parse_layer(layer)
    with session.progress():
        cluster = load_mesh(session, paths, trust_domain, root, overlay)
        conn = session.stage(
            "computing connectivity", lambda: Connectivity.build(cluster, session.options)
        )
    record_connectivity(conn)
    return conn if chosen is None else conn.with_layer(chosen)


def reading_session(
    inputs: Inputs,
    quiet: bool,
    no_color: bool,
    host_network: HostNetworkChoice,
    namespace: str,
    assume_system_pods: bool,
    assume_mesh: bool,
) -> Session:
    """The session of a command that reads manifests, from the loading options every such
    command declares (cli/options.py) and its inputs (`reads_inputs`), read one way."""
    return Session(
        quiet,
        no_color,
        host_network.value,
        namespace=namespace,
        assume_system_pods=assume_system_pods,
        assume_mesh=assume_mesh,
        inputs=inputs,
    )
