"""Pod security findings, through the guardrails' own checks (one implementation): the Pod
Security Standards (`evaluate_pod_security`, restricted at the latest version unless the
guardrail file asks for another level or version), images, limits, a read-only root
filesystem and the service account token (`pod_findings` with the guardrail file's rules,
or with defaults that need no file: limits on cpu and memory, the `latest` tag refused).
Approved registries exist only in a guardrail file: without one, AUD-POD-013 is not
assessed (frameworks.py says so).

Each workload is judged once, on its top owner's object (a Deployment, not its
ReplicaSets and Pods), and each violation points at its field's line.

"Token mounted without need": the token is mounted (`automountServiceAccountToken` not
false on the pod, nor on its ServiceAccount when the pod leaves it unset; Kubernetes
"Configure Service Accounts for Pods") while the account holds no RBAC permission of its
own (no binding names it). Without RBAC objects in the input the need cannot be judged and
every mounted token counts, unless annotated as needed (the guardrail rule's annotation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from microseg.analyses.audit.findings import Check, Evidence, Finding, Patch, Remediation
from microseg.analyses.guardrails import Level, evaluate_pod_security
from microseg.analyses.guardrails.findings import Finding as GuardrailFinding
from microseg.analyses.guardrails.pods import pod_findings
from microseg.errors import Origin
from microseg.model.cluster import Cluster
from microseg.model.guardrails import (
    PSS_LATEST,
    GuardrailSet,
    ImageRule,
    PodSecurityRule,
    ReadOnlyRootRule,
    ResourcesRule,
    Rule,
    ServiceAccountTokenRule,
)
from microseg.model.podspec import FieldPath, WorkloadObject

__all__ = ["AuditedWorkload", "Locate", "PodAudit", "audit_pods", "token_mounted"]

Locate = Callable[[WorkloadObject, FieldPath], int | None]
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"

_PSS_CODES = {
    "privileged": "AUD-POD-001",
    "allowPrivilegeEscalation": "AUD-POD-005",
    "runAsNonRoot": "AUD-POD-006",
    "runAsUser": "AUD-POD-006",
    "capabilities_baseline": "AUD-POD-007",
    "capabilities_restricted": "AUD-POD-007",
    "hostPathVolumes": "AUD-POD-008",
    "hostPorts": "AUD-POD-009",
    "windowsHostProcess": "AUD-POD-010",
    "seccompProfile_baseline": "AUD-POD-011",
    "seccompProfile_restricted": "AUD-POD-011",
}
_HOST_NS = {"hostPID": "AUD-POD-002", "hostIPC": "AUD-POD-003", "hostNetwork": "AUD-POD-004"}
_RULE_CODES = {
    "registry": "AUD-POD-013",
    "tag": "AUD-POD-014",
    "untagged": "AUD-POD-014",
    "limits": "AUD-POD-015",
    "readOnlyRootFilesystem": "AUD-POD-016",
}
# The safe value of a field, by its name: the patch that fixes a violation there.
_SAFE: dict[str, object] = {
    "privileged": False,
    "hostPID": False,
    "hostIPC": False,
    "hostNetwork": False,
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "automountServiceAccountToken": False,
    "seccompProfile": {"type": "RuntimeDefault"},
    "drop": ["ALL"],
    "hostPort": None,
    "procMount": "Default",
}
_ALWAYS_CODES = (
    *dict.fromkeys([*_PSS_CODES.values(), *_HOST_NS.values()]),
    "AUD-POD-012",
    "AUD-POD-014",
    "AUD-POD-015",
    "AUD-POD-016",
    "AUD-POD-017",
)


@dataclass(frozen=True, slots=True)
class AuditedWorkload:
    """A workload's own object (`name` is `ns/name[Kind]`) as the guardrails read it."""

    name: str
    obj: WorkloadObject
    secret_env: tuple[tuple[FieldPath, str, str], ...] = ()
    """(field path, container, Secret) of each environment variable a Secret fills."""


@dataclass(frozen=True, slots=True)
class PodAudit:
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...]
    level: str
    version: str
    registries: bool
    """Whether approved registries were given (a guardrail file with an images rule)."""
    mounts: dict[tuple[str, str], list[tuple[str, bool]]]
    """Per (namespace, service account): the workloads running as it and whether each
    mounts its token (for the RBAC findings)."""
    violations: dict[str, int]
    """Pod Security Standards violations per namespace (for the report's chart)."""


def _default_rules(guardrails: GuardrailSet | None) -> list[Rule]:
    rules = list(guardrails.rules) if guardrails is not None else []
    kinds = {type(r.check) for r in rules}
    if ImageRule not in kinds:
        rules.append(Rule("audit-images", ImageRule()))
    if ResourcesRule not in kinds:
        rules.append(Rule("audit-limits", ResourcesRule(limits=("cpu", "memory"))))
    if ReadOnlyRootRule not in kinds:
        rules.append(Rule("audit-read-only-root", ReadOnlyRootRule()))
    if ServiceAccountTokenRule not in kinds:
        rules.append(Rule("audit-token", ServiceAccountTokenRule()))
    return [r for r in rules if not isinstance(r.check, PodSecurityRule)]


