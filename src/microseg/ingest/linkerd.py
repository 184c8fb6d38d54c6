"""Linkerd's policy documents (policy.linkerd.io, and the HTTPRoute and GRPCRoute of
gateway.networking.k8s.io that attach to Linkerd Servers) to model values, then checked
against each other once every document is read.

Errors are located diagnostics (MS190); what Linkerd itself would ignore is a warning
naming what is ignored (MS193: a reference that resolves to nothing; MS194: two Servers
on one pod port), so the analysis reads the cluster the way the policy controller does
(linkerd2 policy-controller/k8s/index/src/inbound/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.documents import Document
from microseg.ingest.linkerd_schema import (
    LINKERD,
    RawAuthorizationPolicy,
    RawClient,
    RawMatch,
    RawMeshTLSAuthentication,
    RawNetwork,
    RawNetworkAuthentication,
    RawRef,
    RawRoute,
    RawServer,
    RawServerAuthorization,
    canonical_group,
    is_kind,
)
from microseg.ingest.netpols import selector_from_raw
from microseg.ingest.validation import diagnostics_from
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd import (
    Authentication,
    ClientAuthz,
    DefaultPolicy,
    LinkerdAuthorizationPolicy,
    LinkerdPolicies,
    LinkerdRef,
    LinkerdRoute,
    MeshTLSAuthentication,
    Network,
    NetworkAuthentication,
    ProxyProtocol,
    Server,
    ServerAuthorization,
)
from microseg.model.objects import Pod
from microseg.model.sets import Protocol

__all__ = ["LINKERD_KINDS", "ROUTE_KINDS", "LinkerdReader", "server_overlaps"]

# The policy.linkerd.io objects read by name: each schema has metadata.
_Named = TypeVar(
    "_Named",
    RawServer,
    RawServerAuthorization,
    RawAuthorizationPolicy,
    RawMeshTLSAuthentication,
    RawNetworkAuthentication,
)
_Read = tuple[_Named, str, str, Origin]

LINKERD_KINDS = (
    "Server",
    "ServerAuthorization",
    "AuthorizationPolicy",
    "MeshTLSAuthentication",
    "NetworkAuthentication",
    "HTTPRoute",
)
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")
_VERSIONS = {
    "Server": ("v1alpha1", "v1beta1", "v1beta2", "v1beta3"),
    "ServerAuthorization": ("v1alpha1", "v1beta1"),
    "AuthorizationPolicy": ("v1alpha1",),
    "MeshTLSAuthentication": ("v1alpha1",),
    "NetworkAuthentication": ("v1alpha1",),
    "HTTPRoute": ("v1alpha1", "v1beta1", "v1beta2", "v1beta3", "v1"),
    "GRPCRoute": ("v1alpha2", "v1"),
}
CODE = "MS190"


def _origin(doc: Document, namespace: str, name: str) -> Origin:
    base = doc.origin()
    return Origin(base.file, base.document, base.line, str(doc.data.get("kind")), namespace, name)


def _networks(raw: list[RawNetwork] | None) -> tuple[Network, ...] | None:
    if raw is None:
        return None
    return tuple(Network.of(n.cidr.strip(), tuple(e.strip() for e in n.except_ or ())) for n in raw)


def _ref(raw: RawRef) -> LinkerdRef:
    """A ref with its group and kind in canonical spelling (the comparison is
    case-insensitive and an empty group is the core group)."""
    group = canonical_group(raw.group)
    kinds = (
        "Server",
        "HTTPRoute",
        "GRPCRoute",
        "Namespace",
        "ServiceAccount",
        "MeshTLSAuthentication",
        "NetworkAuthentication",
    )
    kind = next((k for k in kinds if k.lower() == raw.kind.lower()), raw.kind)
    return LinkerdRef(group, kind, raw.name, raw.namespace or "")


def _match_text(m: RawMatch) -> str:
    """One route match as a reader would say it: `GET /books*`, `/books` (exact),
    `~/api/v[0-9]+`, headers and query parameters after it, gRPC `service/method`."""
    parts = []
    if isinstance(m.method, str):
        parts.append(m.method)
    elif m.method is not None:
        parts.append(f"{m.method.service or '*'}/{m.method.method or '*'}")
    if m.path is not None:
        value = m.path.value
        if m.path.type == "PathPrefix":
            value = value.rstrip("/") + "/*" if value != "/" else "/*"
        elif m.path.type == "RegularExpression":
            value = "~" + value
        parts.append(value)
    parts += [f"header {h.name}={h.value}" for h in m.headers or []]
    parts += [f"query {q.name}={q.value}" for q in m.queryParams or []]
    return " ".join(parts) or "/*"


@dataclass(slots=True)
class LinkerdReader:
    """Accumulates Linkerd documents; `build` resolves references and returns the policies
    with the diagnostics of the whole set."""

    servers: list[Server] = field(default_factory=list)
    authorizations: list[ServerAuthorization] = field(default_factory=list)
    policies: list[LinkerdAuthorizationPolicy] = field(default_factory=list)
    mesh_tls: list[MeshTLSAuthentication] = field(default_factory=list)
    networks: list[NetworkAuthentication] = field(default_factory=list)
    routes: list[LinkerdRoute] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _seen: dict[tuple[str, str, str, str], Origin] = field(default_factory=dict)
    unattached_routes: int = 0

    def _named(self, model: type[_Named], doc: Document, kind: str) -> _Read[_Named] | None:
        """A policy.linkerd.io object validated, located and seen once (None: said why)."""
        raw = self._valid(model, doc)
        if not isinstance(raw, model):
            return None
        ns, name = raw.metadata.namespace or "default", raw.metadata.name
        origin = _origin(doc, ns, name)
        if not self._unique(LINKERD, kind, ns, name, origin):
            return None
        return raw, ns, name, origin

    def _valid(self, model: type[BaseModel], doc: Document) -> BaseModel | None:
        try:
            return model.model_validate(doc.data)
        except ValidationError as exc:
            self.diagnostics.extend(diagnostics_from(exc, doc, CODE))
            return None

    def _version(self, doc: Document, group: str, kind: str) -> None:
        api = str(doc.data.get("apiVersion", ""))
        version = api.rpartition("/")[2]
        if version not in _VERSIONS[kind]:
            known = ", ".join(f"{group}/{v}" for v in _VERSIONS[kind])
            self.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS191",
                    f"apiVersion {api!r} of {kind}: expected {known}; read as the latest",
                    doc.origin(),
                    "apiVersion",
                )
            )

    def _unique(self, group: str, kind: str, namespace: str, name: str, origin: Origin) -> bool:
        key = (group, kind, namespace, name)
        first = self._seen.get(key)
        if first is not None:
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "MS192",
                    f"two {kind} objects named {namespace}/{name} (first at {first.location()})",
                    origin,
                    "metadata.name",
                )
            )
            return False
        self._seen[key] = origin
        return True

    def add(self, doc: Document) -> bool:
        """Read one document; False when it is a route not attached to any Server (a
        Gateway's route: not Linkerd's inbound policy), which the caller counts as skipped."""
        api = str(doc.data.get("apiVersion", ""))
        group = api.rpartition("/")[0]
        kind = str(doc.data.get("kind"))
        self._version(doc, group, kind)
        if kind in ROUTE_KINDS:
            return self._route(doc, group, kind)
        reader = {
            "Server": self._server,
            "ServerAuthorization": self._server_authorization,
            "AuthorizationPolicy": self._authorization_policy,
            "MeshTLSAuthentication": self._mesh_tls,
            "NetworkAuthentication": self._network,
        }[kind]
        reader(doc)
        return True

    def _server(self, doc: Document) -> None:
        read = self._named(RawServer, doc, "Server")
        if read is None:
            return
        raw, ns, name, origin = read
        spec = raw.spec
        if spec.podSelector is None:
            self.diagnostics.append(
                Diagnostic(
                    Severity.NOTICE,
                    "MS193",
                    f"Server {ns}/{name} selects ExternalWorkloads (mesh expansion), which are "
                    "not modelled: it applies to no pod",
                    origin,
                    "spec.externalWorkloadSelector",
                )
            )
            return
        self.servers.append(
            Server(
                ns,
                name,
                FrozenLabels(raw.metadata.labels or {}),
                selector_from_raw(spec.podSelector),
                spec.port,
                ProxyProtocol(spec.proxyProtocol or "unknown"),
                DefaultPolicy(spec.accessPolicy) if spec.accessPolicy is not None else None,
                origin,
            )
        )

    def _server_authorization(self, doc: Document) -> None:
        read = self._named(RawServerAuthorization, doc, "ServerAuthorization")
        if read is None:
            return
        raw, ns, name, origin = read
        client = self._client(raw.spec.client, ns, origin)
        if client is None:
            return
        server = raw.spec.server
        self.authorizations.append(
            ServerAuthorization(
                ns,
                name,
                server.name,
                selector_from_raw(server.selector) if server.selector is not None else None,
                client,
                origin,
            )
        )

    def _client(self, raw: RawClient, namespace: str, origin: Origin) -> ClientAuthz | None:
        """server_authorization.rs `client_authz`: networks unset means the cluster
        networks (the gRPC server fills them in); identities and service accounts chain."""
        networks = _networks(raw.networks) if raw.networks else None
        if raw.unauthenticated:
            return ClientAuthz(networks, Authentication.UNAUTHENTICATED)
        mtls = raw.meshTLS
        assert mtls is not None  # RawClient checks it
        if mtls.unauthenticatedTLS:
            return ClientAuthz(networks, Authentication.TLS_UNAUTHENTICATED)
        ids = tuple(mtls.identities or [])
        accounts = tuple((a.namespace or namespace, a.name) for a in mtls.serviceAccounts or [])
        if not ids and not accounts:
            self.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS193",
                    "meshTLS names no identity or service account: Linkerd ignores this "
                    "authorization (it authorizes no client)",
                    origin,
                    "spec.client.meshTLS",
                )
            )
            return None
        return ClientAuthz(networks, Authentication.TLS_AUTHENTICATED, ids, accounts)

    def _authorization_policy(self, doc: Document) -> None:
        read = self._named(RawAuthorizationPolicy, doc, "AuthorizationPolicy")
        if read is None:
            return
        raw, ns, name, origin = read
        self.policies.append(
            LinkerdAuthorizationPolicy(
                ns,
                name,
                _ref(raw.spec.targetRef),
                tuple(_ref(r) for r in raw.spec.requiredAuthenticationRefs),
                origin,
            )
        )

    def _mesh_tls(self, doc: Document) -> None:
        read = self._named(RawMeshTLSAuthentication, doc, "MeshTLSAuthentication")
        if read is None:
            return
        raw, ns, name, origin = read
        refs = tuple(_ref(r) for r in raw.spec.identityRefs or [])
        ids = tuple(raw.spec.identities or [])
        if not ids and not refs:
            self.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS193",
                    f"MeshTLSAuthentication {ns}/{name} names no identity: Linkerd ignores it, "
                    "and every AuthorizationPolicy that requires it",
                    origin,
                    "spec",
                )
            )
            return
        self.mesh_tls.append(MeshTLSAuthentication(ns, name, ids, refs, origin))

    def _network(self, doc: Document) -> None:
        read = self._named(RawNetworkAuthentication, doc, "NetworkAuthentication")
        if read is None:
            return
        raw, ns, name, origin = read
        nets = _networks(raw.spec.networks) or ()
        self.networks.append(NetworkAuthentication(ns, name, nets, origin))

    def _route(self, doc: Document, group: str, kind: str) -> bool:
        """routes.rs `ParentRef::collect_from_http`: only parents of kind Server (group
        policy.linkerd.io) count; one in another namespace, or naming a port or section,
        makes the route invalid for the policy controller."""
        raw = self._valid(RawRoute, doc)
        if not isinstance(raw, RawRoute):
            return True
        ns, name = raw.metadata.namespace or "default", raw.metadata.name
        origin = _origin(doc, ns, name)
        servers = []
        for i, p in enumerate(raw.spec.parentRefs or []):
            if not is_kind(p.group, p.kind, LINKERD, "Server") or not p.name:
                continue
            why = ""
            if p.namespace is not None and p.namespace != ns:
                why = "a parent Server in another namespace"
            elif p.port is not None:
                why = "a parent Server by port"
            elif p.sectionName is not None:
                why = "a parent Server by section name"
            if why:
                self.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        "MS193",
                        f"{kind} {ns}/{name} names {why}, which Linkerd refuses: the route is ignored",
                        origin,
                        f"spec.parentRefs[{i}]",
                    )
                )
                return True
            servers.append(p.name)
        if not servers:
            self.unattached_routes += 1
            return False
        if not self._unique(group, kind, ns, name, origin):
            return True
        matches = []
        for rule in raw.spec.rules or [None]:  # type: ignore[list-item]
            for m in (rule.matches if rule is not None else None) or [RawMatch()]:
                matches.append(_match_text(m))
        self.routes.append(
            LinkerdRoute(
                group, kind, ns, name, tuple(servers), tuple(dict.fromkeys(matches)), origin
            )
        )
        return True

    def build(self) -> LinkerdPolicies:
        """The policies, every reference checked (MS193 for those Linkerd would ignore)."""
        self._check_refs()
        return LinkerdPolicies(
            tuple(self.servers),
            tuple(self.authorizations),
            tuple(self.policies),
            tuple(self.mesh_tls),
            tuple(self.networks),
            tuple(self.routes),
        )

    def _check_refs(self) -> None:
        servers = {(s.namespace, s.name) for s in self.servers}
        routes = {(r.namespace, r.group, r.kind, r.name.lower()) for r in self.routes}
        mesh_tls = {(m.namespace, m.name) for m in self.mesh_tls}
        nets = {(n.namespace, n.name) for n in self.networks}
        for r in self.routes:
            for s in r.servers:
                if (r.namespace, s) not in servers:
                    self._missing(
                        r.origin,
                        f"{r.kind} {r.ref}: parent Server {r.namespace}/{s} is not in the input",
                        "spec.parentRefs",
                    )
        for p in self.policies:
            t = p.target
            if t.kind == "Server" and (p.namespace, t.name) not in servers:
                self._missing(
                    p.origin,
                    f"AuthorizationPolicy {p.ref}: target Server {p.namespace}/{t.name} is not in the input; it authorizes nothing",
                    "spec.targetRef",
                )
            elif (
                t.kind in ROUTE_KINDS
                and (p.namespace, t.group, t.kind, t.name.lower()) not in routes
            ):
                self._missing(
                    p.origin,
                    f"AuthorizationPolicy {p.ref}: target {t.kind} {p.namespace}/{t.name} is not in the input (or not attached to a Server); it authorizes nothing",
                    "spec.targetRef",
                )
            for ref in p.required:
                ns = ref.namespace or p.namespace
                if ref.kind == "MeshTLSAuthentication" and (ns, ref.name) not in mesh_tls:
                    self._missing(
                        p.origin,
                        f"AuthorizationPolicy {p.ref}: MeshTLSAuthentication {ns}/{ref.name} is not in the input (or names no identity); Linkerd ignores the policy",
                        "spec.requiredAuthenticationRefs",
                    )
                if ref.kind == "NetworkAuthentication" and (ns, ref.name) not in nets:
                    self._missing(
                        p.origin,
                        f"AuthorizationPolicy {p.ref}: NetworkAuthentication {ns}/{ref.name} is not in the input; Linkerd ignores the policy",
                        "spec.requiredAuthenticationRefs",
                    )
        for a in self.authorizations:
            if a.server_name is not None and (a.namespace, a.server_name) not in servers:
                self._missing(
                    a.origin,
                    f"ServerAuthorization {a.ref}: Server {a.namespace}/{a.server_name} is not in the input; it authorizes nothing",
                    "spec.server.name",
                )

    def _missing(self, origin: Origin, message: str, path: str) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, "MS193", message, origin, path))


def server_overlaps(policies: LinkerdPolicies, pods: list[Pod]) -> list[Diagnostic]:
    """MS194 once per pair of Servers that select one port of one pod. Linkerd's admission
    webhook refuses the second (https://linkerd.io/2/reference/authorization-policy/#server:
    "multiple Server instances must not overlap"); the policy controller keeps the oldest,
    which manifests cannot tell, so microseg keeps the first by name (linkerd_match.py)."""
    by_ns: dict[str, list[Server]] = {}
    for server in sorted(policies.servers, key=lambda s: s.name):
        by_ns.setdefault(server.namespace, []).append(server)
    out: list[Diagnostic] = []
    seen: set[tuple[str, str, str]] = set()
    done: set[tuple[object, ...]] = set()
    for pod in pods:
        servers = by_ns.get(pod.namespace)
        key = (pod.namespace, pod.labels, pod.ports)
        if not servers or key in done:
            continue
        done.add(key)
        names = {p.name: p.port for p in pod.ports if p.name and p.protocol is Protocol.TCP}
        first: dict[int, Server] = {}
        for server in servers:
            if not server.pod_selector.matches(pod.labels):
                continue
            port = server.port if isinstance(server.port, int) else names.get(server.port)
            if port is None:
                continue
            earlier = first.setdefault(port, server)
            if earlier is server or (pod.namespace, earlier.name, server.name) in seen:
                continue
            seen.add((pod.namespace, earlier.name, server.name))
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS194",
                    f"Servers {earlier.ref} and {server.ref} both select port {port} of "
                    f"{pod.workload}; Linkerd refuses overlapping Servers, read as {earlier.ref}",
                    server.origin,
                    "spec.podSelector",
                )
            )
    return out
