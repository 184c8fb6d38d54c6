"""`microseg recommend`: least-privilege policies from observed flows, proven by the engine.

Pure: takes the cluster, one window of flow keys (model/flow_window.py) and options, and
returns the generated objects, the findings a reviewer needs (workloads never seen, labels
that cannot tell workloads apart, probes, shared service accounts), the proof (proof.py)
and, with `rollout`, the steps to apply them in (rollout.py).

Scope: every namespace with selectable workloads, less `exclude` (globs). A covered
namespace gets a default deny; each workload of it seen in the flows gets its own policy;
a workload never seen gets nothing but the default deny (and a finding), never an allow-all.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from microseg.analyses.synth import calico, guardrails, linkerd, mesh
from microseg.analyses.synth.build import (
    BuildContext,
    default_deny,
    named_ports,
    namespace_policy,
    policy_name,
    workload_policy,
)
from microseg.analyses.synth.labels import Choice, choose_selectors
from microseg.analyses.synth.needs import AddressOptions, build_needs, probe_needs
from microseg.analyses.synth.observe import LearnStats, learn
from microseg.analyses.synth.proof import Proof, prove
from microseg.analyses.synth.rollout import RolloutStep, rollout_steps
from microseg.analyses.synth.types import Generated, Needs, PeerKind, PeerRef, PolicyFormat
from microseg.engine import (
    Connectivity,
    EngineOptions,
    HostNetwork,
    Layer,
    materialise_if_small,
)
from microseg.model.admin import AdminPolicy
from microseg.model.calico import CalicoPolicy
from microseg.model.cluster import Cluster
from microseg.model.flow_window import FlowWindow
from microseg.model.flows import EndpointResolver
from microseg.model.linkerd import (
    LinkerdAuthorizationPolicy,
    LinkerdPolicies,
    MeshTLSAuthentication,
    NetworkAuthentication,
    Server,
)
from microseg.model.mesh import AuthorizationPolicy
from microseg.model.netpol import Direction, NetworkPolicy

__all__ = [
    "Finding",
    "RecommendOptions",
    "Recommendation",
    "merge",
    "recommend",
]


@dataclass(frozen=True, slots=True)
class RecommendOptions:
    format: PolicyFormat = PolicyFormat.NETWORKPOLICY
    granularity: str = "workload"
    min_count: int = 1
    addresses: AddressOptions = field(default_factory=AddressOptions)
    allow_probes: bool = False
    node_cidrs: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    replace_existing: bool = False
    rollout: bool = False
    anp_priority: int = 500


@dataclass(frozen=True, slots=True)
class Finding:
    """What a reviewer must know; `code` is a README diagnostic (MS520-MS539)."""

    code: str
    severity: str
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class Recommendation:
    format: PolicyFormat
    granularity: str
    window: tuple[str, str, str]
    """(first seen, last seen, cut-off) of the keys learnt from."""
    stats: LearnStats
    generated: tuple[Generated, ...]
    selectors: tuple[tuple[str, Choice], ...]
    findings: tuple[Finding, ...]
    proof: Proof
    covered: tuple[str, ...]
    unseen: tuple[str, ...]
    resolvers: tuple[str, ...]
    rollout: tuple[RolloutStep, ...] = ()


def merge(
    base: Cluster,
    generated: tuple[Generated, ...],
    replace_ns: frozenset[str] | set[str] = frozenset(),
) -> Cluster:
    """`base` with the generated objects added, each replacing the object of the same kind,
    namespace and name (as `simulate --with` does); `replace_ns`: also drop the base's
    NetworkPolicies in these namespaces (the set replaces them), and with a Calico set their
    Calico NetworkPolicies too (staged and global policies stay). Calico policies in the set
    make the cluster a Calico one (`calico.present`): the engine then follows Calico's
    ordered tiers for every policy, as Calico enforces them."""
    calicos = [g.policy for g in generated if isinstance(g.policy, CalicoPolicy)]
    calico_keys = {(p.kind, p.namespace, p.name) for p in calicos}
    if calicos:
        base = replace(
            base,
            calico=replace(
                base.calico,
                present=True,
                policies=tuple(
                    p
                    for p in base.calico.policies
                    if (p.kind, p.namespace, p.name) not in calico_keys
                    and not (p.kind == "NetworkPolicy" and p.namespace in replace_ns)
                )
                + tuple(calicos),
            ),
        )
    nps = [g.policy for g in generated if isinstance(g.policy, NetworkPolicy)]
    admins = [g.policy for g in generated if isinstance(g.policy, AdminPolicy)]
    authz = [g.policy for g in generated if isinstance(g.policy, AuthorizationPolicy)]
    mine = {(p.namespace, p.name) for p in nps}
    admin_keys = {(a.kind, a.name) for a in admins}
    authz_keys = {(a.namespace, a.name) for a in authz}
    return replace(
        base,
        policies=tuple(
            p
            for p in base.policies
            if (p.namespace, p.name) not in mine and p.namespace not in replace_ns
        )
        + tuple(nps),
        admin_policies=tuple(a for a in base.admin_policies if (a.kind, a.name) not in admin_keys)
        + tuple(admins),
        authorization_policies=tuple(
            a for a in base.authorization_policies if (a.namespace, a.name) not in authz_keys
        )
        + tuple(authz),
        linkerd=_merge_linkerd(base.linkerd, generated),
    )


def _merge_linkerd(base: LinkerdPolicies, generated: tuple[Generated, ...]) -> LinkerdPolicies:
    """`base` with the generated Linkerd objects, each replacing its kind's namesake."""
    new = [g.policy for g in generated]
    servers = [p for p in new if isinstance(p, Server)]
    policies = [p for p in new if isinstance(p, LinkerdAuthorizationPolicy)]
    mtls = [p for p in new if isinstance(p, MeshTLSAuthentication)]
    nets = [p for p in new if isinstance(p, NetworkAuthentication)]
    if not (servers or policies or mtls or nets):
        return base

    def keys(objs: list[Any]) -> set[tuple[str, str]]:
        return {(o.namespace, o.name) for o in objs}

    return replace(
        base,
        servers=tuple(o for o in base.servers if (o.namespace, o.name) not in keys(servers))
        + tuple(servers),
        authorization_policies=tuple(
            o for o in base.authorization_policies if (o.namespace, o.name) not in keys(policies)
        )
        + tuple(policies),
        mesh_tls=tuple(o for o in base.mesh_tls if (o.namespace, o.name) not in keys(mtls))
        + tuple(mtls),
        network_authentications=tuple(
            o for o in base.network_authentications if (o.namespace, o.name) not in keys(nets)
        )
        + tuple(nets),
    )


