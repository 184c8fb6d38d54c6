"""`review(request, context) -> ReviewResult`: the one decision under `microseg check` and the
admission webhook, so that the two cannot drift.

The request is one object being created, updated or deleted (model/admission.py); the
context is the guardrail rules and, for the rules that read the cluster, a snapshot (a built
`Connectivity`). Each rule that applies (not exempt, about this kind of object) gives its
findings; the object is admitted unless an `enforce` rule has one. Rules that need a
snapshot and have none say so in `notes` instead of passing silently.

Which rules read what:
- podSecurity, images, labels, resources, readOnlyRootFilesystem, serviceAccountToken: a
  Pod or pod template on CREATE and UPDATE (an UPDATE that leaves the pod template as it
  was is not judged again, as Pod Security Admission exempts such updates);
- ingressIsolation: a Pod or pod template on CREATE and UPDATE, against the snapshot's
  NetworkPolicies;
- intents: a NetworkPolicy or guardrail-tier policy on CREATE, UPDATE and DELETE, applied to
  the snapshot (analyses/guardrails/segmentation.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import translate
from functools import lru_cache

from microseg.analyses.guardrails.findings import Finding
from microseg.analyses.guardrails.pods import POD_RULES, pod_findings
from microseg.analyses.guardrails.segmentation import (
    IntentMemo,
    NamespaceFacts,
    intent_findings,
    isolation_findings,
)
from microseg.engine import Connectivity
from microseg.model.admin import AdminPolicy
from microseg.model.admission import Operation, ReviewRequest, object_labels
from microseg.model.changes import (
    Change,
    ChangeError,
    DeleteNamespace,
    DeletePolicy,
    PutNamespace,
    PutPolicy,
)
from microseg.model.guardrails import (
    GuardrailSet,
    IngressIsolationRule,
    IntentsRule,
    LabelsRule,
    Mode,
    Rule,
    Scope,
)
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import NetworkPolicy
from microseg.model.objects import Namespace
from microseg.model.podspec import WorkloadObject

__all__ = ["ReviewContext", "ReviewResult", "exempt", "policy_change", "review"]


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """`conn`: the cluster snapshot, if any. `intents_per_change`: False for `check`, which
    verifies the intents once on the whole state instead (analyses/guardrails/check.py)."""

    guardrails: GuardrailSet
    conn: Connectivity | None = None
    memo: IntentMemo | None = field(default=None, compare=False)
    intents_per_change: bool = True


@dataclass(frozen=True, slots=True)
class ReviewResult:
    """`change`: what the object does to the snapshot; `after`: the snapshot after it, when
    the review computed it (the intents rule), so an adapter keeping a snapshot adopts it."""

    uid: str
    allowed: bool
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    change: Change | None = None
    after: Connectivity | None = field(default=None, compare=False)

    def by_mode(self, mode: Mode) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.mode is mode)


@lru_cache(maxsize=256)
def _namespace_pattern(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    """The namespace globs of a scope as one expression (fnmatch's translation)."""
    return re.compile("|".join(f"(?:{translate(g)})" for g in globs)) if globs else None


def _matches(scope: Scope, namespace: str, labels: tuple[FrozenLabels, ...]) -> bool:
    if namespace and scope.namespaces:
        pattern = _namespace_pattern(scope.namespaces)
        if pattern is not None and pattern.match(namespace):
            return True
    sel = scope.labels
    return sel is not None and any(sel.matches(each) for each in labels)


def exempt(
    rule: Rule, guardrails: GuardrailSet, namespace: str, labels: tuple[FrozenLabels, ...]
) -> bool:
    """Whether the file's or the rule's exemptions cover an object."""
    return _matches(guardrails.exempt, namespace, labels) or _matches(
        rule.exempt, namespace, labels
    )


def policy_change(request: ReviewRequest) -> Change | None:
    """The snapshot change a policy or namespace request makes (None for other kinds)."""
    obj = request.object
    if request.operation is Operation.DELETE:
        old = request.old_object
        if isinstance(old, NetworkPolicy):
            return DeletePolicy("NetworkPolicy", old.name, old.namespace)
        if isinstance(old, AdminPolicy):
            return DeletePolicy(old.kind, old.name)
        if request.kind == "NetworkPolicy":
            return DeletePolicy("NetworkPolicy", request.name, request.namespace)
        if request.kind in (
            "AdminNetworkPolicy",
            "BaselineAdminNetworkPolicy",
            "ClusterNetworkPolicy",
        ):
            return DeletePolicy(request.kind, request.name)
        if request.kind == "Namespace":
            return DeleteNamespace(request.name)
        return None
    if isinstance(obj, NetworkPolicy | AdminPolicy):
        return PutPolicy(obj)
    if isinstance(obj, Namespace):
        labels = {k: v for k, v in obj.labels.items()}
        return PutNamespace(obj.name, labels)
    return None


def _workload_rules(
    rule: Rule,
    obj: WorkloadObject,
    facts: NamespaceFacts | None,
    notes: list[str],
) -> list[Finding]:
    check = rule.check
    if isinstance(check, POD_RULES):
        if isinstance(check, LabelsRule) and check.segmentation_keys and facts is None:
            notes.append(
                f"rule {rule.name}: no cluster snapshot, so the label keys the policies select "
                "on are not known; only the required labels were checked"
            )
        return pod_findings(rule, obj, facts.keys if facts is not None else None)
    if isinstance(check, IngressIsolationRule):
        if facts is None:
            notes.append(f"rule {rule.name}: no cluster snapshot: ingress isolation not evaluated")
            return []
        return isolation_findings(rule, obj, facts.ingress)
    return []


def _pod_changed(request: ReviewRequest) -> bool:
    """CREATE, or an UPDATE that changes the pod template (others are not judged again)."""
    if request.operation is Operation.CREATE:
        return True
    old = request.old_object
    return request.operation is Operation.UPDATE and not (
        isinstance(old, WorkloadObject)
        and isinstance(request.object, WorkloadObject)
        and old.pod == request.object.pod
    )


def review(request: ReviewRequest, context: ReviewContext) -> ReviewResult:
    """The verdict on one object under the guardrails, with every finding and note."""
    findings: list[Finding] = []
    notes: list[str] = []
    change = policy_change(request)
    after: Connectivity | None = None
    subject = request.object if request.object is not None else request.old_object
    labels = object_labels(subject)
    namespace = request.namespace
    if request.subresource not in ("", "ephemeralcontainers"):
        notes.append(
            f"subresource {request.subresource}: not reviewed (the guardrails judge objects)"
        )
    elif request.operation is not Operation.CONNECT:
        guardrails = context.guardrails
        if _matches(guardrails.exempt, namespace, labels):
            return ReviewResult(request.uid, True, (), (), change)
        obj = request.object
        pod_review = isinstance(obj, WorkloadObject) and _pod_changed(request)
        facts = None
        if pod_review and context.conn is not None:
            assert isinstance(obj, WorkloadObject)
            memo = context.memo if context.memo is not None else IntentMemo()
            facts = memo.namespace(context.conn.cluster, obj.namespace)
        for rule in guardrails.rules:
            if _matches(rule.exempt, namespace, labels):
                continue
            if isinstance(obj, WorkloadObject):
                if pod_review:
                    findings += _workload_rules(rule, obj, facts, notes)
            elif isinstance(rule.check, IntentsRule) and context.intents_per_change:
                if not isinstance(change, PutPolicy | DeletePolicy):
                    continue
                if context.conn is None:
                    notes.append(
                        f"rule {rule.name}: no cluster snapshot: the change was not checked "
                        "against the intents (give the webhook --snapshot)"
                    )
                    continue
                try:
                    found, new = intent_findings(
                        rule, rule.check, context.conn, change, context.memo
                    )
                except ChangeError as exc:
                    notes.append(
                        f"rule {rule.name}: the snapshot does not match the cluster ({exc}); "
                        "the change was not checked against the intents"
                    )
                    continue
                findings += found
                after = after if after is not None else new
    allowed = not any(f.enforced for f in findings)
    return ReviewResult(request.uid, allowed, tuple(findings), tuple(notes), change, after)
