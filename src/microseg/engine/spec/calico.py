"""Calico's policy model evaluated the slow way, one (source, destination, protocol, port)
at a time, written from Calico's references and nothing else of the engine.

Sources (docs.tigera.io/calico/latest/...): reference/resources/networkpolicy,
globalnetworkpolicy, tier, networkset, globalnetworkset, hostendpoint, profile;
network-policy/policy-tiers/tiered-policy (tier order, end-of-tier deny, the default,
adminnetworkpolicy and baselineadminnetworkpolicy tiers); reference/host-endpoints/
(failsafe, untracked, pre-DNAT); and for what the pages leave to the implementation,
libcalico-go's conversions (updateprocessors: how namespaceSelector, serviceAccountSelector
and a namespaced policy's scope become one selector; k8s/conversion: the labels and
profiles of a Kubernetes pod) and Felix's policy sorter (ties broken by name).

For one direction of one connection at an endpoint:
1. A host endpoint's failsafe pinholes allow first.
2. Untracked, then pre-DNAT (ingress), then normal policies: tiers in order (no order:
   last; ties by name); a tier applies when one of its policies selects the endpoint for
   the direction; its policies in order (no order: last; ties by Felix's name); the first
   matching rule decides: Allow and Deny are final, Pass goes to the next tier, Log goes on.
   A normal tier that applies and decides nothing ends in its defaultAction.
3. The endpoint's profiles, in order: a profile's first matching Allow or Deny decides;
   Calico's generated kns.<namespace> allows everything; after the last one, deny.
A connection needs the source's egress and the destination's ingress; addresses outside
the cluster have no policies. An HTTP rule is an L7 condition and never matches here.

Endpoints are Pods (host endpoints are Pods of workload kind HostEndpoint) or address
strings. Host-network pods are no Calico endpoint when `host_network` is `node` (the
engine's default; `pod` takes them as pods), a plain string so that this module shares
nothing with the engine it checks.
"""

from __future__ import annotations

import ipaddress

from microseg.model.admin import Action, AdminPolicy, AdminTier
from microseg.model.calico import (
    BUILTIN_TIERS,
    CalicoAction,
    CalicoPolicy,
    CalicoPort,
    CalicoRule,
    EntityRule,
    NetworkSet,
    Profile,
)
from microseg.model.calico_selector import All, And, Global, Has, LabelOp, Not, Op, Or, Selector
from microseg.model.cluster import Cluster
from microseg.model.netpol import Direction, IPBlockPeer, NetworkPolicy, NodePeer, Peer, PodPeer
from microseg.model.netpol import PortSpec as K8sPort
from microseg.model.objects import Pod
from microseg.model.sets import IPSet, Protocol

__all__ = ["calico_allowed", "direction_verdict"]

Endpoint = Pod | str

_NUMBERS = {
    Protocol.ICMP: 1,
    Protocol.TCP: 6,
    Protocol.UDP: 17,
    Protocol.ICMPV6: 58,
    Protocol.SCTP: 132,
    Protocol.UDPLITE: 136,
}
_EPHEMERAL = range(32768, 61000)


# -- endpoints ---------------------------------------------------------------------------
def _hep(pod: Pod) -> bool:
    return pod.workload.kind == "HostEndpoint"


def _host_like(pod: Pod, host_network: str) -> bool:
    """Seen as a host's address by Kubernetes policies and by nets."""
    return _hep(pod) or (pod.host_network and host_network == "node")


def _calico_endpoint(pod: Pod, host_network: str) -> bool:
    return _hep(pod) or not (pod.host_network and host_network == "node")


def _addresses(pod: Pod) -> list[str]:
    if _hep(pod):
        return list(pod.ips)
    address = pod.host_ip or (pod.ips[0] if pod.ips else "")
    return [address] if address else []


def _within(addresses: list[str], block: IPSet) -> bool:
    """All of a host's addresses in the block; an unknown address only in a block that
    holds every IPv4 address (whatever node it is, its address is in there)."""
    if not addresses:
        return block.v4.intervals == ((0, 2**32 - 1),)
    return all(_ip_in(a, block) for a in addresses)


