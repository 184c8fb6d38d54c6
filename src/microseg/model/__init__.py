"""The typed cluster model: frozen dataclasses, no I/O, no printing."""

from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import (
    Direction,
    IPBlockPeer,
    NetworkPolicy,
    Peer,
    PodPeer,
    PortSpec,
    Rule,
)
from microseg.model.objects import (
    ContainerPort,
    Namespace,
    Pod,
    Service,
    ServiceAccount,
    Workload,
    WorkloadKey,
)
from microseg.model.selectors import LabelSelector, Operator, Requirement
from microseg.model.sets import ConnSet, IntervalSet, IPSet, Protocol

__all__ = [
    "Cluster",
    "ConnSet",
    "ContainerPort",
    "Direction",
    "FrozenLabels",
    "IPBlockPeer",
    "IPSet",
    "IntervalSet",
    "LabelSelector",
    "Namespace",
    "NetworkPolicy",
    "Operator",
    "Peer",
    "Pod",
    "PodPeer",
    "PortSpec",
    "Protocol",
    "Requirement",
    "Rule",
    "Service",
    "ServiceAccount",
    "Workload",
    "WorkloadKey",
]
