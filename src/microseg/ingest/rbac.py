"""RBAC objects (`rbac.authorization.k8s.io/v1` Role, ClusterRole, RoleBinding,
ClusterRoleBinding) to model objects, with located errors (MS900-MS901; MS902, duplicates, in ingest/manifests.py).

Checked as the API server validates them (pkg/apis/rbac/validation, as the API reference
describes the fields): a rule needs `verbs`; a resource rule needs `apiGroups` and
`resources`, a non-resource rule `nonResourceURLs` and no resources (and only in a
ClusterRole); `roleRef` needs `apiGroup: rbac.authorization.k8s.io`, a `kind` of Role or
ClusterRole (ClusterRole only in a ClusterRoleBinding) and a name; a subject needs a kind
(User, Group, ServiceAccount) and a name, a ServiceAccount subject of a ClusterRoleBinding
a namespace. A ServiceAccount subject of a RoleBinding without a namespace is the binding's
namespace's account (the RBAC authorizer's `appliesToUser`).
"""

from __future__ import annotations

from typing import Any

from microseg.ingest.documents import Document, FieldPath
from microseg.ingest.validation import FieldError, shown
from microseg.model.labels import FrozenLabels
from microseg.model.rbac import Binding, PolicyRule, RbacSubject, Role, RoleRef, SubjectKind
from microseg.model.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    label_key_error,
    label_value_error,
)

__all__ = ["RBAC_GROUP", "RBAC_KINDS", "parse_binding", "parse_role"]

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
CODE_ROLE = "MS900"
CODE_BINDING = "MS901"
_SUBJECT_KINDS = {k.value: k for k in SubjectKind}


