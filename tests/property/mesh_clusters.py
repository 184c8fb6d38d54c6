"""Hypothesis strategies for small random mesh clusters: namespaces with injection labels,
pods with service accounts and sidecar opt-ins, HTTP and TCP Services, PeerAuthentications
and AuthorizationPolicies drawn from a tiny vocabulary so that every rule collides."""

from __future__ import annotations

from hypothesis import strategies as st

from microseg.model import (
    Cluster,
    ContainerPort,
    FrozenLabels,
    Namespace,
    Pod,
    Protocol,
    Workload,
    WorkloadKey,
)
from microseg.model.mesh import (
    AuthorizationPolicy,
    AuthzAction,
    AuthzRule,
    Condition,
    MtlsMode,
    Operation,
    PeerAuthentication,
    Source,
)
from microseg.model.objects import Service, ServicePort

NAMESPACES = ("ns-a", "ns-b", "istio-system")
APPS = ("web", "api", "db")
ACCOUNTS = ("default", "sa1", "sa2")
ADDRESSES = ("", "10.0.0.5", "10.1.2.3")
PROBES = ("10.0.0.5", "10.9.9.9", "192.168.1.1")
PRINCIPALS = (
    "cluster.local/ns/ns-a/sa/sa1",
    "cluster.local/ns/ns-b/*",
    "*",
    "*/sa/default",
    "cluster.local/ns/ns-a/sa/default",
)
NS_PATTERNS = ("ns-a", "ns-*", "*", "istio-system")
BLOCKS = ("10.0.0.0/8", "10.0.0.5", "192.168.0.0/16")
PORTS = ("80", "8080", "9090")
KEYS = (
    "request.headers[x-user]",
    "source.ip",
    "destination.port",
    "source.namespace",
    "source.principal",
    "destination.ip",
)
VALUES = {
    "request.headers[x-user]": ("a", "b"),
    "source.ip": ("10.0.0.0/8", "10.0.0.5", "192.168.1.1"),
    "destination.port": ("8080", "80"),
    "source.namespace": ("ns-a", "ns-*", "*"),
    "source.principal": ("*", "cluster.local/ns/ns-a/sa/sa1", "*/sa/default"),
    "destination.ip": ("10.1.2.3",),
}


def _opt(values: st.SearchStrategy[tuple[str, ...]]) -> st.SearchStrategy[tuple[str, ...] | None]:
    return st.none() | values


def _some(vocab: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...] | None]:
    return _opt(st.lists(st.sampled_from(vocab), min_size=1, max_size=2, unique=True).map(tuple))


sources = st.builds(
    Source,
    principals=_some(PRINCIPALS),
    not_principals=_some(PRINCIPALS),
    namespaces=_some(NS_PATTERNS),
    not_namespaces=_some(NS_PATTERNS),
    ip_blocks=_some(BLOCKS),
    not_ip_blocks=_some(BLOCKS),
    request_principals=_some(("issuer/*", "*")),
    service_accounts=_some(("ns-a/sa1", "ns-b/default")),
)
operations = st.builds(
    Operation,
    ports=_some(PORTS),
    not_ports=_some(PORTS),
    methods=_some(("GET", "POST")),
    paths=_some(("/api/*", "/admin")),
)
conditions = (
    st.sampled_from(KEYS)
    .flatmap(lambda k: st.builds(Condition, st.just(k), _some(VALUES[k]), _some(VALUES[k])))
    .filter(lambda c: c.values is not None or c.not_values is not None)
)


@st.composite
def rules(draw: st.DrawFn, index: int) -> AuthzRule:
    return AuthzRule(
        index,
        draw(st.none() | st.lists(sources, min_size=1, max_size=2).map(tuple)),
        draw(st.none() | st.lists(operations, min_size=1, max_size=2).map(tuple)),
        tuple(draw(st.lists(conditions, max_size=1))),
    )