def _ip_in(address: str, block: IPSet) -> bool:
    ip = ipaddress.ip_address(address)
    return int(ip) in (block.v4 if ip.version == 4 else block.v6)


def _profiles_of(pod: Pod) -> tuple[str, ...]:
    if pod.profiles or _hep(pod):
        return pod.profiles
    return (f"kns.{pod.namespace}", f"ksa.{pod.namespace}.{pod.service_account}")


class _World:
    """The cluster's lookups: namespaces, accounts, profiles, services, network sets."""

    def __init__(self, cluster: Cluster, host_network: str) -> None:
        self.cluster = cluster
        self.host_network = host_network
        self.namespaces = {ns.name: ns.labels for ns in cluster.namespaces}
        self.accounts = {(a.namespace, a.name): a.labels for a in cluster.service_accounts}
        self.profiles: dict[str, Profile] = {p.name: p for p in cluster.calico.profiles}
        self.services = {(s.namespace, s.name): s for s in cluster.services}

    def profile_labels(self, name: str) -> dict[str, str]:
        out: dict[str, str] = {}
        if name.startswith("kns.") and name[4:] in self.namespaces:
            ns = name[4:]
            out = {"pcns." + k: v for k, v in self.namespaces[ns].items()}
            out["pcns.projectcalico.org/name"] = ns
        elif name.startswith("ksa."):
            ns, _, sa = name[4:].partition(".")
            out = {"pcsa." + k: v for k, v in self.accounts.get((ns, sa), {}).items()}
            out["pcsa.projectcalico.org/name"] = sa
        given = self.profiles.get(name)
        if given is not None:
            out.update(given.labels_to_apply)
        return out

    def labels(self, pod: Pod) -> dict[str, str]:
        own = dict(pod.labels)
        if not _hep(pod):
            own["projectcalico.org/namespace"] = pod.namespace
            own["projectcalico.org/orchestrator"] = "k8s"
            own["projectcalico.org/serviceaccount"] = pod.service_account
        out: dict[str, str] = {}
        for name in _profiles_of(pod):
            for k, v in self.profile_labels(name).items():
                out.setdefault(k, v)
        out.update(own)
        return out

    def set_labels(self, item: NetworkSet) -> dict[str, str]:
        if not item.namespace:
            return dict(item.labels)
        out = self.profile_labels(f"kns.{item.namespace}")
        out.update(item.labels)
        out["projectcalico.org/namespace"] = item.namespace
        return out

    def service_pod(self, pod: Pod, namespace: str, name: str) -> bool:
        svc = self.services.get((namespace, name))
        return (
            svc is not None
            and svc.selector is not None
            and not _host_like(pod, self.host_network)
            and pod.namespace == namespace
            and all(pod.labels.get(k) == v for k, v in svc.selector.items())
        )


# -- selectors as Calico's conversions write them -----------------------------------------
def _prefix(node: Selector, prefix: str) -> Selector:
    match node:
        case Has(key):
            return Has(prefix + key)
        case LabelOp(key, op, value, values):
            return LabelOp(prefix + key, op, value, values)
        case Not(x):
            return Not(_prefix(x, prefix))
        case And(xs):
            return And(tuple(_prefix(x, prefix) for x in xs))
        case Or(xs):
            return Or(tuple(_prefix(x, prefix) for x in xs))
    return node


def _swap(node: Selector, old: type, new: Selector) -> Selector:
    if isinstance(node, old):
        return new
    match node:
        case Not(x):
            return Not(_swap(x, old, new))
        case And(xs):
            return And(tuple(_swap(x, old, new) for x in xs))
        case Or(xs):
            return Or(tuple(_swap(x, old, new) for x in xs))
    return node


def _both(a: Selector | None, b: Selector) -> Selector:
    return b if a is None else And((a, b))


