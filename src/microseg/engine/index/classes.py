"""Pod equivalence classes: endpoints that every policy must treat alike.

Two pods behave identically under NetworkPolicy when they share a namespace, labels, the
named ports they expose, and host networking (plus, for host-network pods, the node
address that ipBlocks see). The engine computes over classes and expands to workloads
only when it prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.engine.options import DEFAULT_OPTIONS, EngineOptions, HostNetwork
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd_pod import LinkerdPolicies, client_address
from microseg.model.objects import NAMESPACE_NAME_LABEL, Namespace, Pod, WorkloadKey

__all__ = ["INGRESS_CONTROLLER", "EndpointClasses", "class_key", "is_host_endpoint"]

# The ingress controller is not in the input. Like netpol-analyzer, which adds a fake pod
# `ingress-controller` in namespace `ingress-controller-ns` (no labels; the namespace, if
# not declared, only with its name label) and asks the policies about it as about any
# pod (pkg/netpol/eval/check.go AddPodByNameAndNamespace, pkg/netpol/internal/common), the
# engine adds one class for it when the input has Ingress or Route objects.
_CONTROLLER_NS = "ingress-controller-ns"
INGRESS_CONTROLLER = Pod(
    namespace=_CONTROLLER_NS,
    name="ingress-controller",
    labels=FrozenLabels({}),
    workload=WorkloadKey(_CONTROLLER_NS, "ingress-controller", "IngressController"),
)


def is_host_endpoint(pod: Pod) -> bool:
    """A Calico HostEndpoint: an endpoint treated as a host's address by every policy
    that is not Calico's (ingest/calico.py)."""
    return pod.workload.kind == "HostEndpoint"


def class_key(
    pod: Pod,
    host_network: bool,
    mesh: bool = False,
    mesh_ip: bool = False,
    linkerd: Callable[[str | None], tuple[bool, ...]] | None = None,
    calico: bool = False,
) -> tuple[object, ...]:
    """`mesh`: the input has mesh resources, which also tell pods apart by identity
    (service account) and sidecar opt-in/out; `mesh_ip`: some AuthorizationPolicy names
    ipBlocks, so the pod's own address matters too; `linkerd`: the input has Linkerd's,
    which tell pods apart by their Linkerd facts and by which networks hold their address
    (the signature this function gives for the address); `calico`: the input has Calico
    objects, whose selectors also see the service account (`projectcalico.org/serviceaccount`
    and the account's labels) and the labels and rules of an endpoint's profiles, and
    whose nets match a host endpoint's every address."""
    named = tuple(sorted((p.name, p.protocol.value, p.port) for p in pod.ports if p.name))
    address = (pod.host_ip or (pod.ips[0] if pod.ips else "")) if host_network else ""
    key: tuple[object, ...] = (pod.namespace, pod.labels.key(), named, host_network, address)
    if calico:
        hep = is_host_endpoint(pod)
        key = (*key, pod.service_account, pod.profiles, hep, pod.ips if hep else ())
    if mesh:
        ip = (pod.ips[0] if pod.ips else "") if mesh_ip else ""
        key = (
            *key,
            pod.service_account,
            pod.inject_annotation,
            pod.injected,
            pod.host_network,
            ip,
        )
        if linkerd is not None:
            key = (
                *key,
                pod.linkerd,
                linkerd(client_address(pod.ips, pod.host_network, pod.host_ip)),
            )
    return key


def linkerd_signatures(policies: LinkerdPolicies) -> Callable[[str | None], tuple[bool, ...]]:
    """address_signature for one policy set, memoised per address."""
    from microseg.model.linkerd import address_signature  # Linkerd's model: its input only

    memo: dict[str | None, tuple[bool, ...]] = {}

    def signature(address: str | None) -> tuple[bool, ...]:
        found = memo.get(address)
        if found is None:
            found = memo[address] = address_signature(policies, address)
        return found

    return signature


@dataclass(frozen=True, slots=True)
class EndpointClasses:
    """`pod_class[i]` is the class of `cluster.pods[i]`; `reps[c]` a pod standing for class c."""

    reps: tuple[Pod, ...]
    pod_class: npt.NDArray[np.int64]
    namespaces: tuple[Namespace, ...]
    class_namespace: npt.NDArray[np.int64]
    host_network: npt.NDArray[np.bool_]
    controller: int | None = None
    keys: dict[tuple[object, ...], int] | None = field(default=None, compare=False, repr=False)
    """Class key (`class_key`) to class, for incremental updates."""

    @staticmethod
    def build(
        cluster: Cluster, options: EngineOptions = DEFAULT_OPTIONS, controller: bool = False
    ) -> EndpointClasses:
        """`controller`: also a class for INGRESS_CONTROLLER (it may share a real one)."""
        as_node = options.host_network is HostNetwork.NODE
        mesh = cluster.has_mesh
        mesh_ip = mesh and uses_addresses(cluster)
        linkerd = linkerd_signatures(cluster.linkerd) if cluster.has_linkerd else None
        calico = cluster.has_calico
        index: dict[tuple[object, ...], int] = {}
        reps: list[Pod] = []
        pod_class = np.empty(len(cluster.pods), dtype=np.int64)
        for i, pod in enumerate(cluster.pods):
            host = (as_node and pod.host_network) or is_host_endpoint(pod)
            key = class_key(pod, host, mesh, mesh_ip, linkerd, calico)
            c = index.get(key)
            if c is None:
                c = index[key] = len(reps)
                reps.append(pod)
            pod_class[i] = c
        namespaces = cluster.namespaces
        extra = None
        if controller:
            pod = INGRESS_CONTROLLER
            extra = index.setdefault(
                class_key(pod, False, mesh, mesh_ip, linkerd, calico), len(reps)
            )
            if extra == len(reps):
                reps.append(pod)
            if cluster.namespace(pod.namespace) is None:
                labels = FrozenLabels({NAMESPACE_NAME_LABEL: pod.namespace})
                namespaces = (*namespaces, Namespace(pod.namespace, labels, declared=False))
        if any(not p.namespace for p in reps) and all(ns.name for ns in namespaces):
            # Host endpoints are cluster-scoped: a namespace of their own, with no labels,
            # so that no namespace selector of a policy can match it.
            namespaces = (*namespaces, Namespace("", FrozenLabels({}), declared=False))
        ns_index = {ns.name: i for i, ns in enumerate(namespaces)}
        class_ns = np.array([ns_index[p.namespace] for p in reps], dtype=np.int64)
        hosts = np.array(
            [(as_node and p.host_network) or is_host_endpoint(p) for p in reps], dtype=np.bool_
        )
        return EndpointClasses(tuple(reps), pod_class, namespaces, class_ns, hosts, extra, index)

    def __len__(self) -> int:
        return len(self.reps)


def uses_addresses(cluster: Cluster) -> bool:
    """Whether some AuthorizationPolicy looks at source addresses (then a pod's own IP
    tells it apart from its look-alikes)."""
    return any(
        any(
            s.ip_blocks or s.not_ip_blocks or s.remote_ip_blocks or s.not_remote_ip_blocks
            for s in r.sources or ()
        )
        or any(c.key in ("source.ip", "remote.ip") for c in r.conditions)
        for p in cluster.authorization_policies
        for r in p.rules
    )
