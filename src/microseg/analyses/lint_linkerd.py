"""`lint` on Linkerd's policy (https://linkerd.io/2/reference/authorization-policy/):

| code  | name                       | what it says                                             |
| ----- | -------------------------- | -------------------------------------------------------- |
| ML010 | linkerd-server-no-pod      | a Server selects no pod port, or only pods outside Linkerd's mesh (whose traffic no proxy checks) |
| ML011 | linkerd-unused-authorization | an authorization or authentication no Server uses: its target, server or route is not in the input, or nothing requires it |
| ML012 | linkerd-admits-everyone    | an authorization (or a Server's accessPolicy) that admits every client from every network, or every meshed identity |
| ML013 | linkerd-probe-unrouted     | a Server with routes selects a port where meshed pods have HTTP probes: Linkerd adds its probe route only to Servers without routes (https://linkerd.io/2/tasks/configuring-per-route-policy/, the probe routes; policy-controller inbound index `default_inbound_http_routes`), so kubelet's probes need a route and an authorization of their own |

Linkerd ignores what ML011 reports (ingest warns MS193 where a reference is broken); a
Server without pods may be meant for pods to come: lint reports facts.
"""

from __future__ import annotations

from microseg.engine import Connectivity, LinkerdIndex
from microseg.errors import Origin
from microseg.model.linkerd import Authentication, DefaultPolicy, Network

__all__ = ["linkerd_findings"]

Found = tuple[str, str, str, Origin, str]
"""(code, message, subject, origin, field)"""


def _everywhere(networks: tuple[Network, ...] | None) -> bool:
    return networks is not None and any(n.universal for n in networks)