def _policy_selector(p: CalicoPolicy) -> Selector:
    sel: Selector | None = p.selector if p.selector_text else None
    if p.namespace:
        sel = _both(sel, LabelOp("projectcalico.org/namespace", Op.EQ, p.namespace))
        if p.service_account_selector is not None:
            sel = And((sel, _prefix(p.service_account_selector, "pcsa.")))
        return sel
    if p.namespace_selector is not None:
        sel = _swap(
            _both(sel, _prefix(p.namespace_selector, "pcns.")),
            All,
            Has("projectcalico.org/namespace"),
        )
    if p.service_account_selector is not None:
        sel = _both(sel, _prefix(p.service_account_selector, "pcsa."))
        sel = _swap(sel, All, Has("projectcalico.org/serviceaccount"))
    return All() if sel is None else sel


def _entity_selector(er: EntityRule, namespace: str) -> Selector | None:
    scope: Selector | None = None
    if er.namespace_selector is not None:
        scope = _prefix(er.namespace_selector, "pcns.")
        scope = _swap(scope, All, Has("projectcalico.org/namespace"))
        scope = _swap(scope, Global, Not(Has("projectcalico.org/namespace")))
    elif namespace:
        scope = LabelOp("projectcalico.org/namespace", Op.EQ, namespace)
    parts: list[Selector] = []
    sam = er.service_accounts
    if sam is not None:
        sa: Selector | None = _prefix(sam.selector, "pcsa.") if sam.selector else None
        if sam.names:
            names = LabelOp("projectcalico.org/serviceaccount", Op.IN, values=frozenset(sam.names))
            sa = names if sa is None else And((sa, names))
        if sa is not None:
            parts.append(sa)
    if er.selector is not None:
        parts.append(er.selector)
    sel = None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts))
    if scope is not None and (
        sel is not None or er.not_selector is not None or er.namespace_selector is not None
    ):
        sel = scope if sel is None else And((scope, sel))
    return sel


# -- matching ------------------------------------------------------------------------------
class _Matcher:
    def __init__(self, world: _World) -> None:
        self.w = world

    def selects(self, sel: Selector, who: Endpoint) -> bool:
        """A selector matches an endpoint by its labels, an address when it lies in a
        network set the selector matches."""
        if isinstance(who, str):
            return any(
                _ip_in(who, s.nets) and sel.matches(self.w.set_labels(s))
                for s in self.w.cluster.calico.network_sets
            )
        if not _calico_endpoint(who, self.w.host_network):
            return False
        return sel.matches(self.w.labels(who))

    def in_nets(self, nets: IPSet, who: Endpoint) -> bool:
        if isinstance(who, str):
            return _ip_in(who, nets)
        return _host_like(who, self.w.host_network) and _within(_addresses(who), nets)

    def outside(self, nets: IPSet, who: Endpoint) -> bool:
        """Known to be outside: an address, or a host whose declared addresses all are; a
        pod's address (and an undeclared host's) is unknown, so it is not."""
        if isinstance(who, str):
            return not _ip_in(who, nets)
        addresses = _addresses(who)
        return (
            _host_like(who, self.w.host_network)
            and bool(addresses)
            and not any(_ip_in(a, nets) for a in addresses)
        )

    def entity(self, er: EntityRule, who: Endpoint, namespace: str) -> bool:
        sel = _entity_selector(er, namespace)
        if sel is not None and not self.selects(sel, who):
            return False
        if er.nets is not None and not self.in_nets(er.nets, who):
            return False
        if er.not_nets is not None and not self.outside(er.not_nets, who):
            return False
        if er.not_selector is not None and self.selects(er.not_selector, who):
            return False
        if er.services is not None:
            if isinstance(who, str):
                return False
            return self.w.service_pod(who, er.services.namespace, er.services.name)
        return True

    def ports(self, rule: CalicoRule, dst: Endpoint, proto: Protocol, port: int) -> bool:
        dest = rule.destination
        if dest.services is not None:
            svc = self.w.services.get((dest.services.namespace, dest.services.name))
            if svc is None or isinstance(dst, str):
                return False
            for sp in svc.ports:
                if sp.protocol is not proto:
                    continue
                target = (
                    sp.target if isinstance(sp.target, int) else dst.named_port(sp.target, proto)
                )
                if target == port:
                    return True
            return False
        if dest.ports is not None and not any(_port_hit(p, dst, proto, port) for p in dest.ports):
            return False
        return not any(_port_hit(p, dst, proto, port) for p in dest.not_ports)

    def rule(
        self,
        rule: CalicoRule,
        src: Endpoint,
        dst: Endpoint,
        proto: Protocol,
        port: int,
        namespace: str,
    ) -> bool:
        if rule.http is not None:
            return False
        if rule.protocol is not None and not _proto_is(rule.protocol, proto, port):
            return False
        if rule.not_protocol is not None and _proto_is(rule.not_protocol, proto, port):
            return False
        if proto in (Protocol.ICMP, Protocol.ICMPV6):
            if rule.icmp is not None and not _icmp_is(rule.icmp, port):
                return False
            if rule.not_icmp is not None and _icmp_is(rule.not_icmp, port):
                return False
        if rule.ip_version is not None and not _family(rule.ip_version, src, dst):
            return False
        if not _source_ports(rule):
            return False
        if not self.ports(rule, dst, proto, port):
            return False
        return self.entity(rule.source, src, namespace) and self.entity(
            rule.destination, dst, namespace
        )


