"""`--format adminnetworkpolicy`: namespace guardrails for the isolation the flows show,
above the NetworkPolicies that allow the flows workload by workload.

Per covered namespace, an AdminNetworkPolicy (policy.networking.k8s.io/v1alpha1,
network-policy-api.sigs.k8s.io/reference/spec/) whose subject is that namespace:
- `Pass` for each peer namespace (and each external network, egress) the namespace's
  NetworkPolicies let through, on the ports they name: the decision goes down to those
  NetworkPolicies, so the namespace team keeps the workload-level rules;
- then `Deny` every other namespace (and, egress, every other network): traffic between
  namespaces that never talked stays denied even if someone later adds a broad
  NetworkPolicy. ANP ingress peers are namespaces and pods only, so external sources are
  left to the NetworkPolicies.
And the BaselineAdminNetworkPolicy `default` (a singleton) as the default deny for the
covered namespaces' pods that no NetworkPolicy isolates (new workloads), unless the
cluster already has one (it is never replaced: a warning says so).

Priorities: the first free numbers from `base` (the cluster's own ANP priorities are
skipped: two ANPs with one priority are an error, MS111); the API allows 0-1000.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from microseg.analyses.synth.build import BuildContext, namespace_selector
from microseg.analyses.synth.types import CLUSTER_GROUP, Generated, PortItem
from microseg.model.admin import Action, AdminPolicy, AdminRule, AdminTier, Subject
from microseg.model.cluster import Cluster
from microseg.model.netpol import Direction, IPBlockPeer, NetworkPolicy, Peer, PodPeer, PortSpec
from microseg.model.selectors import LabelSelector, Operator, Requirement
from microseg.model.sets import BASE_PROTOCOLS, IPSet, Protocol

__all__ = ["generate", "mentions_v6"]

ALL = "*"
Note = tuple[str, str, str, str]
_MAX_PEERS = 100


def mentions_v6(cluster: Cluster) -> bool:
    """Whether the input's policies name IPv6 blocks (then the guardrails deny `::/0` too;
    the engine and `verify` consider IPv6 only for such inputs)."""
    rules = [r for p in cluster.policies for r in (*p.ingress, *p.egress)]
    peers = [x for r in rules for x in r.peers or ()]
    peers += [x for a in cluster.admin_policies for r in (*a.ingress, *a.egress) for x in r.peers]
    return any(isinstance(x, IPBlockPeer) and bool(x.addresses.v6) for x in peers)


def _cidrs(peer: IPBlockPeer) -> list[str]:
    out: list[str] = []
    for family, cls in (
        (peer.addresses.v4, ipaddress.IPv4Address),
        (peer.addresses.v6, ipaddress.IPv6Address),
    ):
        for lo, hi in family:
            out += [str(n) for n in ipaddress.summarize_address_range(cls(lo), cls(hi))]
    return out


def _items(ports: tuple[PortSpec, ...] | None) -> frozenset[PortItem] | None:
    if ports is None:
        return None
    return frozenset(PortItem(p.protocol.value, p.start, p.end, p.name) for p in ports)


def _admin_ports(items: frozenset[PortItem] | None) -> tuple[PortSpec, ...] | None:
    """Numbers and ranges as written; a named port as ANP's `namedPort`, which matches the
    container port of that name whatever its protocol (one PortSpec per protocol, as the
    reader builds it)."""
    if items is None:
        return None
    out: list[PortSpec] = []
    names: set[str] = set()
    for i in sorted(items, key=lambda i: (i.name != "", i.protocol, i.start, i.name)):
        if i.name:
            if i.name not in names:
                names.add(i.name)
                out += [PortSpec(p, name=i.name) for p in BASE_PROTOCOLS]
        else:
            out.append(PortSpec(Protocol(i.protocol), i.start, i.end))
    return tuple(out)


def _union(
    a: frozenset[PortItem] | None, b: frozenset[PortItem] | None
) -> frozenset[PortItem] | None:
    return None if a is None or b is None else a | b


def _peer_of(peer: Peer, target_ns: str) -> list[str]:
    """Namespaces (ALL for every one) or `net:<cidr>` a NetworkPolicy peer stands for."""
    if isinstance(peer, IPBlockPeer):
        return [f"net:{c}" for c in _cidrs(peer)]
    if not isinstance(peer, PodPeer):
        return []
    if peer.namespace_selector is None:
        return [peer.namespace or target_ns]
    if peer.namespace_selector.is_empty():
        return [ALL]
    for r in peer.namespace_selector.requirements:
        if r.key == "kubernetes.io/metadata.name" and r.operator is Operator.IN:
            return sorted(r.values)
    return [ALL]


def generate(
    cluster: Cluster,
    generated: list[Generated],
    covered: list[str],
    base: int,
    ctx: BuildContext,
    v6: bool = False,
) -> tuple[list[Generated], list[Note]]:
    """`v6`: also deny `::/0` (when the flows, intents or policies involve IPv6)."""
    notes: list[Note] = []
    everywhere = ("0.0.0.0/0", "::/0") if v6 or mentions_v6(cluster) else ("0.0.0.0/0",)
    passes: dict[tuple[str, Direction], dict[str, frozenset[PortItem] | None]] = defaultdict(dict)
    for g in generated:
        p = g.policy
        if not isinstance(p, NetworkPolicy):
            continue
        for direction in (Direction.INGRESS, Direction.EGRESS):
            table = passes[(p.namespace, direction)]
            for rule in p.rules(direction):
                for peer in rule.peers or ():
                    for key in _peer_of(peer, p.namespace):
                        if direction is Direction.INGRESS and key.startswith("net:"):
                            continue  # ANP ingress has no network peers: left to the NPs
                        ports = _items(rule.ports)
                        table[key] = _union(table[key], ports) if key in table else ports
    used = {a.priority for a in cluster.admin_policies if a.tier is AdminTier.ADMIN}
    free = [p for p in range(base, 1001) if p not in used]
    if len(free) < len(covered):
        notes.append(
            (
                "MS532",
                "warning",
                "adminnetworkpolicy",
                f"only {len(free)} free ANP priorities from {base} to 1000 for {len(covered)} namespaces: no AdminNetworkPolicy written; lower --anp-priority",
            )
        )
        return [], notes
    out: list[Generated] = []
    for ns, priority in zip(covered, free, strict=False):
        rules = {
            d: _rules(passes.get((ns, d), {}), d, everywhere)
            for d in (Direction.INGRESS, Direction.EGRESS)
        }
        policy = AdminPolicy(
            "AdminNetworkPolicy",
            f"microseg-{ns}",
            AdminTier.ADMIN,
            priority,
            Subject(namespace_selector(ns)),
            rules[Direction.INGRESS],
            rules[Direction.EGRESS],
        )
        note = (
            ("spec", -1, -1),
            f"namespace {ns}: pass what its NetworkPolicies allow, deny other namespaces",
        )
        out.append(
            Generated(
                "AdminNetworkPolicy",
                "",
                policy.name,
                policy,
                CLUSTER_GROUP,
                "",
                ctx.annotations,
                (note,),
                ctx.header,
            )
        )
    if any(a.tier is AdminTier.BASELINE for a in cluster.admin_policies):
        notes.append(
            (
                "MS533",
                "warning",
                "BaselineAdminNetworkPolicy default",
                "the cluster has its BaselineAdminNetworkPolicy (a singleton): not replaced, no baseline default deny written",
            )
        )
    else:
        subject = Subject(
            LabelSelector(
                (Requirement("kubernetes.io/metadata.name", Operator.IN, frozenset(covered)),)
            )
        )
        every = (PodPeer(LabelSelector(), namespace_selector=LabelSelector()),)
        nets = tuple(IPBlockPeer(c, (), IPSet.from_cidr(c)) for c in everywhere)
        banp = AdminPolicy(
            "BaselineAdminNetworkPolicy",
            "default",
            AdminTier.BASELINE,
            0,
            subject,
            (AdminRule("default-deny", Action.DENY, Direction.INGRESS, every, None, 0),),
            (AdminRule("default-deny", Action.DENY, Direction.EGRESS, every + nets, None, 0),),
        )
        note = (
            ("spec", -1, -1),
            "pods of the covered namespaces that no NetworkPolicy isolates: nothing in or out",
        )
        out.append(
            Generated(
                "BaselineAdminNetworkPolicy",
                "",
                "default",
                banp,
                CLUSTER_GROUP,
                "",
                ctx.annotations,
                (note,),
                ctx.header,
            )
        )
    return out, notes


def _rules(
    table: dict[str, frozenset[PortItem] | None], direction: Direction, everywhere: tuple[str, ...]
) -> tuple[AdminRule, ...]:
    by_ports: dict[frozenset[PortItem] | None, list[str]] = defaultdict(list)
    for key, ports in table.items():
        by_ports[ports].append(key)
    rules: list[AdminRule] = []

    def order(ports: frozenset[PortItem] | None) -> tuple[object, ...]:
        return (
            (0,)
            if ports is None
            else (1, *sorted((i.protocol, i.name, i.start, i.end) for i in ports))
        )

    for ports in sorted(by_ports, key=order):
        keys = sorted(by_ports[ports], key=lambda k: (k != ALL, k.startswith("net:"), k))
        peers: list[Peer] = []
        for key in keys:
            if key == ALL:
                peers.append(PodPeer(LabelSelector(), namespace_selector=LabelSelector()))
            elif key.startswith("net:"):
                peers.append(IPBlockPeer(key[4:], (), IPSet.from_cidr(key[4:])))
            else:
                peers.append(PodPeer(LabelSelector(), namespace_selector=namespace_selector(key)))
        for start in range(0, len(peers), _MAX_PEERS):
            k = len(rules)
            rules.append(
                AdminRule(
                    f"pass-{k}",
                    Action.PASS,
                    direction,
                    tuple(peers[start : start + _MAX_PEERS]),
                    _admin_ports(ports),
                    k,
                )
            )
    every: tuple[Peer, ...] = (PodPeer(LabelSelector(), namespace_selector=LabelSelector()),)
    k = len(rules)
    rules.append(AdminRule("deny-other-namespaces", Action.DENY, direction, every, None, k))
    if direction is Direction.EGRESS:
        nets = tuple(IPBlockPeer(c, (), IPSet.from_cidr(c)) for c in everywhere)
        rules.append(AdminRule("deny-other-networks", Action.DENY, direction, nets, None, k + 1))
    return tuple(rules)
