"""Random Linkerd clusters as raw documents: namespaces and pods with Linkerd's annotations
(injection, default inbound policies, port lists), HTTP probes, an injected proxy; Servers,
ServerAuthorizations, AuthorizationPolicies on Servers, the Namespace and routes,
MeshTLSAuthentications, NetworkAuthentications, HTTPRoutes of both groups and GRPCRoutes.

Everything written passes Linkerd's admission rules (ingest refuses the rest, tested
elsewhere); references may dangle (Linkerd ignores those policies, and so must both sides).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Doc = dict[str, Any]

NAMESPACES = ("ln-a", "ln-b")
ADDRESSES = ("10.1.0.4", "10.2.0.9", "192.168.5.5", "203.0.113.7", None)
PROBES = ("10.1.0.77", "172.20.0.1", "198.51.100.3", "fd00::5", "2001:db8::9")
PORTS = (8080, 9000, 5432, 25, 7000)
POLICIES = (
    "all-unauthenticated",
    "all-authenticated",
    "cluster-unauthenticated",
    "cluster-authenticated",
    "deny",
    "audit",
)
ACCOUNTS = ("default", "sa1", "sa2")
TD = "serviceaccount.identity.linkerd.cluster.local"
IDENTITIES = (
    f"sa1.ln-a.{TD}",
    f"*.ln-b.{TD}",
    "*",
    f"default.ln-b.{TD}",
    "spiffe://cluster.local/ns/ln-a/sa/sa1",
)
NETWORKS = (
    {"cidr": "10.0.0.0/8"},
    {"cidr": "10.0.0.0/8", "except": ["10.2.0.0/16"]},
    {"cidr": "0.0.0.0/0"},
    {"cidr": "192.168.0.0/16"},
    {"cidr": "::/0"},
)
PROTOCOLS = (None, "unknown", "HTTP/1", "HTTP/2", "gRPC", "opaque", "TLS")


def _maybe(draw: st.DrawFn, values: tuple[Any, ...]) -> Any:
    return draw(st.sampled_from((None, *values)))


def _port_list(draw: st.DrawFn) -> str | None:
    return _maybe(draw, ("9000", "8080,9000", "5000-9000", "http", "25", "nonsense"))


def _annotations(draw: st.DrawFn, namespace: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    inject = _maybe(draw, ("enabled", "enabled", "disabled", "ingress", "bogus"))
    if inject:
        out["linkerd.io/inject"] = inject
    policy = _maybe(draw, (*POLICIES, "bogus"))
    if policy:
        out["config.linkerd.io/default-inbound-policy"] = policy
    for key in (
        "config.linkerd.io/opaque-ports",
        "config.linkerd.io/skip-inbound-ports",
        "config.linkerd.io/proxy-require-identity-inbound-ports",
    ):
        if draw(st.integers(0, 3)) == 0:
            value = _port_list(draw)
            if value and not (namespace and value == "http"):
                out[key] = value
    return out


def _container(draw: st.DrawFn) -> Doc:
    ports = []
    for number, name in ((8080, "http"), (9000, ""), (5432, "db"), (7000, "health")):
        if draw(st.booleans()):
            ports.append({"containerPort": number, **({"name": name} if name else {})})
    c: Doc = {"name": "app", "image": "i", "ports": ports}
    probe = _maybe(draw, ((8080, "/live"), ("health", "/ready?x=1"), (9000, None), ("http", "/a")))
    if probe is not None:
        port, path = probe
        c["livenessProbe"] = {"httpGet": {"port": port, **({"path": path} if path else {})}}
    return c


def _pod_template(draw: st.DrawFn, labels: dict[str, str]) -> tuple[Doc, Doc]:
    annotations = _annotations(draw, namespace=False)
    containers = [_container(draw)]
    if draw(st.integers(0, 5)) == 0:
        containers.append({"name": "linkerd-proxy", "image": "proxy"})
    spec: Doc = {"serviceAccountName": draw(st.sampled_from(ACCOUNTS)), "containers": containers}
    if draw(st.integers(0, 8)) == 0:
        spec["hostNetwork"] = True
    meta: Doc = {"labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta, spec


def _selector(draw: st.DrawFn) -> Doc:
    return draw(
        st.sampled_from(
            (
                {},
                {"matchLabels": {"app": "a"}},
                {"matchLabels": {"app": "b"}},
                {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
            )
        )
    )


def _ref(kind: str, name: str, group: str = "policy.linkerd.io") -> Doc:
    return {"group": group, "kind": kind, "name": name}


@st.composite
def linkerd_documents(draw: st.DrawFn) -> list[Doc]:
    docs: list[Doc] = []
    for ns in NAMESPACES:
        meta: Doc = {"name": ns}
        annotations = _annotations(draw, namespace=True)
        if annotations:
            meta["annotations"] = annotations
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    for i in range(draw(st.integers(2, 5))):
        ns = draw(st.sampled_from(NAMESPACES))
        labels = {"app": draw(st.sampled_from(("a", "b")))}
        if draw(st.booleans()):
            labels["tier"] = "x"
        meta, spec = _pod_template(draw, labels)
        if draw(st.integers(0, 4)) == 0:
            docs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"d{i}", "namespace": ns},
                    "spec": {
                        "selector": {"matchLabels": labels},
                        "template": {"metadata": meta, "spec": spec},
                    },
                }
            )
            continue
        pod: Doc = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": ns, **meta},
            "spec": spec,
        }
        address = draw(st.sampled_from(ADDRESSES))
        if address is not None:
            pod["status"] = {"podIP": address, "hostIP": "10.250.0.1"}
        docs.append(pod)
    servers = []
    for i in range(draw(st.integers(0, 3))):
        name = f"s{i}"
        ns = draw(st.sampled_from(NAMESPACES))
        servers.append((ns, name))
        spec = {
            "podSelector": _selector(draw),
            "port": draw(st.sampled_from((8080, "http", 9000, "db", 5432, "health"))),
        }
        protocol = draw(st.sampled_from(PROTOCOLS))
        if protocol:
            spec["proxyProtocol"] = protocol
        access = _maybe(draw, POLICIES)
        if access and draw(st.booleans()):
            spec["accessPolicy"] = access
        meta = {"name": name, "namespace": ns}
        if draw(st.booleans()):
            meta["labels"] = {"tier": "api"}
        docs.append(
            {
                "apiVersion": "policy.linkerd.io/v1beta3",
                "kind": "Server",
                "metadata": meta,
                "spec": spec,
            }
        )
    server_names = [n for _, n in servers] or ["s0"]
    for i in range(draw(st.integers(0, 2))):
        ns = draw(st.sampled_from(NAMESPACES))
        target = (
            {"name": draw(st.sampled_from(server_names))}
            if draw(st.booleans())
            else {"selector": {"matchLabels": {"tier": "api"}}}
        )
        kind = draw(st.sampled_from(("unauth", "tls", "ids", "accounts")))
        client: Doc
        if kind == "unauth":
            client = {"unauthenticated": True}
        elif kind == "tls":
            client = {"meshTLS": {"unauthenticatedTLS": True}}
        elif kind == "ids":
            client = {
                "meshTLS": {
                    "identities": draw(
                        st.lists(st.sampled_from(IDENTITIES), min_size=1, max_size=2)
                    )
                }
            }
        else:
            accounts = draw(
                st.lists(
                    st.sampled_from(({"name": "sa1"}, {"name": "default", "namespace": "ln-b"})),
                    min_size=1,
                    max_size=2,
                )
            )
            client = {"meshTLS": {"serviceAccounts": accounts}}
        if draw(st.booleans()):
            client["networks"] = draw(st.lists(st.sampled_from(NETWORKS), min_size=1, max_size=2))
        docs.append(
            {
                "apiVersion": "policy.linkerd.io/v1beta1",
                "kind": "ServerAuthorization",
                "metadata": {"name": f"saz{i}", "namespace": ns},
                "spec": {"server": target, "client": client},
            }
        )
    for i in range(draw(st.integers(0, 2))):
        ns = draw(st.sampled_from(NAMESPACES))
        spec = {}
        if draw(st.booleans()):
            spec["identities"] = draw(st.lists(st.sampled_from(IDENTITIES), min_size=1, max_size=2))
        else:
            refs = draw(
                st.lists(
                    st.sampled_from(
                        (
                            {"kind": "ServiceAccount", "name": "sa1"},
                            {"kind": "ServiceAccount", "name": "default", "namespace": "ln-b"},
                            {"kind": "Namespace", "name": "ln-a"},
                        )
                    ),
                    min_size=1,
                    max_size=2,
                )
            )
            spec["identityRefs"] = refs
        docs.append(
            {
                "apiVersion": "policy.linkerd.io/v1alpha1",
                "kind": "MeshTLSAuthentication",
                "metadata": {"name": f"m{i}", "namespace": ns},
                "spec": spec,
            }
        )
    for i in range(draw(st.integers(0, 2))):
        ns = draw(st.sampled_from(NAMESPACES))
        networks = draw(st.lists(st.sampled_from(NETWORKS), min_size=1, max_size=2))
        docs.append(
            {
                "apiVersion": "policy.linkerd.io/v1alpha1",
                "kind": "NetworkAuthentication",
                "metadata": {"name": f"n{i}", "namespace": ns},
                "spec": {"networks": networks},
            }
        )
    routes = []
    for i in range(draw(st.integers(0, 2))):
        ns, server = draw(st.sampled_from(servers)) if servers else ("ln-a", "s0")
        kind, api = draw(
            st.sampled_from(
                (
                    ("HTTPRoute", "policy.linkerd.io/v1beta3"),
                    ("HTTPRoute", "gateway.networking.k8s.io/v1"),
                    ("GRPCRoute", "gateway.networking.k8s.io/v1"),
                )
            )
        )
        name = f"r{i}"
        routes.append((ns, kind, api.rpartition("/")[0], name))
        rule = (
            {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET"}]}
            if kind == "HTTPRoute"
            else {"matches": [{"method": {"service": "svc.Books"}}]}
        )
        docs.append(
            {
                "apiVersion": api,
                "kind": kind,
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "parentRefs": [
                        {"group": "policy.linkerd.io", "kind": "Server", "name": server}
                    ],
                    "rules": [rule],
                },
            }
        )
    for i in range(draw(st.integers(0, 3))):
        choice = draw(st.integers(0, 2))
        if choice == 0 or not routes:
            ns = draw(st.sampled_from(NAMESPACES))
            if draw(st.booleans()):
                target = _ref("Server", draw(st.sampled_from(server_names)))
            else:
                target = {"kind": "Namespace", "name": ns}
        else:
            ns, kind, group, name = draw(st.sampled_from(routes))
            target = _ref(kind, name, group)
        refs = []
        identity = draw(st.sampled_from(("mtls", "sa", None)))
        if identity == "mtls":
            refs.append(_ref("MeshTLSAuthentication", draw(st.sampled_from(("m0", "m1")))))
        elif identity == "sa":
            refs.append({"kind": "ServiceAccount", "name": draw(st.sampled_from(ACCOUNTS))})
        if draw(st.booleans()):
            refs.append(_ref("NetworkAuthentication", draw(st.sampled_from(("n0", "n1")))))
        docs.append(
            {
                "apiVersion": "policy.linkerd.io/v1alpha1",
                "kind": "AuthorizationPolicy",
                "metadata": {"name": f"ap{i}", "namespace": ns},
                "spec": {"targetRef": target, "requiredAuthenticationRefs": refs},
            }
        )
    return docs
