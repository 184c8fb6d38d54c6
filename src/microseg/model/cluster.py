"""The cluster snapshot every analysis reads: frozen, typed, with origins."""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.errors import Diagnostic
from microseg.model.netpol import NetworkPolicy
from microseg.model.objects import Namespace, Pod, Service, ServiceAccount, Workload

__all__ = ["Cluster"]


@dataclass(frozen=True, slots=True)
class Cluster:
    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Workload, ...] = ()
    pods: tuple[Pod, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    services: tuple[Service, ...] = ()
    service_accounts: tuple[ServiceAccount, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)

    def namespace(self, name: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        return None
