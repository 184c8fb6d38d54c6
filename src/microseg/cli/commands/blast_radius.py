"""`microseg blast-radius`: what an attacker holding some workloads can reach, hop by hop.

A thin shell: choose sources and crown jewels (analyses/blast.py resolves the names), run
the search, hand the result to render/blast.py. Exit 0 whatever the radius (it is a report,
not a check: `verify`'s maxBlastRadius is the check); 2 for bad input.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from microseg.cli.args import PortArg
from microseg.cli.common import FILES, Inputs, emit, fail, say
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
    TrustDomain,
    output_option,
    port_option,
    reads_inputs,
)

if TYPE_CHECKING:
    from microseg.analyses.blast import NamedPort
    from microseg.engine import Connectivity, WorkloadGraph
    from microseg.model.intent import IntentSet
    from microseg.model.sets import ConnSet

__all__ = ["BlastFormat", "blast_radius_cmd"]


class BlastFormat(StrEnum):
    """-o for `blast-radius`: dot draws the attack tree."""

    TEXT = "text"
    JSON = "json"
    DOT = "dot"


def _nodes(
    conn: Connectivity,
    graph: WorkloadGraph,
    names: list[str],
    flag: str,
    intents: IntentSet | None,
    quiet: bool,
    conns: ConnSet | None = None,
    named: NamedPort | None = None,
) -> list[int]:
    from microseg.analyses.blast import resolve_nodes
    from microseg.analyses.groups import GroupResolver
    from microseg.engine import UnknownEndpointError

    out: set[int] = set()
    resolver = GroupResolver.build(conn, graph)
    for name in names:
        try:
            nodes, notes = resolve_nodes(
                conn,
                graph,
                name,
                intents,
                target=flag == "--to",
                resolver=resolver,
                conns=conns,
                named=named,
            )
        except UnknownEndpointError as exc:
            message = str(exc)
            fail(f"{flag} {message if message.startswith(repr(name)) else f'{name!r}: {message}'}")
        if not quiet:
            for note in notes:
                say(f"notice: {flag} {name}: {note}\n")
        if not nodes and not quiet:
            say(f"notice: {flag} {name}: no workloads\n")
        out.update(nodes)
    return sorted(out)


def _check_named(conn: Connectivity, text: str, named: NamedPort) -> None:
    """A port name no container of the input declares (with that protocol) is a mistake,
    most often a typo or a missing protocol (`bogus` reads as TCP/bogus): it would silently
    make every hop impossible. Classes share their named ports, so one pod per class says."""
    if any(r.named_port(named.name, named.protocol) is not None for r in conn.classes.reps):
        return
    fail(
        f"--port {text!r}: no container port named {named.name!r} with protocol "
        f"{named.protocol.value} in the input; expected PROTO/PORT, PROTO/START-END "
        "(e.g. TCP/5432) or PROTO/NAME of a container port"
    )


@reads_inputs
def blast_radius_cmd(
    paths: Paths,
    src: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            help="Compromised workload: ns/name, ns/name[Kind], a pod ns/pod, ns/* for a "
            "whole namespace, a group (internet, cluster, kube-dns, or from --intents), or "
            "an address/CIDR (the workloads it may connect to). Repeatable.",
            show_default=False,
        ),
    ] = None,
    from_exposed: Annotated[
        bool,
        typer.Option(
            "--from-exposed",
            help="Start from every workload that accepts connections from public "
            "(internet) addresses or sits behind an Ingress or Route.",
        ),
    ] = False,
    hops: Annotated[
        int | None,
        typer.Option("--hops", help="At most this many hops (default: no limit).", min=1),
    ] = None,
    port: Annotated[
        PortArg | None,
        port_option(
            "Only hops allowing PROTO/PORT, PROTO/START-END (e.g. TCP/5432) or "
            "PROTO/NAME (the destination's container port of that name), the entry from "
            "addresses or the ingress controller included."
        ),
    ] = None,
    dst: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            help="Crown jewels: a workload, pod, ns/* or group (no addresses); list only "
            "these, with shortest paths. Repeatable.",
            show_default=False,
        ),
    ] = None,
    intents: Annotated[
        list[str] | None,
        typer.Option(
            "--intents",
            help="SegmentationIntent file(s) whose groups --from and --to may name.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[BlastFormat, output_option(BlastFormat)] = BlastFormat.TEXT,
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
    """Workloads reachable from compromised ones, each with its hop count, one shortest
    attack path and the policies that permit each hop."""
    # Imported when the command runs: every command's modules at start-up slow them all.
    from microseg.analyses.blast import NamedPort, blast_radius, exposed_sources
    from microseg.cli.intent_files import load_intent_files
    from microseg.engine import WorkloadGraph
    from microseg.render.blast import BlastQuery, blast_dot, blast_json, blast_text

    if not src and not from_exposed:
        fail("give --from WORKLOAD (ns/name, ns/*, a group) or --from-exposed")
    conns: ConnSet | None = None
    named: NamedPort | None = None
    if port is not None:
        if port.name:
            named = NamedPort(port.protocol, port.name)
        else:
            conns = port.conns()
    intent_set = load_intent_files(intents, quiet) if intents else None
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    if named is not None:
        _check_named(conn, port.text if port else "", named)
    graph = session.stage("workload graph", lambda: WorkloadGraph.build(conn))
    sources = set(
        _nodes(conn, graph, src or [], "--from", intent_set, quiet, conns=conns, named=named)
    )
    labels = list(src or [])
    if from_exposed:
        exposed = exposed_sources(conn, graph, ingress=True, conns=conns, named=named)
        if not exposed and not quiet:
            sys.stderr.write(
                "notice: no workload accepts connections from public addresses or sits behind an Ingress or Route\n"
            )
        sources.update(exposed)
        labels.append("internet-exposed workloads")
    targets = _nodes(conn, graph, dst, "--to", intent_set, quiet) if dst else None
    result = session.stage(
        "blast radius",
        lambda: blast_radius(
            conn,
            graph,
            sorted(sources),
            hops=hops,
            conns=conns,
            targets=targets,
            named=named,
            explain=output
            is not BlastFormat.DOT,  # the attack tree shows no policies: skip the work
        ),
    )
    query = BlastQuery(
        " + ".join(labels),
        hops,
        conns,
        tuple(graph.nodes[i] for i in targets) if targets is not None else None,
        f"{named.protocol.value}/{named.name}" if named is not None else None,
    )
    render = {
        BlastFormat.TEXT: blast_text,
        BlastFormat.JSON: blast_json,
        BlastFormat.DOT: blast_dot,
    }[output]
    emit(render(result, query))
