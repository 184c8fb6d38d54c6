"""The pod rules of a guardrail file as Kubernetes-native ValidatingAdmissionPolicies or as
Kyverno ClusterPolicies (`microseg guardrails export`).

ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, GA in Kubernetes 1.30;
kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/): one policy
and one binding per rule; the policy matches Pods and every pod-template kind on CREATE and
UPDATE, leaves exempt objects out with a matchCondition, defines the pod spec and metadata
as variables, and has one validation per control (render/guardrails_cel.py); the binding's
validationActions carry the mode: enforce Deny, warn Warn, audit Audit.

Kyverno (kyverno.io/v1 ClusterPolicy, kyverno.io/docs/writing-policies/): a Pod Security
Standards rule becomes Kyverno's own `validate.podSecurity` subrule at the same level and
version (Kyverno evaluates it with the Kubernetes pod-security-admission library, and
generates the controller rules itself); every other pod rule becomes a `validate.cel` rule
with the same variables and expressions as the ValidatingAdmissionPolicy, matched on every
pod-template kind. Modes: enforce is `Enforce`; warn and audit are `Audit`, warn with
`emitWarning` so the user sees the warning at admission.
"""

from __future__ import annotations

from typing import Any

from microseg.model.guardrails import GuardrailSet, Mode, PodSecurityRule, Rule, Scope
from microseg.render.guardrails_cel import VARIABLES, rule_checks, scope_condition

__all__ = ["POD_RESOURCES", "kyverno_objects", "vap_objects"]

POD_RESOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "v1", ("pods", "replicationcontrollers")),
    ("apps", "v1", ("deployments", "statefulsets", "daemonsets", "replicasets")),
    ("batch", "v1", ("jobs", "cronjobs")),
)
POD_KINDS = (
    "Pod",
    "ReplicationController",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
)
_ACTIONS = {Mode.ENFORCE: ["Deny"], Mode.WARN: ["Warn"], Mode.AUDIT: ["Audit"]}


def _name(rule: Rule) -> str:
    return f"microseg-{rule.name}"[:253]


def _annotations(rule: Rule, guardrails: GuardrailSet) -> dict[str, str]:
    source = ", ".join(guardrails.files) or "guardrails"
    return {"microseg.dev/rule": rule.name, "microseg.dev/source": source}


def vap_objects(guardrails: GuardrailSet) -> tuple[list[dict[str, Any]], list[str]]:
    """The policies and bindings, and the names of the rules left out (not exportable)."""
    out: list[dict[str, Any]] = []
    skipped = []
    for rule in guardrails.rules:
        checks = rule_checks(rule)
        if not checks:
            skipped.append(rule.name)
            continue
        spec: dict[str, Any] = {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [g],
                        "apiVersions": [v],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": list(r),
                    }
                    for g, v, r in POD_RESOURCES
                ]
            },
            "variables": [{"name": n, "expression": e} for n, e in VARIABLES],
            "validations": [
                {
                    "expression": c.expression,
                    "message": f"{rule.name}/{c.control}: {c.message}",
                    "reason": "Forbidden",
                }
                for c in checks
            ],
        }
        condition = scope_condition((guardrails.exempt, rule.exempt))
        if condition is not None:
            spec["matchConditions"] = [{"name": "not-exempt", "expression": condition}]
        out.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": _name(rule), "annotations": _annotations(rule, guardrails)},
                "spec": spec,
            }
        )
        out.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": _name(rule)},
                "spec": {"policyName": _name(rule), "validationActions": _ACTIONS[rule.mode]},
            }
        )
    return out, skipped


def _kyverno_exclude(scopes: tuple[Scope, ...]) -> dict[str, Any] | None:
    """Kyverno matches namespaces with wildcards itself; label exemptions go to a selector
    on the object (Kyverno's autogen carries it to the pod template)."""
    any_: list[dict[str, Any]] = []
    namespaces = [ns for s in scopes for ns in s.namespaces]
    if namespaces:
        any_.append({"resources": {"namespaces": namespaces}})
    for s in scopes:
        if s.labels is not None:
            exprs = [
                {
                    "key": r.key,
                    "operator": r.operator.value,
                    **({"values": sorted(r.values)} if r.values else {}),
                }
                for r in s.labels.requirements
            ]
            any_.append({"resources": {"selector": {"matchExpressions": exprs}}})
    return {"any": any_} if any_ else None


def kyverno_objects(guardrails: GuardrailSet) -> tuple[list[dict[str, Any]], list[str]]:
    out: list[dict[str, Any]] = []
    skipped = []
    for rule in guardrails.rules:
        checks = rule_checks(rule)
        if not checks:
            skipped.append(rule.name)
            continue
        check = rule.check
        body: dict[str, Any] = {"name": rule.name}
        annotations = _annotations(rule, guardrails)
        if isinstance(check, PodSecurityRule):
            body["match"] = {"any": [{"resources": {"kinds": ["Pod"]}}]}
            version = f"v{check.version[0]}.{check.version[1]}"
            body["validate"] = {"podSecurity": {"level": check.level, "version": version}}
        else:
            body["match"] = {
                "any": [
                    {"resources": {"kinds": list(POD_KINDS), "operations": ["CREATE", "UPDATE"]}}
                ]
            }
            body["validate"] = {
                "cel": {
                    "variables": [{"name": n, "expression": e} for n, e in VARIABLES],
                    "expressions": [
                        {
                            "expression": c.expression,
                            "message": f"{rule.name}/{c.control}: {c.message}",
                        }
                        for c in checks
                    ],
                }
            }
            annotations["pod-policies.kyverno.io/autogen-controllers"] = "none"
        exclude = _kyverno_exclude((guardrails.exempt, rule.exempt))
        if exclude is not None:
            body["exclude"] = exclude
        body["validate"]["failureAction"] = "Enforce" if rule.mode is Mode.ENFORCE else "Audit"
        spec: dict[str, Any] = {"background": True, "rules": [body]}
        if rule.mode is Mode.WARN:
            spec["emitWarning"] = True
        out.append(
            {
                "apiVersion": "kyverno.io/v1",
                "kind": "ClusterPolicy",
                "metadata": {"name": _name(rule), "annotations": annotations},
                "spec": spec,
            }
        )
    return out, skipped
