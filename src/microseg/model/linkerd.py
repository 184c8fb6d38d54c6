"""Linkerd's authorization policy (policy.linkerd.io) and mesh membership, as frozen values.

Linkerd is the second mesh microseg reads beside Istio: a pod is in at most one of them,
and a cluster may run both on different namespaces. The vocabulary is Linkerd's own
(linkerd.io/2/reference/authorization-policy/):

- a `Server` selects one port of a set of pods of its namespace; traffic to that port is
  denied unless an authorization admits it (or the Server's `accessPolicy` does);
- authorizations are `ServerAuthorization` (the older form), and `AuthorizationPolicy`
  with a target (a Server, an HTTPRoute or GRPCRoute, or the Namespace) and the
  authentications it requires (`MeshTLSAuthentication`: identities; a `ServiceAccount`;
  `NetworkAuthentication`: networks), all of which must match;
- a port no Server selects follows the pod's default inbound policy (the annotation
  `config.linkerd.io/default-inbound-policy` on the pod, else on its namespace, else the
  cluster's `proxy.defaultInboundPolicy`, `all-unauthenticated` unless installed otherwise).

Only the raw annotation texts are kept on pods and namespaces; what they mean (membership,
the effective default, port lists) is read by the functions below, which ingest's
diagnostics and the engine share, so that a value Linkerd would ignore is ignored alike.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from microseg.errors import Origin
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd_pod import (
    CLUSTER_NETWORKS,
    DEFAULT_OPAQUE_PORTS,
    DEFAULT_POLICY,
    INJECT,
    LINKERD_ANNOTATIONS,
    OPAQUE_PORTS,
    REQUIRE_IDENTITY,
    SKIP_INBOUND,
    DefaultPolicy,
    LinkerdPod,
    LinkerdPolicies,
    Network,
    client_address,
    linkerd_member,
)
from microseg.model.selectors import LabelSelector
from microseg.model.sets import IntervalSet, IPSet, Protocol

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = [
    "ALL_NETWORKS",
    "CLUSTER_NETWORKS",
    "DEFAULT_OPAQUE_PORTS",
    "DEFAULT_POLICY",
    "INJECT",
    "LINKERD_ANNOTATIONS",
    "OPAQUE_PORTS",
    "REQUIRE_IDENTITY",
    "SKIP_INBOUND",
    "Authentication",
    "ClientAuthz",
    "DefaultPolicy",
    "LinkerdAuthorizationPolicy",
    "LinkerdPod",
    "LinkerdPolicies",
    "LinkerdRef",
    "LinkerdRoute",
    "MeshTLSAuthentication",
    "Network",
    "NetworkAuthentication",
    "ProxyProtocol",
    "Server",
    "ServerAuthorization",
    "address_signature",
    "client_address",
    "default_policy_of",
    "holds_unknown",
    "linkerd_identity",
    "linkerd_member",
    "namespace_identity",
    "network_holds",
    "network_lists",
    "parse_port_list",
    "port_list_of",
]


class ProxyProtocol(StrEnum):
    """Server `proxyProtocol`; `unknown` (the default) detects HTTP at run time."""

    UNKNOWN = "unknown"
    HTTP1 = "HTTP/1"
    HTTP2 = "HTTP/2"
    GRPC = "gRPC"
    OPAQUE = "opaque"
    TLS = "TLS"


class Authentication(StrEnum):
    """What an authorization asks of the client (the proxy's three kinds)."""

    UNAUTHENTICATED = "unauthenticated"
    """Any client, meshed or not."""
    TLS_UNAUTHENTICATED = "tls-unauthenticated"
    """A client of the mesh, whatever its identity (meshTLS.unauthenticatedTLS)."""
    TLS_AUTHENTICATED = "tls-authenticated"
    """A client of the mesh whose identity matches one of `identities`."""


@dataclass(frozen=True, slots=True)
class ClientAuthz:
    """One authorization as the proxy checks it: the client's address is in `networks`
    (None: the cluster networks) and its authentication is `authentication`."""

    networks: tuple[Network, ...] | None
    authentication: Authentication
    identities: tuple[str, ...] = ()
    """TLS_AUTHENTICATED: exact identities, `*` (any meshed client) or `*.suffix`."""
    accounts: tuple[tuple[str, str], ...] = ()
    """TLS_AUTHENTICATED: service accounts (namespace, name), whose identities depend on the
    installation's trust domain and control plane namespace."""


@dataclass(frozen=True, slots=True)
class LinkerdRef:
    """A targetRef or an authentication ref (`namespace` empty: the object's own)."""

    group: str
    kind: str
    name: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class Server:
    namespace: str
    name: str
    labels: FrozenLabels
    """The Server's own labels, which ServerAuthorization `server.selector` matches."""
    pod_selector: LabelSelector
    port: int | str
    protocol: ProxyProtocol = ProxyProtocol.UNKNOWN
    access_policy: DefaultPolicy | None = None
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ServerAuthorization:
    namespace: str
    name: str
    server_name: str | None
    server_selector: LabelSelector | None
    client: ClientAuthz
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class LinkerdAuthorizationPolicy:
    namespace: str
    name: str
    target: LinkerdRef
    required: tuple[LinkerdRef, ...]
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class MeshTLSAuthentication:
    namespace: str
    name: str
    identities: tuple[str, ...]
    identity_refs: tuple[LinkerdRef, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class NetworkAuthentication:
    namespace: str
    name: str
    networks: tuple[Network, ...]
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class LinkerdRoute:
    """An HTTPRoute (policy.linkerd.io or gateway.networking.k8s.io) or a GRPCRoute whose
    parents include Servers. Which requests it matches is kept as text for explanations:
    an authorization on a route admits the requests routed to it, a condition the
    analysis states rather than decides."""

    group: str
    kind: str
    namespace: str
    name: str
    servers: tuple[str, ...]
    """Names of the parent Servers (of the route's namespace)."""
    matches: tuple[str, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def linkerd_identity(account: str, namespace: str, control_plane: str, trust_domain: str) -> str:
    """A meshed pod's identity: the policy controller's `service_account_identity`
    (`<sa>.<ns>.serviceaccount.identity.<control plane ns>.<trust domain>`)."""
    return f"{account}.{namespace}.serviceaccount.identity.{control_plane}.{trust_domain}"


def namespace_identity(namespace: str, control_plane: str, trust_domain: str) -> str:
    """An `identityRefs` Namespace: every account of it, `*.<ns>.serviceaccount.identity...`."""
    return f"*.{namespace}.serviceaccount.identity.{control_plane}.{trust_domain}"


def _inherited(pod_value: str, namespace_annotations: FrozenLabels, key: str) -> tuple[str, str]:
    """The injector's AppendNamespaceAnnotations: a namespace's config annotation is
    copied onto a pod it injects when the pod does not set it. (value, where)."""
    if pod_value:
        return pod_value, "pod"
    value = namespace_annotations.get(key, "")
    return value, ("namespace" if value else "")


def default_policy_of(
    pod_facts: LinkerdPod | None, namespace_annotations: FrozenLabels, cluster: DefaultPolicy
) -> tuple[DefaultPolicy, str]:
    """The pod's default inbound policy and where it comes from (`pod`, `namespace`,
    `cluster`). The policy controller reads the pod's annotation (the namespace's, copied
    at injection); a value it cannot parse is ignored for the cluster default."""
    facts = pod_facts or LinkerdPod()
    value, where = _inherited(facts.default_policy, namespace_annotations, DEFAULT_POLICY)
    if value:
        try:
            return DefaultPolicy(value), where
        except ValueError:
            pass
    return cluster, "cluster"


def parse_port_list(text: str, ports: dict[str, int]) -> IntervalSet | None:
    """A ports annotation: comma-separated numbers, `lo-hi` ranges, and (as the injector
    resolves them on the pod) container port names; None when it does not parse."""
    spans: list[tuple[int, int]] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        lo_text, dash, hi_text = item.partition("-")
        if dash and lo_text.strip().isdigit() and hi_text.strip().isdigit():
            lo, hi = int(lo_text), int(hi_text)
        elif item.isdigit():
            lo = hi = int(item)
        elif item in ports:
            lo = hi = ports[item]
        else:
            return None
        if not 1 <= lo <= hi <= 65535:
            return None
        spans.append((lo, hi))
    return IntervalSet.of(spans)


def port_list_of(
    pod_value: str,
    namespace_annotations: FrozenLabels,
    key: str,
    ports: dict[str, int],
    default: str = "",
) -> IntervalSet:
    """A pod's effective port-list setting: its annotation, else its namespace's, else the
    cluster's `default`; a list that does not parse is empty (the policy controller's
    `ports_annotation`)."""
    value, _ = _inherited(pod_value, namespace_annotations, key)
    parsed = parse_port_list(value if value else default, ports)
    return parsed if parsed is not None else IntervalSet()


def tcp_port_names(ports: tuple[tuple[Protocol, int, str], ...]) -> dict[str, int]:
    """Named TCP container ports, first of each name (for port annotations)."""
    out: dict[str, int] = {}
    for protocol, number, name in ports:
        if name and protocol is Protocol.TCP:
            out.setdefault(name, number)
    return out


ALL_NETWORKS = (Network.of("0.0.0.0/0"), Network.of("::/0"))
"""An authorization without networks: every address (index.rs `policy_client_authz`)."""


def network_lists(policies: LinkerdPolicies) -> list[tuple[Network, ...]]:
    """Every network list an authorization may check: the cluster networks first."""
    out: list[tuple[Network, ...]] = [policies.cluster_networks, ALL_NETWORKS]
    out += [n.networks for n in policies.network_authentications]
    out += [a.client.networks for a in policies.server_authorizations if a.client.networks]
    return list(dict.fromkeys(out))  # equal lists once: the cluster networks stay first


@lru_cache(maxsize=4096)
def _parsed(network: Network) -> tuple[IPNetwork, tuple[IPNetwork, ...]]:
    return (
        ipaddress.ip_network(network.cidr, strict=False),
        tuple(ipaddress.ip_network(e, strict=False) for e in network.excepts),
    )


@lru_cache(maxsize=65536)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def _holds(network: Network, address: str) -> bool:
    ip = _address(address)
    net, excepts = _parsed(network)
    if ip.version != net.version or ip not in net:
        return False
    return not any(ip.version == e.version and ip in e for e in excepts)


def network_holds(networks: tuple[Network, ...], address: str | None) -> bool:
    """Whether a client address is in one of `networks`. An unknown address (a pod built
    from a controller's template) is only in the universal networks here; callers take it
    to be in the cluster networks, which Linkerd requires to hold every pod address."""
    if address is None:
        return any(n.universal for n in networks)
    return any(_holds(n, address) for n in networks)


@lru_cache(maxsize=4096)
def holds_unknown(networks: tuple[Network, ...], cluster: tuple[Network, ...]) -> bool:
    """Whether `networks` hold a pod address the input does not give: such an address is
    in the cluster networks (Linkerd requires them to hold every pod address), so it is
    held exactly when the networks cover all of the cluster networks."""
    union = IPSet()
    for n in networks:
        union = union | n.addresses
    need = IPSet()
    for n in cluster:
        need = need | n.addresses
    return not (need - union)


def address_signature(policies: LinkerdPolicies, address: str | None) -> tuple[bool, ...]:
    """Which network lists hold a pod's address: pods that agree on it are alike to every
    Linkerd authorization, so the class key takes this rather than the address."""
    lists = network_lists(policies)
    if address is None:
        return tuple(holds_unknown(nets, policies.cluster_networks) for nets in lists)
    return tuple(network_holds(nets, address) for nets in lists)
