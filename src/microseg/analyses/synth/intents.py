"""`microseg generate --intents`: policies from segmentation intents, through the same
builder as `recommend`, proven by `verify` and by a strict-domain check over their scope.

What intents become (docs/intents.md gives their meaning):
- `allow A -> B on P`: every workload of A gets egress to B on P, every workload of B
  ingress from A on P. Groups keep their own shape as peers: a `workload` group by that
  workload's stable selector, a namespace or selector group by its selectors (the
  namespace as `kubernetes.io/metadata.name`), `cidr` groups as ipBlocks exactly as
  written, `internet` as the public-address block, `cluster` as every pod, `kube-dns` as
  `k8s-app=kube-dns` pods of kube-system. No ports: a rule without `ports` (every port),
  as the intent means; named ports stay names (they resolve on each destination pod in
  both worlds).
- Scope: the namespaces of every workload any intent names (allow, deny, domains,
  expectations); each gets a default deny, so deny intents, strict domains, defaultDeny
  and noInternetEgress hold unless an allow intent says otherwise.
- Nothing else: no DNS, no probes (an intent set that needs DNS says so).

Proof: `verify` on the cluster plus the set must pass, and a strict domain made of the
whole scope must hold against the allow intents: nothing is allowed inside, into or out of
the scope that no allow intent covers. Its excess (rows, to the port) is what a closed
intent set must not have: existing policies kept beside the set, a workload whose stable
labels its neighbours share, a rule the builder widened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microseg.analyses.groups import GroupResolver, Members
from microseg.analyses.space import Space
from microseg.analyses.synth import guardrails
from microseg.analyses.synth.build import (
    BuildContext,
    default_deny,
    namespace_selector,
    policy_name,
    workload_policy,
)
from microseg.analyses.synth.cidrs import public_block
from microseg.analyses.synth.labels import Choice, choose_selectors
from microseg.analyses.synth.mesh_intents import generate_mesh
from microseg.analyses.synth.recommend import Finding, merge
from microseg.analyses.synth.types import (
    Generated,
    Needs,
    PeerKind,
    PeerRef,
    PolicyFormat,
    PortItem,
    Ports,
)
from microseg.analyses.verify import VerificationReport, verify
from microseg.analyses.verify_flows import FlowChecker, Outcome, node_multi
from microseg.engine import Connectivity, EngineOptions, HostNetwork, WorkloadGraph
from microseg.model.addresses import PUBLIC
from microseg.model.cluster import Cluster
from microseg.model.intent import (
    CLUSTER_GROUP,
    INTERNET_GROUP,
    KUBE_DNS_GROUP,
    FlowKind,
    GroupSpec,
    IntentPort,
    IntentSet,
    MaxBlastRadius,
)
from microseg.model.netpol import Direction
from microseg.model.selectors import LabelSelector, Operator, Requirement

__all__ = ["Generation", "generate"]


@dataclass(frozen=True, slots=True)
class Generation:
    format: PolicyFormat
    generated: tuple[Generated, ...]
    covered: tuple[str, ...]
    report: VerificationReport
    excess: Outcome
    selectors: tuple[tuple[str, Choice], ...]
    findings: tuple[Finding, ...] = ()

    @property
    def holds(self) -> bool:
        return self.report.ok and not self.excess.total


def _items(ports: tuple[IntentPort, ...]) -> Ports:
    if not ports:
        return None
    return frozenset(
        PortItem(p.protocol.value, name=p.name)
        if p.name
        else PortItem(p.protocol.value, p.start, p.end)
        for p in ports
    )


def _selector_peer(spec: GroupSpec) -> PeerRef:
    reqs: list[Requirement] = []
    if spec.namespace is not None:
        reqs += list(namespace_selector(spec.namespace).requirements)
    if spec.namespace_selector is not None:
        reqs += list(spec.namespace_selector.requirements)
    label = spec.describe()
    if spec.namespace is not None and spec.namespace_selector is None:
        return PeerRef(
            PeerKind.SELECTOR, namespace=spec.namespace, pod_selector=spec.selector, label=label
        )
    return PeerRef(
        PeerKind.SELECTOR,
        namespace_selector=LabelSelector(tuple(reqs)),
        pod_selector=spec.selector,
        label=label,
    )


def _peers(
    name: str, spec: GroupSpec | None, members: Members, workloads: list[int], v6: bool
) -> list[PeerRef]:
    if name == INTERNET_GROUP:
        out = []
        for version in (4, 6) if v6 else (4,):
            cidr, excepts = public_block(version)
            out.append(
                PeerRef(
                    PeerKind.CIDR,
                    cidr=cidr,
                    excepts=excepts,
                    label="the public internet (group internet)",
                )
            )
        return out
    if name == CLUSTER_GROUP:
        return [PeerRef(PeerKind.EVERY_POD)]
    if name == KUBE_DNS_GROUP:
        sel = LabelSelector((Requirement("k8s-app", Operator.IN, frozenset({"kube-dns"})),))
        return [
            PeerRef(
                PeerKind.SELECTOR, namespace="kube-system", pod_selector=sel, label="group kube-dns"
            )
        ]
    assert spec is not None
    if spec.cidrs:
        return [PeerRef(PeerKind.CIDR, cidr=c, label=f"group {name}") for c in spec.cidrs]
    if spec.workload is not None:
        return [PeerRef(PeerKind.WORKLOAD, workload=w) for w in workloads]
    return [_selector_peer(spec)]


def generate(
    cluster: Cluster,
    intents: IntentSet,
    fmt: PolicyFormat = PolicyFormat.NETWORKPOLICY,
    replace_existing: bool = False,
    engine: EngineOptions | None = None,
    anp_priority: int = 500,
) -> Generation:
    engine = engine or EngineOptions()
    as_node = engine.host_network is HostNetwork.NODE
    conn0 = Connectivity.build(cluster, engine)
    graph = WorkloadGraph.build(conn0)
    resolver = GroupResolver.build(conn0, graph)
    choices = choose_selectors(cluster, as_node)
    index = {str(w.key): i for i, w in enumerate(cluster.workloads)}
    names = {g.name for g in intents.groups}
    used = sorted(
        {f.src for f in intents.flows}
        | {f.dst for f in intents.flows}
        | {m for d in intents.domains for m in d.members}
        | {e.src if isinstance(e, MaxBlastRadius) else e.group for e in intents.expectations}
    )
    members = {n: resolver.resolve(n, intents.group(n) if n in names else None) for n in used}
    of_group: dict[str, list[int]] = {}
    for n, m in members.items():
        ws = {index[graph.node_workload[k]] for k in np.flatnonzero(m.nodes).tolist()}
        of_group[n] = sorted(w for w in ws if w in choices)
    v6 = any(m.addresses.v6 for n, m in members.items() if n != INTERNET_GROUP)
    covered_ns = sorted(
        {cluster.workloads[w].key.namespace for ws in of_group.values() for w in ws}
    )
    covered = {i for i in choices if cluster.workloads[i].key.namespace in covered_ns}
    needs = Needs()
    for flow in intents.flows:
        if flow.kind is not FlowKind.ALLOW:
            continue
        ports = _items(flow.ports)
        src_peers = _peers(
            flow.src, intents.group(flow.src), members[flow.src], of_group[flow.src], v6
        )
        dst_peers = _peers(
            flow.dst, intents.group(flow.dst), members[flow.dst], of_group[flow.dst], v6
        )
        for t in of_group[flow.src]:
            for p in dst_peers:
                needs.add(t, Direction.EGRESS, p, ports, flow.id)
        for t in of_group[flow.dst]:
            for p in src_peers:
                needs.add(t, Direction.INGRESS, p, ports, flow.id)
    files = ", ".join(intents.files)
    ctx = BuildContext(
        cluster,
        choices,
        {
            ns: frozenset(i for i in choices if cluster.workloads[i].key.namespace == ns)
            for ns in {cluster.workloads[i].key.namespace for i in choices}
        },
        (("microseg.dev/intents", files),),
        f"Generated by `microseg generate` from the intents in {files}. Review before applying; `microseg verify` checks it.",
        policy_name(cluster, covered),
    )
    generated: list[Generated] = []
    targets = {t for t, _ in needs.ports}
    for ns in covered_ns if fmt is not PolicyFormat.ISTIO else ():
        generated.append(default_deny(ns, ctx))
        for i in sorted(
            (i for i in targets if cluster.workloads[i].key.namespace == ns),
            key=lambda i: cluster.workloads[i].key,
        ):
            generated.append(workload_policy(i, needs, ctx))
    findings: list[Finding] = []
    if fmt is PolicyFormat.ISTIO:
        made, mesh_notes = generate_mesh(cluster, intents, of_group, choices, covered_ns, ctx, v6)
        generated += made
        findings += [Finding(*n) for n in mesh_notes]
    if fmt is PolicyFormat.ADMINNETWORKPOLICY:
        extra, notes = guardrails.generate(cluster, generated, covered_ns, anp_priority, ctx, v6)
        generated += extra
        findings += [Finding(*n) for n in notes]
    for i in sorted(covered, key=lambda i: cluster.workloads[i].key):
        c = choices[i]
        if c.neighbours:
            findings.append(
                Finding(
                    "MS523",
                    "warning",
                    str(cluster.workloads[i].key),
                    f"no stable label tells it apart from {', '.join(c.neighbours)}: selected by {{{c.selector}}} ({c.source})",
                )
            )
    merged = merge(cluster, tuple(generated), set(covered_ns) if replace_existing else set())
    conn = Connectivity.build(merged, engine)
    report = verify(conn, intents)
    excess = _excess(conn, intents, covered_ns)
    return Generation(
        fmt,
        tuple(generated),
        tuple(covered_ns),
        report,
        excess,
        tuple(
            (str(cluster.workloads[i].key), choices[i])
            for i in sorted(covered, key=lambda i: cluster.workloads[i].key)
        ),
        tuple(findings),
    )


def _excess(conn: Connectivity, intents: IntentSet, covered_ns: list[str]) -> Outcome:
    """A strict domain of the whole scope against the allow intents (verify's check)."""
    graph = WorkloadGraph.build(conn)
    resolver = GroupResolver.build(conn, graph)
    names = {g.name for g in intents.groups}
    allows = intents.allows
    wanted = sorted({f.src for f in allows} | {f.dst for f in allows})
    members = {n: resolver.resolve(n, intents.group(n) if n in names else None) for n in wanted}
    inside = np.array([w.split("/", 1)[0] in covered_ns for w in graph.node_workload], np.bool_)
    scope = Members("scope", inside.reshape(-1) if len(inside) else np.zeros(0, np.bool_))
    ports = [p for f in allows for p in f.ports]
    addresses = [m.addresses for n, m in members.items() if n != INTERNET_GROUP]
    space = Space.build(conn, ports, [*addresses, PUBLIC], v6=any(a.v6 for a in addresses))
    checker = FlowChecker(space, graph, node_multi(space, graph, resolver.node_of_pod))
    cover = [(members[a.src], members[a.dst], a.ports) for a in allows]
    return checker.domain([scope], cover)
