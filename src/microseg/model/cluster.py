"""The cluster snapshot every analysis reads: frozen, typed, with origins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from microseg.errors import Diagnostic
from microseg.model.admin import AdminPolicy, AdminTier
from microseg.model.calico_config import CalicoConfig
from microseg.model.identity import ClusterSPIFFEID
from microseg.model.linkerd_pod import LinkerdPolicies
from microseg.model.mesh import AuthorizationPolicy, MeshSettings, PeerAuthentication
from microseg.model.netpol import NetworkPolicy
from microseg.model.networks import Networks
from microseg.model.objects import Namespace, Node, Pod, Service, ServiceAccount, Workload
from microseg.model.rbac import Rbac

if TYPE_CHECKING:  # model/exposure.py loads where Ingress and Route objects are read
    from microseg.model.exposure import Ingress, Route

__all__ = ["Cluster"]


@dataclass(frozen=True, slots=True)
class Cluster:
    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Workload, ...] = ()
    pods: tuple[Pod, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    services: tuple[Service, ...] = ()
    service_accounts: tuple[ServiceAccount, ...] = ()
    admin_policies: tuple[AdminPolicy, ...] = ()
    nodes: tuple[Node, ...] = ()
    ingresses: tuple[Ingress, ...] = ()
    routes: tuple[Route, ...] = ()
    peer_authentications: tuple[PeerAuthentication, ...] = ()
    authorization_policies: tuple[AuthorizationPolicy, ...] = ()
    mesh: MeshSettings = field(default_factory=MeshSettings)
    networks: Networks = field(default_factory=Networks)
    """OVN-Kubernetes user-defined networks and each namespace's primary network."""
    rbac: Rbac = field(default_factory=Rbac)
    """Roles, ClusterRoles and their bindings (read by `microseg audit`)."""
    linkerd: LinkerdPolicies = field(default_factory=LinkerdPolicies)
    """Linkerd's policy objects and installation settings (model/linkerd.py)."""
    spiffe_ids: tuple[ClusterSPIFFEID, ...] = ()
    """SPIRE ClusterSPIFFEIDs (model/identity.py)."""
    calico: CalicoConfig = field(default_factory=CalicoConfig)
    """Calico tiers, policies, network sets, host endpoints and profiles (model/calico.py)."""
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)

    def tier(self, tier: AdminTier) -> tuple[AdminPolicy, ...]:
        """The policies of a tier in evaluation order: by priority, then by name."""
        chosen = [p for p in self.admin_policies if p.tier is tier]
        return tuple(sorted(chosen, key=lambda p: (p.priority, p.name)))

    @property
    def has_calico(self) -> bool:
        """Whether the input has Calico objects: the analysis then follows Calico's tier
        model for every policy (engine/index/calico_tiers.py)."""
        return self.calico.present

    @property
    def has_istio(self) -> bool:
        """Whether the input has Istio security resources."""
        return bool(self.peer_authentications or self.authorization_policies)

    @property
    def has_linkerd(self) -> bool:
        """Whether the input has Linkerd policy resources, or pods or namespaces that say
        they are in Linkerd's mesh (`linkerd.io/inject`, an injected proxy)."""
        if self.linkerd.has_objects or self.linkerd.configured:
            return True
        if any("linkerd.io/inject" in ns.annotations for ns in self.namespaces):
            return True
        return _pods_in_linkerd(self.pods)

    @property
    def has_mesh(self) -> bool:
        """Whether a mesh layer is evaluated: Istio security resources, or Linkerd's."""
        return self.has_istio or self.has_linkerd

    def namespace(self, name: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        return None


_LAST_LINKERD_PODS: list[tuple[tuple[Pod, ...], bool]] = []


def _pods_in_linkerd(pods: tuple[Pod, ...]) -> bool:
    """Remembered for the last pods tuple: an incremental policy change keeps the very same
    tuple and asks again on each change, a scan of every pod (100,000 pods: tens of ms)."""
    if _LAST_LINKERD_PODS and _LAST_LINKERD_PODS[0][0] is pods:
        return _LAST_LINKERD_PODS[0][1]
    found = any(p.linkerd is not None and (p.linkerd.inject or p.linkerd.injected) for p in pods)
    _LAST_LINKERD_PODS[:] = [(pods, found)]
    return found
