"""The slow, obviously correct evaluator: NetworkPolicy v1 semantics in code, one
(source, destination, protocol, port) at a time, straight from the API reference.

It shares nothing with the fast engine but the model, so property tests can hold the
engine to it. Endpoints are Pods or external IP address strings.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from microseg.engine.options import DEFAULT_OPTIONS, EngineOptions, HostNetwork
from microseg.model.cluster import Cluster
from microseg.model.netpol import Direction, IPBlockPeer, NetworkPolicy, Peer, PortSpec, Rule
from microseg.model.objects import Pod
from microseg.model.sets import Protocol

__all__ = ["allowed"]

Endpoint = Pod | str


def _host(pod: Pod) -> bool:
    return pod.host_network


def _address_in(address: str, peer: IPBlockPeer) -> bool:
    ip = ipaddress.ip_address(address)
    family = peer.addresses.v4 if ip.version == 4 else peer.addresses.v6
    return int(ip) in family


def _selects(policy: NetworkPolicy, pod: Pod) -> bool:
    # Host-network pods are not selected (Kubernetes docs: NetworkPolicy and hostNetwork pods).
    return (
        not _host(pod)
        and pod.namespace == policy.namespace
        and policy.pod_selector.matches(pod.labels)
    )


def _peer_matches(cluster: Cluster, peer: Peer, other: Endpoint) -> bool:
    if isinstance(peer, IPBlockPeer):
        if isinstance(other, str):
            return _address_in(other, peer)
        if not _host(other):
            return False  # ipBlock describes addresses outside the pod network
        node = other.host_ip or (other.ips[0] if other.ips else "")
        if not node:
            # Unknown node address: only a block holding every IPv4 address surely matches.
            return (
                all(_address_in(a, peer) for a in ("0.0.0.0", "255.255.255.255"))
                and peer.addresses.v4.size() == 2**32
            )
        return _address_in(node, peer)
    if isinstance(other, str) or _host(other):
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


def _rule_allows(
    cluster: Cluster,
    rule: Rule,
    other: Endpoint,
    destination: Endpoint,
    protocol: Protocol,
    port: int,
) -> bool:
    peers_ok = rule.peers is None or any(_peer_matches(cluster, p, other) for p in rule.peers)
    return peers_ok and _port_matches(rule.ports, destination, protocol, port)


def _direction_allows(
    cluster: Cluster,
    subject: Pod,
    other: Endpoint,
    direction: Direction,
    protocol: Protocol,
    port: int,
) -> bool:
    policies = [p for p in cluster.policies if p.affects(direction) and _selects(p, subject)]
    if not policies:
        return True  # not isolated in this direction
    destination = subject if direction is Direction.INGRESS else other
    return any(
        _rule_allows(cluster, r, other, destination, protocol, port)
        for p in policies
        for r in p.rules(direction)
    )


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
    egress = isinstance(src, str) or _direction_allows(
        cluster, src, dst, Direction.EGRESS, protocol, port
    )
    ingress = isinstance(dst, str) or _direction_allows(
        cluster, dst, src, Direction.INGRESS, protocol, port
    )
    return egress and ingress