def _proto_is(match: object, proto: Protocol, port: int) -> bool:
    want = match.protocol  # type: ignore[attr-defined]
    if want is Protocol.IP:
        return proto is Protocol.IP and port == match.number  # type: ignore[attr-defined]
    return want is proto


def _icmp_is(match: object, value: int) -> bool:
    kind, code = divmod(value, 256)
    return kind == match.type and (match.code is None or code == match.code)  # type: ignore[attr-defined]


def _family(version: int, *who: Endpoint) -> bool:
    """`ipVersion`: every address involved is of that family (endpoints may have both)."""
    return all(ipaddress.ip_address(w).version == version for w in who if isinstance(w, str))


def _source_ports(rule: CalicoRule) -> bool:
    src = rule.source
    if src.ports is None and not src.not_ports:
        return True
    for p in _EPHEMERAL:
        ok = src.ports is None or any(not q.name and q.start <= p <= q.end for q in src.ports)
        if not ok or any(not q.name and q.start <= p <= q.end for q in src.not_ports):
            return False
    return True


def _port_hit(p: CalicoPort, dst: Endpoint, proto: Protocol, port: int) -> bool:
    if p.name:
        return not isinstance(dst, str) and dst.named_port(p.name, proto) == port
    return p.start <= port <= p.end


# -- Kubernetes and admin policies in Calico's tiers ---------------------------------------
def _k8s_peer(world: _World, peer: Peer, other: Endpoint, policy_ns: str) -> bool:
    opts = world.host_network
    if isinstance(peer, IPBlockPeer):
        if isinstance(other, str):
            return _ip_in(other, peer.addresses)
        return _host_like(other, opts) and _within(_addresses(other), peer.addresses)
    if isinstance(peer, NodePeer):
        addrs = [
            a for n in world.cluster.nodes if peer.selector.matches(n.labels) for a in n.addresses
        ]
        if isinstance(other, str):
            return any(ipaddress.ip_address(other) == ipaddress.ip_address(a) for a in addrs)
        return (
            _host_like(other, opts)
            and bool(_addresses(other))
            and all(a in addrs for a in _addresses(other))
        )
    assert isinstance(peer, PodPeer)
    if isinstance(other, str) or _host_like(other, opts):
        return False
    if peer.namespace is not None:
        ns_ok = other.namespace == peer.namespace
    else:
        assert peer.namespace_selector is not None
        ns_ok = peer.namespace_selector.matches(world.namespaces.get(other.namespace, {}))
    return ns_ok and peer.pod_selector.matches(other.labels)


def _k8s_port(ports: tuple[K8sPort, ...] | None, dst: Endpoint, proto: Protocol, port: int) -> bool:
    if ports is None:
        return True
    for spec in ports:
        if spec.protocol is not proto:
            continue
        if spec.name:
            if not isinstance(dst, str) and dst.named_port(spec.name, proto) == port:
                return True
        elif spec.start <= port <= spec.end:
            return True
    return False


