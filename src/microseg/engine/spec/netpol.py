"""The slow, obviously correct evaluator: the specifications in code, one (source,
destination, protocol, port) at a time.

NetworkPolicy follows the networking.k8s.io/v1 API reference; the admin and baseline tiers
follow the network-policy-api reference (AdminNetworkPolicy, BaselineAdminNetworkPolicy);
primary user-defined networks (OVN-Kubernetes UDN/CUDN) cut pods of different networks
apart before any policy is consulted (see `_network`). It shares nothing with the fast
engine but the model, so property tests can hold the engine to it. Endpoints are Pods or
external IP address strings.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from microseg.engine.options import DEFAULT_OPTIONS, EngineOptions, HostNetwork
from microseg.model.admin import Action, AdminPolicy, AdminRule, AdminTier
from microseg.model.cluster import Cluster
from microseg.model.netpol import (
    Direction,
    IPBlockPeer,
    NetworkPolicy,
    NodePeer,
    Peer,
    PortSpec,
    Rule,
)
from microseg.model.networks import UserDefinedNetwork
from microseg.model.objects import Pod
from microseg.model.sets import Protocol

__all__ = ["allowed"]

Endpoint = Pod | str


def _in(address: str, block: IPBlockPeer) -> bool:
    ip = ipaddress.ip_address(address)
    family = block.addresses.v4 if ip.version == 4 else block.addresses.v6
    return int(ip) in family


def _node_address(pod: Pod) -> str:
    return pod.host_ip or (pod.ips[0] if pod.ips else "")


def _selects(policy: NetworkPolicy, pod: Pod) -> bool:
    # Host-network pods are not selected (Kubernetes docs: NetworkPolicy and hostNetwork pods).
    return (
        not pod.host_network
        and pod.namespace == policy.namespace
        and policy.pod_selector.matches(pod.labels)
    )


def _subject(cluster: Cluster, policy: AdminPolicy, pod: Pod) -> bool:
    ns = cluster.namespace(pod.namespace)
    assert ns is not None
    return (
        not pod.host_network
        and policy.subject.namespace_selector.matches(ns.labels)
        and policy.subject.pod_selector.matches(pod.labels)
    )


def _peer_matches(cluster: Cluster, peer: Peer, other: Endpoint) -> bool:
    if isinstance(peer, NodePeer):
        addresses = [
            a for n in cluster.nodes if peer.selector.matches(n.labels) for a in n.addresses
        ]
        if isinstance(other, str):
            return any(ipaddress.ip_address(other) == ipaddress.ip_address(a) for a in addresses)
        return other.host_network and _node_address(other) in addresses
    if isinstance(peer, IPBlockPeer):
        if isinstance(other, str):
            return _in(other, peer)
        if not other.host_network:
            return False  # ipBlock describes addresses outside the pod network
        node = _node_address(other)
        if not node:
            # Unknown node address: only a block holding every IPv4 address surely matches.
            return peer.addresses.v4.size() == 2**32
        return _in(node, peer)
    if isinstance(other, str) or other.host_network:
        return False
    if peer.namespace is not None:
        ns_ok = other.namespace == peer.namespace
    else:
        ns = cluster.namespace(other.namespace)
        assert ns is not None
        assert peer.namespace_selector is not None
        ns_ok = peer.namespace_selector.matches(ns.labels)
    return ns_ok and peer.pod_selector.matches(other.labels)


def _port_matches(
    ports: tuple[PortSpec, ...] | None, destination: Endpoint, protocol: Protocol, port: int
) -> bool:
    if ports is None:
        return True
    for spec in ports:
        if spec.protocol is not protocol:
            continue
        if spec.name:
            if isinstance(destination, Pod) and destination.named_port(spec.name, protocol) == port:
                return True
        elif spec.start <= port <= spec.end:
            return True
    return False


def _rule_matches(
    cluster: Cluster,
    rule: Rule | AdminRule,
    other: Endpoint,
    destination: Endpoint,
    protocol: Protocol,
    port: int,
) -> bool:
    peers_ok = rule.peers is None or any(_peer_matches(cluster, p, other) for p in rule.peers)
    return peers_ok and _port_matches(rule.ports, destination, protocol, port)


def _first_match(
    cluster: Cluster,
    tier: AdminTier,
    subject: Pod,
    other: Endpoint,
    direction: Direction,
    protocol: Protocol,
    port: int,
) -> Action | None:
    """The action of the first matching rule of a tier, in priority then rule order."""
    destination = subject if direction is Direction.INGRESS else other
    for policy in cluster.tier(tier):
        if not _subject(cluster, policy, subject):
            continue
        for rule in policy.rules(direction):
            if _rule_matches(cluster, rule, other, destination, protocol, port):
                return rule.action
    return None


def _direction_allows(
    cluster: Cluster,
    subject: Pod,
    other: Endpoint,
    direction: Direction,
    protocol: Protocol,
    port: int,
) -> bool:
    admin = _first_match(cluster, AdminTier.ADMIN, subject, other, direction, protocol, port)
    if admin is Action.ALLOW:
        return True
    if admin is Action.DENY:
        return False
    # No admin rule matched, or one passed: NetworkPolicy decides if it isolates the pod.
    policies = [p for p in cluster.policies if p.affects(direction) and _selects(p, subject)]
    if policies:
        destination = subject if direction is Direction.INGRESS else other
        return any(
            _rule_matches(cluster, r, other, destination, protocol, port)
            for p in policies
            for r in p.rules(direction)
        )
    baseline = _first_match(cluster, AdminTier.BASELINE, subject, other, direction, protocol, port)
    return baseline is not Action.DENY


def _network(cluster: Cluster, pod: Pod) -> UserDefinedNetwork | None:
    """The primary user-defined network `pod` sits on; None: the cluster's default network.

    Why: pods on different primary networks are isolated from each other whatever the
    policies say (OpenShift "About user-defined networks": the segments are isolated by
    default, https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/networking/primary-networks).
    A pod's network is its namespace's (`Cluster.networks`, resolved at ingest from the UDN in
    the namespace or a CUDN selecting it, for namespaces labelled
    k8s.ovn.org/primary-user-defined-network). A host-network pod counted as its node uses the
    node's own stack, so it is on the default network; `allowed` has already turned it into an
    ordinary pod when host-network pods count as pods.
    """
    if pod.host_network:
        return None
    return cluster.networks.primary_of(pod.namespace)


def allowed(
    cluster: Cluster,
    src: Endpoint,
    dst: Endpoint,
    protocol: Protocol,
    port: int,
    options: EngineOptions = DEFAULT_OPTIONS,
) -> bool:
    """Whether `src` may open a `protocol`/`port` connection to `dst`."""
    if options.host_network is HostNetwork.POD:
        src = replace(src, host_network=False) if isinstance(src, Pod) else src
        dst = replace(dst, host_network=False) if isinstance(dst, Pod) else dst
    if isinstance(src, str) and isinstance(dst, str):
        raise ValueError("at least one endpoint must be a pod")
    # Two pods on different primary networks never connect. External addresses are never cut
    # off: traffic between a UDN pod and the outside is left to the policies, as
    # netpol-analyzer's expected outputs show (conformance udn_test_*, cudn_test_*:
    # `0.0.0.0-255.255.255.255 => blue[udn]/webserver : All Connections`).
    if (
        isinstance(src, Pod)
        and isinstance(dst, Pod)
        and _network(cluster, src) != _network(cluster, dst)
    ):
        return False
    egress = isinstance(src, str) or _direction_allows(
        cluster, src, dst, Direction.EGRESS, protocol, port
    )
    ingress = isinstance(dst, str) or _direction_allows(
        cluster, dst, src, Direction.INGRESS, protocol, port
    )
    return egress and ingress