def token_mounted(obj: WorkloadObject, sa_automount: bool | None) -> bool:
    pod = obj.pod.automount_token
    return pod is True or (pod is None and sa_automount is not False)


_CONTAINER_GROUPS = frozenset({"containers", "initContainers", "ephemeralContainers"})


def merge_keys(obj: WorkloadObject, path: FieldPath) -> tuple[tuple[int, str, object], ...]:
    """The merge key of each container on `path` (`name`, the Kubernetes API's
    patchMergeKey for containers). An index it cannot key (a port: its merge key is not
    unique without the protocol) is left out, and the patch is then a JSON patch, which
    is safe for what it does there (remove a field that is set)."""
    keys: list[tuple[int, str, object]] = []
    for i, step in enumerate(path):
        if not isinstance(step, int) or i == 0:
            continue
        parent = path[i - 1]
        if parent in _CONTAINER_GROUPS:
            container = next(
                (c for c in obj.pod.containers if c.group == parent and c.index == step), None
            )
            if container is not None and container.name:
                keys.append((i, "name", container.name))
    return tuple(keys)


def _patch(obj: WorkloadObject, path: FieldPath, origin: Origin) -> tuple[Patch, ...]:
    if not path or not isinstance(path[-1], str) or path[-1] not in _SAFE:
        return ()
    return (
        Patch(
            obj.kind,
            obj.namespace,
            obj.name,
            path,
            _SAFE[path[-1]],
            origin,
            keys=merge_keys(obj, path),
        ),
    )


def _pss(
    w: AuditedWorkload, level: Level, version: tuple[int, int], locate: Locate
) -> list[Finding]:
    out = []
    for v in evaluate_pod_security(w.obj.pod, level, version):
        code = _PSS_CODES.get(v.control, "AUD-POD-012")
        if v.control == "hostNamespaces":
            code = _HOST_NS.get(str(v.path[-1]), "AUD-POD-012")
        if v.control == "restrictedVolumes" and v.path[-1] == "hostPath":
            code = "AUD-POD-008"
        origin = _at(w.obj, v.path, locate)
        out.append(
            Finding(
                code,
                w.name,
                w.obj.namespace,
                f"{v.message} [Pod Security Standards {v.level.value}: {v.title}]",
                (Evidence(_dotted(v.path), origin),),
                Remediation(
                    f"Meet the {level.value} profile's {v.title} control",
                    patches=_patch(w.obj, v.path, origin),
                ),
            )
        )
    return out


def _dotted(path: FieldPath) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def _at(obj: WorkloadObject, path: FieldPath, locate: Locate) -> Origin:
    return obj.origin.with_rule(0, locate(obj, path)) if path else obj.origin


def _rule_findings(
    w: AuditedWorkload, rules: list[Rule], locate: Locate, need: bool | None, sa_auto: bool | None
) -> list[Finding]:
    out = []
    for rule in rules:
        if isinstance(rule.check, ServiceAccountTokenRule):
            if not token_mounted(w.obj, sa_auto):
                continue
            hits: list[GuardrailFinding] = pod_findings(rule, w.obj, None)
            if need is True or not hits:
                continue
            why = (
                f"its service account {w.obj.namespace}/{w.obj.pod.service_account} holds no RBAC "
                "permission of its own"
                if need is False
                else "no annotation says the API token is needed"
            )
            path = hits[0].path
            origin = _at(w.obj, path, locate)
            out.append(
                Finding(
                    "AUD-POD-017",
                    w.name,
                    w.obj.namespace,
                    f"pods mount the service account token, and {why}",
                    (Evidence(_dotted(path) or "spec.automountServiceAccountToken", origin),),
                    Remediation(
                        "Set automountServiceAccountToken: false on the pod template",
                        patches=(
                            Patch(w.obj.kind, w.obj.namespace, w.obj.name, path, False, origin),
                        ),
                    ),
                )
            )
            continue
        for f in pod_findings(rule, w.obj, None):
            code = _RULE_CODES.get(f.control)
            if code is None:
                continue
            origin = _at(w.obj, f.path, locate)
            out.append(
                Finding(
                    code,
                    w.name,
                    w.obj.namespace,
                    f.message,
                    (Evidence(_dotted(f.path), origin),),
                    Remediation(_FIX[code], patches=_patch(w.obj, f.path, origin)),
                )
            )
    return out


_FIX = {
    "AUD-POD-013": "Pull the image from an approved registry (mirror it there first)",
    "AUD-POD-014": "Pin the image to a version tag or, better, a digest (@sha256:...)",
    "AUD-POD-015": "Set resources.limits for cpu and memory on each container",
    "AUD-POD-016": "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the app writes",
}


def _pss_choice(guardrails: GuardrailSet | None) -> tuple[Level, tuple[int, int]]:
    for r in guardrails.rules if guardrails is not None else ():
        if isinstance(r.check, PodSecurityRule):
            return Level(r.check.level), r.check.version
    return Level.RESTRICTED, PSS_LATEST


