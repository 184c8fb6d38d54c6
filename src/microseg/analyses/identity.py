"""Workload identity: who each workload is (service account, SPIFFE ID), whether it is in
the mesh, how its ports take mTLS, which principals may call it, and what looks wrong.

Findings and the documents behind them:
- `mtls-not-strict`: an in-mesh workload accepts plaintext (PERMISSIVE or DISABLE) although
  its namespace is expected strict (`--expect-strict`), a wider scope says STRICT, or an
  AuthorizationPolicy on it matches principals or namespaces, fields that only mTLS traffic
  carries (istio.io ISTIO-SECURITY-2021-004: with plaintext they compare against an empty
  value, so `not...` rules let plaintext through).
- `allow-any-principal`: an ALLOW rule that names no source identity, address or namespace,
  so every caller matches it.
- `unknown-principal`: a principal pattern that matches no service account in the input
  (a typo, or an account that no longer exists).
- `plaintext-caller`: a workload outside the mesh that NetworkPolicy lets reach an in-mesh
  workload on a port the mesh rejects for it (STRICT mTLS): the call will fail.
- `spiffe-mismatch`, `shared-cloud-identity`, `inactive-cloud-identity`: identity sources
  beside the meshes (analyses/identity_sources.py).

Linkerd's workloads (https://linkerd.io/2/reference/authorization-policy/) show their
identity `<sa>.<ns>.serviceaccount.identity.<control plane ns>.<trust domain>`, their
default inbound policy and where it comes from, and the identities Linkerd lets call them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.identity_sources import (
    CloudIdentity,
    SpireId,
    cloud_identities,
    spire_ids,
)
from microseg.engine import (
    Connectivity,
    Layer,
    LinkerdIndex,
    applies_to,
    effective_mode,
    istio_match,
    mode_source,
    pod_mesh_mode,
)
from microseg.model.mesh import (
    AuthzAction,
    MeshMode,
    MtlsMode,
    Source,
    principal,
    spiffe_id,
)
from microseg.model.objects import Pod, WorkloadKey
from microseg.model.sets import ConnSet, Protocol

__all__ = ["Finding", "IdentityReport", "IdentityRow", "identity_report"]


@dataclass(frozen=True, slots=True)
class IdentityRow:
    workload: str
    service_account: str
    spiffe_id: str
    mesh: MeshMode
    mtls: str
    """`STRICT`, or `PERMISSIVE; 8080 DISABLE` when ports differ; `-` outside the mesh."""
    callers: tuple[str, ...]
    """Principals the mesh lets call it on some TCP port, and `plaintext` for callers
    outside the mesh; `("*",)` when every source may."""
    mesh_identity: str = ""
    """The identity its mesh gives it: Istio's SPIFFE ID, Linkerd's identity; "" outside."""
    spire: tuple[SpireId, ...] = ()
    cloud: tuple[CloudIdentity, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    subject: str
    message: str
    location: str = ""
    conns: ConnSet | None = None
    """The connections concerned, where a finding is about some ports."""


@dataclass(frozen=True, slots=True)
class IdentityReport:
    rows: tuple[IdentityRow, ...]
    findings: tuple[Finding, ...]
    trust_domain: str


def _open_source(s: Source) -> bool:
    return all(
        getattr(s, f) is None
        for f in ("principals", "namespaces", "service_accounts", "ip_blocks", "remote_ip_blocks")
    ) and all(
        getattr(s, f) is None
        for f in (
            "not_principals",
            "not_namespaces",
            "not_service_accounts",
            "not_ip_blocks",
            "not_remote_ip_blocks",
        )
    )


def _callers(conn: Connectivity, tcp: npt.NDArray[np.bool_]) -> list[tuple[str, ...]]:
    """Per class: who the mesh lets call it on some TCP port, read from the engine's mesh
    table, so DENY policies, `not...` fields, HTTP-only rules on TCP ports and mTLS modes
    count exactly as the verdicts do. `("*",)`: every source; otherwise the principals of
    the in-mesh classes allowed, sorted, and `plaintext` when a caller outside the mesh or
    an external address is (maybe on conditions) allowed."""
    c = conn.n_classes
    if conn.mesh is None:
        return [("*",)] * c
    td = conn.cluster.mesh.trust_domain
    reps = conn.classes.reps
    modes = conn.mesh.modes
    linkerd = LinkerdIndex(conn.cluster) if MeshMode.LINKERD in modes else None
    extra = [True] * (conn.mesh.allow.shape[1] - c)
    # Who is a plaintext caller depends on the destination's mesh: to Istio, any source
    # outside Istio; to Linkerd, any source outside Linkerd.
    plain_istio = np.array([not m.istio for m in modes] + extra, dtype=np.bool_)
    plain_linkerd = np.array([m is not MeshMode.LINKERD for m in modes] + extra, dtype=np.bool_)
    reached: npt.NDArray[np.bool_] = np.asarray(conn.mesh.allow[:, :, tcp].any(axis=2))
    out: list[tuple[str, ...]] = []
    for d in range(c):
        row = reached[d]
        if row.all():
            out.append(("*",))
            continue
        plain_cols = plain_linkerd if modes[d] is MeshMode.LINKERD else plain_istio
        names = sorted(
            {
                linkerd.identity(reps[s])
                if linkerd is not None and modes[d] is MeshMode.LINKERD
                else principal(td, reps[s].namespace, reps[s].service_account)
                for s in np.flatnonzero(row[:c])
                if not plain_cols[s]
            }
        )
        if (row & plain_cols).any():
            names.append("plaintext")
        out.append(tuple(names))
    return out


def _mtls(conn: Connectivity, pod: Pod, mode: MeshMode) -> tuple[str, MtlsMode, list[int]]:
    if mode is MeshMode.NONE:
        return "-", MtlsMode.UNSET, []
    if mode is MeshMode.LINKERD:
        # Linkerd's mTLS is always on between its proxies; what plaintext gets is the
        # default inbound policy's (or a Server's) business.
        policy, source = LinkerdIndex(conn.cluster).default_of(pod)
        return f"default {policy.value} ({source})", MtlsMode.UNSET, []
    base, _ = mode_source(conn.cluster, pod, 0, mode)
    ports = sorted({p for pa in conn.cluster.peer_authentications for p, _ in pa.port_modes})
    extra = []
    for port in ports:
        m, _ = mode_source(conn.cluster, pod, port, mode)
        if m is not base:
            extra.append(f"{port} {m.value}")
    text = "; ".join([base.value, *extra])
    return text, base, ports


def identity_report(conn: Connectivity, expect_strict: tuple[str, ...] = ()) -> IdentityReport:
    cluster = conn.cluster
    td = cluster.mesh.trust_domain
    rows: list[IdentityRow] = []
    findings: list[Finding] = []
    first_pod: dict[WorkloadKey, int] = {}
    for k, p in enumerate(cluster.pods):
        first_pod.setdefault(p.workload, k)
    tcp = np.array([p is Protocol.TCP for p, _, _ in conn.ports.atoms], dtype=np.bool_)
    callers = _callers(conn, tcp)
    linkerd = LinkerdIndex(cluster) if cluster.has_linkerd else None
    for w in cluster.workloads:
        index = first_pod.get(w.key)
        if index is None:
            continue
        pod = cluster.pods[index]
        klass = int(conn.classes.pod_class[index])
        mode = conn.mesh.modes[klass] if conn.mesh is not None else pod_mesh_mode(cluster, pod)
        policies = (
            [p for p in cluster.authorization_policies if applies_to(cluster, p, pod)]
            if mode.istio
            else []
        )
        text, base, _ = _mtls(conn, pod, mode)
        spiffe = spiffe_id(td, pod.namespace, pod.service_account)
        mesh_identity = ""
        if mode.istio:
            mesh_identity = spiffe
        elif mode is MeshMode.LINKERD and linkerd is not None:
            mesh_identity = linkerd.identity(pod)
        rows.append(
            IdentityRow(
                str(w.key),
                pod.service_account,
                spiffe,
                mode,
                text,
                callers[klass] if mode is not MeshMode.NONE else (),
                mesh_identity,
                spire_ids(cluster, pod),
                cloud_identities(cluster, pod),
            )
        )
        if not mode.istio or base is MtlsMode.STRICT:
            continue
        why = ""
        if pod.namespace in expect_strict:
            why = f"namespace {pod.namespace} is expected to be strict"
        elif any(
            s.principals or s.not_principals or s.namespaces or s.not_namespaces
            for p in policies
            for r in p.rules
            for s in r.sources or ()
        ):
            why = "its AuthorizationPolicies match principals or namespaces, which plaintext never carries"
        elif any(
            pa.mode is MtlsMode.STRICT
            and not pa.selector
            and pa.namespace in (pod.namespace, cluster.mesh.root_namespace)
            for pa in cluster.peer_authentications
        ):
            why = "it overrides a STRICT namespace- or mesh-wide PeerAuthentication"
        if why:
            findings.append(
                Finding("mtls-not-strict", str(w.key), f"accepts plaintext ({base.value}): {why}")
            )
    findings += _rule_findings(conn)
    findings += _plaintext_callers(conn)
    findings += _source_findings(rows)
    return IdentityReport(tuple(rows), tuple(findings), td)


def _source_findings(rows: list[IdentityRow]) -> list[Finding]:
    """SPIRE IDs that are not what Istio expects; cloud identities shared across namespaces
    or bound where the pod cannot use them (analyses/identity_sources.py)."""
    out: list[Finding] = []
    users: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        for sid in r.spire:
            if r.mesh.istio and sid.exact and sid.spiffe_id != r.spiffe_id:
                out.append(
                    Finding(
                        "spiffe-mismatch",
                        r.workload,
                        f"SPIRE registers {sid.spiffe_id} (ClusterSPIFFEID {sid.source}), "
                        f"but Istio authorizes it as {r.spiffe_id}",
                    )
                )
        for cloud in r.cloud:
            if not cloud.active:
                out.append(
                    Finding(
                        "inactive-cloud-identity",
                        r.workload,
                        f"service account {r.service_account} is bound to {cloud.provider} "
                        f"{cloud.value}, but the pods lack the label "
                        'azure.workload.identity/use: "true"; they get no token',
                    )
                )
                continue
            users.setdefault((cloud.provider, cloud.value), set()).add(r.workload)
    for (provider, value), workloads in sorted(users.items()):
        namespaces = sorted({w.split("/", 1)[0] for w in workloads})
        if len(namespaces) > 1:
            out.append(
                Finding(
                    "shared-cloud-identity",
                    f"{provider}:{value}",
                    f"bound to workloads of {len(namespaces)} namespaces "
                    f"({', '.join(sorted(workloads))}): one cloud identity joins them",
                )
            )
    return out


def _rule_findings(conn: Connectivity) -> list[Finding]:
    cluster = conn.cluster
    td = cluster.mesh.trust_domain
    accounts = {(p.namespace, p.service_account) for p in cluster.pods}
    accounts |= {(a.namespace, a.name) for a in cluster.service_accounts}
    known = [principal(td, ns, sa) for ns, sa in sorted(accounts)]
    out: list[Finding] = []
    for policy in cluster.authorization_policies:
        for rule in policy.rules:
            where = rule.origin.location()
            subject = f"{policy.ref} rule {rule.index}"
            sources = rule.sources if rule.sources is not None else (Source(),)
            if policy.action is AuthzAction.ALLOW and any(_open_source(s) for s in sources):
                out.append(
                    Finding(
                        "allow-any-principal",
                        subject,
                        "ALLOW rule names no source principal, namespace or address: every caller matches",
                        where,
                    )
                )
            for s in sources:
                for pattern in (s.principals or ()) + (s.not_principals or ()):
                    if pattern != "*" and not any(istio_match(pattern, k) for k in known):
                        out.append(
                            Finding(
                                "unknown-principal",
                                subject,
                                f"principal {pattern!r} matches no service account in the input",
                                where,
                            )
                        )
    return out


def _plaintext_callers(conn: Connectivity) -> list[Finding]:
    """Pairs NetworkPolicy connects where the destination's STRICT mTLS rejects a source
    outside the mesh; only the ports whose effective mode is STRICT count, so a port the
    mesh closes by AuthorizationPolicy alone is not blamed on mTLS."""
    if conn.mesh is None:
        return []
    c = conn.n_classes
    atoms = conn.ports.atoms
    tcp = np.array([p is Protocol.TCP for p, _, _ in atoms], dtype=np.bool_)
    net = conn.with_layer(Layer.NETWORK).pod_to_pod()
    mesh = conn.mesh.allow[:, :c, :].transpose(1, 0, 2)
    modes = conn.mesh.modes
    # Istio's STRICT mode only: Linkerd pods are plaintext callers to Istio's.
    outside = np.array([not m.istio for m in modes], dtype=np.bool_)
    inside = ~outside
    # [dst class, atom]: the effective mode there is STRICT. A port no PeerAuthentication
    # names takes its policies' own mode (port 0 stands for it); the named ones are atoms
    # of their own (engine.mesh cuts port atoms there), each looked up once.
    reps = conn.classes.reps
    named = {p for pa in conn.cluster.peer_authentications for p, _ in pa.port_modes}
    special = [
        k for k, (pr, lo, hi) in enumerate(atoms) if pr is Protocol.TCP and lo == hi and lo in named
    ]
    strict = np.zeros((c, len(atoms)), dtype=np.bool_)
    for d in np.flatnonzero(inside).tolist():
        dst = reps[d]
        if effective_mode(conn.cluster, dst, 0, modes[d]) is MtlsMode.STRICT:
            strict[d] = tcp
        for k in special:
            lo = atoms[k][1]
            strict[d, k] = effective_mode(conn.cluster, dst, lo, modes[d]) is MtlsMode.STRICT
    blocked = net & ~mesh & strict[None, :, :]
    blocked &= outside[:, None, None] & inside[None, :, None]
    pairs = np.argwhere(blocked.any(axis=2))
    out = []
    seen = set()
    for s, d in pairs.tolist():
        src, dst = reps[s], reps[d]
        key = (str(src.workload), str(dst.workload))
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Finding(
                "plaintext-caller",
                key[0],
                f"NetworkPolicy lets it reach {key[1]}, but it is outside the mesh and "
                f"{key[1]} rejects its plaintext (STRICT mTLS)",
                conns=conn.ports.to_connset(blocked[s, d]),
            )
        )
    return out
