"""The slow, obviously correct network evaluator: the specifications in code, one (source,
destination, protocol, port) at a time, read from the raw documents.

- NetworkPolicy: the networking.k8s.io/v1 API reference
  (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/)
  and the concepts page (https://kubernetes.io/docs/concepts/services-networking/network-policies/).
  `policyTypes` defaults as the API server's defaulting does (SetDefaults_NetworkPolicy,
  kubernetes pkg/apis/networking/v1/defaults.go: Ingress always, Egress when `egress` has an
  item).
- AdminNetworkPolicy, BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy
  (v1alpha2): the network-policy-api reference (https://network-policy-api.sigs.k8s.io/reference/spec/)
  and its tier model (https://network-policy-api.sigs.k8s.io/api-overview/): the admin tier by
  ascending priority with rules in order, first match wins, Pass hands the connection to
  NetworkPolicy; the baseline tier only for pods no NetworkPolicy isolates.
- Primary user-defined networks (OVN-Kubernetes): pods on different primary networks never
  connect (https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/networking/primary-networks).

Decisions microseg documents in its README and this evaluator follows: host-network pods are
their node by default (`host_network="node"`: never selected, matched only as addresses), or
ordinary pods (`"pod"`); an ipBlock matches addresses outside the pod network; a named port in
an admin policy matches the container port of that name with its own protocol; policies of
one tier and priority are ordered by name.

It shares nothing with the engine or ingest: the World is read from the documents by
spec/world.py, and the answer is a bool.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from microseg.engine.spec.kube import Doc, address_in, field, selector_matches
from microseg.engine.spec.world import Endpoint, World

__all__ = ["Reference", "allowed"]

INGRESS, EGRESS = "Ingress", "Egress"
PRIMARY_UDN_LABEL = "k8s.ovn.org/primary-user-defined-network"
Other = Endpoint | str


@dataclass(frozen=True, slots=True)
class _AdminRule:
    action: str  # Allow, Deny or Pass
    peers: tuple[tuple[str, Any], ...]  # (peer kind, its value)
    ports: tuple[tuple[str, Any], ...] | None  # None: every port


@dataclass(frozen=True, slots=True)
class _AdminPolicy:
    name: str
    priority: int
    subject: Doc
    rules: dict[str, tuple[_AdminRule, ...]]


def _admin_ports(rule: Doc, cnp: bool) -> tuple[tuple[str, Any], ...] | None:
    """Ports as ("range", (protocol, lo, hi)) or ("named", name); None when absent."""
    out: list[tuple[str, Any]] = []
    if cnp:
        raw = rule.get("protocols")
        if raw is None:
            return None
        for item in raw:
            if "destinationNamedPort" in item:
                out.append(("named", item["destinationNamedPort"]))
                continue
            for proto in ("tcp", "udp", "sctp"):
                if proto in item:
                    dp = field(item, proto, "destinationPort")
                    if dp is None:
                        lo, hi = 1, 65535
                    elif "number" in dp:
                        lo = hi = int(dp["number"])
                    else:
                        lo, hi = int(dp["range"]["start"]), int(dp["range"]["end"])
                    out.append(("range", (proto.upper(), lo, hi)))
        return tuple(out)
    raw = rule.get("ports")
    if not raw:
        return None
    for item in raw:
        if "portNumber" in item:
            n = item["portNumber"]
            out.append(("range", (n.get("protocol") or "TCP", int(n["port"]), int(n["port"]))))
        elif "portRange" in item:
            r = item["portRange"]
            out.append(("range", (r.get("protocol") or "TCP", int(r["start"]), int(r["end"]))))
        else:
            out.append(("named", item["namedPort"]))
    return tuple(out)


def _admin_peers(peers: list[Doc]) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = []
    for peer in peers:
        for kind in ("namespaces", "pods", "nodes"):
            if kind in peer:
                out.append((kind, peer[kind] or {}))
        out += [("networks", cidr) for cidr in peer.get("networks") or []]
        # domainNames: a static analysis cannot resolve names; they match nothing here.
    return tuple(out)


def _admin_policy(doc: Doc, cnp: bool) -> _AdminPolicy:
    spec = doc["spec"]
    rules: dict[str, tuple[_AdminRule, ...]] = {}
    for direction, key, peers_key in ((INGRESS, "ingress", "from"), (EGRESS, "egress", "to")):
        rules[direction] = tuple(
            _AdminRule(
                "Allow" if r["action"] == "Accept" else r["action"],
                _admin_peers(r.get(peers_key) or []),
                _admin_ports(r, cnp),
            )
            for r in spec.get(key) or []
        )
    return _AdminPolicy(
        doc["metadata"]["name"], int(spec.get("priority", 0)), spec["subject"], rules
    )


class Reference:
    """One input's documents, evaluated connection by connection."""

    def __init__(self, world: World, host_network: str = "node") -> None:
        self.world = world
        self.pods_are_hosts = host_network == "node"
        admin: list[_AdminPolicy] = []
        baseline: list[_AdminPolicy] = []
        for doc in world.of("AdminNetworkPolicy"):
            admin.append(_admin_policy(doc, cnp=False))
        for doc in world.of("BaselineAdminNetworkPolicy"):
            baseline.append(_admin_policy(doc, cnp=False))
        for doc in world.of("ClusterNetworkPolicy"):
            tier = admin if doc["spec"]["tier"] == "Admin" else baseline
            tier.append(_admin_policy(doc, cnp=True))
        # Lower priority numbers first; equal priorities by name (microseg's documented order).
        self.admin = sorted(admin, key=lambda p: (p.priority, p.name))
        self.baseline = sorted(baseline, key=lambda p: (p.priority, p.name))
        self.netpols = world.of("NetworkPolicy")

    # --- who is who -------------------------------------------------------------------

    def _host(self, e: Endpoint) -> bool:
        return self.pods_are_hosts and e.host_network

    def _node_address(self, e: Endpoint) -> str:
        return e.host_ip or (e.ips[0] if e.ips else "")

    def _in_block(self, other: Other, cidr: str, excepts: list[str]) -> bool:
        """ipBlock / networks: addresses; a host-network pod is its node's address (unknown:
        only a block holding every IPv4 address surely holds it)."""
        if isinstance(other, str):
            return address_in(other, cidr, excepts)
        if not self._host(other):
            return False
        node = self._node_address(other)
        if node:
            return address_in(node, cidr, excepts)
        net = ipaddress.ip_network(cidr, strict=False)
        return net.version == 4 and net.prefixlen == 0 and not excepts

    def _pod(self, other: Other) -> Endpoint | None:
        """`other` as a pod that pod and namespace selectors can match, if it is one."""
        if isinstance(other, str) or self._host(other):
            return None
        return other

    # --- NetworkPolicy -----------------------------------------------------------------

    @staticmethod
    def policy_types(spec: Doc) -> set[str]:
        types = spec.get("policyTypes") or []
        if types:
            return set(types)
        return {INGRESS, EGRESS} if spec.get("egress") else {INGRESS}

    def _np_peer(self, peer: Doc, policy_ns: str, other: Other) -> bool:
        block = peer.get("ipBlock")
        if block is not None:
            return self._in_block(other, block["cidr"], list(block.get("except") or []))
        pod = self._pod(other)
        if pod is None:
            return False
        ns_selector = peer.get("namespaceSelector")
        if ns_selector is None:  # podSelector alone: the policy's own namespace
            ns_ok = pod.namespace == policy_ns
        else:
            ns_ok = selector_matches(ns_selector, self.world.namespace_labels(pod.namespace))
        return ns_ok and selector_matches(peer.get("podSelector"), pod.labels)

    @staticmethod
    def _named(destination: Other, name: str, protocol: str, port: int) -> bool:
        return isinstance(destination, Endpoint) and any(
            p.name == name and p.protocol == protocol and p.number == port
            for p in destination.ports
        )

    def _np_ports(self, ports: list[Doc], destination: Other, protocol: str, port: int) -> bool:
        if not ports:  # empty or missing: every port
            return True
        for p in ports:
            if (p.get("protocol") or "TCP") != protocol:
                continue
            number = p.get("port")
            if number is None:  # no port: every port of the protocol
                return True
            if isinstance(number, str):
                if self._named(destination, number, protocol, port):
                    return True
            elif number <= port <= (p.get("endPort") or number):
                return True
        return False

    def _np_decides(
        self, subject: Endpoint, other: Other, direction: str, protocol: str, port: int
    ) -> bool | None:
        """None when no NetworkPolicy isolates `subject` in `direction`; else whether one of
        the isolating policies' rules allows the connection."""
        if self._host(subject):
            return None
        destination = subject if direction == INGRESS else other
        isolated = False
        for doc in self.netpols:
            spec = doc.get("spec") or {}
            ns = self.world.namespace_of(doc)
            if ns != subject.namespace or not selector_matches(
                spec.get("podSelector"), subject.labels
            ):
                continue
            if direction not in self.policy_types(spec):
                continue
            isolated = True
            peers_key = "from" if direction == INGRESS else "to"
            for rule in spec.get("ingress" if direction == INGRESS else "egress") or []:
                rule = rule or {}
                peers = rule.get(peers_key) or []
                peers_ok = not peers or any(self._np_peer(p, ns, other) for p in peers)
                if peers_ok and self._np_ports(
                    rule.get("ports") or [], destination, protocol, port
                ):
                    return True
        return False if isolated else None

    # --- the guardrail tiers ---------------------------------------------------------------

    def _subject(self, subject: Doc, pod: Endpoint) -> bool:
        if self._host(pod):
            return False
        ns_labels = self.world.namespace_labels(pod.namespace)
        if "namespaces" in subject:
            return selector_matches(subject["namespaces"], ns_labels)
        pods = subject["pods"]
        return selector_matches(pods.get("namespaceSelector"), ns_labels) and selector_matches(
            pods.get("podSelector"), pod.labels
        )

    def _admin_peer(self, kind: str, value: Any, other: Other) -> bool:
        if kind == "networks":
            return self._in_block(other, value, [])
        if kind == "nodes":
            addresses = {
                ipaddress.ip_address(a)
                for labels, node_addresses in self.world.nodes
                if selector_matches(value, labels)
                for a in node_addresses
            }
            if isinstance(other, str):
                return ipaddress.ip_address(other) in addresses
            node = self._node_address(other)
            return self._host(other) and bool(node) and ipaddress.ip_address(node) in addresses
        pod = self._pod(other)
        if pod is None:
            return False
        ns_labels = self.world.namespace_labels(pod.namespace)
        if kind == "namespaces":
            return selector_matches(value, ns_labels)
        return selector_matches(value.get("namespaceSelector"), ns_labels) and selector_matches(
            value.get("podSelector"), pod.labels
        )

    def _admin_ports(self, rule: _AdminRule, destination: Other, protocol: str, port: int) -> bool:
        if rule.ports is None:
            return True
        for kind, value in rule.ports:
            if kind == "named":
                if self._named(destination, value, protocol, port):
                    return True
            elif value[0] == protocol and value[1] <= port <= value[2]:
                return True
        return False

    def _first_match(
        self,
        tier: list[_AdminPolicy],
        subject: Endpoint,
        other: Other,
        direction: str,
        protocol: str,
        port: int,
    ) -> str | None:
        destination = subject if direction == INGRESS else other
        for policy in tier:
            if not self._subject(policy.subject, subject):
                continue
            for rule in policy.rules[direction]:
                if any(self._admin_peer(k, v, other) for k, v in rule.peers) and self._admin_ports(
                    rule, destination, protocol, port
                ):
                    return rule.action
        return None

    def _direction(
        self, subject: Endpoint, other: Other, direction: str, protocol: str, port: int
    ) -> bool:
        admin = self._first_match(self.admin, subject, other, direction, protocol, port)
        if admin in ("Allow", "Deny"):
            return admin == "Allow"
        # No admin rule matched, or one passed: NetworkPolicy, when it isolates the pod.
        netpol = self._np_decides(subject, other, direction, protocol, port)
        if netpol is not None:
            return netpol
        baseline = self._first_match(self.baseline, subject, other, direction, protocol, port)
        return baseline != "Deny"

    # --- primary networks -------------------------------------------------------------------

    def network(self, e: Endpoint) -> tuple[str, ...]:
        """The pod's primary network: () for the cluster's default network."""
        if self._host(e):
            return ()  # the node's own stack
        labels = self.world.namespaces.get(e.namespace)
        if labels is None or PRIMARY_UDN_LABEL not in labels:
            return ()
        for doc in self.world.of("UserDefinedNetwork"):
            spec = doc["spec"]
            layer = spec.get("layer2") or spec.get("layer3") or {}
            if self.world.namespace_of(doc) == e.namespace and layer.get("role") == "Primary":
                return ("UDN", e.namespace, doc["metadata"]["name"])
        for doc in self.world.of("ClusterUserDefinedNetwork"):
            spec = doc["spec"]
            net = spec.get("network") or {}
            layer = net.get("layer2") or net.get("layer3") or {}
            if layer.get("role") == "Primary" and selector_matches(
                spec["namespaceSelector"], labels
            ):
                return ("CUDN", doc["metadata"]["name"])
        return ()

    # --- the answer ---------------------------------------------------------------------------

    def allowed(self, src: Other, dst: Other, protocol: str, port: int) -> bool:
        """Whether `src` may open a `protocol` (TCP, UDP, SCTP) connection to `dst`:`port`."""
        if isinstance(src, str) and isinstance(dst, str):
            raise ValueError("at least one endpoint must be a pod")
        if (
            isinstance(src, Endpoint)
            and isinstance(dst, Endpoint)
            and self.network(src) != self.network(dst)
        ):
            return False  # external addresses are never cut off by a network
        egress = isinstance(src, str) or self._direction(src, dst, EGRESS, protocol, port)
        ingress = isinstance(dst, str) or self._direction(dst, src, INGRESS, protocol, port)
        return egress and ingress


def allowed(
    world: World, src: Other, dst: Other, protocol: str, port: int, host_network: str = "node"
) -> bool:
    """One connection, answered from the documents (see Reference)."""
    return Reference(world, host_network).allowed(src, dst, protocol, port)
