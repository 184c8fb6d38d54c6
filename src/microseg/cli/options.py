"""Options every command spells the same way (UX.md): paths, -o, -q, --no-color, --host-network."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from microseg.cli.args import PortArg, port_value
from microseg.cli.usage import choice

__all__ = [
    "HostNet",
    "HostNetworkChoice",
    "IstioRoot",
    "LayerChoice",
    "LayerOpt",
    "NoColor",
    "Paths",
    "Port",
    "Quiet",
    "TrustDomain",
    "output_option",
    "port_option",
]


class HostNetworkChoice(StrEnum):
    """--host-network; the CLI's own spelling, turned into the engine's HostNetwork by
    Session, so that the engine's enum can change without changing the command line."""

    NODE = "node"
    POD = "pod"


class LayerChoice(StrEnum):
    """--layer; turned into the engine's Layer by mesh_connectivity."""

    NETWORK = "network"
    MESH = "mesh"
    BOTH = "both"


def output_option(kind: type[StrEnum], help: str = "Output format.") -> Any:
    """`-o/--output` with the command's own formats: typer lists them in --help."""
    return typer.Option("--output", "-o", parser=choice("--output", kind), help=help)


def port_option(help: str) -> Any:
    """`--port` for every command that takes one: parsed (and refused) once, by parse_port."""
    return typer.Option("--port", parser=port_value, metavar="PROTO/PORT", help=help)


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
    HostNetworkChoice,
    typer.Option(
        "--host-network",
        parser=choice("--host-network", HostNetworkChoice),
        help="Host-network pods: 'node' (policies ignore them; their traffic is node traffic, the common "
        "implementation) or 'pod' (treated as ordinary pods, as netpol-analyzer does).",
    ),
]
LayerOpt = Annotated[
    LayerChoice | None,
    typer.Option(
        "--layer",
        parser=choice("--layer", LayerChoice),
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
Port = Annotated[
    PortArg | None,
    port_option("PROTO/PORT, PROTO/START-END or PROTO/NAME (e.g. TCP/5432)."),
]
