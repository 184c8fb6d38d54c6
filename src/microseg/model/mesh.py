"""The Istio identity layer: service-account identities, mesh membership, PeerAuthentication
and AuthorizationPolicy, as frozen values.

Why a separate module: the mesh is a second enforcement point with its own vocabulary
(principals, mTLS modes, L7 operations). Keeping it apart from NetworkPolicy lets the
engine build it only when the input has mesh resources, so plain-NP inputs cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.labels import FrozenLabels
from microseg.model.objects import Namespace, Pod

__all__ = [
    "AuthorizationPolicy",
    "AuthzAction",
    "AuthzRule",
    "Condition",
    "MeshMode",
    "MeshSettings",
    "MtlsMode",
    "Operation",
    "PeerAuthentication",
    "Source",
    "TargetRef",
    "mesh_mode",
    "principal",
    "spiffe_id",
]

INJECT = "sidecar.istio.io/inject"
DATAPLANE = "istio.io/dataplane-mode"


class MtlsMode(Enum):
    UNSET = "UNSET"
    DISABLE = "DISABLE"
    PERMISSIVE = "PERMISSIVE"
    STRICT = "STRICT"


class AuthzAction(Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    AUDIT = "AUDIT"
    CUSTOM = "CUSTOM"


class MeshMode(Enum):
    NONE = "none"
    SIDECAR = "sidecar"
    AMBIENT = "ambient"
    LINKERD = "linkerd"
    """Linkerd's proxy (model/linkerd.py); the others are Istio's."""

    @property
    def istio(self) -> bool:
        return self in (MeshMode.SIDECAR, MeshMode.AMBIENT)


@dataclass(frozen=True, slots=True)
class MeshSettings:
    """Installation facts the manifests do not carry (CLI: --trust-domain, --istio-root-namespace)."""

    trust_domain: str = "cluster.local"
    root_namespace: str = "istio-system"
    assume_mesh: bool = False
    """--assume-mesh: every pod (host-network ones aside) counts as sidecar-injected, for
    manifests whose namespaces the mesh's installer labels later."""


def principal(trust_domain: str, namespace: str, account: str) -> str:
    """The peer identity AuthorizationPolicy `principals` match: `<td>/ns/<ns>/sa/<sa>`."""
    return f"{trust_domain}/ns/{namespace}/sa/{account}"


def spiffe_id(trust_domain: str, namespace: str, account: str) -> str:
    return "spiffe://" + principal(trust_domain, namespace, account)


def mesh_mode(pod: Pod, namespace: Namespace | None) -> MeshMode:
    """Whether a pod runs in the mesh, and how.

    Sidecar injection follows istio.io "Installing the Sidecar" > "Controlling the injection
    policy": a namespace with `istio-injection=enabled` or an `istio.io/rev` label injects
    its pods; `istio-injection=disabled` never does; a pod's `sidecar.istio.io/inject` label
    (or, as older releases read it, annotation) set to "true" opts in, "false" opts out; the
    pod label takes precedence over the annotation. Host-network pods are never injected.
    Ambient (istio.io "Ambient mode" > "Add workloads to the mesh"): the label
    `istio.io/dataplane-mode=ambient` on the namespace or pod enrols it unless the pod says
    `none`; a pod with a sidecar is handled by its sidecar, not by ztunnel.
    """
    if pod.host_network:
        return MeshMode.NONE
    ns_labels = namespace.labels if namespace is not None else FrozenLabels({})
    pod_choice = pod.labels.get(INJECT, pod.inject_annotation)
    ns_injection = ns_labels.get("istio-injection")
    if ns_injection == "disabled" or pod_choice == "false":
        sidecar = False
    elif pod_choice == "true":
        sidecar = True
    else:
        sidecar = ns_injection == "enabled" or "istio.io/rev" in ns_labels
    if sidecar:
        return MeshMode.SIDECAR
    pod_mode = pod.labels.get(DATAPLANE)
    if pod_mode == "none":
        return MeshMode.NONE
    if pod_mode == "ambient" or ns_labels.get(DATAPLANE) == "ambient":
        return MeshMode.AMBIENT
    return MeshMode.NONE


@dataclass(frozen=True, slots=True)
class PeerAuthentication:
    namespace: str
    name: str
    selector: FrozenLabels | None
    mode: MtlsMode
    port_modes: tuple[tuple[int, MtlsMode], ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Source:
    """One `from.source`: every field set must match (AND); within a field, any value (OR).
    None means the field is absent."""

    principals: tuple[str, ...] | None = None
    not_principals: tuple[str, ...] | None = None
    namespaces: tuple[str, ...] | None = None
    not_namespaces: tuple[str, ...] | None = None
    ip_blocks: tuple[str, ...] | None = None
    not_ip_blocks: tuple[str, ...] | None = None
    remote_ip_blocks: tuple[str, ...] | None = None
    not_remote_ip_blocks: tuple[str, ...] | None = None
    request_principals: tuple[str, ...] | None = None
    not_request_principals: tuple[str, ...] | None = None
    service_accounts: tuple[str, ...] | None = None
    not_service_accounts: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One `to.operation`; ports are kept as written (numbers as strings)."""

    ports: tuple[str, ...] | None = None
    not_ports: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    not_methods: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    not_paths: tuple[str, ...] | None = None
    hosts: tuple[str, ...] | None = None
    not_hosts: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    values: tuple[str, ...] | None = None
    not_values: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AuthzRule:
    """`sources`/`operations` None: the `from`/`to` list is absent (matches anything)."""

    index: int
    sources: tuple[Source, ...] | None = None
    operations: tuple[Operation, ...] | None = None
    conditions: tuple[Condition, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class TargetRef:
    kind: str
    name: str
    group: str = ""
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class AuthorizationPolicy:
    namespace: str
    name: str
    action: AuthzAction
    selector: FrozenLabels | None
    rules: tuple[AuthzRule, ...]
    target_refs: tuple[TargetRef, ...] = ()
    provider: str = ""
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"
