"""What Linkerd's proxy applies on one port of one pod, resolved from the model: the Server
(or the default policy), its authorizations, its routes and theirs, its protocol.

This is the policy controller's index (linkerd2 policy-controller/k8s/index/src/inbound/
index.rs, read for these rules) over microseg's model:
- `Pod::reindex_servers`: the Servers of the pod's namespace whose podSelector matches it
  and whose port is the port (a number, or a name of the pod's TCP container ports); when
  several match, the oldest wins, and manifests carry no creation time, so the first by
  name (Linkerd's admission controller refuses overlapping Servers; ingest warns, MS194);
- `client_authzs`: ServerAuthorizations selecting the Server (by name or by labels),
  AuthorizationPolicies targeting it or the Namespace, and the Server's `accessPolicy`;
- `route_client_authzs` / `http_routes`: the routes whose parents include the Server (HTTP
  routes for unknown, HTTP/1 and HTTP/2 servers, gRPC routes for gRPC ones: the proxy's
  protocol decides which list it reads), each with the AuthorizationPolicies targeting it;
  with none, a default route matching every request, plus the probe route;
- `policy_client_authz`: an AuthorizationPolicy admits clients with all of its required
  authentications; without identities it does not require authentication, without a
  NetworkAuthentication it applies to every network; a reference to an authentication
  that does not exist makes Linkerd ignore the policy;
- `default_inbound_server` / `DefaultPolicy::default_authzs`: a port no Server selects
  follows the pod's default policy (`config.linkerd.io/proxy-require-identity-inbound-ports`
  makes an allowing one authenticated on its ports), opaque when the port is in the
  pod's opaque ports;
- `ClusterInfo::default_inbound_http_routes`: probe routes authorize `GET` on the pod's
  HTTP probe paths from the probe networks, unauthenticated, on servers without routes.

Both the fast table (linkerd_table.py) and the explanations read this module, so they
agree by construction on what applies; the independent reference evaluator
(engine/spec/linkerd.py) reads the raw documents instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.errors import Origin
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd import (
    ALL_NETWORKS,
    OPAQUE_PORTS,
    REQUIRE_IDENTITY,
    SKIP_INBOUND,
    Authentication,
    ClientAuthz,
    DefaultPolicy,
    LinkerdAuthorizationPolicy,
    LinkerdPod,
    LinkerdPolicies,
    LinkerdRoute,
    Network,
    ProxyProtocol,
    Server,
    default_policy_of,
    linkerd_identity,
    linkerd_member,
    namespace_identity,
    port_list_of,
)
from microseg.model.objects import Namespace, Pod
from microseg.model.sets import IntervalSet, Protocol

__all__ = [
    "ALL_NETWORKS",
    "PROBE_NETWORKS",
    "Authz",
    "LinkerdIndex",
    "PortPolicy",
    "RoutePolicy",
    "identity_matches",
]

# charts/linkerd-control-plane/values.yaml `policyController.probeNetworks`.
PROBE_NETWORKS = ALL_NETWORKS
_NO_LABELS = FrozenLabels()


@dataclass(frozen=True, slots=True)
class Authz:
    """One authorization as the proxy holds it: what it asks of the client (networks None:
    the cluster networks; identities exact, `*` or `*.suffix`), and where it comes from
    (`kind`: AuthorizationPolicy, ServerAuthorization, default, accessPolicy, probe)."""

    kind: str
    ref: str
    authentication: Authentication
    networks: tuple[Network, ...] | None
    identities: tuple[str, ...] = ()
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """A route the proxy matches requests to: an HTTPRoute or GRPCRoute (with the
    AuthorizationPolicies targeting it), or the probe route. `clause` names it in L7
    conditions: `{HTTPRoute shop/books}`, `{probe GET /healthz|/ready}`."""

    kind: str
    ref: str
    clause: str
    authorizations: tuple[Authz, ...]
    matches: tuple[str, ...] = ()
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PortPolicy:
    """The inbound policy of one pod port."""

    server: Server | None
    default: DefaultPolicy
    """The pod's default policy (for a port no Server selects)."""
    default_source: str
    """Where the default comes from: `pod`, `namespace` or `cluster`."""
    protocol: ProxyProtocol
    authorizations: tuple[Authz, ...]
    routes: tuple[RoutePolicy, ...] = ()
    """Routes attached to the Server; empty: the default route (every request)."""
    probe: RoutePolicy | None = None
    skipped: bool = False
    """The port is in `config.linkerd.io/skip-inbound-ports`: traffic bypasses the proxy."""

    @property
    def http_routes(self) -> bool:
        """Whether the proxy reads requests on routes here (not for opaque or TLS)."""
        return self.protocol not in (ProxyProtocol.OPAQUE, ProxyProtocol.TLS)


