"""`microseg audit`: every analysis once, their findings and checks together, the
frameworks assessed on them, scores, the trend, and the data of the report's pictures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from microseg.analyses.audit.findings import Check, Finding, Severity
from microseg.analyses.audit.frameworks import FrameworkResult, assess, load_framework
from microseg.analyses.audit.identity import audit_identity
from microseg.analyses.audit.network import NamespaceGraph, audit_network
from microseg.analyses.audit.pods import AuditedWorkload, Locate, audit_pods
from microseg.analyses.audit.rbac import Permissions, RbacIndex
from microseg.analyses.audit.rbac_findings import PowerRow, audit_rbac
from microseg.analyses.audit.score import Baseline, Score, Trend, scores, trend
from microseg.analyses.exposure import compute_exposure
from microseg.analyses.verify import verify
from microseg.engine import Connectivity, WorkloadGraph
from microseg.model.guardrails import GuardrailSet
from microseg.model.intent import IntentSet
from microseg.model.rbac import AuditEvent, SubjectKind

__all__ = ["AuditOptions", "AuditReport", "run_audit"]


@dataclass(frozen=True, slots=True)
class AuditOptions:
    frameworks: tuple[str, ...] = ()
    """Framework file ids (`pci-dss-4`, `cis-1.12`)."""
    tenant_label: str = "tenant"
    max_hops: int = 2


@dataclass(frozen=True, slots=True)
class AuditReport:
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...]
    frameworks: tuple[FrameworkResult, ...]
    overall: Score
    namespaces: tuple[Score, ...]
    graph: NamespaceGraph
    power: tuple[PowerRow, ...]
    available: frozenset[str]
    pss: str
    trend: Trend | None = None
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    pss_violations: dict[str, int] = field(default_factory=dict)
    permissions: tuple[Permissions, ...] = ()
    """Every subject's effective RBAC grants (RbacAudit.permissions)."""


def run_audit(
    conn: Connectivity,
    workloads: list[AuditedWorkload],
    locate: Locate,
    *,
    guardrails: GuardrailSet | None = None,
    intents: IntentSet | None = None,
    events: tuple[AuditEvent, ...] | None = None,
    baseline: Baseline | None = None,
    options: AuditOptions = AuditOptions(),
) -> AuditReport:
    timings: dict[str, float] = {}
    start = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal start
        now = time.perf_counter()
        timings[name] = round(now - start, 4)
        start = now

    cluster = conn.cluster
    graph = WorkloadGraph.build(conn)
    lap("graph")
    exposure = compute_exposure(conn, graph)
    lap("exposure")
    verification = verify(conn, intents, graph) if intents is not None else None
    lap("verify")
    net = audit_network(conn, graph, exposure, verification, options.tenant_label, options.max_hops)
    lap("network")
    ident = audit_identity(conn)
    lap("identity")
    index = RbacIndex(cluster.rbac)
    granted = (
        {
            (s.namespace, s.name)
            for s, bindings in index.by_subject.items()
            if s.kind is SubjectKind.SERVICE_ACCOUNT
            and any(index.role_of(b) is not None for b in bindings)
        }
        if cluster.rbac
        else None
    )
    pods = audit_pods(cluster, workloads, guardrails, locate, granted)
    lap("pods")
    findings = list(net.findings + ident.findings + pods.findings)
    checks = list(net.checks + ident.checks + pods.checks)
    power: tuple[PowerRow, ...] = ()
    permissions: tuple[Permissions, ...] = ()
    if cluster.rbac:
        rbac = audit_rbac(cluster, events, pods.mounts)
        findings += rbac.findings
        checks += rbac.checks
        power = rbac.power
        permissions = rbac.permissions
    lap("rbac")
    available = {"workloads"} if cluster.workloads else set()
    if cluster.rbac:
        available.add("rbac")
    if intents is not None:
        available.add("intents")
    if ident.mesh:
        available.add("mesh")
    if pods.registries:
        available.add("registries")
    if events is not None:
        available.add("audit-log")
    if net.tenants:
        available.add("tenants")
    frozen = frozenset(available)
    rank = {s: s.rank for s in Severity}
    findings.sort(key=lambda f: (-rank[f.level], f.code, f.subject))
    all_findings = tuple(findings)
    all_checks = tuple(checks)
    results = tuple(
        assess(load_framework(fid), all_findings, all_checks, frozen) for fid in options.frameworks
    )
    overall, per = scores(all_findings, all_checks)
    lap("frameworks")
    counts = {
        "namespaces": len(cluster.namespaces),
        "workloads": len(cluster.workloads),
        "networkPolicies": len(cluster.policies),
        "roles": len(cluster.rbac.roles),
        "bindings": len(cluster.rbac.bindings),
        "auditEvents": len(events or ()),
    }
    return AuditReport(
        all_findings,
        all_checks,
        results,
        overall,
        tuple(per),
        net.graph,
        power,
        frozen,
        f"{pods.level} {pods.version}",
        trend(baseline, overall, per, all_findings) if baseline is not None else None,
        counts,
        timings,
        pods.violations,
        permissions,
    )
