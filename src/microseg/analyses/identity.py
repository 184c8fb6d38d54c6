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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microseg.engine import Connectivity
from microseg.engine.mesh_match import applies_to, istio_match, mode_source, pod_mesh_mode
from microseg.engine.query import Layer
from microseg.model.mesh import (
    AuthorizationPolicy,
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
    """Principal patterns ALLOW rules grant; `("*",)` when nothing restricts callers."""


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


def _callers(policies: list[AuthorizationPolicy]) -> tuple[str, ...]:
    allows = [p for p in policies if p.action is AuthzAction.ALLOW]
    if not allows:
        return ("*",)
    out: list[str] = []
    for p in allows:
        for rule in p.rules:
            for s in rule.sources if rule.sources is not None else (Source(),):
                if _open_source(s):
                    return ("*",)
                for value in s.principals or ():
                    out.append(value)
                for ns in s.namespaces or ():
                    out.append(f"ns:{ns}")
                for sa in s.service_accounts or ():
                    out.append(f"sa:{sa}")
                if s.ip_blocks or s.remote_ip_blocks:
                    out.append("ipBlocks")
    return tuple(dict.fromkeys(out))


def _mtls(conn: Connectivity, pod: Pod, mode: MeshMode) -> tuple[str, MtlsMode, list[int]]:
    if mode is MeshMode.NONE:
        return "-", MtlsMode.UNSET, []
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
    for w in cluster.workloads:
        index = first_pod.get(w.key)
        if index is None:
            continue
        pod = cluster.pods[index]
        mode = pod_mesh_mode(cluster, pod)
        policies = (
            [p for p in cluster.authorization_policies if applies_to(cluster, p, pod)]
            if mode is not MeshMode.NONE
            else []
        )
        text, base, _ = _mtls(conn, pod, mode)
        rows.append(
            IdentityRow(
                str(w.key),
                pod.service_account,
                spiffe_id(td, pod.namespace, pod.service_account),
                mode,
                text,
                _callers(policies) if mode is not MeshMode.NONE else (),
            )
        )
        if mode is MeshMode.NONE or base is MtlsMode.STRICT:
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
    return IdentityReport(tuple(rows), tuple(findings), td)


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
    if conn.mesh is None:
        return []
    c = conn.n_classes
    tcp = np.array([p is Protocol.TCP for p, _, _ in conn.ports.atoms], dtype=np.bool_)
    net = conn.with_layer(Layer.NETWORK).pod_to_pod()
    mesh = conn.mesh.allow[:, :c, :].transpose(1, 0, 2)
    outside = np.array([m is MeshMode.NONE for m in conn.mesh.modes], dtype=np.bool_)
    inside = ~outside
    blocked = net & ~mesh & tcp[None, None, :]
    blocked &= outside[:, None, None] & inside[None, :, None]
    pairs = np.argwhere(blocked.any(axis=2))
    out = []
    reps = conn.classes.reps
    seen = set()
    for s, d in pairs.tolist():
        src, dst = reps[s], reps[d]
        if mode_source(conn.cluster, dst, 0)[0] is not MtlsMode.STRICT and not any(
            mode_source(conn.cluster, dst, lo)[0] is MtlsMode.STRICT
            for k, (_, lo, _) in enumerate(conn.ports.atoms)
            if blocked[s, d, k]
        ):
            continue
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
