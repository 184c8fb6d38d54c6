"""The typed cluster model: frozen dataclasses, no I/O, no printing."""

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
