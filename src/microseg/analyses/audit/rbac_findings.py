"""RBAC findings: the dangerous things each subject may do (CIS Kubernetes Benchmark 5.1,
the RBAC good-practices page https://kubernetes.io/docs/concepts/security/rbac-good-
practices/ "Privilege escalation risks"), wildcards, grants to everyone, bindings to
missing roles, default service accounts with permissions, and service accounts holding
more than their workloads use (with an audit log: more than they used).

Kubernetes' own bootstrap objects (named `system:...`, reconciled by the API server) and
the control plane's users and groups (`system:kube-*`, `system:nodes`, ...) are part of
the platform, not of what a cluster's owner grants, and are left out; grants to the groups
that hold everyone (`system:authenticated`, `system:unauthenticated`,
`system:serviceaccounts`) are always counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from microseg.analyses.audit.findings import (
    CODES,
    Check,
    Evidence,
    Finding,
    Patch,
    Remediation,
    Severity,
)
from microseg.analyses.audit.rbac import (
    EVERYONE_GROUPS,
    Grant,
    Permissions,
    RbacIndex,
    Request,
    rule_matches,
)
from microseg.model.cluster import Cluster
from microseg.model.rbac import AuditEvent, Binding, PolicyRule, RbacSubject, SubjectKind

__all__ = ["CAPABILITIES", "Capability", "PowerRow", "RbacAudit", "audit_rbac"]

_BUILTIN_ROLES = frozenset({"cluster-admin", "admin", "edit", "view"})
_MAX_EVIDENCE = 6


@dataclass(frozen=True, slots=True)
class Capability:
    code: str
    what: str
    requests: tuple[Request, ...]


def _reqs(verbs: Iterable[str], group: str, *resources: str) -> tuple[Request, ...]:
    out = []
    for res in resources:
        name, _, sub = res.partition("/")
        out += [Request(v, group, name, sub) for v in verbs]
    return tuple(out)


CAPABILITIES: tuple[Capability, ...] = (
    Capability("AUD-RBAC-003", "read Secrets", _reqs(("get", "list", "watch"), "", "secrets")),
    # Exec and attach through a websocket are GET requests; both verbs are counted.
    Capability(
        "AUD-RBAC-004",
        "exec, attach or port-forward into pods",
        _reqs(("create", "get"), "", "pods/exec", "pods/attach", "pods/portforward"),
    ),
    Capability(
        "AUD-RBAC-005",
        "create pods or workloads (and so run as any service account of the namespace)",
        _reqs(("create",), "", "pods", "replicationcontrollers")
        + _reqs(("create",), "apps", "deployments", "daemonsets", "statefulsets", "replicasets")
        + _reqs(("create",), "batch", "jobs", "cronjobs"),
    ),
    Capability(
        "AUD-RBAC-006",
        "escalate, bind or impersonate",
        _reqs(("escalate", "bind"), "rbac.authorization.k8s.io", "roles", "clusterroles")
        + _reqs(("impersonate",), "", "users", "groups", "serviceaccounts")
        + _reqs(("impersonate",), "authentication.k8s.io", "userextras", "uids"),
    ),
    Capability("AUD-RBAC-007", "use nodes/proxy", _reqs(("get", "create"), "", "nodes/proxy")),
    Capability(
        "AUD-RBAC-008",
        "create service account tokens",
        _reqs(("create",), "", "serviceaccounts/token"),
    ),
    Capability(
        "AUD-RBAC-009", "create PersistentVolumes", _reqs(("create",), "", "persistentvolumes")
    ),
    Capability(
        "AUD-RBAC-010",
        "approve certificate signing requests",
        _reqs(("update", "patch"), "certificates.k8s.io", "certificatesigningrequests/approval"),
    ),
    Capability(
        "AUD-RBAC-011",
        "change admission webhook configurations",
        _reqs(
            ("create", "update", "patch", "delete"),
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class PowerRow:
    """A subject and what it may do: (code, where) pairs, `where` "cluster" or a namespace."""

    subject: str
    score: int
    capabilities: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RbacAudit:
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...]
    power: tuple[PowerRow, ...]
    subjects: int
    used: bool
    """Whether audit events were given (permissions actually used were compared)."""
    permissions: tuple[Permissions, ...] = ()
    """Each subject's effective grants (its own bindings and its groups'), for the review
    of who may do what (Kubernetes' bootstrap bindings, named system:, left out)."""


def _platform(subject: RbacSubject) -> bool:
    if subject.kind is SubjectKind.SERVICE_ACCOUNT:
        return False
    return subject.name.startswith("system:") and subject.name not in (
        *EVERYONE_GROUPS,
        "system:anonymous",
    )


def _owned(grants: Iterable[Grant]) -> list[Grant]:
    return [g for g in grants if not g.binding.name.startswith("system:")]


def _namespace_of(subject: RbacSubject) -> str:
    return subject.namespace if subject.kind is SubjectKind.SERVICE_ACCOUNT else ""


def _is_admin(g: Grant) -> bool:
    r = g.rule
    return "*" in r.verbs and "*" in r.api_groups and "*" in r.resources and not r.resource_names


def _evidence(grants: list[Grant]) -> tuple[Evidence, ...]:
    shown = [
        Evidence(
            f"{g.describe()}: {_rule_text(g.rule)}",
            g.written_in.origin.with_rule(g.rule.index, g.rule.line),
        )
        for g in grants[:_MAX_EVIDENCE]
    ]
    if len(grants) > _MAX_EVIDENCE:
        shown.append(Evidence(f"... and {len(grants) - _MAX_EVIDENCE} more grants"))
    bindings = {g.binding.ref: g.binding for g in grants}
    shown += [Evidence(f"binding {b.kind} {b.ref}", b.origin) for b in list(bindings.values())[:3]]
    return tuple(shown)


def revoke(subjects: Collection[RbacSubject], bindings: Iterable[Binding]) -> tuple[Patch, ...]:
    """Remove `subjects` from each binding that names it: an RFC 6902 JSON patch per entry,
    highest index first so that running them in order removes the right ones, each
    guarded by `test` operations on the entry's kind and name (the patch refuses a binding
    whose subjects changed since the audit). A binding's subjects have no merge key, so a
    strategic merge patch would have to restate the whole list."""
    out: list[Patch] = []
    seen: set[tuple[str, str, str]] = set()
    for b in bindings:
        if (b.kind, b.namespace, b.name) in seen:
            continue
        seen.add((b.kind, b.namespace, b.name))
        for i in sorted((i for i, s in enumerate(b.subjects) if s in subjects), reverse=True):
            subject = b.subjects[i]
            out.append(
                Patch(
                    b.kind,
                    b.namespace,
                    b.name,
                    ("subjects", i),
                    None,
                    b.origin,
                    test=(
                        (("subjects", i, "kind"), subject.kind.value),
                        (("subjects", i, "name"), subject.name),
                    ),
                )
            )
    return tuple(out)


def _via_groups(grants: Iterable[Grant]) -> str:
    groups = sorted({g.via for g in grants if g.via})
    return f" (also granted to its group(s) {', '.join(groups)})" if groups else ""


def _direct(grants: Iterable[Grant]) -> list[Binding]:
    """The bindings that name the subject itself (not one of its groups)."""
    return [g.binding for g in grants if not g.via]


def _rule_text(r: PolicyRule) -> str:
    if r.non_resource_urls:
        return f"verbs [{', '.join(r.verbs)}] on nonResourceURLs [{', '.join(r.non_resource_urls)}]"
    names = f" named [{', '.join(r.resource_names)}]" if r.resource_names else ""
    groups = ", ".join(g or '""' for g in r.api_groups)
    return (
        f"verbs [{', '.join(r.verbs)}] on [{', '.join(r.resources)}]{names} in apiGroups [{groups}]"
    )


def _lower(s: Severity) -> Severity:
    order = list(Severity)
    return order[max(0, order.index(s) - 1)]


def _capability_findings(
    perms: Permissions, checks: list[Check]
) -> tuple[list[Finding], list[tuple[str, str]]]:
    subject = perms.subject
    ns = _namespace_of(subject)
    name = str(subject)
    out: list[Finding] = []
    held: list[tuple[str, str]] = []
    grants = _owned(perms.grants)
    admin = [g for g in grants if _is_admin(g)]
    checks.append(Check("AUD-RBAC-001", name, ns))
    if admin:
        wide = [g for g in admin if g.cluster_wide]
        where = (
            "cluster-wide"
            if wide
            else "in namespace(s) " + ", ".join(sorted({g.namespace for g in admin}))
        )
        out.append(
            Finding(
                "AUD-RBAC-001",
                name,
                ns,
                f"{name} may do anything to every resource {where} (verbs, apiGroups and resources all '*')",
                _evidence(wide or admin),
                Remediation(
                    "Bind a role that lists the verbs and resources this subject needs; remove the "
                    + ", ".join(sorted({f"{g.binding.kind} {g.binding.ref}" for g in admin}))
                    + _via_groups(admin),
                    patches=revoke({subject}, _direct(admin)),
                ),
                None if wide else Severity.HIGH,
            )
        )
        held += [("AUD-RBAC-001", "cluster" if wide else admin[0].namespace)]
    wide_admin = any(g.cluster_wide for g in admin)
    for cap in CAPABILITIES:
        checks.append(Check(cap.code, name, ns))
        hits = [g for g in grants if any(rule_matches(g.rule, r) for r in cap.requests)]
        if not hits:
            continue
        wide = [g for g in hits if g.cluster_wide]
        named_only = all(g.rule.resource_names for g in hits)
        held.append((cap.code, "cluster" if wide else hits[0].namespace))
        if wide_admin:
            continue  # said once, by AUD-RBAC-001, which holds every capability
        where = (
            "cluster-wide"
            if wide
            else "in namespace(s) " + ", ".join(sorted({g.namespace for g in hits}))
        )
        only = " (only the objects named in resourceNames)" if named_only else ""
        severity = None
        if not wide or named_only:
            severity = _lower(CODES[cap.code].severity)
        bindings = sorted({f"{g.binding.kind} {g.binding.ref}" for g in hits})
        out.append(
            Finding(
                cap.code,
                name,
                ns,
                f"{name} may {cap.what} {where}{only}",
                _evidence(wide or hits),
                Remediation(
                    f"Remove these rules from the roles bound to {name}, or bind it to a narrower "
                    f"role instead ({', '.join(bindings)}); the patches take it out of the "
                    "bindings that grant them" + _via_groups(hits),
                    patches=revoke({subject}, _direct(hits)),
                ),
                severity,
            )
        )
    return out, held


def _wildcards(index: RbacIndex, checks: list[Check]) -> list[Finding]:
    out = []
    for role in index.rbac.roles:
        if role.name.startswith("system:") or (role.cluster and role.name in _BUILTIN_ROLES):
            continue
        name = f"{role.kind} {role.ref}"
        checks.append(Check("AUD-RBAC-002", name, role.namespace))
        wild = [
            r
            for r in role.rules
            if "*" in r.verbs
            or "*" in r.resources
            or "*" in r.api_groups
            or "*" in r.non_resource_urls
        ]
        if not wild:
            continue
        out.append(
            Finding(
                "AUD-RBAC-002",
                name,
                role.namespace,
                f"{name} uses '*' in {len(wild)} rule(s): it grants every verb, resource or API "
                "group, including those added later",
                tuple(
                    Evidence(
                        f"rule {r.index}: {_rule_text(r)}", role.origin.with_rule(r.index, r.line)
                    )
                    for r in wild
                ),
                Remediation(
                    "List the verbs, apiGroups and resources the role needs instead of '*'"
                ),
            )
        )
    return out


def _everyone(index: RbacIndex, checks: list[Check]) -> list[Finding]:
    out = []
    broad = {
        *EVERYONE_GROUPS,
        "system:masters",
    }
    for b in index.rbac.bindings:
        if b.name.startswith("system:"):
            continue
        name = f"{b.kind} {b.ref}"
        checks.append(Check("AUD-RBAC-012", name, b.namespace))
        who = [
            str(s)
            for s in b.subjects
            if (s.kind is SubjectKind.GROUP and s.name in broad)
            or (s.kind is SubjectKind.USER and s.name == "system:anonymous")
        ]
        if not who:
            continue
        role = index.role_of(b)
        rules = index.rules_of(role) if role is not None else ()
        out.append(
            Finding(
                "AUD-RBAC-012",
                name,
                b.namespace,
                f"{name} grants {b.role_ref.kind} {b.role_ref.name} ({len(rules)} rule(s)) to "
                f"{', '.join(who)}: "
                + (
                    "system:masters bypasses RBAC altogether; bindings to it are a sign it is in use"
                    if "Group system:masters" in who
                    else "every such user or account holds these permissions"
                ),
                (Evidence(f"subjects of {name}", b.origin),),
                Remediation(
                    f"Bind named users, groups or service accounts instead of {', '.join(who)}",
                    patches=revoke({s for s in b.subjects if str(s) in who}, (b,)),
                ),
            )
        )
    return out


def _missing(index: RbacIndex, checks: list[Check]) -> list[Finding]:
    out = []
    for b in index.rbac.bindings:
        name = f"{b.kind} {b.ref}"
        checks.append(Check("AUD-RBAC-015", name, b.namespace))
    for b in index.missing:
        name = f"{b.kind} {b.ref}"
        out.append(
            Finding(
                "AUD-RBAC-015",
                name,
                b.namespace,
                f"{name} names {b.role_ref.kind} {b.role_ref.name}, which is not in the input: "
                "what it grants cannot be assessed, and creating that role later grants it at once",
                (Evidence(f"roleRef of {name}", b.origin),),
                Remediation(f"Delete {name}, or add the {b.role_ref.kind} to the input"),
            )
        )
    return out


def _combos(rule: PolicyRule) -> list[Request] | None:
    """The requests a rule grants, one per verb, group and resource (None: a wildcard, which
    grants more than any list of requests)."""
    if rule.non_resource_urls:
        if "*" in rule.verbs or any(u.endswith("*") for u in rule.non_resource_urls):
            return None
        return [Request(v, path=u) for v in rule.verbs for u in rule.non_resource_urls]
    if "*" in rule.verbs or "*" in rule.api_groups or any("*" in r for r in rule.resources):
        return None
    out = []
    for v in rule.verbs:
        for g in rule.api_groups:
            for r in rule.resources:
                name, _, sub = r.partition("/")
                out.append(Request(v, g, name, sub))
    return out


def _unused(
    grants: list[Grant], events: list[AuditEvent]
) -> tuple[list[tuple[Grant, str]], dict[tuple[str, str, str], set[str]]]:
    """What the direct grants allow that no allowed event of the subject used (each as the
    grant and a request, or the grant and "'*'" for a wildcard rule), and what it did use:
    (group, resource[/sub], namespace) -> verbs."""
    used: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    seen: set[tuple[str, str, str, str, str, str]] = set()
    for e in events:
        if not e.allowed:
            continue
        res = f"{e.resource}/{e.subresource}" if e.subresource else e.resource
        used[(e.api_group, res or e.path, e.namespace)].add(e.verb)
        seen.add((e.verb, e.api_group, e.resource, e.subresource, e.path, e.namespace))
    out: list[tuple[Grant, str]] = []
    for g in grants:
        combos = _combos(g.rule)
        if combos is None:
            out.append((g, "'*' (wider than any request)"))
            continue
        for req in combos:
            hit = any(
                (verb, group, res, sub, path)
                == (req.verb, req.group, req.resource, req.subresource, req.path)
                and (g.cluster_wide or ns == g.namespace)
                for verb, group, res, sub, path, ns in seen
            )
            if not hit:
                out.append((g, str(req)))
    return out, used


def _least_role(
    subject: RbacSubject, used: dict[tuple[str, str, str], set[str]]
) -> dict[str, object]:
    """A Role in the account's namespace with exactly the requests it made there (one rule
    per API group and resource, verbs sorted)."""
    rules = [
        {"apiGroups": [group], "resources": [res], "verbs": sorted(verbs)}
        for (group, res, ns), verbs in sorted(used.items())
        if ns == subject.namespace and not res.startswith("/")
    ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": f"{subject.name}-used", "namespace": subject.namespace},
        "rules": rules,
    }


def _binding_for(subject: RbacSubject, role: dict[str, object]) -> dict[str, object]:
    """The RoleBinding that gives the least-privilege Role to the account."""
    meta = role["metadata"]
    assert isinstance(meta, dict)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": dict(meta),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": meta["name"]},
        "subjects": [
            {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace}
        ],
    }


