"""The pieces of Istio's semantics that both mesh evaluators share: which policies apply to
a workload, its effective mTLS mode per port, which of its ports speak HTTP, Istio's string
matching, and how L7 conditions are written.

Why shared: these are lookups with one obvious reading each; what differs between the
reference (mesh_reference.py, one request at a time) and the fast layer (mesh.py, whole
tables) is how requests are matched and combined, and that is what the property test
holds equal.
"""

from __future__ import annotations

from collections.abc import Mapping

from microseg.model.cluster import Cluster
from microseg.model.mesh import (
    INJECT,
    AuthorizationPolicy,
    AuthzRule,
    Condition,
    MeshMode,
    MtlsMode,
    Operation,
    PeerAuthentication,
    Source,
    mesh_mode,
)
from microseg.model.objects import Pod, Service, ServicePort
from microseg.model.sets import Protocol

__all__ = [
    "EXPLICIT_PROTOCOLS",
    "HTTP_PREFIXES",
    "STATIC_KEYS",
    "applies_to",
    "clause_text",
    "condition_holds",
    "condition_text",
    "declared_ports",
    "declares_protocol",
    "effective_mode",
    "http_ports",
    "inert_mesh_policies",
    "istio_match",
    "mode_source",
    "operation_l7",
    "pod_mesh_mode",
    "rule_has_http",
    "services_by_namespace",
    "sniffs",
    "source_l7",
    "speaks_http",
]

# istio.io "Protocol Selection": a Service port named `<protocol>[-<suffix>]` declares its
# protocol. Only these speak HTTP to the sidecar. Unnamed ports are sniffed at run time,
# which a static analysis cannot know; microseg reads them as plain TCP, the reading under
# which an ALLOW rule with HTTP fields does not match and a DENY rule denies outright, so
# no verdict is more permissive than the mesh.
HTTP_PREFIXES = ("http", "http2", "grpc", "grpc-web")


# Kubernetes' standard appProtocol for HTTP/2 over cleartext, which Istio reads as HTTP2.
_APP_PROTOCOL_ALIASES = {"kubernetes.io/h2c": "http2"}


# istio.io "Protocol Selection", manual protocol selection: the protocols a Service port may
# name; a port naming none of them (or unnamed) has its protocol detected at run time.
EXPLICIT_PROTOCOLS = frozenset(
    {"http", "http2", "https", "tcp", "tls", "grpc", "grpc-web", "mongo", "mysql", "redis", "udp"}
)


def _protocol_name(port: ServicePort) -> str:
    if port.app_protocol:
        name = port.app_protocol.lower()
        return _APP_PROTOCOL_ALIASES.get(name, name)
    return port.name.split("-", 1)[0].lower()


def declares_protocol(port: ServicePort) -> bool:
    """Whether the Service port states its protocol (appProtocol, or a known name prefix)."""
    return _protocol_name(port) in EXPLICIT_PROTOCOLS


def speaks_http(port: ServicePort) -> bool:
    """istio.io "Protocol Selection": `appProtocol` takes precedence over the port name's
    `<protocol>[-<suffix>]` prefix; both are read case-insensitively."""
    return _protocol_name(port) in HTTP_PREFIXES


REVISION = "istio.io/rev"


def pod_mesh_mode(cluster: Cluster, pod: Pod) -> MeshMode:
    """model/mesh.py `mesh_mode` (the namespace and pod injection labels), then what
    manifests of a real mesh show besides:

    - a pod already injected (`Pod.injected`: an `istio-proxy` container, or the
      injector's `sidecar.istio.io/status` / `inject.istio.io/templates` annotations, as a
      `kubectl get pods -o yaml` dump has them) runs a sidecar whatever the labels say now;
    - a revision label `istio.io/rev` on the pod: istio.io "Installing the sidecar" >
      "Controlling the injection policy" (and "Canary upgrades"): the revision's webhook
      selects pods with `istio.io/rev=<revision>` in namespaces without
      `istio-injection`, unless the pod opts out with `sidecar.istio.io/inject: "false"`;
    - `--assume-mesh` (MeshSettings.assume_mesh): every pod is sidecar-injected.

    Host-network pods are never injected (istio.io, same page)."""
    namespace = cluster.namespace(pod.namespace)
    mode = mesh_mode(pod, namespace)
    if mode is MeshMode.SIDECAR or pod.host_network:
        return mode
    if pod.injected or cluster.mesh.assume_mesh:
        return MeshMode.SIDECAR
    opted_out = pod.labels.get(INJECT, pod.inject_annotation) == "false"
    ns_injection = namespace.labels.get("istio-injection") if namespace is not None else None
    if REVISION in pod.labels and not opted_out and ns_injection is None:
        return MeshMode.SIDECAR
    return mode


