"""Effective RBAC permissions per subject: who may do what, where, and through which
binding, role and rule.

Semantics, from the RBAC authorizer (https://kubernetes.io/docs/reference/access-authn-
authz/rbac/ and its rule evaluation, `rbac/v1` evaluation helpers):
- A rule matches a request when its verbs hold the verb or `*`, its apiGroups the group or
  `*`, its resources the resource (`pods`), the resource and subresource (`pods/exec`),
  `*` (every resource and subresource) or `*/subresource`; and `resourceNames`, when set,
  holds the object's name. A request without a name (create, list, watch,
  deletecollection) never matches a rule with resourceNames (the docs: "You cannot
  restrict create or deletecollection requests by their resource name"); list and watch
  of one named object can, and are counted here as reaching "only the named objects".
- nonResourceURLs: an exact path, or a prefix ending in `*`, or `*`.
- A ClusterRoleBinding grants its ClusterRole everywhere; a RoleBinding grants its Role, or
  the rules of the ClusterRole it names, in its own namespace only.
- Aggregated ClusterRoles (`aggregationRule.clusterRoleSelectors`) have the union of the
  rules of every other ClusterRole whose labels match a selector; aggregated roles that
  aggregate others are followed to a fixpoint, as the controller's repeated passes do.
- Who a subject is: a service account `ns/name` is the user
  `system:serviceaccount:ns:name` in the groups `system:serviceaccounts`,
  `system:serviceaccounts:ns` and `system:authenticated`; every other authenticated user is
  in `system:authenticated` (other group memberships come from the authenticator, which
  manifests do not show: a User subject gets its direct grants and `system:authenticated`'s);
  `system:anonymous` is in `system:unauthenticated`.
- Rules only add: there is no deny in RBAC.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from microseg.model.cluster import Cluster
from microseg.model.rbac import Binding, PolicyRule, Rbac, RbacSubject, Role, SubjectKind

__all__ = [
    "AUTHENTICATED",
    "EVERYONE_GROUPS",
    "Grant",
    "Permissions",
    "RbacIndex",
    "Request",
    "rule_matches",
    "subject_key",
]

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
# Groups every user of a kind is in: a grant to them is a grant to everyone of that kind.
EVERYONE_GROUPS = (AUTHENTICATED, UNAUTHENTICATED, ALL_SERVICE_ACCOUNTS)
_NAMELESS = frozenset({"create", "deletecollection"})


@dataclass(frozen=True, slots=True)
class Request:
    """What a subject may want to do; `name` None: any object (a collection request for
    list/watch/create), `namespace` None: in some namespace or cluster-wide."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str | None = None
    path: str = ""
    """A non-resource URL (`/metrics`); resource fields are then empty."""

    def __str__(self) -> str:
        if self.path:
            return f"{self.verb} {self.path}"
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        group = f".{self.group}" if self.group else ""
        return f"{self.verb} {res}{group}"


def _resource_matches(rule: PolicyRule, resource: str, sub: str) -> bool:
    combined = f"{resource}/{sub}" if sub else resource
    for r in rule.resources:
        if r in ("*", combined):
            return True
        if sub and r == f"*/{sub}":
            return True
    return False


def _url_matches(rule: PolicyRule, path: str) -> bool:
    for u in rule.non_resource_urls:
        if u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])):
            return True
    return False


def rule_matches(rule: PolicyRule, req: Request) -> bool:
    """Whether `rule` allows `req` (for some object when `req.name` is None and the rule
    names objects: see the module docstring)."""
    if "*" not in rule.verbs and req.verb not in rule.verbs:
        return False
    if req.path:
        return _url_matches(rule, req.path)
    if rule.non_resource_urls and not rule.resources:
        return False
    if "*" not in rule.api_groups and req.group not in rule.api_groups:
        return False
    if not _resource_matches(rule, req.resource, req.subresource):
        return False
    if rule.resource_names:
        if req.name is None:
            return req.verb not in _NAMELESS
        return req.name in rule.resource_names
    return True


@dataclass(frozen=True, slots=True)
class Grant:
    """One rule granted to a subject: where (`namespace` "" = cluster-wide), by which
    binding and role, and through which group ("" when the binding names the subject)."""

    rule: PolicyRule
    role: Role
    binding: Binding
    namespace: str
    via: str = ""
    source: Role | None = None
    """The ClusterRole the rule is written in, when `role` aggregates it from another."""

    @property
    def written_in(self) -> Role:
        return self.source or self.role

    @property
    def cluster_wide(self) -> bool:
        return not self.namespace

    def describe(self) -> str:
        where = "cluster-wide" if self.cluster_wide else f"in namespace {self.namespace}"
        via = f" (as member of group {self.via})" if self.via else ""
        rule = (
            f"rule {self.rule.index} of ClusterRole {self.source.name}, aggregated,"
            if self.source is not None
            else f"rule {self.rule.index}"
        )
        return (
            f"{self.binding.kind} {self.binding.ref} -> {self.role.kind} {self.role.ref} "
            f"{rule} {where}{via}"
        )


