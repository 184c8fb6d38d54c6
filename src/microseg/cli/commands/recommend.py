"""`microseg recommend`: least-privilege policies from the flows of a flow store, written to
`--out DIR` and proven by the engine on the cluster plus the set. Exit 0 when the proof
holds (every learnt flow stays allowed), 1 when it does not (a bug, listed), 2 on bad input.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from microseg.cli.commands.flows import open_store
from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, FILES, Inputs, Session, emit
from microseg.cli.mesh_session import load_mesh
from microseg.cli.options import (
    AssumeMesh,
    AssumeSystemPods,
    HostNet,
    HostNetworkChoice,
    IstioRoot,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    TextOrJson,
    TrustDomain,
    output_option,
    reads_inputs,
)
from microseg.cli.policy_files import write_files

__all__ = ["FormatChoice", "Granularity", "bad_option", "recommend"]


class FormatChoice(StrEnum):
    NETWORKPOLICY = "networkpolicy"
    ADMINNETWORKPOLICY = "adminnetworkpolicy"
    ISTIO = "istio"
    CALICO = "calico"
    LINKERD = "linkerd"


class Granularity(StrEnum):
    WORKLOAD = "workload"
    NAMESPACE = "namespace"


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def bad_option(option: str, message: str) -> None:
    sys.stderr.write(f"error[MS520]: {option}: {message}\n")
    raise typer.Exit(EXIT_BAD_INPUT)


def parse_since(text: str | None) -> tuple[datetime | None, timedelta | None]:
    """RFC 3339 (UTC when no offset), or a duration back from the store's newest record."""
    if text is None:
        return None, None
    m = _DURATION.fullmatch(text.strip())
    if m:
        return None, timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        bad_option(
            "--since",
            f"{text!r}: expected an RFC 3339 time (2026-11-20T10:00:00Z) or a duration (90m, 24h, 7d)",
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(tzinfo=None), None


def check_cidrs(option: str, values: list[str]) -> tuple[str, ...]:
    import ipaddress

    out = []
    for v in values:
        try:
            out.append(str(ipaddress.ip_network(v.strip(), strict=False)))
        except ValueError:
            bad_option(option, f"{v!r}: expected a CIDR such as 10.0.0.0/16")
    return tuple(out)


@reads_inputs
def recommend(
    paths: Paths,
    flows: Annotated[
        str,
        typer.Option(
            "--flows", help="The flow store written by `microseg flows import`.", show_default=False
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="Folder to write the policy files to (created; files microseg wrote before and no longer writes are removed).",
            show_default=False,
        ),
    ],
    policy_format: Annotated[
        FormatChoice,
        typer.Option(
            "--format",
            help="networkpolicy; adminnetworkpolicy (the NetworkPolicies plus namespace guardrails: ANP Pass/Deny, BANP default deny); istio (AuthorizationPolicies with principals); calico (projectcalico.org/v3 NetworkPolicies, a default deny per namespace); linkerd (a Server per observed port, AuthorizationPolicies requiring the callers' MeshTLSAuthentication or NetworkAuthentication).",
        ),
    ] = FormatChoice.NETWORKPOLICY,
    granularity: Annotated[
        Granularity,
        typer.Option(
            "--granularity",
            help="workload: a policy per workload, peers by workload; namespace: a policy per namespace, peers by namespace.",
        ),
    ] = Granularity.WORKLOAD,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Learn from keys last seen at or after this RFC 3339 time, or within this duration (90m, 24h, 7d) of the store's newest record.",
            show_default=False,
        ),
    ] = None,
    min_count: Annotated[
        int,
        typer.Option(
            "--min-count",
            help="Learn only edges (workload, peer, port) seen in at least N records.",
        ),
    ] = 1,
    max_prefix: Annotated[
        int,
        typer.Option(
            "--max-prefix", help="Widest IPv4 CIDR external addresses are aggregated into."
        ),
    ] = 24,
    max_prefix_v6: Annotated[
        int,
        typer.Option(
            "--max-prefix-v6", help="Widest IPv6 CIDR external addresses are aggregated into."
        ),
    ] = 64,
    internet_egress: Annotated[
        bool,
        typer.Option(
            "--allow-internet-egress",
            help="Public destinations as a port-only rule to the public internet instead of CIDRs.",
        ),
    ] = False,
    internet_ingress: Annotated[
        bool,
        typer.Option(
            "--allow-internet-ingress",
            help="Public sources as a port-only rule from the public internet instead of CIDRs.",
        ),
    ] = False,
    allow_probes: Annotated[
        bool,
        typer.Option(
            "--allow-probes",
            help="Ingress from the node addresses (Node objects, or --node-cidr) on each probe's port.",
        ),
    ] = False,
    node_cidr: Annotated[
        list[str] | None,
        typer.Option(
            "--node-cidr",
            help="Node addresses for --allow-probes (repeatable).",
            show_default=False,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-namespace",
            help="Namespaces (globs) to write nothing for; their workloads stay peers (repeatable).",
            show_default=False,
        ),
    ] = None,
    replace_existing: Annotated[
        bool,
        typer.Option(
            "--replace-existing",
            help="Prove the set as a replacement of the NetworkPolicies of the namespaces it covers, not an addition.",
        ),
    ] = False,
    rollout: Annotated[
        bool,
        typer.Option(
            "--rollout",
            help="Write the set as numbered steps (a namespace each, least used first), each replayed on the flows.",
        ),
    ] = False,
    anp_priority: Annotated[
        int,
        typer.Option(
            "--anp-priority",
            help="First AdminNetworkPolicy priority to use (--format adminnetworkpolicy).",
        ),
    ] = 500,
    output: Annotated[TextOrJson, output_option(TextOrJson)] = TextOrJson.TEXT,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    assume_mesh: AssumeMesh = False,
    trust_domain: TrustDomain = "cluster.local",
    istio_root: IstioRoot = "istio-system",
    host_network: HostNet = HostNetworkChoice.NODE,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Least-privilege policies from observed flows, proven by the engine. Exit 0 proven, 1 not, 2 bad input."""
    from microseg.analyses.synth import PolicyFormat, RecommendOptions
    from microseg.analyses.synth import recommend as run
    from microseg.analyses.synth.needs import AddressOptions
    from microseg.ingest.flows.window import read_window
    from microseg.render.recommend import plan_files, report_json, report_text

    if min_count < 1:
        bad_option("--min-count", f"{min_count}: expected 1 or more")
    if not 0 <= max_prefix <= 32:
        bad_option("--max-prefix", f"{max_prefix}: expected 0-32")
    if not 0 <= max_prefix_v6 <= 128:
        bad_option("--max-prefix-v6", f"{max_prefix_v6}: expected 0-128")
    if not 0 <= anp_priority <= 1000:
        bad_option("--anp-priority", f"{anp_priority}: expected 0-1000")
    cidrs = check_cidrs("--node-cidr", node_cidr or [])
    when, within = parse_since(since)
    if not Path(flows).is_file():
        bad_option(
            "--flows", f"{flows}: no such flow store (create one with `microseg flows import`)"
        )
    session = Session(
        quiet,
        no_color,
        host_network.value,
        namespace=namespace,
        assume_system_pods=assume_system_pods,
        assume_mesh=assume_mesh,
        inputs=inputs,
    )
    with open_store(flows) as store:
        window = session.stage("reading flow keys", lambda: read_window(store, when, within))
    if not len(window.keys):
        why = f"--since {since} leaves none of its keys" if since else "it holds no flow keys"
        bad_option(
            "--flows",
            f"{flows}: nothing to learn from ({why}); every workload would only be denied",
        )
    options = RecommendOptions(
        format=PolicyFormat(policy_format.value),
        granularity=granularity.value,
        min_count=min_count,
        addresses=AddressOptions(max_prefix, max_prefix_v6, internet_egress, internet_ingress),
        allow_probes=allow_probes,
        node_cidrs=cidrs,
        exclude=tuple(exclude or ()),
        replace_existing=replace_existing,
        rollout=rollout,
        anp_priority=anp_priority,
    )
    with session.progress():
        cluster = load_mesh(session, paths, trust_domain, istio_root)
        if allow_probes and not cidrs and not any(n.addresses for n in cluster.nodes):
            bad_option(
                "--allow-probes", "no node addresses: give Node objects in the input or --node-cidr"
            )
        result = session.stage(
            "recommending", lambda: run(cluster, window, options, session.options)
        )
    order = None
    if result.rollout:
        order = [st.group for st in result.rollout]
    header = result.generated[0].header if result.generated else ""
    files = plan_files(result.generated, order, header)
    write_files(out, [(name, text) for name, text, _ in files])
    if not quiet:
        for f in result.findings:
            if f.severity == "warning":
                sys.stderr.write(f"warning[{f.code}]: {f.subject}: {f.message}\n")
    if output is TextOrJson.JSON:
        emit(report_json(result, out, files), escaped=True)
    else:
        emit(report_text(result, out, files))
    raise typer.Exit(0 if result.proof.holds else EXIT_VIOLATION)