def _service_accounts(
    cluster: Cluster,
    index: RbacIndex,
    events: tuple[AuditEvent, ...] | None,
    mounts: dict[tuple[str, str], list[tuple[str, bool]]],
    checks: list[Check],
) -> list[Finding]:
    """AUD-RBAC-013 and AUD-RBAC-014. `mounts`: per (namespace, account), the workloads
    that run as it and whether each mounts its token."""
    out = []
    by_user: dict[str, list[AuditEvent]] = defaultdict(list)
    for e in events or ():
        by_user[e.username].append(e)
    workload_ns = {w.key.namespace for w in cluster.workloads}
    for subject in index.subjects(cluster):
        if subject.kind is not SubjectKind.SERVICE_ACCOUNT:
            continue
        name = str(subject)
        perms = index.permissions(subject)
        direct = [g for g in _owned(perms.grants) if not g.via]
        runs = mounts.get((subject.namespace, subject.name), [])
        if subject.name == "default":
            checks.append(Check("AUD-RBAC-014", name, subject.namespace))
            if direct:
                users = ", ".join(w for w, _ in runs[:5]) or "no workload in the input"
                out.append(
                    Finding(
                        "AUD-RBAC-014",
                        name,
                        subject.namespace,
                        f"the default service account of {subject.namespace} is granted permissions; "
                        f"every pod that names no service account gets them (used by: {users})",
                        _evidence(direct),
                        Remediation(
                            "Create a service account per workload that needs the API, bind the "
                            "roles to it, and remove the bindings of the default account"
                        ),
                    )
                )
        if not direct:
            continue
        checks.append(Check("AUD-RBAC-013", name, subject.namespace))
        why = ""
        role: dict[str, object] | None = None
        evidence = _evidence(direct)
        if events is not None:
            unused, used = _unused(direct, by_user[subject.username])
            if unused:
                requests = sorted({r for _, r in unused})
                why = (
                    f"{len(requests)} permission(s) it holds were never used in the audit log "
                    f"({sum(len(v) for v in used.values())} distinct requests made)"
                )
                evidence = tuple(
                    Evidence(f"unused: {r}", None) for r in requests[:_MAX_EVIDENCE]
                ) + _evidence(
                    sorted({id(g): g for g, _ in unused}.values(), key=lambda g: g.describe())
                )
                role = _least_role(subject, used)
        elif not runs:
            if subject.namespace in workload_ns:
                why = "no workload in the input runs as it"
        elif not any(mounted for _, mounted in runs):
            why = "its workloads (" + ", ".join(w for w, _ in runs[:5]) + ") do not mount its token"
        if why:
            out.append(
                Finding(
                    "AUD-RBAC-013",
                    name,
                    subject.namespace,
                    f"{name} holds permissions beyond what its workloads use: {why}",
                    evidence,
                    Remediation(
                        "Apply the Role and RoleBinding below (the requests the account made), "
                        "then take the account out of its current bindings (the patches)"
                        if role
                        else "Remove the bindings this account does not need",
                        objects=(role, _binding_for(subject, role)) if role else (),
                        patches=revoke({subject}, (g.binding for g in direct)),
                    ),
                )
            )
    return out


