"""Needs to NetworkPolicies: one policy per workload (or per namespace), rules grouped by
port set, peers named by stable selectors, plus a default deny per namespace.

Shapes (networking.k8s.io/v1 NetworkPolicy, kubernetes.io/docs/concepts/services-networking/
network-policies/):
- the target's pods by its stable selector (labels.py); policyTypes Ingress and Egress, so
  the policy isolates both ways even where it has no rule (nothing observed: nothing allowed);
- peers with the same ports share one rule; ports as seen on the destination pod, a named
  container port by name when every pod of the destination declares it, consecutive numbers
  as one `endPort` range;
- a peer workload in the target's namespace by `podSelector` alone, one elsewhere by
  `namespaceSelector` on `kubernetes.io/metadata.name` (set by the API server on every
  namespace) plus its `podSelector`; when every selectable workload of a namespace is a
  peer of one rule, that namespace becomes one peer (`podSelector: {}`), and when every
  namespace is, `namespaceSelector: {}`: the same pods on the snapshot, fewer lines;
- external addresses as `ipBlock` CIDRs (cidrs.py), commented with their address class and
  the DNS names seen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from microseg.analyses.synth.labels import Choice
from microseg.analyses.synth.types import (
    Generated,
    Needs,
    PeerKind,
    PeerRef,
    PortItem,
    Ports,
)
from microseg.model.cluster import Cluster
from microseg.model.netpol import (
    Direction,
    IPBlockPeer,
    NetworkPolicy,
    Peer,
    PodPeer,
    PortSpec,
    Rule,
)
from microseg.model.objects import NAMESPACE_NAME_LABEL
from microseg.model.selectors import LabelSelector
from microseg.model.sets import IPSet, Protocol

__all__ = [
    "DEFAULT_DENY",
    "BuildContext",
    "default_deny",
    "merge_ranges",
    "named_ports",
    "namespace_selector",
    "policy_name",
    "rules_for",
    "workload_policy",
]

DEFAULT_DENY = "microseg-default-deny"
_BOTH = frozenset({Direction.INGRESS, Direction.EGRESS})


@lru_cache(maxsize=4096)
def namespace_selector(ns: str) -> LabelSelector:
    return LabelSelector.from_labels({NAMESPACE_NAME_LABEL: ns})


def named_ports(
    cluster: Cluster, host_network_as_node: bool = True
) -> dict[int, dict[tuple[str, int], str]]:
    """Per workload index: (protocol, number) -> container port name, when every selectable
    pod of the workload declares that number with that one name (a NetworkPolicy named port
    resolves on each pod: a name some pods lack, or map elsewhere, would not be exact)."""
    index = {w.key: i for i, w in enumerate(cluster.workloads)}
    per: dict[int, list[dict[tuple[str, int], set[str]]]] = defaultdict(list)
    for pod in cluster.pods:
        if pod.host_network and host_network_as_node:
            continue
        i = index.get(pod.workload)
        if i is None:
            continue
        declared: dict[tuple[str, int], set[str]] = defaultdict(set)
        for p in pod.ports:
            declared[(p.protocol.value, p.port)].add(p.name)
        per[i].append(declared)
    out: dict[int, dict[tuple[str, int], str]] = {}
    for i, pods in per.items():
        mine: dict[tuple[str, int], str] = {}
        for key, found in pods[0].items():
            name = next(iter(found)) if len(found) == 1 else ""
            # declared alike on every pod, and resolving to no other number for that protocol
            if (
                name
                and all(p.get(key) == {name} for p in pods[1:])
                and all(
                    sum(1 for (pr, _), ns in p.items() if pr == key[0] and name in ns) == 1
                    for p in pods
                )
            ):
                mine[key] = name
        out[i] = mine
    return out


def merge_ranges(items: Iterable[PortItem]) -> list[PortItem]:
    """Named ports as they are; numbers of one protocol merged into maximal ranges."""
    named = sorted({i for i in items if i.name})
    out: list[PortItem] = []
    per: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i in items:
        if not i.name:
            per[i.protocol].append((i.start, i.end))
    for proto in sorted(per):
        runs: list[list[int]] = []
        for lo, hi in sorted(per[proto]):
            if runs and lo <= runs[-1][1] + 1:
                runs[-1][1] = max(runs[-1][1], hi)
            else:
                runs.append([lo, hi])
        out += [PortItem(proto, lo, hi) for lo, hi in runs]
    return sorted(out + named, key=lambda i: (i.protocol, i.name != "", i.start, i.name))


@dataclass(frozen=True, slots=True)
class BuildContext:
    cluster: Cluster
    choices: dict[int, Choice]
    ns_workloads: dict[str, frozenset[int]]
    """Selectable workloads per namespace (those with a Choice)."""
    annotations: tuple[tuple[str, str], ...] = ()
    header: str = ""
    names: dict[int, str] = field(default_factory=dict)
    """Policy name per workload index (policy_name)."""
    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)
    """Peers, peer keys and port lists built once: thousands of policies repeat them."""

    def workload_name(self, i: int) -> str:
        return str(self.cluster.workloads[i].key)


def policy_name(cluster: Cluster, targets: Iterable[int]) -> dict[int, str]:
    """`microseg-<workload>`, with the kind added where two workloads of one namespace share
    a name (a Deployment and a StatefulSet `web`)."""
    chosen = sorted(targets)
    count: dict[tuple[str, str], int] = defaultdict(int)
    for i in chosen:
        k = cluster.workloads[i].key
        count[(k.namespace, k.name)] += 1
    out = {}
    for i in chosen:
        k = cluster.workloads[i].key
        base = f"microseg-{k.name}"
        if count[(k.namespace, k.name)] > 1:
            base += f"-{k.kind.lower()}"
        out[i] = _dns_name(base)
    return out


def _dns_name(name: str) -> str:
    """An RFC 1123 subdomain of at most 253 characters (names from the input already are)."""
    name = name.lower()
    return name if len(name) <= 253 else name[:253].rstrip("-.")


def _peer_key(p: PeerRef, ctx: BuildContext) -> tuple[object, ...]:
    order = [
        PeerKind.EVERY_POD,
        PeerKind.NAMESPACE,
        PeerKind.SELECTOR,
        PeerKind.WORKLOAD,
        PeerKind.CIDR,
    ]
    if p.kind is PeerKind.WORKLOAD:
        k = ctx.cluster.workloads[p.workload].key
        return (order.index(p.kind), k.namespace, k.name, k.kind)
    if p.kind is PeerKind.CIDR:
        net = IPSet.from_cidr(p.cidr)
        first = net.v4.intervals[0][0] if net.v4 else (1 << 33) + net.v6.intervals[0][0]
        return (order.index(p.kind), "", first, p.cidr)
    return (order.index(p.kind), p.namespace, str(p.namespace_selector), str(p.pod_selector))


def _compact(peers: list[PeerRef], ctx: BuildContext) -> list[PeerRef]:
    """Whole namespaces, then every pod, where the peers already cover them exactly."""
    workloads = ctx.cluster.workloads
    by_ns: dict[str, set[int]] = defaultdict(set)
    named_ns: set[str] = set()
    every = False
    for p in peers:
        if p.kind is PeerKind.WORKLOAD:
            by_ns[workloads[p.workload].key.namespace].add(p.workload)
        elif p.kind is PeerKind.NAMESPACE:
            named_ns.add(p.namespace)
        elif p.kind is PeerKind.EVERY_POD:
            every = True
    if not by_ns and not named_ns and not every:
        return peers  # addresses and selectors only: nothing to fold
    sizes = ctx.ns_workloads
    full = {ns for ns, got in by_ns.items() if ns in sizes and len(got) >= len(sizes[ns])}
    full |= named_ns
    populated = ctx.memo.get("populated")
    if populated is None:
        populated = ctx.memo["populated"] = frozenset(ns for ns, ws in sizes.items() if ws)
    assert isinstance(populated, frozenset)
    if every or (len(populated) > 1 and populated <= full):
        return [PeerRef(PeerKind.EVERY_POD), *[p for p in peers if p.kind is PeerKind.CIDR]]
    whole = {ns for ns in full if len(sizes.get(ns, ())) > 1} | named_ns
    if not whole:
        return peers
    out = [
        p
        for p in peers
        if p.kind is not PeerKind.NAMESPACE
        and not (p.kind is PeerKind.WORKLOAD and workloads[p.workload].key.namespace in whole)
    ]
    out += [PeerRef(PeerKind.NAMESPACE, namespace=ns) for ns in sorted(whole)]
    return out


def _model_peer(p: PeerRef, target_ns: str, ctx: BuildContext) -> tuple[Peer, str]:
    key = ("peer", p, target_ns)
    got = ctx.memo.get(key)
    if got is None:
        got = ctx.memo[key] = _make_peer(p, target_ns, ctx)
    return got  # type: ignore[return-value]


def _make_peer(p: PeerRef, target_ns: str, ctx: BuildContext) -> tuple[Peer, str]:
    """The NetworkPolicy peer and the comment beside it."""
    if p.kind is PeerKind.WORKLOAD:
        w = ctx.cluster.workloads[p.workload].key
        choice = ctx.choices[p.workload]
        note = str(w)
        if choice.neighbours:
            note += " (its selector also selects " + ", ".join(choice.neighbours) + ")"
        if w.namespace == target_ns:
            return PodPeer(choice.selector, namespace=target_ns), note
        return PodPeer(choice.selector, namespace_selector=namespace_selector(w.namespace)), note
    if p.kind is PeerKind.NAMESPACE:
        n = len(ctx.ns_workloads.get(p.namespace, ()))
        note = f"every workload of namespace {p.namespace} ({n})"
        if p.namespace == target_ns:
            return PodPeer(LabelSelector(), namespace=target_ns), note
        return PodPeer(LabelSelector(), namespace_selector=namespace_selector(p.namespace)), note
    if p.kind is PeerKind.EVERY_POD:
        return PodPeer(
            LabelSelector(), namespace_selector=LabelSelector()
        ), "every pod of every namespace"
    if p.kind is PeerKind.SELECTOR:
        pods = p.pod_selector or LabelSelector()
        if p.namespace_selector is None and (p.namespace or target_ns) == target_ns:
            return PodPeer(pods, namespace=target_ns), p.label
        if p.namespace_selector is None:
            return PodPeer(pods, namespace_selector=namespace_selector(p.namespace)), p.label
        return PodPeer(pods, namespace_selector=p.namespace_selector), p.label
    addresses = IPSet.from_cidr(p.cidr)
    for e in p.excepts:
        addresses = addresses - IPSet.from_cidr(e)
    return IPBlockPeer(p.cidr, p.excepts, addresses), p.label


def _port_specs(
    ports: Ports, memo: dict[object, object] | None = None
) -> tuple[PortSpec, ...] | None:
    if ports is None:
        return None
    if memo is not None:
        key = ("specs", ports)
        got = memo.get(key)
        if got is None:
            got = memo[key] = _port_specs(ports)
        return got  # type: ignore[return-value]
    return tuple(
        PortSpec(Protocol(i.protocol), i.start, i.end)
        if not i.name
        else PortSpec(Protocol(i.protocol), name=i.name)
        for i in merge_ranges(ports)
    )


def _ports_key(ports: Ports) -> tuple[object, ...]:
    if ports is None:
        return (0,)
    return (1, *[(i.protocol, i.name, i.start, i.end) for i in merge_ranges(ports)])


def rules_for(
    peers: dict[PeerRef, Ports],
    target_ns: str,
    ctx: BuildContext,
    direction: Direction,
    why: dict[tuple[int, Direction, PeerRef], set[str]] | None = None,
    target: int = 0,
) -> tuple[tuple[Rule, ...], list[tuple[tuple[str, int, int], str]]]:
    """Peers grouped by port set into rules, ordered by ports then peers."""
    by_ports: dict[Ports, list[PeerRef]] = defaultdict(list)
    for peer, ports in peers.items():
        by_ports[ports].append(peer)
    rules: list[Rule] = []
    comments: list[tuple[tuple[str, int, int], str]] = []
    d = direction.value.lower()

    def ports_key(ports: Ports) -> tuple[object, ...]:
        key = ("pkey", ports)
        got = ctx.memo.get(key)
        if got is None:
            got = ctx.memo[key] = _ports_key(ports)
        return got  # type: ignore[return-value]

    def peer_key(p: PeerRef) -> tuple[object, ...]:
        key = ("key", p)
        got = ctx.memo.get(key)
        if got is None:
            got = ctx.memo[key] = _peer_key(p, ctx)
        return got  # type: ignore[return-value]

    for ports in sorted(by_ports, key=ports_key):
        group = _compact(by_ports[ports], ctx)
        group.sort(key=peer_key)
        k = len(rules)
        model_peers: list[Peer] = []
        for j, p in enumerate(group):
            made, note = _model_peer(p, target_ns, ctx)
            model_peers.append(made)
            tags = sorted((why or {}).get((target, direction, p), set()) - {"observed"})
            if tags:
                note = f"{note} [{', '.join(tags)}]" if note else f"[{', '.join(tags)}]"
            if note:
                comments.append(((d, k, j), note))
        rules.append(Rule(tuple(model_peers), _port_specs(ports, ctx.memo), k))
    return tuple(rules), comments


def workload_policy(
    target: int, needs: Needs, ctx: BuildContext, extra: tuple[tuple[str, str], ...] = ()
) -> Generated:
    w = ctx.cluster.workloads[target].key
    ingress, c_in = rules_for(
        needs.ports.get((target, Direction.INGRESS), {}),
        w.namespace,
        ctx,
        Direction.INGRESS,
        needs.why,
        target,
    )
    egress, c_out = rules_for(
        needs.ports.get((target, Direction.EGRESS), {}),
        w.namespace,
        ctx,
        Direction.EGRESS,
        needs.why,
        target,
    )
    choice = ctx.choices[target]
    policy = NetworkPolicy(w.namespace, ctx.names[target], choice.selector, _BOTH, ingress, egress)
    notes = [(("spec", -1, -1), f"{w}: selected by {choice.selector} ({choice.source})")]
    if choice.neighbours:
        notes.append((("spec", -2, -1), "also selects " + ", ".join(choice.neighbours)))
    return Generated(
        "NetworkPolicy",
        w.namespace,
        policy.name,
        policy,
        w.namespace,
        str(w),
        (*ctx.annotations, ("microseg.dev/workload", str(w)), *extra),
        tuple(notes + c_in + c_out),
        ctx.header,
    )


def namespace_policy(ns: str, target: int, needs: Needs, ctx: BuildContext) -> Generated:
    """`--granularity namespace`: one policy for every pod of `ns`."""
    ingress, c_in = rules_for(
        needs.ports.get((target, Direction.INGRESS), {}),
        ns,
        ctx,
        Direction.INGRESS,
        needs.why,
        target,
    )
    egress, c_out = rules_for(
        needs.ports.get((target, Direction.EGRESS), {}),
        ns,
        ctx,
        Direction.EGRESS,
        needs.why,
        target,
    )
    policy = NetworkPolicy(ns, "microseg-namespace", LabelSelector(), _BOTH, ingress, egress)
    return Generated(
        "NetworkPolicy",
        ns,
        policy.name,
        policy,
        ns,
        "",
        ctx.annotations,
        tuple(c_in + c_out),
        ctx.header,
    )


def default_deny(ns: str, ctx: BuildContext) -> Generated:
    policy = NetworkPolicy(ns, DEFAULT_DENY, LabelSelector(), _BOTH)
    note = (
        ("spec", -1, -1),
        f"every pod of {ns}: nothing in or out unless another policy allows it",
    )
    return Generated(
        "NetworkPolicy", ns, DEFAULT_DENY, policy, ns, "", ctx.annotations, (note,), ctx.header
    )
