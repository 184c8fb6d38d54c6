"""Observed flow endpoints resolved against a cluster snapshot.

A flow record names its endpoints however its source can: Hubble by namespace, pod name,
workload and IP; Calico by namespace and a pod name or an aggregated prefix
(`webapp-7d9f8b6c5-*`); Envoy by `ip:port` only; microseg's CSV by `ns/name` or address.
`EndpointResolver` turns one such endpoint into what the analyses need, in this order:

1. a pod named in the snapshot (namespace and pod name);
2. a workload: Hubble's `workloads[0]` (`name[Kind]`), a CSV `ns/name` (or the pod it
   names when no workload has that name), or a Calico
   aggregated name whose prefix, cut at a `-`, names a workload (ReplicaSet and
   StatefulSet pod names are the owner's name plus suffixes) -> that workload's pods;
3. an address: a pod IP (`status.podIP`/`podIPs`), a Service ClusterIP (-> the pods its
   selector picks, with the Service port mapped to each pod's targetPort), a node address
   (`status.addresses`, and host-network pods, whose traffic is their node's);
4. any other address is external (the engine's ipBlock space);
5. a name that matches nothing and no usable address: unresolved, kept and counted.

Resolution works on distinct endpoints (a few per pod), never per record.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from microseg.model.cluster import Cluster
from microseg.model.objects import Service, ServicePort, WorkloadKey
from microseg.model.sets import Protocol

__all__ = [
    "EndpointKind",
    "EndpointResolver",
    "FlowKeys",
    "FlowStats",
    "Ints",
    "ObservedEndpoint",
    "Resolved",
    "ShownFlow",
]

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ObservedEndpoint:
    """An endpoint as the records named it ("" for what they did not say)."""

    ns: str
    pod: str
    workload: str
    ip: str


@dataclass(frozen=True, slots=True)
class FlowKeys:
    """Every flow key of a store as integer arrays: `src`/`dst` index `endpoints`,
    `protocol` indexes `protocols` (TCP, UDP, SCTP, ICMPv4, ...), `verdict` indexes
    `verdicts` (as recorded); `count` is the records behind each key."""

    endpoints: tuple[ObservedEndpoint, ...]
    protocols: tuple[str, ...]
    verdicts: tuple[str, ...]
    src: Ints
    dst: Ints
    protocol: Ints
    port: Ints
    verdict: Ints
    count: Ints

    def __len__(self) -> int:
        return len(self.src)


class EndpointKind(StrEnum):
    POD = "pod"
    SERVICE = "service"
    NODE = "node"
    EXTERNAL = "external"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class Resolved:
    """One endpoint: `pods` are indices into `cluster.pods` (a pod, a workload's pods or a
    Service's backends); `ip` the address for nodes and external peers; `service` the
    Service whose ports map to targetPorts."""

    kind: EndpointKind
    name: str
    pods: tuple[int, ...] = ()
    ip: str = ""
    service: Service | None = None

    def target_port(
        self,
        pods_ports: dict[int, dict[tuple[str, Protocol], int]],
        pod: int,
        protocol: Protocol,
        port: int,
    ) -> int | None:
        """The port on backend `pod` for `protocol/port` sent to the Service: the Service
        port's targetPort, a named one resolved on the pod (None when it does not
        resolve there, or the Service has no such port: kube-proxy then rejects it)."""
        if self.service is None:
            return port
        sp = _service_port(self.service, protocol, port)
        if sp is None:
            return None
        if isinstance(sp.target, int):
            return sp.target
        return pods_ports.get(pod, {}).get((sp.target, protocol))


def _service_port(svc: Service, protocol: Protocol, port: int) -> ServicePort | None:
    for sp in svc.ports:
        if sp.protocol is protocol and sp.port == port:
            return sp
    return None


def _canonical(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return ""


class EndpointResolver:
    """Lookup tables over one cluster snapshot. `host_network_as_node`: host-network pods'
    traffic is their node's (the engine's default, `--host-network node`)."""

    def __init__(self, cluster: Cluster, host_network_as_node: bool = True) -> None:
        self.cluster = cluster
        self.pod_names: dict[tuple[str, str], int] = {}
        self.workload_pods: dict[tuple[str, str], dict[WorkloadKey, list[int]]] = {}
        self.pod_ips: dict[str, int] = {}
        self.node_ips: dict[str, str] = {}
        self.service_ips: dict[str, Service] = {}
        self.named_ports: dict[int, dict[tuple[str, Protocol], int]] = {}
        self._as_node = host_network_as_node
        for i, pod in enumerate(cluster.pods):
            self.pod_names.setdefault((pod.namespace, pod.name), i)
            key = pod.workload
            self.workload_pods.setdefault((key.namespace, key.name), {}).setdefault(key, []).append(
                i
            )
            self.named_ports[i] = {(p.name, p.protocol): p.port for p in pod.ports if p.name}
            if pod.host_network and host_network_as_node:
                continue
            for ip in pod.ips:
                canon = _canonical(ip)
                if canon:
                    self.pod_ips.setdefault(canon, i)
        for node in cluster.nodes:
            for address in node.addresses:
                canon = _canonical(address)
                if canon:
                    self.node_ips.setdefault(canon, node.name)
        for svc in cluster.services:
            for ip in svc.cluster_ips:
                canon = _canonical(ip)
                if canon:
                    self.service_ips.setdefault(canon, svc)

    # -- the steps ---------------------------------------------------------------------
    def _pod(self, i: int) -> Resolved:
        pod = self.cluster.pods[i]
        if pod.host_network and self._as_node:
            ip = _canonical(pod.host_ip)
            if not ip:
                return Resolved(EndpointKind.UNRESOLVED, f"{pod.namespace}/{pod.name}")
            return Resolved(EndpointKind.NODE, self.node_ips.get(ip, ip), ip=ip)
        return Resolved(EndpointKind.POD, str(pod.workload), (i,))

    def _workload(self, ns: str, name: str) -> Resolved | None:
        kind = ""
        if name.endswith("]") and "[" in name:
            name, kind = name[:-1].split("[", 1)
        found = self.workload_pods.get((ns, name), {})
        keys = [k for k in found if kind in ("", k.kind)]
        if len(keys) != 1:
            return None
        pods = tuple(found[keys[0]])
        if pods and all(self.cluster.pods[i].host_network for i in pods) and self._as_node:
            return self._pod(pods[0])
        return Resolved(EndpointKind.POD, str(keys[0]), pods)

    def _by_prefix(self, ns: str, name: str) -> Resolved | None:
        """`webapp-7d9f8b6c5-*` or a pod name not in the snapshot: the longest prefix cut at
        a `-` that names a workload of the namespace."""
        stem = name.rstrip("*").rstrip("-")
        while stem:
            hit = self._workload(ns, stem)
            if hit is not None:
                return hit
            if "-" not in stem:
                return None
            stem = stem.rsplit("-", 1)[0]
        return None

    def _address(self, ip: str) -> Resolved | None:
        canon = _canonical(ip)
        if not canon:
            return None
        if canon in self.pod_ips:
            return self._pod(self.pod_ips[canon])
        svc = self.service_ips.get(canon)
        if svc is not None:
            pods = tuple(
                i
                for i, p in enumerate(self.cluster.pods)
                if svc.selector is not None
                and p.namespace == svc.namespace
                and all(p.labels.get(k) == v for k, v in svc.selector.items())
                and not (p.host_network and self._as_node)
            )
            return Resolved(
                EndpointKind.SERVICE, f"{svc.namespace}/{svc.name}[Service]", pods, canon, svc
            )
        if canon in self.node_ips:
            return Resolved(EndpointKind.NODE, self.node_ips[canon], ip=canon)
        return Resolved(EndpointKind.EXTERNAL, canon, ip=canon)

    def resolve(self, ns: str, pod: str, workload: str, ip: str) -> Resolved:
        if ns and pod and not pod.endswith("*") and (ns, pod) in self.pod_names:
            return self._pod(self.pod_names[(ns, pod)])
        if ns and workload:
            hit = self._workload(ns, workload)
            if hit is not None:
                return hit
            if "[" not in workload and (ns, workload) in self.pod_names:
                # A CSV `ns/name` names a pod or a workload: the one field holds either.
                return self._pod(self.pod_names[(ns, workload)])
        if ns and pod:
            hit = self._by_prefix(ns, pod)
            if hit is not None:
                return hit
        by_ip = self._address(ip) if ip else None
        if by_ip is not None:
            return by_ip
        shown = "/".join(x for x in (ns, pod or workload) if x) or ip or "?"
        return Resolved(EndpointKind.UNRESOLVED, shown)


@dataclass(frozen=True, slots=True)
class FlowStats:
    """What a flow store holds. Counts per group are (group, keys, records)."""

    files: int
    keys: int
    records: int
    replies: int
    rejected: int
    first_seen: str
    last_seen: str
    by_verdict: tuple[tuple[str, int, int], ...] = ()
    by_format: tuple[tuple[str, int, int], ...] = ()
    by_protocol: tuple[tuple[str, int, int], ...] = ()
    reject_reasons: tuple[tuple[str, int], ...] = ()
    endpoints: tuple[tuple[str, int], ...] = ()
    """Endpoints by resolution kind; empty when no snapshot was given at import."""


@dataclass(frozen=True, slots=True)
class ShownFlow:
    """One flow key as `flows show` prints it."""

    src: str
    dst: str
    protocol: str
    port: int
    verdict: str
    count: int
    replies: int
    first_seen: str
    last_seen: str
    format: str
    detail: str