def inert_mesh_policies(cluster: Cluster) -> tuple[int, int]:
    """(AuthorizationPolicies, PeerAuthentications) that select workloads, none of which is
    in the mesh: they have no effect, which on manifests most often means the namespaces'
    injection labels live elsewhere (the CLI warns and suggests --assume-mesh)."""
    modes = [(pod, pod_mesh_mode(cluster, pod)) for pod in cluster.pods]
    root = cluster.mesh.root_namespace

    def inert(selected: list[MeshMode]) -> bool:
        return bool(selected) and all(m is MeshMode.NONE for m in selected)

    authz = sum(
        inert([m for pod, m in modes if applies_to(cluster, policy, pod)])
        for policy in cluster.authorization_policies
        if not policy.target_refs
    )
    peer = 0
    for pa in cluster.peer_authentications:
        if pa.namespace == root and pa.selector:
            continue  # ignored by Istio (_level)
        peer += inert(
            [
                m
                for pod, m in modes
                if (pa.namespace == root or pod.namespace == pa.namespace)
                and _selects(pa.selector, pod)
            ]
        )
    return authz, peer


def istio_match(pattern: str, value: str) -> bool:
    """istio.io AuthorizationPolicy reference, "Value matching": exact, prefix `abc*`,
    suffix `*abc`, and `*` for any non-empty value. A plaintext request has an empty peer
    identity, which only `not...` fields can match (ISTIO-SECURITY-2021-004)."""
    if pattern == "*":
        return value != ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def _selects(selector: Mapping[str, str] | None, pod: Pod) -> bool:
    """Istio WorkloadSelector: matchLabels only; absent selects every workload in scope."""
    if selector is None:
        return True
    return all(pod.labels.get(k) == v for k, v in selector.items())


def applies_to(cluster: Cluster, policy: AuthorizationPolicy, pod: Pod) -> bool:
    """istio.io AuthorizationPolicy reference, "Workload selector": a policy in the root
    namespace applies to every namespace, elsewhere to its own; `selector` narrows it to
    matching workloads. A policy with `targetRef(s)` applies to no pod: the reference
    supports a Service target only for waypoints (other kinds: gateways), and sidecars and
    ztunnel enforce only selector / namespace-wide policies. Waypoints and gateways are not
    modelled (ingest gives MS142)."""
    if policy.target_refs:
        return False
    if policy.namespace != cluster.mesh.root_namespace and policy.namespace != pod.namespace:
        return False
    return _selects(policy.selector, pod)


def _level(cluster: Cluster, pod: Pod) -> list[PeerAuthentication]:
    """Workload, namespace, mesh: the PeerAuthentications that could decide, most specific
    first (istio.io PeerAuthentication reference: the narrowest scope wins; a policy with a
    selector in the root namespace is ignored; among equals the oldest wins, and with no
    creation times in manifests microseg takes the first by name). An empty selector is
    namespace-wide, as no selector (ingest normalises it; checked again here)."""
    root = cluster.mesh.root_namespace
    pas = sorted(cluster.peer_authentications, key=lambda p: p.name)
    workload = [
        p
        for p in pas
        if p.namespace == pod.namespace
        and p.selector
        and p.namespace != root
        and _selects(p.selector, pod)
    ]
    namespace = [p for p in pas if p.namespace == pod.namespace and not p.selector]
    mesh = [p for p in pas if p.namespace == root and not p.selector]
    return [level[0] for level in (workload, namespace, mesh) if level]


def mode_source(
    cluster: Cluster, pod: Pod, port: int, mesh: MeshMode = MeshMode.SIDECAR
) -> tuple[MtlsMode, str]:
    """The mode for `port` and what set it (`ns/name` of the PeerAuthentication, or `""`
    for Istio's default, PERMISSIVE). UNSET inherits from the next wider scope; a port-level
    mode overrides its policy's own (istio.io PeerAuthentication reference).

    For an ambient workload DISABLE is skipped like UNSET: the reference says DISABLE is
    not supported in ambient mode, and istiod leaves such policies out of what it sends
    ztunnel, so the next wider level decides."""
    skip = {MtlsMode.UNSET}
    if mesh is MeshMode.AMBIENT:
        skip.add(MtlsMode.DISABLE)
    for pa in _level(cluster, pod):
        port_mode = dict(pa.port_modes).get(port, MtlsMode.UNSET)
        if port_mode not in skip:
            return port_mode, pa.ref
        if pa.mode not in skip:
            return pa.mode, pa.ref
    return MtlsMode.PERMISSIVE, ""


def effective_mode(cluster: Cluster, pod: Pod, port: int, mode: MeshMode) -> MtlsMode:
    return mode_source(cluster, pod, port, mode)[0]


def services_by_namespace(cluster: Cluster) -> dict[str, list[Service]]:
    out: dict[str, list[Service]] = {}
    for svc in cluster.services:
        out.setdefault(svc.namespace, []).append(svc)
    return out


