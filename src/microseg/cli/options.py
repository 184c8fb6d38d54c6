"""Options every command spells the same way (UX.md): paths, -o, -q, --no-color, --host-network."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from microseg.cli.args import PortArg, port_value, size_value
from microseg.cli.common import Inputs
from microseg.cli.usage import choice
from microseg.ingest.limits import MAX_INPUT_BYTES

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
    "reads_inputs",
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
        help="network (NetworkPolicy tiers), mesh (Istio mTLS and AuthorizationPolicy, Linkerd "
        "Servers and authorizations) or both (default: both when the input has Istio security "
        "resources or Linkerd policy or injection, else network).",
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

ClusterFlag = Annotated[
    bool,
    typer.Option(
        "--cluster",
        help="Read the live cluster through the API (kubeconfig or in-cluster) instead of PATHs.",
    ),
]
Context = Annotated[
    str | None,
    typer.Option(
        "--context",
        help="With --cluster: the kubeconfig context (default: current).",
        show_default=False,
    ),
]
Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        help="With --cluster: the kubeconfig file (default: KUBECONFIG, then ~/.kube/config).",
        show_default=False,
    ),
]
ClusterNamespaces = Annotated[
    list[str] | None,
    typer.Option(
        "--cluster-namespace",
        help="With --cluster: read only this namespace's objects (repeatable; cluster-scoped "
        "kinds are read whole). Not -n, which names the namespace of file objects without one.",
        show_default=False,
    ),
]
Strict = Annotated[
    bool,
    typer.Option("--strict", help="Warnings about the input are errors (exit 2)."),
]

_INPUT_OPTIONS = (
    ("cluster", ClusterFlag, False),
    ("context", Context, None),
    ("kubeconfig", Kubeconfig, None),
    ("cluster_namespace", ClusterNamespaces, None),
    ("strict", Strict, False),
    ("max_input_size", MaxInputSize, MAX_INPUT),
)


def _is_argument(annotation: Any) -> bool:
    from typer.models import ArgumentInfo

    return any(isinstance(m, ArgumentInfo) for m in getattr(annotation, "__metadata__", ()))


def reads_inputs(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command that reads manifests the input options every such command shares:
    `--cluster [--context] [--kubeconfig] [--cluster-namespace NS]`, `--strict` and
    `--max-input-size`.

    The command declares a keyword `inputs: Inputs` (hidden from the command line) and
    passes it to its Session; its PATH arguments become optional, since `--cluster` reads
    the API instead. One decorator line per command, so that a new command gains the same
    options, spelt the same way, by writing `@reads_inputs` above it."""
    signature = inspect.signature(command, eval_str=True)
    params = []
    for p in signature.parameters.values():
        if p.name == "inputs":
            continue
        if p.default is p.empty and _is_argument(p.annotation):
            p = p.replace(default=None)  # PATHs may be left out with --cluster
        # Keyword-only (typer passes every value by name), so that a required option may
        # follow the PATHs now that they have a default.
        params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
    at = next((i for i, p in enumerate(params) if p.name == "quiet"), len(params))
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
        for name, a, d in _INPUT_OPTIONS
    ]
    params[at:at] = extra

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        inputs = Inputs(
            cluster=bool(kwargs.pop("cluster", False)),
            context=kwargs.pop("context", None),
            kubeconfig=kwargs.pop("kubeconfig", None),
            namespaces=tuple(kwargs.pop("cluster_namespace", None) or ()),
            strict=bool(kwargs.pop("strict", False)),
            max_input_bytes=int(kwargs.pop("max_input_size", MAX_INPUT)),
        )
        command(*args, **kwargs, inputs=inputs)

    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return run