def _window_annotations(window: FlowWindow) -> tuple[tuple[str, str], ...]:
    span = f"{window.first_seen or 'unknown'}/{window.last_seen or 'unknown'}"
    return (("microseg.dev/flow-window", span),)


def recommend(
    cluster: Cluster,
    window: FlowWindow,
    options: RecommendOptions,
    engine: EngineOptions | None = None,
) -> Recommendation:
    engine = engine or EngineOptions()
    as_node = engine.host_network is HostNetwork.NODE
    resolver = EndpointResolver(cluster, as_node)
    learnt = learn(cluster, window.keys, resolver, options.min_count)
    choices = choose_selectors(cluster, as_node)
    ns_of = {i: cluster.workloads[i].key.namespace for i in choices}
    covered_ns = sorted(
        {
            ns
            for ns in ns_of.values()
            if not any(fnmatch.fnmatchcase(ns, g) for g in options.exclude)
        }
    )
    covered = {i for i, ns in ns_of.items() if ns in covered_ns}
    ns_workloads: dict[str, set[int]] = defaultdict(set)
    for i, ns in ns_of.items():
        ns_workloads[ns].add(i)
    by_namespace = options.granularity == "namespace"
    target_of = {i: (-1 - covered_ns.index(ns_of[i]) if by_namespace else i) for i in covered}
    peer_of = {
        i: PeerRef(PeerKind.NAMESPACE, namespace=ns_of[i])
        if by_namespace
        else PeerRef(PeerKind.WORKLOAD, workload=i)
        for i in choices
    }
    named = named_ports(cluster, as_node)
    needs, found = build_needs(
        cluster, learnt, target_of, peer_of, named, window.names_of(), options.addresses
    )
    findings: list[Finding] = []
    node_cidrs = _node_cidrs(cluster, options)
    if options.allow_probes:
        probe_needs(cluster, needs, target_of, node_cidrs)
    seen = {int(e) for e in (*learnt.src.tolist(), *learnt.dst.tolist()) if e < learnt.n_workloads}
    annotations = _window_annotations(window)
    header = (
        "Generated by `microseg recommend` from observed flows "
        f"({window.first_seen or 'unknown'} to {window.last_seen or 'unknown'}). "
        "Review before applying; `microseg simulate --with` replays the flows against it."
    )
    ctx = BuildContext(
        cluster,
        choices,
        {ns: frozenset(ws) for ns, ws in ns_workloads.items()},
        annotations,
        header,
        policy_name(cluster, covered),
    )
    generated: list[Generated] = []
    for ns in covered_ns:
        generated.append(default_deny(ns, ctx))
        if by_namespace:
            t = -1 - covered_ns.index(ns)
            if any(k[0] == t for k in needs.ports):
                generated.append(namespace_policy(ns, t, needs, ctx))
            continue
        for i in sorted(ns_workloads[ns], key=lambda i: cluster.workloads[i].key):
            if i in seen or _has_needs(needs, i):
                generated.append(workload_policy(i, needs, ctx))
    unseen = tuple(sorted(str(cluster.workloads[i].key) for i in covered if i not in seen))
    findings += _findings(cluster, choices, covered, unseen, options, node_cidrs)
    layer = Layer.NETWORK
    if options.format is PolicyFormat.ADMINNETWORKPOLICY:
        extra, notes = guardrails.generate(
            cluster,
            generated,
            covered_ns,
            options.anp_priority,
            ctx,
            any(":" in a for a in learnt.addresses),
        )
        generated += extra
        findings += [Finding(*n) for n in notes]
    elif options.format in (PolicyFormat.ISTIO, PolicyFormat.LINKERD):
        synth = mesh if options.format is PolicyFormat.ISTIO else linkerd
        generated, notes = synth.generate(
            cluster, learnt, choices, covered, covered_ns, ctx, options
        )
        findings += [Finding(*n) for n in notes]
        layer = Layer.BOTH
    elif options.format is PolicyFormat.CALICO:
        generated = calico.calico_policies(generated)
    replace_ns = set(covered_ns) if options.replace_existing else set()
    merged = merge(cluster, tuple(generated), replace_ns)
    conn = Connectivity.build(merged, engine).with_layer(layer)
    materialise_if_small(conn)  # the replay and the counts read whole tables when they fit
    mesh_set = options.format in (PolicyFormat.ISTIO, PolicyFormat.LINKERD)
    proof = prove(conn, learnt, covered, as_node, mesh_set)
    steps: tuple[RolloutStep, ...] = ()
    if options.rollout:
        steps = rollout_steps(
            cluster, merged, tuple(generated), learnt, engine, layer, replace_ns, conn
        )
    resolver_names = tuple(
        str(cluster.workloads[r].key)
        if r < learnt.n_workloads
        else learnt.addresses[r - learnt.n_workloads]
        for r in found
    )
    if not found:
        findings.append(
            Finding(
                "MS531",
                "notice",
                "dns",
                "no DNS traffic (UDP 53) in the flows: no DNS rule written",
            )
        )
    return Recommendation(
        options.format,
        options.granularity,
        (window.first_seen, window.last_seen, window.cutoff),
        learnt.stats,
        tuple(generated),
        tuple(
            (str(cluster.workloads[i].key), choices[i])
            for i in sorted(covered, key=lambda i: cluster.workloads[i].key)
        ),
        tuple(findings),
        proof,
        tuple(covered_ns),
        unseen,
        resolver_names,
        steps,
    )


