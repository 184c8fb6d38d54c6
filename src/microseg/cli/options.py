"""Options every command spells the same way (UX.md): paths, -o, -q, --no-color, --host-network."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from microseg.cli.args import PortArg, port_value, size_value
from microseg.cli.usage import choice
from microseg.ingest import MAX_INPUT_BYTES

__all__ = [
    "MAX_INPUT",
    "OUTPUT_ALIASES",
    "AssumeMesh",
    "AssumeSystemPods",
    "HostNet",
    "HostNetworkChoice",
    "IstioRoot",
    "LayerChoice",
    "LayerOpt",
    "MaxInputSize",
    "NamespaceOpt",
    "NoColor",
    "Paths",
    "Port",
    "Quiet",
    "TextOrJson",
    "TrustDomain",
    "output_option",
    "port_option",
]


class TextOrJson(StrEnum):
    """-o for the commands that answer for people (text) or programs (json) only."""

    TEXT = "text"
    JSON = "json"


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


# One vocabulary for text (UX.md): `txt` is the connectivity grammar (netpol-analyzer's
# word), `text` the word for people; a command that has one takes the other as its alias.
OUTPUT_ALIASES = {"txt": "text", "text": "txt"}


def output_option(kind: type[StrEnum], help: str = "Output format.") -> Any:
    """`-o/--output` with the command's own formats: typer lists them in --help; `text`
    and `txt` both work wherever either does (OUTPUT_ALIASES)."""
    return typer.Option(
        "--output", "-o", parser=choice("--output", kind, OUTPUT_ALIASES), help=help
    )


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
NamespaceOpt = Annotated[
    str,
    typer.Option(
        "--namespace",
        "-n",
        help="Namespace of objects without metadata.namespace (as kubectl apply -n NS).",
    ),
]
AssumeSystemPods = Annotated[
    bool,
    typer.Option(
        "--assume-system-pods",
        help="Add the cluster DNS (kube-system pods k8s-app=kube-dns, ports 53 UDP/TCP, "
        "9153) when the input has none, so that DNS egress rules match something.",
    ),
]
AssumeMesh = Annotated[
    bool,
    typer.Option(
        "--assume-mesh",
        help="Treat every pod (host-network ones aside) as Istio sidecar-injected.",
    ),
]
MAX_INPUT = MAX_INPUT_BYTES  # the default of --max-input-size (ingest/documents.py)
MaxInputSize = Annotated[
    int,
    typer.Option(
        "--max-input-size",
        parser=size_value("--max-input-size"),
        metavar="SIZE",
        show_default="1Gi",
        help="Refuse an input file (or stdin) larger than this: bytes, or with a unit "
        "k, M, G (powers of 1000) or Ki, Mi, Gi (powers of 1024), e.g. 200M.",
    ),
]