def linkerd_findings(conn: Connectivity) -> list[Found]:
    cluster = conn.cluster
    policies = cluster.linkerd
    if not policies.has_objects:
        return []
    index = LinkerdIndex(cluster)
    out: list[Found] = []
    servers = {(s.namespace, s.name): s for s in policies.servers}
    used_servers: set[tuple[str, str]] = set()
    pods_by_ns: dict[str, list[int]] = {}
    for i, pod in enumerate(cluster.pods):
        pods_by_ns.setdefault(pod.namespace, []).append(i)
    for s in policies.servers:
        selected = meshed = 0
        for i in pods_by_ns.get(s.namespace, ()):
            pod = cluster.pods[i]
            if not s.pod_selector.matches(pod.labels):
                continue
            if isinstance(s.port, str) and not any(p.name == s.port for p in pod.ports):
                continue
            selected += 1
            meshed += index.member(pod)
        label = f"Linkerd Server {s.ref}"
        if not selected:
            what = f"port {s.port}" if isinstance(s.port, int) else f"a port named {s.port}"
            out.append(
                ("ML010", f"selects no pod with {what}", label, s.origin, "spec.podSelector")
            )
        elif not meshed:
            out.append(
                (
                    "ML010",
                    f"selects {selected} pod(s), none in Linkerd's mesh: no proxy enforces it",
                    label,
                    s.origin,
                    "spec.podSelector",
                )
            )
        if s.access_policy in (DefaultPolicy.ALL_UNAUTHENTICATED, DefaultPolicy.AUDIT):
            out.append(
                (
                    "ML012",
                    f"accessPolicy {s.access_policy.value} admits every client from every network",
                    label,
                    s.origin,
                    "spec.accessPolicy",
                )
            )
    out += _unrouted_probes(conn, index)
    for a in policies.server_authorizations:
        label = f"Linkerd ServerAuthorization {a.ref}"
        hits = [
            s
            for s in policies.servers
            if s.namespace == a.namespace
            and (
                s.name == a.server_name
                if a.server_name is not None
                else a.server_selector is not None and a.server_selector.matches(s.labels)
            )
        ]
        if not hits:
            out.append(("ML011", "selects no Server of the input", label, a.origin, "spec.server"))
        c = a.client
        if c.authentication is Authentication.UNAUTHENTICATED and _everywhere(c.networks):
            out.append(
                (
                    "ML012",
                    "admits unauthenticated clients from every network",
                    label,
                    a.origin,
                    "spec.client",
                )
            )
        elif c.authentication is Authentication.TLS_UNAUTHENTICATED or "*" in c.identities:
            out.append(
                ("ML012", "admits every meshed identity", label, a.origin, "spec.client.meshTLS")
            )
    routes = {(r.namespace, r.kind, r.name.lower()): r for r in policies.routes}
    required: set[tuple[str, str, str]] = set()
    for p in policies.authorization_policies:
        label = f"Linkerd AuthorizationPolicy {p.ref}"
        t = p.target
        target_ok = True
        if t.kind == "Server":
            target_ok = (p.namespace, t.name) in servers
            used_servers.add((p.namespace, t.name))
        elif t.kind in ("HTTPRoute", "GRPCRoute"):
            route = routes.get((p.namespace, t.kind, t.name.lower()))
            target_ok = route is not None and any(
                (p.namespace, n) in servers for n in route.servers
            )
        elif t.kind == "Namespace":
            target_ok = any(s.namespace == p.namespace for s in policies.servers)
        if not target_ok:
            out.append(
                (
                    "ML011",
                    f"targets {t.kind} {t.name}, which no Server of the input carries",
                    label,
                    p.origin,
                    "spec.targetRef",
                )
            )
        kinds = set()
        for ref in p.required:
            ns = ref.namespace or p.namespace
            required.add((ref.kind, ns, ref.name))
            kinds.add(ref.kind)
        everyone = "MeshTLSAuthentication" not in kinds and "ServiceAccount" not in kinds
        if everyone:
            nets = [
                n
                for n in policies.network_authentications
                if ("NetworkAuthentication", n.namespace, n.name)
                in {
                    ("NetworkAuthentication", r.namespace or p.namespace, r.name)
                    for r in p.required
                }
            ]
            if "NetworkAuthentication" not in kinds or any(_everywhere(n.networks) for n in nets):
                out.append(
                    (
                        "ML012",
                        "requires no identity and no network narrower than everywhere: it admits every client",
                        label,
                        p.origin,
                        "spec.requiredAuthenticationRefs",
                    )
                )
    for m in policies.mesh_tls:
        label = f"Linkerd MeshTLSAuthentication {m.namespace}/{m.name}"
        if ("MeshTLSAuthentication", m.namespace, m.name) not in required:
            out.append(
                ("ML011", "no AuthorizationPolicy requires it", label, m.origin, "metadata.name")
            )
        if "*" in m.identities:
            out.append(
                (
                    "ML012",
                    "identity '*' admits every meshed client",
                    label,
                    m.origin,
                    "spec.identities",
                )
            )
    for n in policies.network_authentications:
        label = f"Linkerd NetworkAuthentication {n.namespace}/{n.name}"
        if ("NetworkAuthentication", n.namespace, n.name) not in required:
            out.append(
                ("ML011", "no AuthorizationPolicy requires it", label, n.origin, "metadata.name")
            )
    return out


def _unrouted_probes(conn: Connectivity, index: LinkerdIndex) -> list[Found]:
    out: list[Found] = []
    seen: set[tuple[str, int]] = set()
    for pod in conn.cluster.pods:
        facts = pod.linkerd
        if facts is None or not facts.http_probes or not index.member(pod):
            continue
        for port, _path in facts.http_probes:
            policy = index.port_policy(pod, port)
            server = policy.server
            if server is None or not policy.routes or (server.ref, port) in seen:
                continue
            seen.add((server.ref, port))
            paths = sorted({p for n, p in facts.http_probes if n == port})
            out.append(
                (
                    "ML013",
                    f"has routes on port {port}, where {pod.workload} has HTTP probes "
                    f"({', '.join(paths)}): Linkerd gives no probe route to a Server with routes; "
                    "unless a route matches them and an authorization admits kubelet, the probes fail",
                    f"Linkerd Server {server.ref}",
                    server.origin,
                    "spec.port",
                )
            )
    return out
