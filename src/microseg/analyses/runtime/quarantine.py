"""Quarantine plans for one pod, proven by the engine before anything is applied.

A plan is what `microseg watch --respond isolate` applies and `quarantine release` undoes:
1. the pod labelled `microseg.dev/quarantine=<alert id>`;
2. a NetworkPolicy in its namespace selecting exactly that label, for Ingress and Egress,
   allowing only what the operator keeps: DNS (egress to the cluster DNS pods on UDP and
   TCP 53) and a forensics namespace (both ways, every port);
3. where the cluster serves AdminNetworkPolicy, one at the top free priority (the lowest
   number not taken; 0 when free) over the same pod: Allow rules for what is kept, then
   Deny for every namespace and, egress, every address (`networks: 0.0.0.0/0, ::/0`), so
   that no NetworkPolicy can open anything else (ANP rules are evaluated before any
   NetworkPolicy; network-policy-api.sigs.k8s.io/reference/spec/).

NetworkPolicies only add what they allow: a policy isolating the pod cannot take away what
another one, selecting it by its other labels, allows (networking.k8s.io/v1 reference,
"isolated" pods get the union of the policies' rules). And an AdminNetworkPolicy cannot
deny ingress from addresses: its ingress peers are namespaces and pods only. So a pod that
a NetworkPolicy opens to the internet stays open to it, whatever the quarantine adds. The
plan is therefore *proven* on the engine: the cluster with the changes applied
(`Connectivity.apply`), every class and every address range, both directions, must leave
the pod nothing but the kept exceptions. When the proof fails and `detach` allows it, the
plan also takes the pod's other labels away (keeping only the quarantine label), so that
no policy selecting those labels applies to it any more (nor any Service, and its
ReplicaSet lets it go and starts a replacement); `release` puts them back exactly. What
still stays open after that (a namespace-wide policy, and no AdminNetworkPolicy to
override it) is listed with the policies responsible, and the plan says it does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from microseg.analyses.verify_flows import ip_name
from microseg.engine import (
    Connectivity,
    Decision,
    Endpoint,
    Layer,
    from_external_block,
    pair_block,
    to_external_block,
    unpack,
)
from microseg.model.admin import Action, AdminPolicy, AdminRule, AdminTier, Subject
from microseg.model.changes import Change, PutPod, PutPolicy, RelabelPod
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import Direction, IPBlockPeer, NetworkPolicy, PodPeer, PortSpec, Rule
from microseg.model.objects import NAMESPACE_NAME_LABEL
from microseg.model.selectors import LabelSelector
from microseg.model.sets import ConnSet, IPSet, Protocol

__all__ = [
    "QUARANTINE_LABEL",
    "Detach",
    "Keep",
    "Plan",
    "Proof",
    "Residual",
    "plan_quarantine",
    "prove",
]

QUARANTINE_LABEL = "microseg.dev/quarantine"
DNS_PORTS = ConnSet.single(Protocol.UDP, 53) | ConnSet.single(Protocol.TCP, 53)


class Detach(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Keep:
    """What a quarantined pod keeps: DNS to the pods `dns_labels` selects in
    `dns_namespace` (upstream CoreDNS's `k8s-app: kube-dns`), and a forensics namespace."""

    dns: bool = True
    dns_namespace: str = "kube-system"
    dns_labels: tuple[tuple[str, str], ...] = (("k8s-app", "kube-dns"),)
    forensics: str = ""


@dataclass(frozen=True, slots=True)
class Residual:
    """Something the pod can still reach (`egress`) or be reached by, beyond what is kept:
    a class's workloads or an address range, the connections, and the engine's
    explanation of the first such pair."""

    direction: str
    peer: str
    conns: ConnSet
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class Proof:
    holds: bool
    kept: tuple[Residual, ...] = ()
    """What stays reachable because it is kept (DNS, forensics)."""
    residual: tuple[Residual, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    namespace: str
    pod: str
    labels_before: Mapping[str, str]
    labels_after: Mapping[str, str]
    policy: NetworkPolicy
    admin: AdminPolicy | None
    detached: bool
    proof: Proof
    keep: Keep
    notes: tuple[str, ...] = ()
    changes: tuple[Change, ...] = field(default=(), compare=False)
    attached: tuple[Residual, ...] = ()
    """When detached: what would have stayed open with the pod's labels kept."""

    @property
    def name(self) -> str:
        return f"microseg-quarantine-{self.id}"


def _ns(name: str) -> LabelSelector:
    return LabelSelector.from_labels({NAMESPACE_NAME_LABEL: name})


def _dns_peer(keep: Keep) -> PodPeer:
    return PodPeer(
        LabelSelector.from_labels(dict(keep.dns_labels)), namespace_selector=_ns(keep.dns_namespace)
    )


_DNS_SPECS = (PortSpec(Protocol.UDP, 53, 53), PortSpec(Protocol.TCP, 53, 53))


def network_policy(ident: str, namespace: str, keep: Keep) -> NetworkPolicy:
    forensics = (PodPeer(LabelSelector(), namespace_selector=_ns(keep.forensics)),)
    ingress = (Rule(forensics, None, 0),) if keep.forensics else ()
    egress: list[Rule] = []
    if keep.dns:
        egress.append(Rule((_dns_peer(keep),), _DNS_SPECS, len(egress)))
    if keep.forensics:
        egress.append(Rule(forensics, None, len(egress)))
    return NetworkPolicy(
        namespace,
        f"microseg-quarantine-{ident}",
        LabelSelector.from_labels({QUARANTINE_LABEL: ident}),
        frozenset({Direction.INGRESS, Direction.EGRESS}),
        ingress,
        tuple(egress),
    )


def admin_policy(ident: str, namespace: str, keep: Keep, priority: int) -> AdminPolicy:
    everyone = PodPeer(LabelSelector(), namespace_selector=LabelSelector())
    forensics = PodPeer(LabelSelector(), namespace_selector=_ns(keep.forensics))
    ingress: list[AdminRule] = []
    egress: list[AdminRule] = []
    if keep.forensics:
        ingress.append(
            AdminRule("keep-forensics", Action.ALLOW, Direction.INGRESS, (forensics,), None, 0)
        )
    ingress.append(
        AdminRule("quarantine", Action.DENY, Direction.INGRESS, (everyone,), None, len(ingress))
    )
    if keep.dns:
        egress.append(
            AdminRule("keep-dns", Action.ALLOW, Direction.EGRESS, (_dns_peer(keep),), _DNS_SPECS, 0)
        )
    if keep.forensics:
        egress.append(
            AdminRule(
                "keep-forensics", Action.ALLOW, Direction.EGRESS, (forensics,), None, len(egress)
            )
        )
    networks = tuple(IPBlockPeer(c, (), IPSet.from_cidr(c)) for c in ("0.0.0.0/0", "::/0"))
    egress.append(
        AdminRule(
            "quarantine", Action.DENY, Direction.EGRESS, (everyone, *networks), None, len(egress)
        )
    )
    return AdminPolicy(
        "AdminNetworkPolicy",
        f"microseg-quarantine-{ident}",
        AdminTier.ADMIN,
        priority,
        Subject(_ns(namespace), LabelSelector.from_labels({QUARANTINE_LABEL: ident})),
        tuple(ingress),
        tuple(egress),
    )


def free_priority(conn: Connectivity, taken: frozenset[int] = frozenset()) -> int | None:
    used = {p.priority for p in conn.cluster.admin_policies if p.tier is AdminTier.ADMIN} | taken
    return next((p for p in range(0, 1001) if p not in used), None)


def _pod_change(
    conn: Connectivity, namespace: str, pod: str, labels: Mapping[str, str], template: int
) -> Change:
    if (namespace, pod) in conn.names.pods:
        return RelabelPod(namespace, pod, dict(labels))
    base = conn.cluster.pods[template]
    return PutPod(
        replace(base, name=pod, labels=FrozenLabels(dict(labels)), from_template=False, ips=())
    )


def _kept_masks(conn: Connectivity, keep: Keep) -> tuple[np.ndarray, np.ndarray]:
    """Per class: the port atoms kept for egress to it, and for ingress from it."""
    n, atoms = conn.n_classes, len(conn.ports)
    egress = np.zeros((n, atoms), np.bool_)
    ingress = np.zeros((n, atoms), np.bool_)
    dns = conn.ports.mask_of(DNS_PORTS)
    want = dict(keep.dns_labels)
    for k, rep in enumerate(conn.classes.reps):
        if keep.forensics and rep.namespace == keep.forensics:
            egress[k] = True
            ingress[k] = True
        elif (
            keep.dns
            and rep.namespace == keep.dns_namespace
            and all(rep.labels.get(a) == b for a, b in want.items())
        ):
            egress[k] = dns
    return egress, ingress


def _class_names(conn: Connectivity, k: int) -> str:
    names = sorted(
        {str(p.workload) for i, p in enumerate(conn.cluster.pods) if conn.classes.pod_class[i] == k}
    )
    if not names:
        names = [str(conn.classes.reps[k].workload)]
    return ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")


def prove(conn: Connectivity, namespace: str, pod: str, keep: Keep, explain: int = 3) -> Proof:
    """What `namespace/pod` can reach and be reached by in `conn` beyond what `keep` keeps,
    over every class and address range (the NetworkPolicy layer and the guardrail tiers)."""
    net = conn.with_layer(Layer.NETWORK)
    k = int(net.classes.pod_class[net.names.pods[(namespace, pod)]])
    n, atoms = net.n_classes, len(net.ports)
    everyone = np.arange(n)
    out_bits = unpack(pair_block(net, np.array([k]), everyone)[0], atoms)
    in_bits = unpack(pair_block(net, everyone, np.array([k]))[:, 0], atoms)
    to_ext = unpack(to_external_block(net, np.array([k]))[0], atoms)
    from_ext = unpack(from_external_block(net, np.array([k]))[0], atoms)
    keep_out, keep_in = _kept_masks(net, keep)
    kept: list[Residual] = []
    residual: list[Residual] = []
    me = Endpoint(f"{namespace}/{pod}[Pod]", klass=k)
    for direction, bits, keeps in (("egress", out_bits, keep_out), ("ingress", in_bits, keep_in)):
        for c in np.flatnonzero(bits.any(axis=1)).tolist():
            if c == k:
                continue  # its own class is this pod alone: traffic to itself is not policed
            extra = bits[c] & ~keeps[c]
            good = bits[c] & keeps[c]
            if good.any():
                kept.append(Residual(direction, _class_names(net, c), net.ports.to_connset(good)))
            if extra.any():
                other = Endpoint(_class_names(net, c), klass=c)
                decision = None
                if len([r for r in residual if r.direction == direction]) < explain:
                    pair = (me, other) if direction == "egress" else (other, me)
                    decision = net.reach(pair[0], pair[1], net.ports.to_connset(extra))
                residual.append(
                    Residual(direction, other.name, net.ports.to_connset(extra), decision)
                )
    for direction, bits in (("egress", to_ext), ("ingress", from_ext)):
        # Address ranges allowed on the same ports are shown together.
        by_ports: dict[bytes, list[int]] = {}
        for j in np.flatnonzero(bits.any(axis=1)).tolist():
            by_ports.setdefault(bits[j].tobytes(), []).append(j)
        for cols in by_ports.values():
            mask = np.zeros(len(net.ips), np.bool_)
            mask[cols] = True
            addresses = net.ips.to_ipset(mask)
            conns = net.ports.to_connset(bits[cols[0]])
            ext = Endpoint(str(addresses), addresses=addresses)
            pair = (me, ext) if direction == "egress" else (ext, me)
            decision = net.reach(pair[0], pair[1], conns) if len(residual) < 2 * explain else None
            residual.append(Residual(direction, ip_name(addresses), conns, decision))
    return Proof(not residual, tuple(kept), tuple(residual))


def plan_quarantine(
    conn: Connectivity,
    ident: str,
    namespace: str,
    pod: str,
    template: int,
    keep: Keep,
    *,
    anp: bool,
    detach: Detach = Detach.AUTO,
    taken_priorities: frozenset[int] = frozenset(),
) -> Plan:
    """The plan for `namespace/pod`, proven. `template` indexes `conn.cluster.pods`: the pod
    itself, or (a replica the snapshot does not list) the template pod of its workload,
    whose labels it carries."""
    before = dict(conn.cluster.pods[template].labels)
    if (namespace, pod) in conn.names.pods:
        before = dict(conn.cluster.pods[conn.names.pods[(namespace, pod)]].labels)
    policy = network_policy(ident, namespace, keep)
    notes: list[str] = []
    admin = None
    if anp:
        priority = free_priority(conn, taken_priorities)
        if priority is None:
            notes.append("no free AdminNetworkPolicy priority (0-1000 all taken): no ANP")
        else:
            admin = admin_policy(ident, namespace, keep, priority)
    if not keep.dns and not keep.forensics:
        notes.append("nothing kept: the pod is cut off entirely, DNS included")

    def attempt(detached: bool) -> Plan:
        after = {QUARANTINE_LABEL: ident} if detached else {**before, QUARANTINE_LABEL: ident}
        changes: list[Change] = [PutPolicy(policy)]
        if admin is not None:
            changes.append(PutPolicy(admin))
        changes.append(_pod_change(conn, namespace, pod, after, template))
        applied = conn
        for change in changes:
            applied = applied.apply(change)
        return Plan(
            ident,
            namespace,
            pod,
            before,
            after,
            policy,
            admin,
            detached,
            prove(applied, namespace, pod, keep),
            keep,
            tuple(notes),
            tuple(changes),
        )

    plan = attempt(detach is Detach.ALWAYS)
    if detach is Detach.AUTO and not plan.proof.holds:
        alone = attempt(True)
        if len(alone.proof.residual) < len(plan.proof.residual):
            plan = replace(alone, attached=plan.proof.residual)
    return plan