def audit_rbac(
    cluster: Cluster,
    events: tuple[AuditEvent, ...] | None,
    mounts: dict[tuple[str, str], list[tuple[str, bool]]],
) -> RbacAudit:
    index = RbacIndex(cluster.rbac)
    checks: list[Check] = []
    findings: list[Finding] = []
    power: list[PowerRow] = []
    subjects = [s for s in index.subjects(cluster) if not _platform(s)]
    effective: list[Permissions] = []
    for subject in subjects:
        perms = index.permissions(subject)
        owned = _owned(perms.grants)
        if owned:
            effective.append(Permissions(subject, tuple(owned)))
        found, held = _capability_findings(perms, checks)
        findings += found
        if held:
            score = sum(
                CODES[code].severity.weight * (2 if where == "cluster" else 1)
                for code, where in held
            )
            power.append(PowerRow(str(subject), score, tuple(held)))
    findings += _wildcards(index, checks)
    findings += _everyone(index, checks)
    findings += _missing(index, checks)
    findings += _service_accounts(cluster, index, events, mounts, checks)
    power.sort(key=lambda p: (-p.score, p.subject))
    return RbacAudit(
        tuple(findings),
        tuple(checks),
        tuple(power),
        len(subjects),
        events is not None,
        tuple(effective),
    )