def _k8s_selects(world: _World, policy: NetworkPolicy, pod: Pod) -> bool:
    return (
        not _host_like(pod, world.host_network)
        and pod.namespace == policy.namespace
        and policy.pod_selector.matches(pod.labels)
    )


def _admin_selects(world: _World, policy: AdminPolicy, pod: Pod) -> bool:
    return (
        not _host_like(pod, world.host_network)
        and policy.subject.namespace_selector.matches(world.namespaces.get(pod.namespace, {}))
        and policy.subject.pod_selector.matches(pod.labels)
    )


# -- tiers ---------------------------------------------------------------------------------
def _tiered(name: str, tier: str) -> str:
    return name if "." in name else f"{tier}.{name}"


def _members(cluster: Cluster) -> dict[str, list[tuple[float, str, object]]]:
    out: dict[str, list[tuple[float, str, object]]] = {}
    for p in cluster.calico.policies:
        if p.staged:
            continue
        order = float("inf") if p.order is None else p.order
        name = _tiered(p.name, p.tier)
        out.setdefault(p.tier, []).append(
            (order, f"{p.namespace}/{name}" if p.namespace else name, p)
        )
    for np_ in cluster.policies:
        out.setdefault("default", []).append(
            (1000.0, f"{np_.namespace}/knp.default.{np_.name}", np_)
        )
    for ap in cluster.admin_policies:
        if ap.kind == "AdminNetworkPolicy":
            tier, order, name = "adminnetworkpolicy", float(ap.priority), "kanp.adminnetworkpolicy."
        elif ap.kind == "BaselineAdminNetworkPolicy":
            tier, order, name = (
                "baselineadminnetworkpolicy",
                1000.0,
                "kbanp.baselineadminnetworkpolicy.",
            )
        elif ap.tier is AdminTier.ADMIN:
            tier, order, name = "kube-admin", float(ap.priority), "kcnp.kube-admin."
        else:
            tier, order, name = "kube-baseline", float(ap.priority), "kcnp.kube-baseline."
        out.setdefault(tier, []).append((order, name + ap.name, ap))
    for items in out.values():
        items.sort(key=lambda t: (t[0], t[1]))
    return out


def _tier_order(cluster: Cluster, names: list[str]) -> list[tuple[str, float | None, CalicoAction]]:
    given = {t.name: t for t in cluster.calico.tiers}
    out = []
    for name in names:
        t = BUILTIN_TIERS.get(name) or given.get(name)
        out.append((name, t.order if t else None, t.default_action if t else CalicoAction.DENY))
    out.sort(key=lambda t: (t[1] is None, t[1] or 0.0, t[0]))
    return out


def direction_verdict(
    cluster: Cluster,
    direction: Direction,
    endpoint: Pod,
    peer: Endpoint,
    proto: Protocol,
    port: int,
    host_network: str = "node",
) -> bool:
    """Whether `endpoint`'s policies allow the connection in `direction` (the endpoint is
    the destination for ingress, the source for egress)."""
    return _direction(_World(cluster, host_network), direction, endpoint, peer, proto, port)


def _direction(
    world: _World, direction: Direction, endpoint: Pod, peer: Endpoint, proto: Protocol, port: int
) -> bool:
    cluster, options = world.cluster, world.host_network
    m = _Matcher(world)
    if not _calico_endpoint(endpoint, options):
        return True
    src, dst = (peer, endpoint) if direction is Direction.INGRESS else (endpoint, peer)
    if _hep(endpoint):
        calico = cluster.calico
        holes = (
            calico.failsafe_inbound if direction is Direction.INGRESS else calico.failsafe_outbound
        )
        for hole in holes:
            matched = hole.protocol is proto and hole.port == port
            if matched and (not hole.net or m.in_nets(IPSet.from_cidr(hole.net), peer)):
                return True
    members = _members(cluster)
    tiers = _tier_order(cluster, list(members))
    chains = ["untracked"] + (["preDNAT"] if direction is Direction.INGRESS else []) + ["normal"]
    for chain in chains:
        for name, _order, default_action in tiers:
            applied = False
            decided: bool | None = None
            passed = False
            for _o, _n, policy in members[name]:
                hit = _member(world, m, policy, chain, direction, endpoint, src, dst, proto, port)
                if hit is None:
                    continue
                applied = True
                if hit == "pass":
                    passed = True
                    break
                if isinstance(hit, bool):
                    decided = hit
                    break
            if decided is not None:
                return decided
            if applied and not passed and chain == "normal" and default_action is CalicoAction.DENY:
                return False
    return _profiles(world, m, endpoint, direction, src, dst, proto, port)


