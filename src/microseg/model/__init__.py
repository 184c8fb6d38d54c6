"""The typed cluster model: frozen dataclasses, no I/O, no printing."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from microseg.model.admin import Action, AdminPolicy, AdminRule, AdminTier, Subject
    from microseg.model.cluster import Cluster
    from microseg.model.exposure import Ingress, Route, ServiceBackend
    from microseg.model.labels import FrozenLabels
    from microseg.model.netpol import (
        Direction,
        IPBlockPeer,
        NetworkPolicy,
        NodePeer,
        Peer,
        PodPeer,
        PortSpec,
        Rule,
    )
    from microseg.model.objects import (
        ContainerPort,
        Namespace,
        Node,
        Pod,
        Service,
        ServiceAccount,
        Workload,
        WorkloadKey,
    )
    from microseg.model.selectors import LabelSelector, Operator, Requirement
    from microseg.model.sets import ConnSet, IntervalSet, IPSet, Protocol

__all__ = [
    "Action",
    "AdminPolicy",
    "AdminRule",
    "AdminTier",
    "Cluster",
    "ConnSet",
    "ContainerPort",
    "Direction",
    "FrozenLabels",
    "IPBlockPeer",
    "IPSet",
    "Ingress",
    "IntervalSet",
    "LabelSelector",
    "Namespace",
    "NetworkPolicy",
    "Node",
    "NodePeer",
    "Operator",
    "Peer",
    "Pod",
    "PodPeer",
    "PortSpec",
    "Protocol",
    "Requirement",
    "Route",
    "Rule",
    "Service",
    "ServiceAccount",
    "ServiceBackend",
    "Subject",
    "Workload",
    "WorkloadKey",
]

# Each name's module, imported on first use (PEP 562): a module that needs one model
# type (the CLI's port argument, say) no longer loads them all.
_HOME = {
    "Action": "microseg.model.admin",
    "AdminPolicy": "microseg.model.admin",
    "AdminRule": "microseg.model.admin",
    "AdminTier": "microseg.model.admin",
    "Cluster": "microseg.model.cluster",
    "ConnSet": "microseg.model.sets",
    "ContainerPort": "microseg.model.objects",
    "Direction": "microseg.model.netpol",
    "FrozenLabels": "microseg.model.labels",
    "IPBlockPeer": "microseg.model.netpol",
    "IPSet": "microseg.model.sets",
    "Ingress": "microseg.model.exposure",
    "IntervalSet": "microseg.model.sets",
    "LabelSelector": "microseg.model.selectors",
    "Namespace": "microseg.model.objects",
    "NetworkPolicy": "microseg.model.netpol",
    "Node": "microseg.model.objects",
    "NodePeer": "microseg.model.netpol",
    "Operator": "microseg.model.selectors",
    "Peer": "microseg.model.netpol",
    "Pod": "microseg.model.objects",
    "PodPeer": "microseg.model.netpol",
    "PortSpec": "microseg.model.netpol",
    "Protocol": "microseg.model.sets",
    "Requirement": "microseg.model.selectors",
    "Route": "microseg.model.exposure",
    "Rule": "microseg.model.netpol",
    "Service": "microseg.model.objects",
    "ServiceAccount": "microseg.model.objects",
    "ServiceBackend": "microseg.model.exposure",
    "Subject": "microseg.model.admin",
    "Workload": "microseg.model.objects",
    "WorkloadKey": "microseg.model.objects",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
