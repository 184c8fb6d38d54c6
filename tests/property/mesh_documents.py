"""Hypothesis strategies for small random mesh clusters written as raw documents: namespaces
with injection labels, pods (and one template pod) with service accounts, addresses, opt-ins
and injected sidecars, HTTP/TCP/unnamed Service ports, PeerAuthentications and
AuthorizationPolicies using the whole vocabulary of the Istio reference (principals,
namespaces, serviceAccounts, ipBlocks, remoteIpBlocks, requestPrincipals and every `not`
form; hosts, ports, methods, paths and their negations; `when` keys of every kind), from a
tiny vocabulary so that every rule collides."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Doc = dict[str, Any]

NAMESPACES = ("ns-a", "ns-b", "istio-system")
APPS = ("web", "api", "db")
ACCOUNTS = ("default", "sa1", "sa2")
ADDRESSES = ("", "10.0.0.5", "10.1.2.3")
PROBES = ("10.0.0.5", "10.9.9.9", "192.168.1.1")
CONTAINER_PORTS = (8080, 9090)
PRINCIPALS = (
    "cluster.local/ns/ns-a/sa/sa1",
    "cluster.local/ns/ns-b/*",
    "*",
    "*/sa/default",
    "cluster.local/ns/ns-a/sa/default",
)
NS_PATTERNS = ("ns-a", "ns-*", "*", "istio-system")
ACCOUNT_REFS = ("ns-a/sa1", "ns-b/default", "sa1", "default")  # a bare name: the policy's namespace
BLOCKS = ("10.0.0.0/8", "10.0.0.5", "192.168.0.0/16")
PORTS = ("80", "8080", "9090")
CONDITIONS = {
    "request.headers[x-user]": ("a", "b"),
    "request.auth.principal": ("issuer/sub",),
    "source.ip": ("10.0.0.0/8", "10.0.0.5", "192.168.1.1"),
    "remote.ip": ("10.0.0.0/8", "192.168.1.1"),
    "destination.port": ("8080", "80", "9090"),
    "source.namespace": ("ns-a", "ns-*", "*"),
    "source.principal": ("*", "cluster.local/ns/ns-a/sa/sa1", "*/sa/default"),
    "destination.ip": ("10.1.2.3",),
    "connection.sni": ("*.local",),
}


def _some(vocab: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(vocab), min_size=1, max_size=2, unique=True)


def _fields(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Doc]:
    """A mapping with some of the fields, at least one (an empty source or operation is
    invalid)."""
    return st.fixed_dictionaries({}, optional={k: _some(v) for k, v in vocab.items()}).filter(bool)


IDENTITY = {
    "principals": PRINCIPALS,
    "notPrincipals": PRINCIPALS,
    "namespaces": NS_PATTERNS,
    "notNamespaces": NS_PATTERNS,
}
ADDRESS_FIELDS = {
    "ipBlocks": BLOCKS,
    "notIpBlocks": BLOCKS,
    "remoteIpBlocks": BLOCKS,
    "notRemoteIpBlocks": BLOCKS,
    "requestPrincipals": ("issuer/*", "*"),
    "notRequestPrincipals": ("issuer/sub",),
}
ACCOUNT_FIELDS = {"serviceAccounts": ACCOUNT_REFS, "notServiceAccounts": ACCOUNT_REFS}


@st.composite
def source(draw: st.DrawFn) -> Doc:
    """One or two fields, so that sources match often enough to matter; serviceAccounts may
    not be combined with principals or namespaces (the CRD's rule)."""
    pool = {**(ACCOUNT_FIELDS if draw(st.integers(0, 3)) == 0 else IDENTITY), **ADDRESS_FIELDS}
    names = draw(st.lists(st.sampled_from(sorted(pool)), min_size=1, max_size=2, unique=True))
    return {name: draw(_some(pool[name])) for name in names}


OPERATION = {
    "ports": PORTS,
    "notPorts": PORTS,
    "methods": ("GET", "POST"),
    "notMethods": ("DELETE",),
    "paths": ("/api/*", "/admin"),
    "notPaths": ("/admin*",),
    "hosts": ("shop.example.com", "*.local"),
    "notHosts": ("evil.example.com",),
}
operation = st.lists(
    st.sampled_from(sorted(OPERATION)), min_size=1, max_size=2, unique=True
).flatmap(lambda names: st.fixed_dictionaries({n: _some(OPERATION[n]) for n in names}))


@st.composite
def condition(draw: st.DrawFn) -> Doc:
    key = draw(st.sampled_from(sorted(CONDITIONS)))
    out: Doc = {"key": key}
    for name in draw(st.sampled_from((("values",), ("notValues",), ("values", "notValues")))):
        out[name] = draw(_some(CONDITIONS[key]))
    return out


@st.composite
def rule(draw: st.DrawFn) -> Doc:
    out: Doc = {}
    if draw(st.booleans()):
        out["from"] = [{"source": s} for s in draw(st.lists(source(), min_size=1, max_size=2))]
    if draw(st.booleans()):
        out["to"] = [{"operation": o} for o in draw(st.lists(operation, min_size=1, max_size=2))]
    if draw(st.integers(0, 2)) == 0:
        out["when"] = draw(st.lists(condition(), min_size=1, max_size=2))
    return out


@st.composite
def authorization_policy(draw: st.DrawFn, i: int) -> Doc:
    action = draw(st.sampled_from(("ALLOW", "ALLOW", "DENY", "CUSTOM", "AUDIT", None)))
    spec: Doc = {}
    if action is not None:
        spec["action"] = action
    if action == "CUSTOM":
        spec["provider"] = {"name": "ext"}
    low = (
        1 if action in ("DENY", "AUDIT") else 0
    )  # those need rules (a rule-less one never matches)
    rules = draw(st.lists(rule(), min_size=low, max_size=2))
    if rules or draw(st.booleans()):
        spec["rules"] = rules
    shape = draw(st.sampled_from(("none", "app", "app", "empty")))
    if shape == "app":
        spec["selector"] = {"matchLabels": {"app": draw(st.sampled_from(APPS))}}
    elif shape == "empty":
        spec["selector"] = {}
    if "selector" not in spec and draw(st.integers(0, 6)) == 0:  # exclusive (the CRD)
        spec["targetRefs"] = [{"kind": "Service", "group": "", "name": "svc0"}]
    return {
        "apiVersion": draw(st.sampled_from(("security.istio.io/v1", "security.istio.io/v1beta1"))),
        "kind": "AuthorizationPolicy",
        "metadata": {"name": f"ap{i}", "namespace": draw(st.sampled_from(NAMESPACES))},
        "spec": spec,
    }


MODES = ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")


@st.composite
def peer_authentication(draw: st.DrawFn, i: int) -> Doc:
    spec: Doc = {}
    shape = draw(st.sampled_from(("none", "app", "empty")))
    if shape == "app":
        spec["selector"] = {"matchLabels": {"app": draw(st.sampled_from(APPS))}}
        ports = draw(
            st.dictionaries(st.sampled_from((8080, 9090, 80)), st.sampled_from(MODES), max_size=2)
        )
        if ports:  # portLevelMtls requires a selector (the CRD's rule)
            spec["portLevelMtls"] = {p: {"mode": m} for p, m in ports.items()}
    elif shape == "empty":
        spec["selector"] = {"matchLabels": {}}
    if draw(st.integers(0, 4)):
        spec["mtls"] = {"mode": draw(st.sampled_from(MODES))}
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": f"pa{i}", "namespace": draw(st.sampled_from(NAMESPACES))},
        "spec": spec,
    }