def _namespaces(
    cluster: Cluster, workloads: list[AuditedWorkload], checks: list[Check]
) -> list[Finding]:
    out = []
    used = sorted({w.obj.namespace for w in workloads})
    by_ns: dict[str, list[AuditedWorkload]] = {}
    for w in workloads:
        by_ns.setdefault(w.obj.namespace, []).append(w)
    for ns in used:
        checks.append(Check("AUD-POD-018", f"Namespace {ns}", ns))
        declared = cluster.namespace(ns)
        level = declared.labels.get(PSA_ENFORCE) if declared is not None else None
        if level in ("baseline", "restricted"):
            continue
        members = by_ns[ns]
        fits = "privileged"
        for lv in (Level.RESTRICTED, Level.BASELINE):
            if not any(evaluate_pod_security(w.obj.pod, lv) for w in members):
                fits = lv.value
                break
        suggest = fits if fits != "privileged" else "baseline"
        origin = declared.origin if declared is not None and declared.declared else None
        where = f"label {PSA_ENFORCE}={level}" if level else f"no {PSA_ENFORCE} label"
        note = (
            f"; its workloads already meet {fits}"
            if fits != "privileged"
            else "; some workloads violate baseline: fix them first, or warn before enforcing"
        )
        out.append(
            Finding(
                "AUD-POD-018",
                f"Namespace {ns}",
                ns,
                f"namespace {ns} has {where}: Pod Security Admission lets any pod in{note}",
                (Evidence(f"Namespace {ns} metadata.labels", origin),),
                Remediation(
                    f"Label the namespace {PSA_ENFORCE}={suggest}",
                    patches=(
                        Patch(
                            "Namespace",
                            "",
                            ns,
                            ("metadata", "labels", PSA_ENFORCE),
                            suggest,
                            origin,
                        ),
                    ),
                ),
            )
        )
    return out


def _secret_env(w: AuditedWorkload, locate: Locate) -> Finding:
    """CIS Kubernetes Benchmark 5.4.1: a Secret in an environment variable ends up in
    logs, crash dumps and `kubectl describe` far more easily than a file does."""
    secrets = sorted({s for _, _, s in w.secret_env})
    return Finding(
        "AUD-POD-020",
        w.name,
        w.obj.namespace,
        f"{len(w.secret_env)} environment variable(s) filled from Secret(s) " + ", ".join(secrets),
        tuple(
            Evidence(
                f"container '{c}': {_dotted(path)} (Secret {s})",
                _at(w.obj, (*path, "name"), locate),
            )
            for path, c, s in w.secret_env[:8]
        ),
        Remediation(
            "Mount the Secret as a volume (readOnly) and have the application read the file; "
            "remove the env/envFrom entries shown"
        ),
    )


def audit_pods(
    cluster: Cluster,
    workloads: list[AuditedWorkload],
    guardrails: GuardrailSet | None,
    locate: Locate,
    granted: set[tuple[str, str]] | None,
) -> PodAudit:
    """`granted`: the (namespace, name) of service accounts a binding names (None: the
    input has no RBAC objects, so no account's need can be judged)."""
    level, version = _pss_choice(guardrails)
    rules = _default_rules(guardrails)
    registries = any(
        isinstance(r.check, ImageRule) and r.check.registries
        for r in (guardrails.rules if guardrails is not None else ())
    )
    accounts = {(a.namespace, a.name): a.automount_token for a in cluster.service_accounts}
    findings: list[Finding] = []
    checks: list[Check] = []
    mounts: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    violations: dict[str, int] = {}
    codes = (*_ALWAYS_CODES, *(("AUD-POD-013",) if registries else ()))
    for w in workloads:
        ns = w.obj.namespace
        sa = (ns, w.obj.pod.service_account)
        sa_auto = accounts.get(sa)
        mounted = token_mounted(w.obj, sa_auto)
        mounts.setdefault(sa, []).append((w.name, mounted))
        need = None if granted is None else sa in granted
        found = _pss(w, level, version, locate)
        violations[ns] = violations.get(ns, 0) + len(found)
        found += _rule_findings(w, rules, locate, need, sa_auto)
        checks += [Check(code, w.name, ns) for code in codes]
        checks.append(Check("AUD-POD-019", w.name, ns))
        checks.append(Check("AUD-POD-020", w.name, ns))
        if w.secret_env:
            found.append(_secret_env(w, locate))
        if ns == "default":
            found.append(
                Finding(
                    "AUD-POD-019",
                    w.name,
                    ns,
                    "runs in the default namespace, where every user of the cluster tends to have rights",
                    (Evidence("metadata.namespace", w.obj.origin),),
                    Remediation("Move it to a namespace of its own application"),
                )
            )
        findings += found
    findings += _namespaces(cluster, workloads, checks)
    return PodAudit(
        tuple(findings),
        tuple(checks),
        level.value,
        f"v{version[0]}.{version[1]}",
        registries,
        mounts,
        violations,
    )