def _member(
    world: _World,
    m: _Matcher,
    policy: object,
    chain: str,
    direction: Direction,
    endpoint: Pod,
    src: Endpoint,
    dst: Endpoint,
    proto: Protocol,
    port: int,
) -> bool | str | None:
    """None: the policy does not apply; "" applies and nothing matched; "pass"; or a verdict."""
    if isinstance(policy, CalicoPolicy):
        kind = "untracked" if policy.do_not_track else "preDNAT" if policy.pre_dnat else "normal"
        if kind != chain or direction not in policy.types:
            return None
        if kind != "normal" and not _hep(endpoint):
            return None
        if not _policy_selector(policy).matches(world.labels(endpoint)):
            return None
        for rule in policy.rules(direction):
            if not m.rule(rule, src, dst, proto, port, policy.namespace):
                continue
            if rule.action is CalicoAction.LOG:
                continue
            if rule.action is CalicoAction.PASS:
                return "pass"
            return rule.action is CalicoAction.ALLOW
        return ""
    if chain != "normal":
        return None
    peer = src if direction is Direction.INGRESS else dst
    if isinstance(policy, NetworkPolicy):
        if not policy.affects(direction) or not _k8s_selects(world, policy, endpoint):
            return None
        for k_rule in policy.rules(direction):
            peer_ok = k_rule.peers is None or any(
                _k8s_peer(world, p, peer, policy.namespace) for p in k_rule.peers
            )
            if peer_ok and _k8s_port(k_rule.ports, dst, proto, port):
                return True
        return ""
    assert isinstance(policy, AdminPolicy)
    rules = policy.rules(direction)
    if not rules or not _admin_selects(world, policy, endpoint):
        return None
    for a_rule in rules:
        peer_ok = any(_k8s_peer(world, p, peer, "") for p in a_rule.peers)
        if peer_ok and _k8s_port(a_rule.ports, dst, proto, port):
            if a_rule.action is Action.PASS:
                return "pass"
            return a_rule.action is Action.ALLOW
    return ""


def _profiles(
    world: _World,
    m: _Matcher,
    endpoint: Pod,
    direction: Direction,
    src: Endpoint,
    dst: Endpoint,
    proto: Protocol,
    port: int,
) -> bool:
    for name in _profiles_of(endpoint):
        given = world.profiles.get(name)
        if given is None:
            if name.startswith("kns."):
                return True  # Calico's generated namespace profile allows everything
            continue
        for rule in given.rules(direction):
            if rule.action in (CalicoAction.LOG, CalicoAction.PASS):
                continue
            if m.rule(rule, src, dst, proto, port, ""):
                return rule.action is CalicoAction.ALLOW
    return False


def calico_allowed(
    cluster: Cluster,
    src: Endpoint,
    dst: Endpoint,
    proto: Protocol,
    port: int,
    host_network: str = "node",
) -> bool:
    """Whether the connection is allowed: the source's egress and the destination's ingress
    (an address has no policies). `port` is the ICMP `type * 256 + code` for ICMP and the
    protocol number for Protocol.IP (model/sets.py)."""
    world = _World(cluster, host_network)
    ok = True
    if isinstance(src, Pod):
        ok = _direction(world, Direction.EGRESS, src, dst, proto, port)
    if ok and isinstance(dst, Pod):
        ok = _direction(world, Direction.INGRESS, dst, src, proto, port)
    return ok
