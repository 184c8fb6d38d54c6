"""The kinds microseg reads from the API, the versions it reads them at, and which of them
the server serves (discovery).

Discovery is the API's own (https://kubernetes.io/docs/reference/using-api/api-concepts/
and the APIResourceList/APIGroupList types of the API reference): `/api/v1` for the core
group, `/apis` for every other group with its versions and preferred version, then
`/apis/GROUP/VERSION` for the resources (plural name, kind, whether namespaced, verbs).
Custom resources (AdminNetworkPolicy, Istio, OVN user-defined networks, Routes,
KubeVirt) are read only when their group serves them; absent, they are said once as a notice.
"""

from __future__ import annotations

from dataclasses import dataclass

from microseg.ingest.cluster.api import Api, ApiError

__all__ = ["KINDS", "RBAC_KINDS", "Resource", "WantedKind", "discover", "resource_for"]


@dataclass(frozen=True, slots=True)
class WantedKind:
    group: str
    kind: str
    versions: tuple[str, ...]
    """The versions the readers accept, most preferred first."""
    builtin: bool = True


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource: where to list and watch it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base

    @property
    def label(self) -> str:
        """`Kind` for the core group and apps/batch; `Kind.group` for the rest, as kubectl
        names resources it must tell apart."""
        return self.kind if self.group in ("", "apps", "batch") else f"{self.kind}.{self.group}"


def _crd(group: str, versions: tuple[str, ...], *kinds: str) -> tuple[WantedKind, ...]:
    return tuple(WantedKind(group, k, versions, builtin=False) for k in kinds)


# Every kind ingest/manifests.py reads, in the order a dump would list them: namespaces and
# nodes first, then workloads, then policies. Versions are those the readers take.
KINDS: tuple[WantedKind, ...] = (
    WantedKind("", "Namespace", ("v1",)),
    WantedKind("", "Node", ("v1",)),
    WantedKind("", "ServiceAccount", ("v1",)),
    WantedKind("", "Service", ("v1",)),
    WantedKind("apps", "Deployment", ("v1",)),
    WantedKind("apps", "ReplicaSet", ("v1",)),
    WantedKind("apps", "StatefulSet", ("v1",)),
    WantedKind("apps", "DaemonSet", ("v1",)),
    WantedKind("batch", "CronJob", ("v1",)),
    WantedKind("batch", "Job", ("v1",)),
    WantedKind("", "ReplicationController", ("v1",)),
    WantedKind("", "Pod", ("v1",)),
    *_crd("kubevirt.io", ("v1", "v1alpha3"), "VirtualMachine", "VirtualMachineInstance"),
    WantedKind("networking.k8s.io", "NetworkPolicy", ("v1",)),
    *_crd(
        "policy.networking.k8s.io",
        ("v1alpha1", "v1alpha2"),
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "ClusterNetworkPolicy",
    ),
    WantedKind("networking.k8s.io", "Ingress", ("v1",)),
    *_crd("route.openshift.io", ("v1",), "Route"),
    *_crd("security.istio.io", ("v1", "v1beta1"), "PeerAuthentication", "AuthorizationPolicy"),
    *_crd("k8s.ovn.org", ("v1",), "UserDefinedNetwork", "ClusterUserDefinedNetwork"),
    # Linkerd's policy (ingest/linkerd.py; its linkerd-config ConfigMap is not read from the
    # API, which would mean listing every ConfigMap: the chart's defaults apply), the Gateway
    # API routes that attach to its Servers, SPIRE's ClusterSPIFFEIDs.
    *_crd("policy.linkerd.io", ("v1beta3", "v1beta2", "v1beta1", "v1alpha1"), "Server"),
    *_crd("policy.linkerd.io", ("v1beta1", "v1alpha1"), "ServerAuthorization"),
    *_crd(
        "policy.linkerd.io",
        ("v1alpha1",),
        "AuthorizationPolicy",
        "MeshTLSAuthentication",
        "NetworkAuthentication",
    ),
    *_crd("policy.linkerd.io", ("v1beta3", "v1beta2", "v1beta1", "v1alpha1"), "HTTPRoute"),
    *_crd("gateway.networking.k8s.io", ("v1", "v1beta1"), "HTTPRoute"),
    *_crd("gateway.networking.k8s.io", ("v1", "v1alpha2"), "GRPCRoute"),
    *_crd("spire.spiffe.io", ("v1alpha1",), "ClusterSPIFFEID"),
)

# Read by `microseg audit` only: other commands do not need them, and credentials that may
# not list RBAC objects should not warn on every command.
RBAC_KINDS: tuple[WantedKind, ...] = tuple(
    WantedKind("rbac.authorization.k8s.io", kind, ("v1",))
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
)


def _resources(api: Api, group: str, version: str) -> list[Resource]:
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    try:
        doc = api.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return []
        raise
    out = []
    for r in doc.get("resources") or []:
        if not isinstance(r, dict) or "/" in str(r.get("name", "")):
            continue  # subresources (pods/log, deployments/scale)
        out.append(
            Resource(
                group,
                version,
                str(r.get("kind", "")),
                str(r.get("name", "")),
                bool(r.get("namespaced")),
                frozenset(str(v) for v in r.get("verbs") or []),
            )
        )
    return out


def discover(
    api: Api, kinds: tuple[WantedKind, ...] = KINDS
) -> tuple[list[Resource], list[WantedKind]]:
    """The served resource of each wanted kind (at the most preferred version the readers
    take), and the kinds not served. Raises ApiError when discovery itself fails."""
    groups: dict[str, list[str]] = {"": ["v1"]}
    listing = api.get("/apis")
    for g in listing.get("groups") or []:
        if not isinstance(g, dict):
            continue
        name = str(g.get("name", ""))
        served = [str(v.get("version")) for v in g.get("versions") or [] if isinstance(v, dict)]
        preferred = g.get("preferredVersion")
        first = str(preferred.get("version")) if isinstance(preferred, dict) else None
        if first in served:
            served.remove(first)
            served.insert(0, first)
        groups[name] = served
    cache: dict[tuple[str, str], list[Resource]] = {}
    found: list[Resource] = []
    missing: list[WantedKind] = []
    for want in kinds:
        served = groups.get(want.group, [])
        # The group's preferred version when the readers take it, else the readers' order.
        order = [v for v in served if v in want.versions][:1] + list(want.versions)
        hit = None
        for version in dict.fromkeys(order):
            if version not in served:
                continue
            if (want.group, version) not in cache:
                cache[(want.group, version)] = _resources(api, want.group, version)
            hit = next((r for r in cache[(want.group, version)] if r.kind == want.kind), None)
            if hit is not None:
                break
        if hit is None:
            missing.append(want)
        else:
            found.append(hit)
    return found, missing


def resource_for(api: Api, api_version: str, kind: str) -> Resource | None:
    """The resource serving `kind` at exactly `api_version` (for apply), or None."""
    group, _, version = api_version.rpartition("/")
    if not version:
        return None
    return next((r for r in _resources(api, group, version) if r.kind == kind), None)