def _declared(
    cluster: Cluster, pod: Pod, index: dict[str, list[Service]] | None
) -> tuple[frozenset[int], frozenset[int]]:
    """Container ports of `pod` that a selecting Service declares HTTP, and those it
    declares another protocol for (a TCP port no Service declares is sniffed)."""
    http, other = set(), set()
    services = index.get(pod.namespace, []) if index is not None else cluster.services
    for svc in services:
        if svc.namespace != pod.namespace or svc.selector is None:
            continue
        if not svc.selector or not _selects(svc.selector, pod):
            continue
        for sp in svc.ports:
            if sp.protocol is not Protocol.TCP:
                continue
            if isinstance(sp.target, int):
                number: int | None = sp.target
            else:
                number = pod.named_port(sp.target, Protocol.TCP)
            if number is None:
                continue
            if speaks_http(sp):
                http.add(number)
            elif declares_protocol(sp):
                other.add(number)
    return frozenset(http), frozenset(other - http)


def http_ports(
    cluster: Cluster, pod: Pod, index: dict[str, list[Service]] | None = None
) -> frozenset[int]:
    """Container ports of `pod` that a selecting Service declares as HTTP (see HTTP_PREFIXES).
    `index`: services_by_namespace(cluster), when the caller asks for many pods."""
    return _declared(cluster, pod, index)[0]


def declared_ports(
    cluster: Cluster, pod: Pod, index: dict[str, list[Service]] | None = None
) -> frozenset[int]:
    """Container ports a selecting Service declares a non-HTTP protocol for (`tcp-db`,
    `appProtocol: mysql`, ...): the sidecar takes those as declared, never sniffing."""
    return _declared(cluster, pod, index)[1]


def sniffs(mode: MeshMode, port: int, http: frozenset[int], declared: frozenset[int]) -> bool:
    """Whether a sidecar detects the protocol of inbound TCP traffic to `port` at run time:
    no selecting Service declares one for it (istio.io "Protocol Selection", automatic
    protocol selection: HTTP/1.1 and HTTP/2 are recognised, anything else is plain TCP).
    Ambient's ztunnel authorizes at L4 only."""
    return mode is MeshMode.SIDECAR and port not in http and port not in declared


def _field(name: str, values: tuple[str, ...] | None) -> list[str]:
    return [] if values is None else [f"{name}: {'|'.join(values)}"]


def source_l7(source: Source) -> list[str]:
    """A source's HTTP-only parts (request principals come from a JWT)."""
    return _field("requestPrincipals", source.request_principals) + _field(
        "notRequestPrincipals", source.not_request_principals
    )


def operation_l7(op: Operation) -> list[str]:
    return (
        _field("methods", op.methods)
        + _field("notMethods", op.not_methods)
        + _field("paths", op.paths)
        + _field("notPaths", op.not_paths)
        + _field("hosts", op.hosts)
        + _field("notHosts", op.not_hosts)
    )


def condition_text(c: Condition) -> str:
    parts = _field(c.key, c.values) + _field(f"{c.key} not", c.not_values)
    return ", ".join(parts)


def is_http_key(key: str) -> bool:
    """`when` keys only an HTTP request carries (istio.io "Authorization Policy Conditions")."""
    return key.startswith("request.")


# `when` keys whose value a static analysis knows for every request (istio.io
# "Authorization Policy Conditions"): they are decided, not kept as conditions.
# remote.ip is the original client address, the peer address for a direct connection.
STATIC_KEYS = ("destination.port", "source.namespace", "source.principal", "source.ip", "remote.ip")


def condition_holds(c: Condition, value: str | int | None, ip: bool = False) -> bool:
    """`values`: one must match; `notValues`: none may. Identity keys use Istio value
    matching (empty for plaintext); `ip` keys match CIDRs (an unknown address matches
    no block); ports match exactly."""

    def hit(patterns: tuple[str, ...]) -> bool:
        if ip:
            if value is None:
                return False
            import ipaddress

            address = ipaddress.ip_address(str(value))
            for p in patterns:
                net = ipaddress.ip_network(
                    p if "/" in p else p + ("/128" if ":" in p else "/32"), strict=False
                )
                if address.version == net.version and address in net:
                    return True
            return False
        if isinstance(value, int):
            return str(value) in patterns
        return any(istio_match(p, value or "") for p in patterns)

    if c.values is not None and not hit(c.values):
        return False
    return not (c.not_values is not None and hit(c.not_values))


def rule_has_http(rule: AuthzRule) -> bool:
    """Whether a rule uses any HTTP-only field: methods, paths, hosts, request principals,
    or a `request.*` condition."""
    return (
        any(source_l7(s) for s in rule.sources or ())
        or any(operation_l7(o) for o in rule.operations or ())
        or any(is_http_key(c.key) for c in rule.conditions)
    )


def clause_text(parts: list[str]) -> str:
    """One alternative of an L7 condition: `{methods: GET, paths: /api/*}`; "" if none."""
    return "{" + ", ".join(parts) + "}" if parts else ""