def _has_needs(needs: Needs, i: int) -> bool:
    return (i, Direction.INGRESS) in needs.ports or (i, Direction.EGRESS) in needs.ports


def _node_cidrs(cluster: Cluster, options: RecommendOptions) -> list[tuple[str, str]]:
    if options.node_cidrs:
        return [(c, "node addresses (--node-cidr)") for c in options.node_cidrs]
    out = []
    for node in sorted(cluster.nodes, key=lambda n: n.name):
        for a in node.addresses:
            out.append((f"{a}/{128 if ':' in a else 32}", f"node {node.name}"))
    return sorted(set(out))


def _findings(
    cluster: Cluster,
    choices: dict[int, Choice],
    covered: set[int],
    unseen: tuple[str, ...],
    options: RecommendOptions,
    node_cidrs: list[tuple[str, str]],
) -> list[Finding]:
    out = [
        Finding(
            "MS522",
            "warning",
            w,
            "never seen in the flows: only the namespace's default deny selects it (nothing in or out)",
        )
        for w in unseen
    ]
    probed: list[str] = []
    for i in sorted(covered, key=lambda i: cluster.workloads[i].key):
        c = choices[i]
        w = str(cluster.workloads[i].key)
        if c.source == "unstable":
            out.append(
                Finding(
                    "MS523",
                    "warning",
                    w,
                    f"no stable label at all: selected by {{{c.selector}}}, which changes on rollouts; give it an app.kubernetes.io/name or app label",
                )
            )
        elif c.neighbours:
            out.append(
                Finding(
                    "MS523",
                    "warning",
                    w,
                    f"no stable label tells it apart from {', '.join(c.neighbours)}: selected by {{{c.selector}}} ({c.source}), which selects them too",
                )
            )
        probes = cluster.workloads[i].probes
        if probes and not options.allow_probes:
            probed.append(f"{w} (TCP {', '.join(sorted({str(p.port) for p in probes}))})")
    if probed:
        shown = ", ".join(probed[:10]) + (
            f" and {len(probed) - 10} more" if len(probed) > 10 else ""
        )
        out.append(
            Finding(
                "MS525",
                "notice",
                f"{len(probed)} workloads",
                f"declare network probes, which the kubelet on their node must reach: {shown}; "
                "--allow-probes writes an ipBlock rule for the node addresses",
            )
        )
    return out