@st.composite
def mesh_pod(draw: st.DrawFn, i: int) -> Doc:
    labels = {"app": draw(st.sampled_from(APPS))}
    annotations: dict[str, str] = {}
    inject = draw(st.sampled_from(("", "true", "false")))
    if inject:
        if draw(st.booleans()):
            labels["sidecar.istio.io/inject"] = inject
        else:
            annotations["sidecar.istio.io/inject"] = inject
    extra = draw(st.sampled_from(("", "", "ambient", "none", "rev", "status")))
    if extra in ("ambient", "none"):
        labels["istio.io/dataplane-mode"] = extra
    elif extra == "rev":
        labels["istio.io/rev"] = "canary"
    elif extra == "status":
        annotations["sidecar.istio.io/status"] = "{}"
    containers: list[Doc] = [
        {
            "name": "main",
            "image": "i",
            "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "grpc", "containerPort": 9090},
            ],
        }
    ]
    if draw(st.integers(0, 5)) == 0:
        containers.append({"name": "istio-proxy", "image": "proxyv2"})
    spec: Doc = {"containers": containers}
    account = draw(st.sampled_from(ACCOUNTS))
    if account != "default" or draw(st.booleans()):
        spec["serviceAccountName"] = account
    if draw(st.integers(0, 4)) == 0:
        spec["hostNetwork"] = True
    meta: Doc = {"name": f"p{i}", "namespace": draw(st.sampled_from(NAMESPACES)), "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    doc: Doc = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    if draw(st.booleans()):  # a Deployment given without pods: a template pod, no address
        template = {
            "metadata": {k: v for k, v in meta.items() if k in ("labels", "annotations")},
            "spec": spec,
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"d{i}", "namespace": meta["namespace"]},
            "spec": {"selector": {"matchLabels": {"app": labels["app"]}}, "template": template},
        }
    address = draw(st.sampled_from(ADDRESSES))
    if address:
        doc["status"] = {"podIP": address}
    return doc


