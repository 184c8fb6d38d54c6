"""The mesh part of `make demo`: a connection NetworkPolicy allows but Istio denies, and one
the mesh allows only for some HTTP requests, each with its two-layer explanation.

The lead calls `run(session, path)` from the demo; it prints to the session's console.
"""

from __future__ import annotations

from pathlib import Path

from microseg.cli.common import Session
from microseg.cli.demo_paths import find_demo
from microseg.engine import Connectivity, Layer, Verdict
from microseg.model.sets import ConnSet, Protocol
from microseg.render.escape import terminal_safe
from microseg.render.reach import decision_text

__all__ = ["MESH_DENIED", "MESH_L7", "run"]

# Prometheus (outside the mesh) scrapes shop's metrics port: the shop NetworkPolicy admits
# it, but shop runs STRICT mTLS, so the sidecar rejects the plaintext scrape.
MESH_DENIED = ("monitoring/prometheus", "shop/api-gateway", ConnSet.single(Protocol.TCP, 9100))
# The web frontend calls the gateway: allowed by both layers, by the mesh only for
# GET/POST on /api/* from the webapp identity, and never on /admin*.
MESH_L7 = ("frontend/webapp", "shop/api-gateway", ConnSet.single(Protocol.TCP, 8080))


def run(session: Session, path: Path | None = None, conn: Connectivity | None = None) -> None:
    """`conn` is the demo's index when the caller has built it already (make demo does)."""
    if conn is None:
        conn = session.connectivity([str(find_demo(path))])
    out = session.out
    out.rule("[bold red]Two layers[/bold red]: NetworkPolicy allows it, the Istio mesh denies it")
    src, dst, conns = MESH_DENIED
    network = conn.with_layer(Layer.NETWORK).reach(src, dst, conns)
    both = conn.with_layer(Layer.BOTH).reach(src, dst, conns)
    word = "allows" if network.verdict is Verdict.ALLOW else "denies"
    out.print(f"NetworkPolicy alone {word} it:", markup=False)
    out.print(terminal_safe(decision_text(network)), end="", markup=False)
    out.print("With the mesh (--layer both, the default when Istio resources are present):")
    out.print(terminal_safe(decision_text(both)), end="", markup=False)
    out.print(
        "\nWhy: shop runs STRICT mutual TLS (examples/demo/mesh/peer-authentication.yaml) and "
        "monitoring has no sidecar, so its plaintext scrape is rejected. Fix it by injecting "
        "Prometheus's sidecar or scraping through a PERMISSIVE port (portLevelMtls).",
        markup=False,
    )
    out.rule(
        "[bold]Identity[/bold]: the gateway accepts only the webapp's identity, and only some requests"
    )
    src, dst, conns = MESH_L7
    out.print(terminal_safe(decision_text(conn.reach(src, dst, conns))), end="", markup=False)
