"""Kubernetes RBAC (`rbac.authorization.k8s.io/v1`) and API audit events, typed and frozen.

What the objects mean (Kubernetes "Using RBAC Authorization",
https://kubernetes.io/docs/reference/access-authn-authz/rbac/, and the API reference of
PolicyRule, Role, ClusterRole, RoleBinding, ClusterRoleBinding):
- A Role grants rules in its own namespace; a ClusterRole grants them cluster-wide when a
  ClusterRoleBinding binds it, and in one namespace when a RoleBinding there binds it.
- A ClusterRole with an `aggregationRule` has the union of the rules of every ClusterRole
  whose labels match one of its `clusterRoleSelectors` (the controller overwrites its own
  `rules`); `analyses/audit/rbac.py` computes that union.
- Rules only add permissions: there is no deny.
- Subjects: `User`, `Group` (apiGroup rbac.authorization.k8s.io) and `ServiceAccount`
  (core group); a ServiceAccount subject without a namespace in a RoleBinding means the
  binding's namespace.

Audit events are the `audit.k8s.io/v1` `Event` objects the API server writes to its audit
log (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/ and the Event reference),
reduced to what decides a permission: who, which verb on which resource, and whether it was
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.labels import FrozenLabels
from microseg.model.selectors import LabelSelector

__all__ = [
    "AuditEvent",
    "Binding",
    "PolicyRule",
    "Rbac",
    "RbacSubject",
    "Role",
    "RoleRef",
    "SubjectKind",
    "service_account_user",
]


class SubjectKind(Enum):
    USER = "User"
    GROUP = "Group"
    SERVICE_ACCOUNT = "ServiceAccount"


def service_account_user(namespace: str, name: str) -> str:
    """The user name the API server authenticates a service account's token as."""
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule of a Role or ClusterRole; `index` is its place in `rules` (for evidence)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    index: int = 0
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Role:
    """A Role (namespace set) or a ClusterRole (namespace "")."""

    kind: str
    namespace: str
    name: str
    rules: tuple[PolicyRule, ...] = ()
    labels: FrozenLabels = field(default_factory=FrozenLabels)
    aggregation: tuple[LabelSelector, ...] | None = None
    """`aggregationRule.clusterRoleSelectors` (None: not an aggregated ClusterRole)."""
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def cluster(self) -> bool:
        return self.kind == "ClusterRole"

    @property
    def ref(self) -> str:
        return self.name if self.cluster else f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class RbacSubject:
    kind: SubjectKind
    name: str
    namespace: str = ""
    """A ServiceAccount's namespace (already defaulted to the binding's); "" otherwise."""

    def __str__(self) -> str:
        if self.kind is SubjectKind.SERVICE_ACCOUNT:
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind.value} {self.name}"

    @property
    def username(self) -> str:
        """What an audit event's `user.username` says for it (User and ServiceAccount)."""
        if self.kind is SubjectKind.SERVICE_ACCOUNT:
            return service_account_user(self.namespace, self.name)
        return self.name


@dataclass(frozen=True, slots=True)
class RoleRef:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (namespace set) or a ClusterRoleBinding (namespace "")."""

    kind: str
    namespace: str
    name: str
    role_ref: RoleRef
    subjects: tuple[RbacSubject, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def cluster(self) -> bool:
        return self.kind == "ClusterRoleBinding"

    @property
    def ref(self) -> str:
        return self.name if self.cluster else f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One request as the API server's audit log recorded it (a `ResponseComplete` or
    `Panic` stage event, or the only event of a request logged at one stage)."""

    username: str
    groups: tuple[str, ...]
    verb: str
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    """`requestURI` without its query, for non-resource requests (`/healthz`)."""
    allowed: bool = True
    """`annotations["authorization.k8s.io/decision"]` is `allow` (or absent with a 2xx/4xx
    other than 403)."""
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class Rbac:
    roles: tuple[Role, ...] = ()
    bindings: tuple[Binding, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.roles or self.bindings)
