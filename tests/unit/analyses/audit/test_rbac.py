"""Effective RBAC permissions, worked by hand: aggregation, bindings to groups, wildcards,
resourceNames, subresources, non-resource URLs, RoleBindings of ClusterRoles."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.analyses.audit import RbacIndex, Request
from microseg.ingest import load
from microseg.model.rbac import RbacSubject, SubjectKind
from tests.unit.analyses.audit._support import write

SA, USER, GROUP = SubjectKind.SERVICE_ACCOUNT, SubjectKind.USER, SubjectKind.GROUP


def role(kind: str, name: str, rules: str, ns: str = "", extra: str = "", labels: str = "") -> str:
    meta = f"  namespace: {ns}\n" if ns else ""
    if labels:
        meta += f"  labels: {labels}\n"
    return f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: {kind}
metadata:
  name: {name}
{meta}{extra}rules:
{rules}
---"""


def binding(kind: str, name: str, ref_kind: str, ref: str, subjects: str, ns: str = "") -> str:
    meta = f"  namespace: {ns}\n" if ns else ""
    return f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: {kind}
metadata:
  name: {name}
{meta}roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {ref_kind}, name: {ref}}}
subjects:
{subjects}
---"""


def index(tmp_path: Path, *docs: str) -> RbacIndex:
    write(tmp_path, "rbac.yaml", "\n".join(docs))
    return RbacIndex(load([str(tmp_path)]).rbac)


def can(ix: RbacIndex, who: RbacSubject, req: Request, ns: str | None = None) -> bool:
    return bool(ix.permissions(who).matching(req, ns))


def test_aggregation_unions_matching_cluster_roles_to_a_fixpoint(tmp_path: Path) -> None:
    ix = index(
        tmp_path,
        role(
            "ClusterRole",
            "top",
            "  []",
            extra="aggregationRule:\n  clusterRoleSelectors: [{matchLabels: {x: '1'}}]\n",
        ),
        role(
            "ClusterRole",
            "pods",
            "  - {apiGroups: [''], resources: [pods], verbs: [get]}",
            labels="{x: '1'}",
        ),
        role(
            "ClusterRole",
            "middle",
            "  []",
            extra="aggregationRule:\n  clusterRoleSelectors: [{matchLabels: {y: '1'}}]\n",
            labels="{x: '1'}",
        ),
        role(
            "ClusterRole",
            "secrets",
            "  - {apiGroups: [''], resources: [secrets], verbs: [list]}",
            labels="{y: '1'}",
        ),
        role("ClusterRole", "other", "  - {apiGroups: [''], resources: [nodes], verbs: [get]}"),
        binding(
            "ClusterRoleBinding",
            "b",
            "ClusterRole",
            "top",
            "  - {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}",
        ),
    )
    top = ix.cluster_roles["top"]
    resources = {r for rule in ix.rules_of(top) for r in rule.resources}
    # pods directly, secrets through `middle` (itself aggregated); nodes is not selected.
    assert resources == {"pods", "secrets"}
    assert set(ix.aggregated_from(top)) == {"pods", "middle"}
    alice = RbacSubject(USER, "alice")
    assert can(ix, alice, Request("list", "", "secrets"))
    assert not can(ix, alice, Request("get", "", "nodes"))
    # the grant names the ClusterRole the rule is written in, and its line
    (g,) = ix.permissions(alice).matching(Request("list", "", "secrets"))
    assert g.role.name == "top"
    assert g.written_in.name == "secrets"
    assert "of ClusterRole secrets, aggregated" in g.describe()
    text = (tmp_path / "rbac.yaml").read_text().splitlines()
    assert g.rule.line is not None
    assert "secrets" in text[g.rule.line - 1]


def test_empty_selector_aggregates_every_other_cluster_role(tmp_path: Path) -> None:
    ix = index(
        tmp_path,
        role(
            "ClusterRole", "all", "  []", extra="aggregationRule:\n  clusterRoleSelectors: [{}]\n"
        ),
        role("ClusterRole", "a", "  - {apiGroups: [''], resources: [pods], verbs: [get]}"),
        role("ClusterRole", "b", "  - {apiGroups: [apps], resources: [deployments], verbs: [get]}"),
    )
    assert {r for rule in ix.rules_of(ix.cluster_roles["all"]) for r in rule.resources} == {
        "pods",
        "deployments",
    }


def test_groups_of_service_accounts_and_authenticated_users(tmp_path: Path) -> None:
    ix = index(
        tmp_path,
        role("Role", "cm", "  - {apiGroups: [''], resources: [configmaps], verbs: [get]}", ns="a"),
        binding(
            "RoleBinding",
            "ns-accounts",
            "Role",
            "cm",
            "  - {kind: Group, name: 'system:serviceaccounts:a', apiGroup: rbac.authorization.k8s.io}",
            ns="a",
        ),
        role("ClusterRole", "ev", "  - {apiGroups: [''], resources: [events], verbs: [list]}"),
        binding(
            "ClusterRoleBinding",
            "everyone",
            "ClusterRole",
            "ev",
            "  - {kind: Group, name: 'system:authenticated', apiGroup: rbac.authorization.k8s.io}",
        ),
        role("ClusterRole", "dev", "  - {apiGroups: [''], resources: [pods], verbs: [delete]}"),
        binding(
            "ClusterRoleBinding",
            "devs",
            "ClusterRole",
            "dev",
            "  - {kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}",
        ),
    )
    x, y = RbacSubject(SA, "x", "a"), RbacSubject(SA, "y", "b")
    cm = Request("get", "", "configmaps")
    assert can(ix, x, cm, "a")
    assert not can(ix, x, cm, "b")  # a RoleBinding grants in its namespace only
    assert not can(ix, y, cm)  # not in system:serviceaccounts:a
    grant = ix.permissions(x).matching(cm)[0]
    assert grant.via == "system:serviceaccounts:a"
    events = Request("list", "", "events")
    assert can(ix, x, events)
    assert can(ix, RbacSubject(USER, "bob"), events)
    assert not can(ix, RbacSubject(USER, "system:anonymous"), events)  # unauthenticated
    # Group membership of users comes from the authenticator: a User gets no group's grant
    # but system:authenticated's; the Group itself has its own.
    assert not can(ix, RbacSubject(USER, "alice"), Request("delete", "", "pods"))
    assert can(ix, RbacSubject(GROUP, "devs"), Request("delete", "", "pods"))


def test_wildcards_subresources_and_resource_names(tmp_path: Path) -> None:
    ix = index(
        tmp_path,
        role(
            "ClusterRole",
            "mix",
            "  - {apiGroups: ['*'], resources: ['*/scale'], verbs: [update]}\n"
            "  - {apiGroups: [''], resources: ['pods/*'], verbs: [create]}\n"
            "  - {apiGroups: [''], resources: [secrets], resourceNames: [s1], verbs: [get, create]}\n"
            "  - {apiGroups: [apps], resources: ['*'], verbs: ['*']}",
        ),
        binding(
            "ClusterRoleBinding",
            "b",
            "ClusterRole",
            "mix",
            "  - {kind: ServiceAccount, name: m, namespace: n}",
        ),
    )
    m = RbacSubject(SA, "m", "n")
    assert can(ix, m, Request("update", "example.io", "widgets", "scale"))
    assert not can(ix, m, Request("update", "example.io", "widgets"))
    # `pods/*` is no pattern: only `*` and `*/subresource` are (rbac evaluation helpers).
    assert not can(ix, m, Request("create", "", "pods", "exec"))
    assert can(ix, m, Request("get", "", "secrets", name="s1"))
    assert not can(ix, m, Request("get", "", "secrets", name="s2"))
    assert can(ix, m, Request("get", "", "secrets"))  # some secrets: the named one
    assert not can(ix, m, Request("create", "", "secrets"))  # create has no name
    assert can(ix, m, Request("delete", "apps", "statefulsets", "status"))  # '*' and subresources
    assert not can(ix, m, Request("get", "batch", "jobs"))


def test_non_resource_urls_and_role_binding_scope(tmp_path: Path) -> None:
    ix = index(
        tmp_path,
        role(
            "ClusterRole",
            "urls",
            "  - {nonResourceURLs: ['/healthz', '/api/*'], verbs: [get]}\n"
            "  - {apiGroups: [''], resources: [pods], verbs: [list]}",
        ),
        binding(
            "ClusterRoleBinding",
            "c",
            "ClusterRole",
            "urls",
            "  - {kind: User, name: u, apiGroup: rbac.authorization.k8s.io}",
        ),
        binding(
            "RoleBinding", "r", "ClusterRole", "urls", "  - {kind: ServiceAccount, name: s}", ns="z"
        ),
    )
    u, s = RbacSubject(USER, "u"), RbacSubject(SA, "s", "z")
    assert can(ix, u, Request("get", path="/healthz"))
    assert can(ix, u, Request("get", path="/api/v1"))
    assert not can(ix, u, Request("get", path="/healthzx"))
    assert not can(ix, u, Request("post", path="/healthz"))
    # A RoleBinding of the same ClusterRole: its pods in namespace z only, no URLs; the
    # ServiceAccount subject without a namespace is the binding's namespace's.
    assert can(ix, s, Request("list", "", "pods"), "z")
    assert not can(ix, s, Request("list", "", "pods"), "y")
    assert not can(ix, s, Request("get", path="/healthz"))


def test_binding_to_a_missing_role_grants_nothing_and_is_listed(tmp_path: Path) -> None:
    ix = index(
        tmp_path,
        binding(
            "RoleBinding", "dangling", "Role", "gone", "  - {kind: ServiceAccount, name: s}", ns="z"
        ),
    )
    assert not ix.permissions(RbacSubject(SA, "s", "z")).grants
    assert [b.name for b in ix.missing] == ["dangling"]


@pytest.mark.parametrize(
    ("text", "field", "code"),
    [
        (
            "kind: Role\nmetadata: {name: r, namespace: a}\nrules:\n  - {apiGroups: [''], resources: [pods]}\n",
            "rules[0].verbs",
            "MS900",
        ),
        (
            "kind: Role\nmetadata: {name: r, namespace: a}\nrules:\n  - {nonResourceURLs: ['/x'], verbs: [get]}\n",
            "rules[0].nonResourceURLs",
            "MS900",
        ),
        (
            "kind: ClusterRole\nmetadata: {name: r}\nrules:\n  - {resources: [pods], verbs: [get]}\n",
            "rules[0].apiGroups",
            "MS900",
        ),
        (
            "kind: RoleBinding\nmetadata: {name: b, namespace: a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Thing, name: x}\n",
            "roleRef.kind",
            "MS901",
        ),
        (
            "kind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}\n",
            "roleRef.kind",
            "MS901",
        ),
        (
            "kind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: x}\nsubjects:\n  - {kind: ServiceAccount, name: s}\n",
            "subjects[0].namespace",
            "MS901",
        ),
        (
            "kind: RoleBinding\nmetadata: {name: b, namespace: a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}\nsubjects:\n  - {kind: Robot, name: s}\n",
            "subjects[0].kind",
            "MS901",
        ),
    ],
)
def test_invalid_rbac_objects_are_located_errors(
    tmp_path: Path, text: str, field: str, code: str
) -> None:
    from microseg.errors import InputError

    path = write(tmp_path, "bad.yaml", "apiVersion: rbac.authorization.k8s.io/v1\n" + text)
    with pytest.raises(InputError) as info:
        load([str(path)])
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.field) == (code, field)
    assert diag.origin is not None
    assert diag.origin.line is not None
    assert diag.origin.line > 1


def test_duplicate_rbac_object_is_ms902(tmp_path: Path) -> None:
    from microseg.errors import InputError

    doc = role("Role", "r", "  - {apiGroups: [''], resources: [pods], verbs: [get]}", ns="a")
    path = write(tmp_path, "dup.yaml", doc + "\n" + doc)
    with pytest.raises(InputError) as info:
        load([str(path)])
    assert [d.code for d in info.value.diagnostics] == ["MS902"]
