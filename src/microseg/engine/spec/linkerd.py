"""The slow, obviously correct Linkerd evaluator: one TCP request, read straight off
Linkerd's authorization policy reference and the raw documents.

From https://linkerd.io/2/reference/authorization-policy/ and the proxy configuration
reference (https://linkerd.io/2/reference/proxy-configuration/), in the order a request
meets them:

- Membership: a pod runs the proxy when it already has a `linkerd-proxy` container, or when
  the injector injects it: `linkerd.io/inject: enabled|ingress` on the pod, or on its
  namespace unless the pod says `disabled`. Host-network pods, kube-system and cert-manager,
  namespaces labelled `config.linkerd.io/admission-webhooks: disabled` and Linkerd's own
  pods are never injected; a value other than enabled, ingress or disabled injects nothing.
- Ports in `config.linkerd.io/skip-inbound-ports` bypass the proxy.
- A Server selects one port (a number, or the name of a TCP container port) of the pods of
  its namespace its podSelector matches. A port no Server selects follows the default
  inbound policy (the pod's annotation, else its namespace's, else the cluster default
  `all-unauthenticated`); ports in `config.linkerd.io/proxy-require-identity-inbound-ports`
  turn an unauthenticated default into its authenticated form; default opaque ports carry
  no HTTP.
- A Server denies whatever no authorization admits; its `accessPolicy` is a default policy
  of its own. ServerAuthorizations select Servers by name or by the Server's labels;
  AuthorizationPolicies target a Server, the Namespace (every Server there), or a route.
- An AuthorizationPolicy admits a client when all of its required authentications hold:
  MeshTLSAuthentication (the client is meshed and its identity is one of the identities,
  `*` any and `*.suffix` a suffix; identityRefs to ServiceAccounts or Namespaces),
  ServiceAccount, NetworkAuthentication (the client's address is in a network and not in
  its `except`). A reference to an authentication the input lacks makes Linkerd ignore the
  policy. Without a MeshTLSAuthentication a policy admits unauthenticated clients.
- The default policies: `all-unauthenticated` admits everyone, `all-authenticated` every
  meshed client, `cluster-*` only from the cluster networks, `deny` nobody, `audit`
  everyone (logged).
- Routes: HTTPRoutes whose parent is the Server take the requests they match; an
  authorization targeting a route admits on that route only, a Server-level one on every
  route. A Server with no routes matches every request; the proxy also authorizes
  kubelet's `GET` on the pod's HTTP probe paths (the probe route) where no route is given.
  Where the proxy detects the protocol, traffic that is not HTTP meets the Server-level
  authorizations only.

The answer keeps the routes a request must land on as alternatives: `{HTTPRoute ns/name}`,
`{probe GET /a|/b}`, prefixed with `if HTTP ` where the protocol is detected, and `if not
HTTP` for the rest of the TCP traffic.

Shares nothing with the engine; tests/property/test_linkerd_reference.py holds the fast
table and the explanations to it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from microseg.engine.spec.kube import Doc, field, items, selector_matches
from microseg.engine.spec.world import Endpoint, World

__all__ = ["LinkerdAnswer", "LinkerdReference"]

POLICY_GROUP = "policy.linkerd.io"
GATEWAY_GROUP = "gateway.networking.k8s.io"
# The chart's defaults: `clusterNetworks`, `proxy.opaquePorts`, the control plane namespace.
CLUSTER_NETWORKS = ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")
OPAQUE_DEFAULT = "25,587,3306,4444,5432,6379,9300,11211"
CONTROL_PLANE = "linkerd"
EVERYWHERE = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True, slots=True)
class LinkerdAnswer:
    allowed: bool
    requires: frozenset[str] = frozenset()
    """Alternatives, one of which must hold (empty: none needed)."""


@dataclass(frozen=True, slots=True)
class _Client:
    meshed: bool
    identity: str
    address: str | None
    pod: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    """One authorization: the networks (None: the cluster networks) and what it asks:
    `any` (unauthenticated), `tls` (any meshed), or identity patterns."""

    networks: tuple[tuple[str, tuple[str, ...]], ...] | None
    auth: str
    identities: tuple[str, ...] = ()


def _annotations(doc: Doc) -> dict[str, str]:
    raw = field(doc, "metadata", "annotations", default={})
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def _ports_in(text: str, names: Mapping[str, int], port: int) -> bool | None:
    """Whether `port` is in a ports annotation; None when the list does not parse."""
    hit = False
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if "-" in item:
            lo_s, _, hi_s = item.partition("-")
            if not (lo_s.strip().isdigit() and hi_s.strip().isdigit()):
                return None
            lo, hi = int(lo_s), int(hi_s)
        elif item.isdigit():
            lo = hi = int(item)
        elif item in names:
            lo = hi = names[item]
        else:
            return None
        if not 1 <= lo <= hi <= 65535:
            return None
        hit = hit or lo <= port <= hi
    return hit


def _in_network(address: str, cidr: str, excepts: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    net = ipaddress.ip_network(cidr, strict=False)
    if ip.version != net.version or ip not in net:
        return False
    for e in excepts:
        ex = ipaddress.ip_network(e, strict=False)
        if ex.version == ip.version and ip in ex:
            return False
    return True


def _covers(cidr: str, excepts: tuple[str, ...], inner: str) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    sub = ipaddress.ip_network(inner, strict=False)
    if net.version != sub.version or not sub.subnet_of(net):  # type: ignore[arg-type]
        return False
    for e in excepts:
        ex = ipaddress.ip_network(e, strict=False)
        if ex.version == sub.version and ex.overlaps(sub):
            return False
    return True


def _matches_identity(pattern: str, identity: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return identity.endswith(pattern[1:])
    return pattern == identity


class LinkerdReference:
    """Linkerd's verdict on (source, destination endpoint, TCP port)."""

    def __init__(self, world: World, trust_domain: str = "cluster.local") -> None:
        self.world = world
        self.td = trust_domain
        self.ns_annotations = {
            str(d["metadata"]["name"]): _annotations(d) for d in world.of("Namespace")
        }

    # -- membership and identity ---------------------------------------------------------

    def member(self, e: Endpoint) -> bool:
        if "linkerd-proxy" in e.containers:
            return True
        if e.host_network or e.namespace in ("kube-system", "cert-manager"):
            return False
        ns_labels = self.world.namespace_labels(e.namespace)
        if ns_labels.get("config.linkerd.io/admission-webhooks") == "disabled":
            return False
        if any(
            k in e.labels for k in ("linkerd.io/control-plane-component", "linkerd.io/cni-resource")
        ):
            return False
        ns_value = self.ns_annotations.get(e.namespace, {}).get("linkerd.io/inject", "")
        pod_value = e.annotations.get("linkerd.io/inject", "")
        valid = ("", "enabled", "ingress", "disabled")
        if ns_value not in valid or pod_value not in valid:
            return False
        if ns_value in ("enabled", "ingress"):
            return pod_value != "disabled"
        return pod_value in ("enabled", "ingress")

    def identity(self, e: Endpoint) -> str:
        return (
            f"{e.service_account}.{e.namespace}.serviceaccount.identity.{CONTROL_PLANE}.{self.td}"
        )

    def _client(self, src: Endpoint | str) -> _Client:
        if isinstance(src, str):
            return _Client(False, "", src, False)
        address = src.host_ip if src.host_network and src.host_ip else None
        if address is None and src.ips:
            address = src.ips[0]
        meshed = self.member(src)
        return _Client(meshed, self.identity(src) if meshed else "", address, True)

    # -- settings read from annotations -------------------------------------------------

    def _setting(self, e: Endpoint, key: str) -> str:
        return e.annotations.get(key) or self.ns_annotations.get(e.namespace, {}).get(key, "")

    def _tcp_names(self, e: Endpoint) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in e.ports:
            if p.name and p.protocol == "TCP":
                out.setdefault(p.name, p.number)
        return out

    def _in_list(self, e: Endpoint, key: str, port: int, default: str = "") -> bool:
        text = self._setting(e, key) or default
        return bool(_ports_in(text, self._tcp_names(e), port))

    def _default(self, e: Endpoint) -> str:
        known = (
            "all-unauthenticated",
            "all-authenticated",
            "cluster-unauthenticated",
            "cluster-authenticated",
            "deny",
            "audit",
        )
        value = self._setting(e, "config.linkerd.io/default-inbound-policy")
        return value if value in known else "all-unauthenticated"

    # -- authorizations -------------------------------------------------------------------

    @staticmethod
    def _default_rules(policy: str) -> list[_Rule]:
        if policy == "deny":
            return []
        networks = None if policy.startswith("cluster-") else tuple((c, ()) for c in EVERYWHERE)
        if policy in ("all-authenticated", "cluster-authenticated"):
            return [_Rule(networks, "tls")]
        return [_Rule(networks, "any")]

    def _named(self, kind: str, namespace: str, name: str) -> Doc | None:
        for d in self.world.of(kind):
            if (
                self.world.namespace_of(d) == namespace
                and d["metadata"]["name"] == name
                and str(d.get("apiVersion", "")).startswith(POLICY_GROUP)
            ):
                return d
        return None

    def _policy_rule(self, ap: Doc) -> _Rule | None:
        ns = self.world.namespace_of(ap)
        identities: list[str] | None = None
        networks: tuple[tuple[str, tuple[str, ...]], ...] | None = tuple(
            (c, ()) for c in EVERYWHERE
        )
        for ref in items(ap, "spec", "requiredAuthenticationRefs"):
            kind = str(ref.get("kind", "")).lower()
            ref_ns = ref.get("namespace") or ns
            if kind == "meshtlsauthentication":
                doc = self._named("MeshTLSAuthentication", ref_ns, ref["name"])
                if doc is None:
                    return None
                ids = [str(i) for i in items(doc, "spec", "identities")]
                for r in items(doc, "spec", "identityRefs"):
                    if str(r.get("kind", "")).lower() == "serviceaccount":
                        sa_ns = r.get("namespace") or self.world.namespace_of(doc)
                        ids.append(
                            f"{r['name']}.{sa_ns}.serviceaccount.identity.{CONTROL_PLANE}.{self.td}"
                        )
                    else:
                        ids.append(
                            f"*.{r['name']}.serviceaccount.identity.{CONTROL_PLANE}.{self.td}"
                        )
                if not ids:
                    return None
                identities = ids
            elif kind == "serviceaccount":
                identities = [
                    f"{ref['name']}.{ref_ns}.serviceaccount.identity.{CONTROL_PLANE}.{self.td}"
                ]
            elif kind == "networkauthentication":
                doc = self._named("NetworkAuthentication", ref_ns, ref["name"])
                if doc is None:
                    return None
                networks = tuple(
                    (str(n["cidr"]).strip(), tuple(str(x).strip() for x in n.get("except") or ()))
                    for n in items(doc, "spec", "networks")
                )
        if identities is None:
            return _Rule(networks, "any")
        return _Rule(networks, "ids", tuple(identities))

    def _saz_rule(self, saz: Doc) -> _Rule | None:
        client = field(saz, "spec", "client", default={})
        nets = client.get("networks")
        networks = (
            tuple((str(n["cidr"]).strip(), tuple(n.get("except") or ())) for n in nets)
            if nets
            else None
        )
        if client.get("unauthenticated"):
            return _Rule(networks, "any")
        mtls = client.get("meshTLS") or {}
        if mtls.get("unauthenticatedTLS"):
            return _Rule(networks, "tls")
        ns = self.world.namespace_of(saz)
        ids = [str(i) for i in mtls.get("identities") or []]
        ids += [
            f"{a['name']}.{a.get('namespace') or ns}.serviceaccount.identity.{CONTROL_PLANE}.{self.td}"
            for a in mtls.get("serviceAccounts") or []
        ]
        return _Rule(networks, "ids", tuple(ids)) if ids else None

    def _admits(self, rule: _Rule, client: _Client) -> bool:
        if rule.networks is None:
            if client.address is None:
                ok = client.pod  # every pod address is in the cluster networks
            else:
                ok = any(_in_network(client.address, c, ()) for c in CLUSTER_NETWORKS)
        elif client.address is None:
            # An unknown pod address is somewhere in the cluster networks: held when each
            # of them lies in one of the rule's networks, clear of its exceptions.
            ok = client.pod and all(
                any(_covers(c, ex, cluster) for c, ex in rule.networks)
                for cluster in CLUSTER_NETWORKS
            )
        else:
            ok = any(_in_network(client.address, c, ex) for c, ex in rule.networks)
        if not ok:
            return False
        if rule.auth == "any":
            return True
        if not client.meshed:
            return False
        return rule.auth == "tls" or any(
            _matches_identity(p, client.identity) for p in rule.identities
        )

    # -- the request ------------------------------------------------------------------------

    def _server(self, dst: Endpoint, port: int) -> Doc | None:
        names = self._tcp_names(dst)
        found = []
        for s in self.world.of("Server"):
            if self.world.namespace_of(s) != dst.namespace:
                continue
            if not selector_matches(field(s, "spec", "podSelector", default={}), dst.labels):
                continue
            want = field(s, "spec", "port")
            if (isinstance(want, int) and want == port) or (
                isinstance(want, str) and names.get(want) == port
            ):
                found.append(s)
        # Overlapping Servers are refused by Linkerd's admission; the first by name here.
        return min(found, key=lambda s: s["metadata"]["name"]) if found else None

    def _server_rules(self, server: Doc) -> list[_Rule]:
        ns = self.world.namespace_of(server)
        name = server["metadata"]["name"]
        server_labels = {
            str(k): str(v)
            for k, v in (field(server, "metadata", "labels", default={}) or {}).items()
        }
        rules: list[_Rule | None] = []
        for saz in self.world.of("ServerAuthorization"):
            if self.world.namespace_of(saz) != ns:
                continue
            target = field(saz, "spec", "server", default={})
            if "name" in target and target["name"] is not None:
                if target["name"] != name:
                    continue
            elif target.get("selector") is None or not selector_matches(
                target["selector"], server_labels
            ):
                continue
            rules.append(self._saz_rule(saz))
        for ap in self._policies(ns):
            t = field(ap, "spec", "targetRef", default={})
            kind = str(t.get("kind", "")).lower()
            if (kind == "server" and t.get("name") == name) or kind == "namespace":
                rules.append(self._policy_rule(ap))
        access = field(server, "spec", "accessPolicy")
        if access:
            rules += self._default_rules(str(access))
        return [r for r in rules if r is not None]

    def _policies(self, namespace: str) -> list[Doc]:
        return [
            d
            for d in self.world.of("AuthorizationPolicy")
            if str(d.get("apiVersion", "")).startswith(POLICY_GROUP)
            and self.world.namespace_of(d) == namespace
        ]

    def _routes(self, server: Doc, kind: str) -> list[tuple[str, list[_Rule]]]:
        ns = self.world.namespace_of(server)
        name = server["metadata"]["name"]
        out = []
        for r in self.world.of(kind):
            if self.world.namespace_of(r) != ns:
                continue
            group = str(r.get("apiVersion", "")).rpartition("/")[0]
            parents = [
                p
                for p in items(r, "spec", "parentRefs")
                if str(p.get("kind", "")).lower() == "server"
                and str(p.get("group", "")).lower() == POLICY_GROUP
            ]
            if not any(p.get("name") == name for p in parents):
                continue
            route = r["metadata"]["name"]
            rules = [
                self._policy_rule(ap)
                for ap in self._policies(ns)
                if str(field(ap, "spec", "targetRef", "kind", default="")).lower() == kind.lower()
                and str(field(ap, "spec", "targetRef", "group", default="")).lower() == group
                and str(field(ap, "spec", "targetRef", "name", default="")).lower() == route.lower()
            ]
            out.append((f"{{{kind} {ns}/{route}}}", [x for x in rules if x is not None]))
        return sorted(out)

    def _probe_paths(self, dst: Endpoint, port: int) -> list[str]:
        """Each container's httpGet probes on `port` (a number, or its own TCP port's name)."""
        doc = self._doc_of(dst)
        paths: set[str] = set()
        spec = self._pod_spec(doc)
        for group in ("containers", "initContainers"):
            for c in items(spec, group):
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    get = field(c, probe, "httpGet")
                    if not isinstance(get, Mapping):
                        continue
                    p = get.get("port")
                    if isinstance(p, str) and not p.isdigit():
                        p = next(
                            (
                                int(cp["containerPort"])
                                for cp in items(c, "ports")
                                if str(cp.get("name", "")).lower() == p.lower()
                                and (cp.get("protocol") or "TCP") == "TCP"
                            ),
                            None,
                        )
                    if p is not None and int(p) == port:
                        path = str(get.get("path") or "/").split("?")[0] or "/"
                        paths.add(path)
        return sorted(paths)

    def _doc_of(self, e: Endpoint) -> Doc:
        for d in self.world.of(e.kind):
            if self.world.namespace_of(d) == e.namespace and d["metadata"]["name"] == e.name:
                return d
        return {}

    @staticmethod
    def _pod_spec(doc: Doc) -> Any:
        kind = doc.get("kind")
        if kind == "Pod":
            return field(doc, "spec", default={})
        if kind == "CronJob":
            return field(doc, "spec", "jobTemplate", "spec", "template", "spec", default={})
        return field(doc, "spec", "template", "spec", default={})

    def evaluate(self, src: Endpoint | str, dst: Endpoint, port: int) -> LinkerdAnswer:
        if not self.member(dst):
            return LinkerdAnswer(True)
        if self._in_list(dst, "config.linkerd.io/skip-inbound-ports", port):
            return LinkerdAnswer(True)
        client = self._client(src)
        server = self._server(dst, port)
        if server is None:
            policy = self._default(dst)
            if self._in_list(dst, "config.linkerd.io/proxy-require-identity-inbound-ports", port):
                policy = policy.replace("-unauthenticated", "-authenticated")
            opaque = self._in_list(dst, "config.linkerd.io/opaque-ports", port, OPAQUE_DEFAULT)
            protocol = "opaque" if opaque else "unknown"
            rules = self._default_rules(policy)
            routes: list[tuple[str, list[_Rule]]] = []
        else:
            protocol = str(field(server, "spec", "proxyProtocol", default="unknown"))
            rules = self._server_rules(server)
            kind = "GRPCRoute" if protocol == "gRPC" else "HTTPRoute"
            routes = [] if protocol in ("opaque", "TLS") else self._routes(server, kind)
        server_ok = any(self._admits(r, client) for r in rules)
        if protocol in ("opaque", "TLS"):
            return LinkerdAnswer(server_ok)
        prefix = "if HTTP " if protocol == "unknown" else ""
        if not routes:
            if server_ok:
                return LinkerdAnswer(True)
            # The probe route: unauthenticated, from the probe networks (everywhere).
            http = protocol in ("unknown", "HTTP/1", "HTTP/2")
            paths = self._probe_paths(dst, port) if http else []
            if paths:
                return LinkerdAnswer(True, frozenset({f"{prefix}{{probe GET {'|'.join(paths)}}}"}))
            return LinkerdAnswer(False)
        alternatives = {
            prefix + clause
            for clause, route_rules in routes
            if server_ok or any(self._admits(r, client) for r in route_rules)
        }
        if server_ok and protocol == "unknown":
            alternatives.add("if not HTTP")
        if not alternatives:
            return LinkerdAnswer(False)
        return LinkerdAnswer(True, frozenset(alternatives))
