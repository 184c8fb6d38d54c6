"""Identity and mesh findings, from `identity_report` (analyses/identity.py): each
workload's mesh membership and effective mTLS mode, AuthorizationPolicy rules that admit
every caller, and service accounts several workloads share (one identity for several
workloads: a policy on principals cannot tell them apart, and a stolen token opens all).

Mesh membership is assessed only when the input has a mesh (Istio security resources,
or a pod already injected, or `--assume-mesh`); otherwise AUD-IDN-001..003 are not
assessable and the frameworks say so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from microseg.analyses.audit.findings import Check, Evidence, Finding, Patch, Remediation
from microseg.analyses.identity import identity_report
from microseg.engine import Connectivity, mode_source
from microseg.model.mesh import MeshMode
from microseg.model.objects import Namespace

__all__ = ["IdentityAudit", "audit_identity"]


@dataclass(frozen=True, slots=True)
class IdentityAudit:
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...]
    mesh: bool


def _strict_patch_policy(ns: str) -> dict[str, object]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": ns},
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def _enrol(ns: str, namespace: Namespace | None) -> tuple[Patch, ...]:
    """The namespace label that has Istio inject its sidecar into new pods
    (https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/); none for a
    namespace a revision label (istio.io/rev) already names, where the revision decides."""
    if namespace is not None and "istio.io/rev" in namespace.labels:
        return ()
    return (
        Patch(
            "Namespace",
            "",
            ns,
            ("metadata", "labels", "istio-injection"),
            "enabled",
            namespace.origin if namespace is not None else None,
        ),
    )


def audit_identity(conn: Connectivity) -> IdentityAudit:
    cluster = conn.cluster
    report = identity_report(conn)
    mesh = (
        cluster.has_mesh
        or cluster.mesh.assume_mesh
        or any(r.mesh is not MeshMode.NONE for r in report.rows)
    )
    findings: list[Finding] = []
    checks: list[Check] = []
    origins = {str(w.key): w.origin for w in cluster.workloads}
    pas = {pa.ref: pa for pa in cluster.peer_authentications}
    namespaces = {n.name: n for n in cluster.namespaces}
    if mesh:
        pods = {str(p.workload): p for p in cluster.pods}
        for row in report.rows:
            ns = row.workload.split("/", 1)[0]
            checks.append(Check("AUD-IDN-001", row.workload, ns))
            if row.mesh is MeshMode.NONE:
                findings.append(
                    Finding(
                        "AUD-IDN-001",
                        row.workload,
                        ns,
                        "outside the mesh: no workload identity, no mTLS, no AuthorizationPolicy applies",
                        (
                            Evidence(
                                "no sidecar and not in an ambient namespace",
                                origins.get(row.workload),
                            ),
                        ),
                        Remediation(
                            f"Label namespace {ns} istio-injection=enabled (or "
                            "istio.io/dataplane-mode=ambient) and restart the workload",
                            patches=_enrol(ns, namespaces.get(ns)),
                        ),
                    )
                )
                continue
            checks.append(Check("AUD-IDN-002", row.workload, ns))
            base = row.mtls.split(";", 1)[0].strip()
            if base == "STRICT":
                continue
            pod = pods.get(row.workload)
            source = mode_source(cluster, pod, 0, row.mesh)[1] if pod is not None else ""
            pa = pas.get(source)
            findings.append(
                Finding(
                    "AUD-IDN-002",
                    row.workload,
                    ns,
                    f"accepts plaintext: mTLS is {row.mtls}"
                    + (
                        f" (set by PeerAuthentication {source})"
                        if source
                        else " (Istio's default, PERMISSIVE)"
                    ),
                    (
                        Evidence(
                            f"PeerAuthentication {source}"
                            if source
                            else "no PeerAuthentication applies",
                            pa.origin if pa is not None else None,
                        ),
                    ),
                    Remediation(
                        f"Apply a STRICT PeerAuthentication to namespace {ns} once every caller is in the mesh",
                        objects=(_strict_patch_policy(ns),),
                    ),
                )
            )
        rules = {
            f"{p.ref} rule {r.index}": r for p in cluster.authorization_policies for r in p.rules
        }
        for p in cluster.authorization_policies:
            for r in p.rules:
                checks.append(Check("AUD-IDN-003", f"{p.ref} rule {r.index}", p.namespace))
        for f in report.findings:
            if f.code != "allow-any-principal":
                continue
            rule = rules.get(f.subject)
            ns = f.subject.split("/", 1)[0]
            findings.append(
                Finding(
                    "AUD-IDN-003",
                    f.subject,
                    ns,
                    f"AuthorizationPolicy {f.subject}: {f.message}",
                    (
                        Evidence(
                            "rule without from.source principals, namespaces or ipBlocks",
                            rule.origin if rule else None,
                        ),
                    ),
                    Remediation(
                        "Name the callers: from.source.principals (cluster.local/ns/<ns>/sa/<account>) "
                        "or namespaces"
                    ),
                )
            )
    by_account: dict[tuple[str, str], list[str]] = defaultdict(list)
    for w in cluster.workloads:
        by_account[(w.key.namespace, w.service_account)].append(str(w.key))
    for (ns, sa), names in sorted(by_account.items()):
        checks.append(Check("AUD-IDN-004", f"ServiceAccount {ns}/{sa}", ns))
        if len(names) < 2:
            continue
        findings.append(
            Finding(
                "AUD-IDN-004",
                f"ServiceAccount {ns}/{sa}",
                ns,
                f"{len(names)} workloads share service account {ns}/{sa}: one identity, so "
                "principals, RBAC and a stolen token cannot tell them apart",
                tuple(Evidence(f"{n} runs as {sa}", origins.get(n)) for n in names[:8]),
                Remediation("Give each workload its own ServiceAccount (spec.serviceAccountName)"),
            )
        )
    return IdentityAudit(tuple(findings), tuple(checks), mesh)
