"""Linkerd's reasons for one request, from the model: what explanations print.

A request is (source, destination pod in Linkerd's mesh, TCP port). The port's policy
comes from engine/mesh/linkerd_match.py (the Server or the default, its authorizations
and routes), each authorization is checked against the client one at a time, and the
verdict is assembled as the fast table assembles it (engine/mesh/linkerd_verdict.py).
tests/property/test_linkerd_reference.py holds the verdicts reached here equal to the
table's, and both to the independent reference (engine/spec/linkerd.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from microseg.engine.explain.mesh_reasons import MeshReason
from microseg.engine.mesh.linkerd_match import Authz, LinkerdIndex, PortPolicy, identity_matches
from microseg.engine.mesh.linkerd_verdict import assemble, route_clause
from microseg.engine.mesh.match import pod_mesh_mode
from microseg.engine.query import MeshCause, MeshDetail, MeshVerdict, PolicyKind, Verdict
from microseg.model.cluster import Cluster
from microseg.model.linkerd import (
    Authentication,
    client_address,
    holds_unknown,
    network_holds,
)
from microseg.model.mesh import MeshMode
from microseg.model.objects import Pod

__all__ = ["Client", "client_of", "linkerd_evaluate", "linkerd_index"]

_LAST: list[tuple[Cluster, LinkerdIndex]] = []


def linkerd_index(cluster: Cluster) -> LinkerdIndex:
    """The index of `cluster`, kept for the next call on the same cluster object (an
    explanation asks once per port atom)."""
    if _LAST and _LAST[0][0] is cluster:
        return _LAST[0][1]
    index = LinkerdIndex(cluster)
    _LAST[:] = [(cluster, index)]
    return index


@dataclass(frozen=True, slots=True)
class Client:
    """The source as the destination's proxy sees it."""

    meshed: bool
    identity: str
    address: str | None
    pod: bool


def client_of(index: LinkerdIndex, src: Pod | str) -> Client:
    """A pod in Linkerd's mesh connects with mTLS and its identity; any other source (a
    pod of no mesh or of Istio's, an address) is unauthenticated."""
    if isinstance(src, str):
        return Client(False, "", src, False)
    meshed = pod_mesh_mode(index.cluster, src) is MeshMode.NONE and index.member(src)
    identity = index.identity(src) if meshed else ""
    return Client(meshed, identity, client_address(src.ips, src.host_network, src.host_ip), True)


def admits(index: LinkerdIndex, a: Authz, client: Client) -> bool:
    """The proxy's `check_authorized` for one authorization."""
    cluster = index.policies.cluster_networks
    nets = a.networks if a.networks is not None else cluster
    if client.address is None:
        in_network = client.pod and holds_unknown(nets, cluster)
    else:
        in_network = network_holds(nets, client.address)
    if not in_network:
        return False
    if a.authentication is Authentication.UNAUTHENTICATED:
        return True
    if not client.meshed:
        return False
    if a.authentication is Authentication.TLS_UNAUTHENTICATED:
        return True
    return any(identity_matches(p, client.identity) for p in a.identities)


def _network_text(a: Authz) -> str:
    if a.networks is None:
        return "cluster networks"
    if all(n.universal for n in a.networks):
        return ""
    return ", ".join(str(n) for n in a.networks)


def _admitted(a: Authz, client: Client, conditions: tuple[str, ...] = ()) -> MeshReason:
    detail = MeshDetail(
        MeshCause.LINKERD_AUTHZ,
        principal=client.identity
        if a.authentication is not Authentication.UNAUTHENTICATED and client.meshed
        else None,
        conditions=conditions,
        mode=a.ref if a.kind in ("default", "accessPolicy") else "",
        authz=a.kind,
        network=_network_text(a),
    )
    if a.kind in ("AuthorizationPolicy", "ServerAuthorization"):
        return MeshReason(Verdict.ALLOW, detail, a.ref, None, a.origin, PolicyKind.LINKERD)
    return MeshReason(Verdict.ALLOW, detail, None, None, a.origin)


def _server_reason(policy: PortPolicy) -> MeshReason:
    if policy.skipped:
        return MeshReason(Verdict.ALLOW, MeshDetail(MeshCause.LINKERD_SKIPPED))
    server = policy.server
    if server is None:
        detail = MeshDetail(
            MeshCause.LINKERD_SERVER,
            protocol=policy.protocol.value,
            mode=policy.default.value,
            scope=policy.default_source,
        )
        return MeshReason(Verdict.ALLOW, detail)
    mode = server.access_policy.value if server.access_policy is not None else ""
    detail = MeshDetail(
        MeshCause.LINKERD_SERVER, protocol=server.protocol.value, mode=mode, server=server.ref
    )
    return MeshReason(Verdict.ALLOW, detail, None, None, server.origin)


def linkerd_evaluate(
    index: LinkerdIndex, src: Pod | str, dst: Pod, port: int
) -> tuple[MeshVerdict, list[MeshReason]]:
    """The verdict on a TCP request to `port` of `dst` (in Linkerd's mesh), with reasons:
    the Server or default, then each authorization that admits the client (at the Server,
    or on routes), or the denial naming what applies."""
    policy = index.port_policy(dst, port)
    reasons = [_server_reason(policy)]
    if policy.skipped:
        return MeshVerdict(True), reasons
    client = client_of(index, src)
    server_hits = [a for a in policy.authorizations if admits(index, a, client)]
    route_hits = [[a for a in r.authorizations if admits(index, a, client)] for r in policy.routes]
    probe_hits = (
        [a for a in policy.probe.authorizations if admits(index, a, client)]
        if policy.probe is not None
        else []
    )
    verdict = assemble(
        policy, bool(server_hits), tuple(bool(h) for h in route_hits), bool(probe_hits)
    )
    reasons += [_admitted(a, client) for a in server_hits]
    for route, hits in zip(policy.routes, route_hits, strict=True):
        reasons += [_admitted(a, client, (route_clause(policy, route),)) for a in hits]
    if policy.probe is not None and not server_hits:
        reasons += [_admitted(a, client, (route_clause(policy, policy.probe),)) for a in probe_hits]
    if not verdict.allowed:
        refs = [
            f"{a.kind} {a.ref}"
            for a in (*policy.authorizations, *(a for r in policy.routes for a in r.authorizations))
        ]
        detail = MeshDetail(
            MeshCause.LINKERD_DENIED,
            principal=client.identity if client.meshed else None,
            policies=tuple(dict.fromkeys(refs)),
            server=policy.server.ref if policy.server is not None else "",
            mode=policy.default.value if policy.server is None else "",
        )
        reasons.append(MeshReason(Verdict.DENY, detail))
    return verdict, reasons