def identity_matches(pattern: str, identity: str) -> bool:
    """policy-controller/core/src/identity_match.rs and the proxy's `Suffix::contains`:
    `*` matches every identity, `*.a.b` those ending in `.a.b`, anything else exactly."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return identity.endswith(pattern[1:])
    return identity == pattern


def default_authzs(policy: DefaultPolicy, kind: str, ref: str) -> tuple[Authz, ...]:
    """defaults.rs `default_authzs`: deny authorizes nothing; audit everyone (flagged);
    the others every client (or every meshed one, identity `*`) of every network (or of the
    cluster networks)."""
    if policy is DefaultPolicy.DENY:
        return ()
    if policy is DefaultPolicy.AUDIT:
        return (Authz(kind, ref, Authentication.UNAUTHENTICATED, ALL_NETWORKS),)
    networks = None if policy.cluster_only else ALL_NETWORKS
    if policy.authenticated_only:
        return (Authz(kind, ref, Authentication.TLS_AUTHENTICATED, networks, ("*",)),)
    return (Authz(kind, ref, Authentication.UNAUTHENTICATED, networks),)


class LinkerdIndex:
    """Lookups over one cluster's Linkerd objects, built once and memoised per question."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.policies: LinkerdPolicies = cluster.linkerd
        self.namespaces: dict[str, Namespace] = {ns.name: ns for ns in cluster.namespaces}
        self.td = self.policies.trust_domain or cluster.mesh.trust_domain
        self.cp = self.policies.control_plane_namespace
        self._servers: dict[str, list[Server]] = {}
        for s in sorted(self.policies.servers, key=lambda s: s.name):
            self._servers.setdefault(s.namespace, []).append(s)
        self._authz: dict[tuple[str, str], tuple[Authz, ...]] = {}
        self._routes: dict[tuple[str, str, bool], tuple[RoutePolicy, ...]] = {}
        self._members: dict[tuple[object, ...], bool] = {}
        self._settings: dict[tuple[object, ...], IntervalSet] = {}
        self._policies: dict[tuple[object, ...], PortPolicy] = {}
        self._selected: dict[tuple[object, ...], tuple[Server, ...]] = {}
        self._interned: dict[PortPolicy, PortPolicy] = {}

    # -- membership and identity --------------------------------------------------------

    def _ns_facts(self, namespace: str) -> tuple[FrozenLabels, FrozenLabels]:
        ns = self.namespaces.get(namespace)
        if ns is None:
            return _NO_LABELS, _NO_LABELS
        return ns.annotations, ns.labels

    def member(self, pod: Pod) -> bool:
        """Whether the pod runs Linkerd's proxy (model/linkerd.py `linkerd_member`)."""
        key = (pod.linkerd, pod.labels, pod.host_network, pod.namespace)
        found = self._members.get(key)
        if found is None:
            annotations, labels = self._ns_facts(pod.namespace)
            found = linkerd_member(
                pod.linkerd, pod.labels, pod.host_network, pod.namespace, annotations, labels
            )
            self._members[key] = found
        return found

    def identity(self, pod: Pod) -> str:
        return linkerd_identity(pod.service_account, pod.namespace, self.cp, self.td)

    # -- what applies on a port ----------------------------------------------------------

    def _port_names(self, pod: Pod) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in pod.ports:
            if p.name and p.protocol is Protocol.TCP:
                out.setdefault(p.name, p.port)
        return out

    def port_setting(self, pod: Pod, key: str, default: str = "") -> IntervalSet:
        memo = (pod.linkerd, pod.namespace, pod.ports, key, default)
        found = self._settings.get(memo)
        if found is None:
            found = self._settings[memo] = self._port_setting(pod, key, default)
        return found

    def _port_setting(self, pod: Pod, key: str, default: str) -> IntervalSet:
        annotations, _ = self._ns_facts(pod.namespace)
        facts = pod.linkerd or LinkerdPod()
        value = {
            OPAQUE_PORTS: facts.opaque_ports,
            REQUIRE_IDENTITY: facts.require_identity_ports,
            SKIP_INBOUND: facts.skip_inbound_ports,
        }[key]
        return port_list_of(value, annotations, key, self._port_names(pod), default)

    def _selecting(self, pod: Pod) -> tuple[Server, ...]:
        """The Servers of the pod's namespace whose podSelector matches it, by name."""
        memo = (pod.namespace, pod.labels)
        found = self._selected.get(memo)
        if found is None:
            found = self._selected[memo] = tuple(
                s
                for s in self._servers.get(pod.namespace, ())
                if s.pod_selector.matches(pod.labels)
            )
        return found

    def server_for(self, pod: Pod, port: int) -> Server | None:
        for server in self._selecting(pod):
            if isinstance(server.port, int):
                if server.port == port:
                    return server
            elif any(
                p.name == server.port and p.port == port and p.protocol is Protocol.TCP
                for p in pod.ports
            ):
                return server
        return None

    def default_of(self, pod: Pod) -> tuple[DefaultPolicy, str]:
        annotations, _ = self._ns_facts(pod.namespace)
        return default_policy_of(pod.linkerd, annotations, self.policies.default_policy)

    def port_policy(self, pod: Pod, port: int) -> PortPolicy:
        """What the proxy applies on `port` of `pod` (memoised on what it depends on)."""
        memo = (pod.namespace, pod.labels, pod.ports, pod.linkerd, port)
        found = self._policies.get(memo)
        if found is None:
            made = self._port_policy(pod, port)
            # Equal policies are one object, so callers may group by identity.
            found = self._policies[memo] = self._interned.setdefault(made, made)
        return found

    def _port_policy(self, pod: Pod, port: int) -> PortPolicy:
        default, source = self.default_of(pod)
        if port in self.port_setting(pod, SKIP_INBOUND):
            return PortPolicy(None, default, source, ProxyProtocol.OPAQUE, (), skipped=True)
        server = self.server_for(pod, port)
        probes = tuple(
            sorted({path for p, path in (pod.linkerd or LinkerdPod()).http_probes if p == port})
        )
        if server is None:
            opaque = port in self.port_setting(pod, OPAQUE_PORTS, self.policies.opaque_ports)
            protocol = ProxyProtocol.OPAQUE if opaque else ProxyProtocol.UNKNOWN
            policy = default
            if port in self.port_setting(pod, REQUIRE_IDENTITY):
                policy = {
                    DefaultPolicy.ALL_UNAUTHENTICATED: DefaultPolicy.ALL_AUTHENTICATED,
                    DefaultPolicy.CLUSTER_UNAUTHENTICATED: DefaultPolicy.CLUSTER_AUTHENTICATED,
                }.get(policy, policy)
            authz = default_authzs(policy, "default", policy.value)
            probe = _probe_route(probes) if protocol is ProxyProtocol.UNKNOWN else None
            return PortPolicy(None, policy, source, protocol, authz, (), probe)
        authz = self._server_authz(server)
        routes = self._server_routes(server, grpc=server.protocol is ProxyProtocol.GRPC)
        probe = None
        if not routes and server.protocol in (
            ProxyProtocol.UNKNOWN,
            ProxyProtocol.HTTP1,
            ProxyProtocol.HTTP2,
        ):
            probe = _probe_route(probes)
        return PortPolicy(server, default, source, server.protocol, authz, routes, probe)

    def _server_authz(self, server: Server) -> tuple[Authz, ...]:
        key = (server.namespace, server.name)
        found = self._authz.get(key)
        if found is not None:
            return found
        out: list[Authz] = []
        for saz in sorted(self.policies.server_authorizations, key=lambda a: a.name):
            if saz.namespace != server.namespace:
                continue
            if saz.server_name is not None:
                if saz.server_name != server.name:
                    continue
            elif saz.server_selector is None or not saz.server_selector.matches(server.labels):
                continue
            out.append(self._client_authz("ServerAuthorization", saz.ref, saz.client, saz.origin))
        for ap in sorted(self.policies.authorization_policies, key=lambda a: a.name):
            if ap.namespace != server.namespace:
                continue
            t = ap.target
            if (t.kind == "Server" and t.name == server.name) or t.kind == "Namespace":
                got = self._policy_authz(ap)
                if got is not None:
                    out.append(got)
        if server.access_policy is not None:
            out += default_authzs(server.access_policy, "accessPolicy", server.access_policy.value)
        self._authz[key] = tuple(out)
        return self._authz[key]

    def _client_authz(
        self, kind: str, ref: str, client: ClientAuthz, origin: Origin | None
    ) -> Authz:
        ids = client.identities + tuple(
            linkerd_identity(name, ns, self.cp, self.td) for ns, name in client.accounts
        )
        return Authz(kind, ref, client.authentication, client.networks, ids, origin)

    def _policy_authz(self, ap: LinkerdAuthorizationPolicy) -> Authz | None:
        """index.rs `policy_client_authz`; None when Linkerd ignores the policy."""
        identities: tuple[str, ...] | None = None
        networks: tuple[Network, ...] | None = ALL_NETWORKS
        for ref in ap.required:
            ns = ref.namespace or ap.namespace
            if ref.kind == "MeshTLSAuthentication":
                mtls = next(
                    (m for m in self.policies.mesh_tls if (m.namespace, m.name) == (ns, ref.name)),
                    None,
                )
                if mtls is None:
                    return None
                ids = list(mtls.identities)
                for r in mtls.identity_refs:
                    if r.kind == "ServiceAccount":
                        ids.append(
                            linkerd_identity(
                                r.name, r.namespace or mtls.namespace, self.cp, self.td
                            )
                        )
                    else:
                        ids.append(namespace_identity(r.name, self.cp, self.td))
                identities = tuple(ids)
            elif ref.kind == "ServiceAccount":
                identities = (linkerd_identity(ref.name, ns, self.cp, self.td),)
            elif ref.kind == "NetworkAuthentication":
                net = next(
                    (
                        n
                        for n in self.policies.network_authentications
                        if (n.namespace, n.name) == (ns, ref.name)
                    ),
                    None,
                )
                if net is None:
                    return None
                networks = net.networks
        if identities is None:
            return Authz(
                "AuthorizationPolicy",
                ap.ref,
                Authentication.UNAUTHENTICATED,
                networks,
                (),
                ap.origin,
            )
        return Authz(
            "AuthorizationPolicy",
            ap.ref,
            Authentication.TLS_AUTHENTICATED,
            networks,
            identities,
            ap.origin,
        )

    def _server_routes(self, server: Server, grpc: bool) -> tuple[RoutePolicy, ...]:
        key = (server.namespace, server.name, grpc)
        found = self._routes.get(key)
        if found is not None:
            return found
        kind = "GRPCRoute" if grpc else "HTTPRoute"
        out = []
        for route in sorted(self.policies.routes, key=lambda r: (r.name, r.group)):
            if route.namespace != server.namespace or route.kind != kind:
                continue
            if server.name not in route.servers:
                continue
            out.append(self._route(route))
        self._routes[key] = tuple(out)
        return self._routes[key]

    def _route(self, route: LinkerdRoute) -> RoutePolicy:
        authz = []
        for ap in sorted(self.policies.authorization_policies, key=lambda a: a.name):
            t = ap.target
            if (
                ap.namespace == route.namespace
                and t.kind == route.kind
                and t.group == route.group
                and t.name.lower() == route.name.lower()
            ):
                got = self._policy_authz(ap)
                if got is not None:
                    authz.append(got)
        clause = "{" + f"{route.kind} {route.ref}" + "}"
        return RoutePolicy(route.kind, route.ref, clause, tuple(authz), route.matches, route.origin)


def _probe_route(paths: tuple[str, ...]) -> RoutePolicy | None:
    if not paths:
        return None
    authz = Authz("probe", "probe", Authentication.UNAUTHENTICATED, PROBE_NETWORKS)
    clause = "{probe GET " + "|".join(paths) + "}"
    return RoutePolicy("probe", "probe", clause, (authz,), tuple(f"GET {p}" for p in paths))