@st.composite
def service(draw: st.DrawFn, i: int, namespace: str, app: str) -> Doc:
    port: Doc = {"port": 80}
    target = draw(st.sampled_from((8080, "http", "grpc", 9090, None)))
    if target is not None:
        port["targetPort"] = target
    name = draw(st.sampled_from(("http", "tcp", "grpc-x", "", "web", "mongo", "http2-y", "tls")))
    if name:
        port["name"] = name
    app_protocol = draw(st.sampled_from(("", "", "http", "tcp", "kubernetes.io/h2c", "HTTP")))
    if app_protocol:
        port["appProtocol"] = app_protocol
    ports = [port]
    if draw(st.booleans()):
        ports.append({"name": "udp-dns", "port": 53, "protocol": "UDP"})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc{i}", "namespace": namespace},
        "spec": {"selector": {"app": app}, "ports": ports},
    }


@st.composite
def mesh_documents(draw: st.DrawFn) -> list[Doc]:
    docs: list[Doc] = []
    for name in NAMESPACES:
        labels: dict[str, str] = {}
        choice = draw(st.sampled_from(("enabled", "enabled", "disabled", "rev", "ambient", "")))
        if choice == "rev":
            labels["istio.io/rev"] = "canary"
        elif choice == "ambient":
            labels["istio.io/dataplane-mode"] = "ambient"
        elif choice:
            labels["istio-injection"] = choice
        meta: Doc = {"name": name}
        if labels:
            meta["labels"] = labels
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    workloads = [draw(mesh_pod(i)) for i in range(draw(st.integers(1, 5)))]
    docs += workloads
    for i in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from(workloads))
        app = (
            target["metadata"].get("labels") or target["spec"]["template"]["metadata"]["labels"]
        )["app"]
        docs.append(draw(service(i, target["metadata"]["namespace"], app)))
    docs += [draw(peer_authentication(i)) for i in range(draw(st.integers(0, 3)))]
    docs += [draw(authorization_policy(i)) for i in range(draw(st.integers(1, 4)))]
    return docs
