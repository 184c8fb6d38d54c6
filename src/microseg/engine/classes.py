"""Pod equivalence classes: endpoints that every policy must treat alike.

Two pods behave identically under NetworkPolicy when they share a namespace, labels, the
named ports they expose, and host networking (plus, for host-network pods, the node
address that ipBlocks see). The engine computes over classes and expands to workloads
only when it prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine.options import DEFAULT_OPTIONS, EngineOptions, HostNetwork
from microseg.model.cluster import Cluster
from microseg.model.objects import Namespace, Pod

__all__ = ["EndpointClasses", "class_key"]


def class_key(pod: Pod, host_network: bool) -> tuple[object, ...]:
    named = tuple(sorted((p.name, p.protocol.value, p.port) for p in pod.ports if p.name))
    address = (pod.host_ip or (pod.ips[0] if pod.ips else "")) if host_network else ""
    return (pod.namespace, pod.labels.key(), named, host_network, address)


@dataclass(frozen=True, slots=True)
class EndpointClasses:
    """`pod_class[i]` is the class of `cluster.pods[i]`; `reps[c]` a pod standing for class c."""

    reps: tuple[Pod, ...]
    pod_class: npt.NDArray[np.int64]
    namespaces: tuple[Namespace, ...]
    class_namespace: npt.NDArray[np.int64]
    host_network: npt.NDArray[np.bool_]

    @staticmethod
    def build(cluster: Cluster, options: EngineOptions = DEFAULT_OPTIONS) -> EndpointClasses:
        as_node = options.host_network is HostNetwork.NODE
        index: dict[tuple[object, ...], int] = {}
        reps: list[Pod] = []
        pod_class = np.empty(len(cluster.pods), dtype=np.int64)
        for i, pod in enumerate(cluster.pods):
            key = class_key(pod, as_node and pod.host_network)
            c = index.get(key)
            if c is None:
                c = index[key] = len(reps)
                reps.append(pod)
            pod_class[i] = c
        ns_index = {ns.name: i for i, ns in enumerate(cluster.namespaces)}
        class_ns = np.array([ns_index[p.namespace] for p in reps], dtype=np.int64)
        host = np.array([as_node and p.host_network for p in reps], dtype=np.bool_)
        return EndpointClasses(tuple(reps), pod_class, cluster.namespaces, class_ns, host)

    def __len__(self) -> int:
        return len(self.reps)
