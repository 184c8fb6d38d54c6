"""NetworkPolicy (networking.k8s.io/v1) in one internal form.

Defaults from the API reference are already applied here (protocol TCP, policyTypes,
podSelector-only peers scoped to the policy's namespace), so the engine and the
reference evaluator read one unambiguous structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.selectors import LabelSelector
from microseg.model.sets import IPSet, Protocol

__all__ = [
    "Direction",
    "IPBlockPeer",
    "NetworkPolicy",
    "NodePeer",
    "Peer",
    "PodPeer",
    "PortSpec",
    "Rule",
    "port_name_error",
]


_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def port_name_error(name: str) -> str | None:
    """Why `name` is not an IANA_SVC_NAME (the only form a named port may take), or None."""
    if (
        not 1 <= len(name) <= 15
        or not _IANA_SVC_NAME.fullmatch(name)
        or "--" in name
        or not re.search(r"[a-z]", name)
    ):
        return (
            f"invalid named port {name!r}: expected 1-15 lowercase letters, digits and '-', "
            "with at least one letter, no '--' and no leading or trailing '-'"
        )
    return None


class Direction(Enum):
    INGRESS = "Ingress"
    EGRESS = "Egress"


@dataclass(frozen=True, slots=True)
class PodPeer:
    """Pods matching `pod_selector` in the namespace `namespace`, or in every namespace
    matching `namespace_selector` (exactly one of the two is set)."""

    pod_selector: LabelSelector
    namespace: str | None = None
    namespace_selector: LabelSelector | None = None


@dataclass(frozen=True, slots=True)
class IPBlockPeer:
    """Addresses in `cidr` minus `excepts`; matches endpoints outside the pod network."""

    cidr: str
    excepts: tuple[str, ...]
    addresses: IPSet


@dataclass(frozen=True, slots=True)
class NodePeer:
    """The addresses of the nodes whose labels match (an AdminNetworkPolicy `nodes` peer)."""

    selector: LabelSelector


Peer = PodPeer | IPBlockPeer | NodePeer


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A numeric range (`name` empty) or a named port resolved against the destination pod."""

    protocol: Protocol
    start: int = 1
    end: int = 65535
    name: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """`peers` None means every peer (cluster and external); `ports` None means every port."""

    peers: tuple[Peer, ...] | None
    ports: tuple[PortSpec, ...] | None
    index: int
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: frozenset[Direction]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def affects(self, direction: Direction) -> bool:
        return direction in self.policy_types

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"
