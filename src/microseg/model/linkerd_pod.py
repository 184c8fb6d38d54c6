"""The Linkerd facts every cluster carries, Linkerd or not: the pod and namespace
annotations kept, `LinkerdPod`, `LinkerdPolicies` (empty without Linkerd objects, with the
installation's defaults), `DefaultPolicy`, `Network` and whether a pod runs the proxy
(`linkerd_member`, asked of every pod with HTTP probes).

Apart from model/linkerd.py (the policy objects and what they mean), which re-exports every
name here, so that an input without Linkerd objects does not load Linkerd's policy model
(issue 22: start-up).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from microseg.model.labels import FrozenLabels
from microseg.model.sets import IPSet

if TYPE_CHECKING:
    from microseg.model.linkerd import (
        LinkerdAuthorizationPolicy,
        LinkerdRoute,
        MeshTLSAuthentication,
        NetworkAuthentication,
        Server,
        ServerAuthorization,
    )

__all__ = [
    "CLUSTER_NETWORKS",
    "DEFAULT_OPAQUE_PORTS",
    "DEFAULT_POLICY",
    "INJECT",
    "INJECT_VALUES",
    "LINKERD_ANNOTATIONS",
    "NOT_INJECTED_LABELS",
    "NOT_INJECTED_NAMESPACES",
    "OPAQUE_PORTS",
    "REQUIRE_IDENTITY",
    "SKIP_INBOUND",
    "WEBHOOKS",
    "DefaultPolicy",
    "LinkerdPod",
    "LinkerdPolicies",
    "Network",
    "client_address",
    "linkerd_member",
]

# linkerd.io/2/reference/proxy-configuration/ and the control plane chart's values.yaml.
INJECT = "linkerd.io/inject"
DEFAULT_POLICY = "config.linkerd.io/default-inbound-policy"
OPAQUE_PORTS = "config.linkerd.io/opaque-ports"
REQUIRE_IDENTITY = "config.linkerd.io/proxy-require-identity-inbound-ports"
SKIP_INBOUND = "config.linkerd.io/skip-inbound-ports"
WEBHOOKS = "config.linkerd.io/admission-webhooks"
LINKERD_ANNOTATIONS = (INJECT, DEFAULT_POLICY, OPAQUE_PORTS, REQUIRE_IDENTITY, SKIP_INBOUND)
"""The annotations microseg keeps from pods and namespaces (the injector copies a
namespace's onto the pods it injects when the pod does not set them)."""

# linkerd2 charts/linkerd-control-plane/values.yaml: `clusterNetworks` ("all IPv4 private
# networks and all accepted IPv6 ULAs") and `proxy.opaquePorts`.
CLUSTER_NETWORKS = ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")
DEFAULT_OPAQUE_PORTS = "25,587,3306,4444,5432,6379,9300,11211"
# The proxy injector's namespaceSelector leaves these namespaces alone (same values.yaml),
# and its objectSelector pods with these labels (the control plane and the CNI plugin).
NOT_INJECTED_NAMESPACES = ("kube-system", "cert-manager")
NOT_INJECTED_LABELS = ("linkerd.io/control-plane-component", "linkerd.io/cni-resource")
INJECT_VALUES = ("enabled", "ingress", "disabled")


class DefaultPolicy(StrEnum):
    """linkerd.io/2/reference/authorization-policy/#default-policies."""

    ALL_UNAUTHENTICATED = "all-unauthenticated"
    ALL_AUTHENTICATED = "all-authenticated"
    CLUSTER_UNAUTHENTICATED = "cluster-unauthenticated"
    CLUSTER_AUTHENTICATED = "cluster-authenticated"
    DENY = "deny"
    AUDIT = "audit"

    @property
    def authenticated_only(self) -> bool:
        return self in (DefaultPolicy.ALL_AUTHENTICATED, DefaultPolicy.CLUSTER_AUTHENTICATED)

    @property
    def cluster_only(self) -> bool:
        return self in (DefaultPolicy.CLUSTER_UNAUTHENTICATED, DefaultPolicy.CLUSTER_AUTHENTICATED)


@dataclass(frozen=True, slots=True)
class Network:
    """A network with its `except` subnets, as written, and the addresses it holds."""

    cidr: str
    excepts: tuple[str, ...] = ()
    addresses: IPSet = field(default_factory=IPSet, compare=False)

    @staticmethod
    def of(cidr: str, excepts: tuple[str, ...] = ()) -> Network:
        addresses = IPSet.from_cidr(str(ipaddress.ip_network(cidr, strict=False)))
        for e in excepts:
            addresses = addresses - IPSet.from_cidr(str(ipaddress.ip_network(e, strict=False)))
        return Network(cidr, excepts, addresses)

    @property
    def universal(self) -> bool:
        """0.0.0.0/0 or ::/0 without exceptions: holds every address of its family."""
        return not self.excepts and ipaddress.ip_network(self.cidr, strict=False).prefixlen == 0

    def __str__(self) -> str:
        return self.cidr + (f" except {', '.join(self.excepts)}" if self.excepts else "")


@dataclass(frozen=True, slots=True)
class LinkerdPod:
    """The Linkerd facts of one pod: its annotations as written ("" when absent), whether
    it already runs the proxy, and its HTTP probes (port, path), which Linkerd authorizes
    on routes of their own (the policy controller's probe routes)."""

    inject: str = ""
    default_policy: str = ""
    opaque_ports: str = ""
    require_identity_ports: str = ""
    skip_inbound_ports: str = ""
    injected: bool = False
    http_probes: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LinkerdPolicies:
    """Every Linkerd policy object of the input, and the installation's settings the
    manifests do not carry (CLI: --linkerd-default-policy, --linkerd-cluster-networks,
    --trust-domain)."""

    servers: tuple[Server, ...] = ()
    server_authorizations: tuple[ServerAuthorization, ...] = ()
    authorization_policies: tuple[LinkerdAuthorizationPolicy, ...] = ()
    mesh_tls: tuple[MeshTLSAuthentication, ...] = ()
    network_authentications: tuple[NetworkAuthentication, ...] = ()
    routes: tuple[LinkerdRoute, ...] = ()
    default_policy: DefaultPolicy = DefaultPolicy.ALL_UNAUTHENTICATED
    cluster_networks: tuple[Network, ...] = field(
        default_factory=lambda: tuple(Network.of(c) for c in CLUSTER_NETWORKS)
    )
    control_plane_namespace: str = "linkerd"
    opaque_ports: str = DEFAULT_OPAQUE_PORTS
    """The cluster's default opaque ports (`proxy.opaquePorts`)."""
    trust_domain: str = ""
    """Linkerd's identity trust domain (`identityTrustDomain`); "" uses --trust-domain."""
    configured: bool = False
    """The input has Linkerd's `linkerd-config` ConfigMap (ingest/linkerd_config.py)."""

    @property
    def has_objects(self) -> bool:
        return bool(
            self.servers
            or self.server_authorizations
            or self.authorization_policies
            or self.mesh_tls
            or self.network_authentications
            or self.routes
        )

    def without_namespace(self, namespace: str) -> LinkerdPolicies:
        """The policies less those of `namespace` (a namespace deleted)."""
        from dataclasses import replace

        return replace(
            self,
            servers=tuple(o for o in self.servers if o.namespace != namespace),
            server_authorizations=tuple(
                o for o in self.server_authorizations if o.namespace != namespace
            ),
            authorization_policies=tuple(
                o for o in self.authorization_policies if o.namespace != namespace
            ),
            mesh_tls=tuple(o for o in self.mesh_tls if o.namespace != namespace),
            network_authentications=tuple(
                o for o in self.network_authentications if o.namespace != namespace
            ),
            routes=tuple(o for o in self.routes if o.namespace != namespace),
        )


def linkerd_member(
    pod_facts: LinkerdPod | None,
    pod_labels: FrozenLabels,
    host_network: bool,
    namespace: str,
    namespace_annotations: FrozenLabels,
    namespace_labels: FrozenLabels,
) -> bool:
    """Whether the pod runs Linkerd's proxy.

    A pod that has the proxy already (a `linkerd-proxy` container) does. Otherwise the
    proxy injector decides (linkerd2 pkg/inject/report.go, `disabledByAnnotation` and
    `Injectable`): host-network pods are never injected; an invalid `linkerd.io/inject`
    value on the namespace or the pod disables injection; a namespace set to `enabled` or
    `ingress` injects its pods unless the pod says `disabled`; otherwise the pod's own
    `enabled` or `ingress` does. The injector's webhook never sees kube-system or
    cert-manager, namespaces labelled `config.linkerd.io/admission-webhooks: disabled`,
    nor control-plane and CNI pods (its namespace and object selectors)."""
    facts = pod_facts or LinkerdPod()
    if facts.injected:
        return True
    if host_network:
        return False
    if namespace in NOT_INJECTED_NAMESPACES or namespace_labels.get(WEBHOOKS) == "disabled":
        return False
    if any(key in pod_labels for key in NOT_INJECTED_LABELS):
        return False
    ns_value = namespace_annotations.get(INJECT, "")
    pod_value = facts.inject
    if (ns_value and ns_value not in INJECT_VALUES) or (
        pod_value and pod_value not in INJECT_VALUES
    ):
        return False
    if ns_value in ("enabled", "ingress"):
        return pod_value != "disabled"
    return pod_value in ("enabled", "ingress")


def client_address(ips: tuple[str, ...], host_network: bool, host_ip: str) -> str | None:
    """The address a pod's connections come from: its own, or its node's for a
    host-network pod; None when the input does not give it."""
    if host_network and host_ip:
        return host_ip
    return ips[0] if ips else None
