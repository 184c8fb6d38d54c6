"""Options every command spells the same way (UX.md): paths, -o, -q, --no-color, --host-network."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["HostNet", "IstioRoot", "LayerOpt", "NoColor", "Paths", "Quiet", "TrustDomain"]

Paths = Annotated[
    list[str],
    typer.Argument(
        help="Manifest files or folders (read recursively), or - for stdin.", show_default=False
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No notices, warnings or progress on stderr.")
]
NoColor = Annotated[bool, typer.Option("--no-color", help="No colour (also: NO_COLOR).")]
HostNet = Annotated[
    str,
    typer.Option(
        "--host-network",
        help="Host-network pods: 'node' (policies ignore them; their traffic is node traffic, the common "
        "implementation) or 'pod' (treated as ordinary pods, as netpol-analyzer does).",
    ),
]
LayerOpt = Annotated[
    str | None,
    typer.Option(
        "--layer",
        help="network (NetworkPolicy tiers), mesh (Istio mTLS and AuthorizationPolicy) or both "
        "(default: both when the input has Istio security resources, else network).",
        show_default=False,
    ),
]
TrustDomain = Annotated[
    str, typer.Option("--trust-domain", help="Istio trust domain of SPIFFE IDs and principals.")
]
IstioRoot = Annotated[
    str,
    typer.Option("--istio-root-namespace", help="Istio root namespace (mesh-wide policies)."),
]