@st.composite
def authorization_policies(draw: st.DrawFn, i: int) -> AuthorizationPolicy:
    action = draw(st.sampled_from([AuthzAction.ALLOW, *AuthzAction]))
    n = draw(st.integers(0, 2))
    return AuthorizationPolicy(
        draw(st.sampled_from(NAMESPACES)),
        f"ap{i}",
        action,
        draw(st.none() | st.sampled_from(APPS).map(lambda a: FrozenLabels({"app": a}))),
        tuple(draw(rules(k)) for k in range(n)),
        provider="ext" if action is AuthzAction.CUSTOM else "",
    )


@st.composite
def peer_authentications(draw: st.DrawFn, i: int) -> PeerAuthentication:
    # An empty selector (not produced by ingest, which normalises it) is namespace-wide too.
    selector = draw(
        st.none()
        | st.just(FrozenLabels({}))
        | st.sampled_from(APPS).map(lambda a: FrozenLabels({"app": a}))
    )
    modes = st.sampled_from(list(MtlsMode))
    ports = ()
    if selector:
        ports = tuple(draw(st.lists(st.tuples(st.sampled_from((80, 8080)), modes), max_size=2)))
        ports = tuple(sorted(dict(ports).items()))
    return PeerAuthentication(
        draw(st.sampled_from(NAMESPACES)), f"pa{i}", selector, draw(modes), ports
    )


@st.composite
def mesh_clusters(draw: st.DrawFn) -> Cluster:
    namespaces = []
    for name in NAMESPACES:
        labels = {"kubernetes.io/metadata.name": name}
        choice = draw(st.sampled_from(("enabled", "enabled", "disabled", "rev", "ambient", "")))
        if choice == "rev":
            labels["istio.io/rev"] = "canary"
        elif choice == "ambient":
            labels["istio.io/dataplane-mode"] = "ambient"
        elif choice:
            labels["istio-injection"] = choice
        namespaces.append(Namespace(name, FrozenLabels(labels)))
    pods = []
    for i in range(draw(st.integers(1, 5))):
        ns = draw(st.sampled_from(NAMESPACES))
        labels = {"app": draw(st.sampled_from(APPS))}
        inject = draw(st.sampled_from(("", "true", "false")))
        if inject and draw(st.booleans()):
            labels["sidecar.istio.io/inject"] = inject
            inject = ""
        if draw(st.booleans()):
            labels["istio.io/dataplane-mode"] = draw(st.sampled_from(("ambient", "none")))
        ip = draw(st.sampled_from(ADDRESSES))
        key = WorkloadKey(ns, f"p{i}", "Pod")
        pods.append(
            Pod(
                ns,
                f"p{i}",
                FrozenLabels(labels),
                key,
                ports=(ContainerPort(Protocol.TCP, 8080, "http"),),
                host_network=draw(st.booleans()) and draw(st.booleans()),
                ips=(ip,) if ip else (),
                service_account=draw(st.sampled_from(ACCOUNTS)),
                inject_annotation=inject,
            )
        )
    targets = [draw(st.sampled_from(pods)) for _ in range(draw(st.integers(0, 2)))]
    services = [
        Service(
            target.namespace,
            f"svc{i}",
            FrozenLabels({"app": target.labels["app"]}),
            ports=(
                ServicePort(
                    Protocol.TCP,
                    80,
                    draw(st.sampled_from((8080, "http", 80))),
                    draw(st.sampled_from(("http", "tcp", "grpc-x", "", "web", "mongo"))),
                    draw(st.sampled_from(("", "", "http", "tcp", "kubernetes.io/h2c"))),
                ),
            ),
        )
        for i, target in enumerate(targets)
    ]
    pas = [draw(peer_authentications(i)) for i in range(draw(st.integers(0, 3)))]
    aps = [draw(authorization_policies(i)) for i in range(draw(st.integers(1, 4)))]
    return Cluster(
        namespaces=tuple(namespaces),
        workloads=tuple(Workload(p.workload, service_account=p.service_account) for p in pods),
        pods=tuple(pods),
        services=tuple(services),
        peer_authentications=tuple(pas),
        authorization_policies=tuple(aps),
    )
