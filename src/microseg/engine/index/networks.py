"""Primary-network isolation (OVN-Kubernetes user-defined networks) over endpoint classes.

A pod whose namespace has a primary UserDefinedNetwork or ClusterUserDefinedNetwork sits
on that network; every other pod sits on the cluster's default network. Pods on different
primary networks cannot reach each other in either direction, whatever the policies say
(OpenShift "About user-defined networks": segments are isolated by default,
https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/networking/primary-networks).
Inside one network, NetworkPolicies (and the guardrail tiers) still decide.

What stays open, from netpol-analyzer's expected outputs (the oracle for what the docs
leave unsaid: conformance netpol-analyzer udn_test_*, cudn_test_*,
udn_with_ingress_controller*): traffic between a UDN pod and addresses outside the cluster
is decided by the policies alone (`0.0.0.0-255.255.255.255 => blue[udn]/webserver : All
Connections`), and the ingress controller reaches UDN pods as it reaches others. So only
(pod class, pod class) cells are masked; the controller's class is on every network.

Classes never straddle two networks: the class key holds the namespace (engine/index/classes.py)
and a namespace has at most one primary network (ingest/networks.py, MS151).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine.index.classes import EndpointClasses
from microseg.engine.query import NetworkSide, NetworkSplit
from microseg.model.cluster import Cluster
from microseg.model.networks import UserDefinedNetwork

__all__ = ["ANY_NETWORK", "DEFAULT_NETWORK", "NetworkIsolation"]

DEFAULT_NETWORK = 0
"""Network id of the cluster's default pod network."""
ANY_NETWORK = -1
"""Network id of an endpoint every network can reach (the ingress controller)."""


@dataclass(frozen=True, slots=True)
class NetworkIsolation:
    """`class_network[c]`: the network id of class c; `networks[i - 1]` is network i."""

    class_network: npt.NDArray[np.int64]
    networks: tuple[UserDefinedNetwork, ...]

    @staticmethod
    def build(cluster: Cluster, classes: EndpointClasses) -> NetworkIsolation | None:
        """None when no namespace has a primary user-defined network (nothing is isolated)."""
        if not cluster.networks:
            return None
        primary = cluster.networks.primary_map()
        networks: list[UserDefinedNetwork] = []
        ids: dict[UserDefinedNetwork, int] = {}
        ns_network = np.zeros(len(classes.namespaces), dtype=np.int64)
        for i, ns in enumerate(classes.namespaces):
            network = primary.get(ns.name)
            if network is None:
                continue
            if network not in ids:
                networks.append(network)
                ids[network] = len(networks)
            ns_network[i] = ids[network]
        class_network = ns_network[classes.class_namespace]
        # Host-network pods counted as their node (HostNetwork.NODE) use the node's own
        # stack, not a pod network: they are on the default network.
        class_network[classes.host_network] = DEFAULT_NETWORK
        if classes.controller is not None:
            class_network[classes.controller] = ANY_NETWORK
        return NetworkIsolation(class_network, tuple(networks))

    def network_of(self, klass: int) -> UserDefinedNetwork | None:
        """The primary user-defined network of a class; None: the default (or any) network."""
        k = int(self.class_network[klass])
        return self.networks[k - 1] if k > 0 else None

    def same(
        self, src: npt.NDArray[np.int64] | None = None, dst: npt.NDArray[np.int64] | None = None
    ) -> npt.NDArray[np.bool_]:
        """[src class, dst class]: whether the two share a network (all classes by default)."""
        s = self.class_network if src is None else self.class_network[src]
        d = self.class_network if dst is None else self.class_network[dst]
        out: npt.NDArray[np.bool_] = (
            (s[:, None] == d[None, :]) | (s[:, None] == ANY_NETWORK) | (d[None, :] == ANY_NETWORK)
        )
        return out

    def columns(self, n_external: int) -> npt.NDArray[np.bool_]:
        """[src class, column] over the direction tables' columns (classes, then external
        atoms): external columns are never masked (see the module docstring)."""
        c = len(self.class_network)
        out = np.ones((c, c + n_external), dtype=np.bool_)
        out[:, :c] = self.same()
        return out

    def connected(self, src: int, dst: int) -> bool:
        """Whether class `src` may reach class `dst` at all."""
        a, b = int(self.class_network[src]), int(self.class_network[dst])
        return a == b or ANY_NETWORK in (a, b)

    def side(self, klass: int) -> NetworkSide:
        """The network of a class as a query result names it (default: an empty side)."""
        n = self.network_of(klass)
        if n is None:
            return NetworkSide()
        return NetworkSide(n.kind.value, n.qualified_name, n.role.value, n.topology.value, n.origin)

    def split(self, src: int, dst: int) -> NetworkSplit | None:
        """Both sides when classes `src` and `dst` are on different networks, else None."""
        if self.connected(src, dst):
            return None
        return NetworkSplit(self.side(src), self.side(dst))
