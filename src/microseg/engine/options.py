"""Choices the specifications leave to the implementation, made explicit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["DEFAULT_OPTIONS", "EngineOptions", "HostNetwork"]


class HostNetwork(Enum):
    """How host-network pods meet NetworkPolicy. The Kubernetes docs ("NetworkPolicy and
    hostNetwork pods") leave it undefined between two behaviours:

    NODE: the plugin cannot tell host-network pods from their node, so policies never select
        them, pod/namespace selectors never match them, and their traffic is node traffic
        (matched by ipBlock). The docs call this the most common implementation: default.
    POD: the plugin tells them apart and treats them like any other pod (what
        netpol-analyzer computes).
    """

    NODE = "node"
    POD = "pod"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    host_network: HostNetwork = HostNetwork.NODE


DEFAULT_OPTIONS = EngineOptions()
