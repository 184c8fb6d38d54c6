"""Cluster-scoped guardrail policies in one internal form.

AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1) and
ClusterNetworkPolicy (v1alpha2, `tier: Admin|Baseline`) all become `AdminPolicy`: a tier,
a priority, a subject and ordered rules with an action. Peers reuse the NetworkPolicy peer
types: `namespaces` is every pod of matching namespaces, `pods` a pod selector within
them, `networks` and `nodes` address blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.netpol import Direction, Peer, PortSpec
from microseg.model.selectors import LabelSelector

__all__ = ["Action", "AdminPolicy", "AdminRule", "AdminTier", "Subject"]


class Action(Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"


class AdminTier(Enum):
    ADMIN = "Admin"
    BASELINE = "Baseline"


@dataclass(frozen=True, slots=True)
class Subject:
    """Pods matching `pod_selector` in namespaces matching `namespace_selector`."""

    namespace_selector: LabelSelector
    pod_selector: LabelSelector = field(default_factory=LabelSelector)


@dataclass(frozen=True, slots=True)
class AdminRule:
    """`ports` None means every port. `domain_names` are kept, never resolved: a static
    analysis cannot know which addresses a name will have."""

    name: str
    action: Action
    direction: Direction
    peers: tuple[Peer, ...]
    ports: tuple[PortSpec, ...] | None
    index: int
    domain_names: tuple[str, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class AdminPolicy:
    kind: str
    name: str
    tier: AdminTier
    priority: int
    subject: Subject
    ingress: tuple[AdminRule, ...] = ()
    egress: tuple[AdminRule, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    def rules(self, direction: Direction) -> tuple[AdminRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    @property
    def short_kind(self) -> str:
        if self.kind == "ClusterNetworkPolicy":
            return "CNP"
        return "ANP" if self.tier is AdminTier.ADMIN else "BANP"