@dataclass(frozen=True, slots=True)
class Permissions:
    subject: RbacSubject
    grants: tuple[Grant, ...]

    def matching(self, req: Request, namespace: str | None = None) -> tuple[Grant, ...]:
        """The grants that allow `req` (in `namespace`, or anywhere when None). Non-resource
        URLs are granted only by ClusterRoleBindings (the RBAC docs: a RoleBinding's rules
        apply to the resources of its namespace)."""
        return tuple(
            g
            for g in self.grants
            if rule_matches(g.rule, req)
            and (not req.path or g.cluster_wide)
            and (namespace is None or g.cluster_wide or g.namespace == namespace)
        )


def subject_key(s: RbacSubject) -> tuple[str, str, str]:
    return (s.kind.value, s.namespace, s.name)


class RbacIndex:
    """Roles with their aggregated rules, bindings by subject, and each subject's grants."""

    def __init__(self, rbac: Rbac) -> None:
        self.rbac = rbac
        self.cluster_roles = {r.name: r for r in rbac.roles if r.cluster}
        self.roles = {(r.namespace, r.name): r for r in rbac.roles if not r.cluster}
        self.rules = self._aggregate()
        self.written_in = {id(r): role for role in self.cluster_roles.values() for r in role.rules}
        """Each ClusterRole rule object to the ClusterRole that declares it (aggregation
        copies the objects, so identity finds a rule's own role)."""
        self.by_subject: dict[RbacSubject, list[Binding]] = defaultdict(list)
        for b in rbac.bindings:
            for s in dict.fromkeys(b.subjects):
                self.by_subject[s].append(b)
        self.missing: list[Binding] = [b for b in rbac.bindings if self.role_of(b) is None]

    def _aggregate(self) -> dict[str, tuple[PolicyRule, ...]]:
        """Each ClusterRole's effective rules: its own, or for an aggregated one the union
        of the matching ClusterRoles' effective rules (itself excluded), to a fixpoint."""
        rules = {name: r.rules for name, r in self.cluster_roles.items()}
        aggregated = [r for r in self.cluster_roles.values() if r.aggregation is not None]
        for _ in range(len(aggregated) + 1):
            changed = False
            for role in aggregated:
                assert role.aggregation is not None
                members = [
                    other
                    for other in self.cluster_roles.values()
                    if other.name != role.name
                    and any(sel.matches(other.labels) for sel in role.aggregation)
                ]
                union = tuple(dict.fromkeys(r for m in members for r in rules[m.name]))
                if union != rules[role.name]:
                    rules[role.name] = union
                    changed = True
            if not changed:
                break
        return rules

    def aggregated_from(self, role: Role) -> tuple[str, ...]:
        """The ClusterRoles an aggregated ClusterRole takes its rules from."""
        if role.aggregation is None:
            return ()
        return tuple(
            o.name
            for o in self.cluster_roles.values()
            if o.name != role.name and any(s.matches(o.labels) for s in role.aggregation)
        )

    def role_of(self, binding: Binding) -> Role | None:
        ref = binding.role_ref
        if ref.kind == "ClusterRole":
            return self.cluster_roles.get(ref.name)
        return self.roles.get((binding.namespace, ref.name))

    def rules_of(self, role: Role) -> tuple[PolicyRule, ...]:
        return self.rules.get(role.name, role.rules) if role.cluster else role.rules

    def _grants(self, subject: RbacSubject, via: str = "") -> list[Grant]:
        out = []
        for b in self.by_subject.get(subject, ()):
            role = self.role_of(b)
            if role is None:
                continue
            ns = "" if b.cluster else b.namespace
            for rule in self.rules_of(role):
                source = self.written_in.get(id(rule)) if role.aggregation is not None else None
                out.append(Grant(rule, role, b, ns, via, source if source is not role else None))
        return out

    def groups_of(self, subject: RbacSubject) -> tuple[str, ...]:
        if subject.kind is SubjectKind.SERVICE_ACCOUNT:
            return (
                ALL_SERVICE_ACCOUNTS,
                f"{ALL_SERVICE_ACCOUNTS}:{subject.namespace}",
                AUTHENTICATED,
            )
        if subject.kind is SubjectKind.USER:
            return (UNAUTHENTICATED,) if subject.name == "system:anonymous" else (AUTHENTICATED,)
        return ()

    def permissions(self, subject: RbacSubject) -> Permissions:
        grants = self._grants(subject)
        for group in self.groups_of(subject):
            grants += self._grants(RbacSubject(SubjectKind.GROUP, group), via=group)
        return Permissions(subject, tuple(grants))

    def subjects(self, cluster: Cluster) -> list[RbacSubject]:
        """Every subject a binding names, and every service account of the input (declared,
        or run by a workload), sorted."""
        found = set(self.by_subject)
        found |= {
            RbacSubject(SubjectKind.SERVICE_ACCOUNT, a.name, a.namespace)
            for a in cluster.service_accounts
        }
        found |= {
            RbacSubject(SubjectKind.SERVICE_ACCOUNT, w.service_account, w.key.namespace)
            for w in cluster.workloads
        }
        return sorted(found, key=subject_key)