def _strings(raw: dict[str, Any], key: str, path: FieldPath, code: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FieldError(code, (*path, key), f"expected a list of strings, got {shown(value)}")
    return tuple(value)


def _meta(doc: Document, code: str, namespaced: bool) -> tuple[str, str, dict[str, Any]]:
    meta = doc.data.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise FieldError(code, ("metadata", "name"), "required field is missing")
    ns = meta.get("namespace")
    if ns is not None and not isinstance(ns, str):
        raise FieldError(code, ("metadata", "namespace"), f"expected a string, got {shown(ns)}")
    return (str(ns or "default") if namespaced else ""), meta["name"], meta


def _rule(raw: Any, index: int, cluster: bool, doc: Document) -> PolicyRule:
    path: FieldPath = ("rules", index)
    if not isinstance(raw, dict):
        raise FieldError(CODE_ROLE, path, f"expected a rule mapping, got {shown(raw)}")
    verbs = _strings(raw, "verbs", path, CODE_ROLE)
    groups = _strings(raw, "apiGroups", path, CODE_ROLE)
    resources = _strings(raw, "resources", path, CODE_ROLE)
    names = _strings(raw, "resourceNames", path, CODE_ROLE)
    urls = _strings(raw, "nonResourceURLs", path, CODE_ROLE)
    if not verbs:
        raise FieldError(CODE_ROLE, (*path, "verbs"), "verbs must contain at least one value")
    if urls:
        if not cluster:
            raise FieldError(
                CODE_ROLE,
                (*path, "nonResourceURLs"),
                "namespaced rules cannot apply to non-resource URLs (only a ClusterRole can)",
            )
        if groups or resources:
            raise FieldError(
                CODE_ROLE,
                (*path, "nonResourceURLs"),
                "rules cannot apply to both regular resources and non-resource URLs",
            )
    elif not resources:
        raise FieldError(
            CODE_ROLE, (*path, "resources"), "resource rules must supply at least one resource"
        )
    elif not groups:
        raise FieldError(
            CODE_ROLE, (*path, "apiGroups"), "resource rules must supply at least one api group"
        )
    return PolicyRule(verbs, groups, resources, names, urls, index, doc.line_of(path))


def _selector(raw: Any, path: FieldPath) -> LabelSelector:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise FieldError(CODE_ROLE, path, f"expected a label selector, got {shown(raw)}")
    reqs: list[Requirement] = []
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise FieldError(CODE_ROLE, (*path, "matchLabels"), "expected a mapping of labels")
    for k, v in sorted(labels.items()):
        if not isinstance(k, str) or not isinstance(v, str):
            raise FieldError(CODE_ROLE, (*path, "matchLabels"), "labels must be strings")
        err = label_key_error(k) or label_value_error(v)
        if err:
            raise FieldError(CODE_ROLE, (*path, "matchLabels", k), err)
        reqs.append(Requirement(k, Operator.IN, frozenset([v])))
    exprs = raw.get("matchExpressions") or []
    if not isinstance(exprs, list):
        raise FieldError(CODE_ROLE, (*path, "matchExpressions"), "expected a list")
    for i, e in enumerate(exprs):
        at = (*path, "matchExpressions", i)
        if not isinstance(e, dict) or not isinstance(e.get("key"), str):
            raise FieldError(CODE_ROLE, at, "expected a requirement with a key")
        try:
            op = Operator(e.get("operator"))
        except ValueError:
            raise FieldError(
                CODE_ROLE,
                (*at, "operator"),
                f"expected In, NotIn, Exists or DoesNotExist, got {shown(e.get('operator'))}",
            ) from None
        values = _strings(e, "values", at, CODE_ROLE)
        if op in (Operator.IN, Operator.NOT_IN) and not values:
            raise FieldError(CODE_ROLE, (*at, "values"), f"{op.value} needs values")
        if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
            raise FieldError(CODE_ROLE, (*at, "values"), f"{op.value} takes no values")
        reqs.append(Requirement(e["key"], op, frozenset(values)))
    return LabelSelector(tuple(reqs))


def parse_role(doc: Document) -> Role:
    """A Role or ClusterRole; raises FieldError (MS900)."""
    kind = str(doc.data["kind"])
    cluster = kind == "ClusterRole"
    namespace, name, meta = _meta(doc, CODE_ROLE, not cluster)
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise FieldError(CODE_ROLE, ("metadata", "labels"), "expected a mapping of labels")
    raw_rules = doc.data.get("rules")
    if raw_rules is not None and not isinstance(raw_rules, list):
        raise FieldError(CODE_ROLE, ("rules",), f"expected a list of rules, got {shown(raw_rules)}")
    rules = tuple(_rule(r, i, cluster, doc) for i, r in enumerate(raw_rules or []))
    aggregation = None
    agg = doc.data.get("aggregationRule")
    if agg is not None:
        if not cluster:
            raise FieldError(CODE_ROLE, ("aggregationRule",), "only a ClusterRole aggregates")
        if not isinstance(agg, dict):
            raise FieldError(CODE_ROLE, ("aggregationRule",), "expected a mapping")
        selectors = agg.get("clusterRoleSelectors") or []
        if not isinstance(selectors, list):
            raise FieldError(
                CODE_ROLE, ("aggregationRule", "clusterRoleSelectors"), "expected a list"
            )
        aggregation = tuple(
            _selector(s, ("aggregationRule", "clusterRoleSelectors", i))
            for i, s in enumerate(selectors)
        )
    return Role(kind, namespace, name, rules, FrozenLabels(labels), aggregation, doc.origin())


def _subject(raw: Any, index: int, binding_ns: str, cluster: bool) -> RbacSubject:
    path: FieldPath = ("subjects", index)
    if not isinstance(raw, dict):
        raise FieldError(CODE_BINDING, path, f"expected a subject mapping, got {shown(raw)}")
    kind = _SUBJECT_KINDS.get(raw.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        raise FieldError(
            CODE_BINDING,
            (*path, "kind"),
            f"expected User, Group or ServiceAccount, got {shown(raw.get('kind'))}",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise FieldError(CODE_BINDING, (*path, "name"), "required field is missing")
    ns = raw.get("namespace")
    if ns is not None and not isinstance(ns, str):
        raise FieldError(CODE_BINDING, (*path, "namespace"), "expected a string")
    if kind is SubjectKind.SERVICE_ACCOUNT:
        if not ns and cluster:
            raise FieldError(
                CODE_BINDING,
                (*path, "namespace"),
                "a ServiceAccount subject of a ClusterRoleBinding needs a namespace",
            )
        return RbacSubject(kind, name, ns or binding_ns)
    return RbacSubject(kind, name)


def parse_binding(doc: Document) -> Binding:
    """A RoleBinding or ClusterRoleBinding; raises FieldError (MS901)."""
    kind = str(doc.data["kind"])
    cluster = kind == "ClusterRoleBinding"
    namespace, name, _ = _meta(doc, CODE_BINDING, not cluster)
    ref = doc.data.get("roleRef")
    if not isinstance(ref, dict):
        raise FieldError(CODE_BINDING, ("roleRef",), "required field is missing")
    if ref.get("apiGroup") != RBAC_GROUP:
        raise FieldError(
            CODE_BINDING,
            ("roleRef", "apiGroup"),
            f"expected {RBAC_GROUP}, got {shown(ref.get('apiGroup'))}",
        )
    allowed = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if ref.get("kind") not in allowed:
        raise FieldError(
            CODE_BINDING,
            ("roleRef", "kind"),
            f"expected {' or '.join(allowed)}, got {shown(ref.get('kind'))}",
        )
    if not isinstance(ref.get("name"), str) or not ref["name"]:
        raise FieldError(CODE_BINDING, ("roleRef", "name"), "required field is missing")
    raw_subjects = doc.data.get("subjects")
    if raw_subjects is not None and not isinstance(raw_subjects, list):
        raise FieldError(CODE_BINDING, ("subjects",), "expected a list of subjects")
    subjects = tuple(_subject(s, i, namespace, cluster) for i, s in enumerate(raw_subjects or []))
    return Binding(kind, namespace, name, RoleRef(ref["kind"], ref["name"]), subjects, doc.origin())
