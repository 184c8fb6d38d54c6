"""What a query returns: a Decision with one Trace per direction, made of Steps.

The engine never formats strings; `render/` turns these into text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from microseg.errors import Origin
from microseg.model.netpol import Direction
from microseg.model.sets import ConnSet

__all__ = [
    "Decision",
    "Layer",
    "MeshVerdict",
    "NetworkSide",
    "NetworkSplit",
    "Step",
    "Tier",
    "Trace",
    "Verdict",
]


class Verdict(Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"
    NO_MATCH = "NoMatch"


class Tier(Enum):
    ADMIN = "ANP"
    NETPOL = "NP"
    BASELINE = "BANP"
    DEFAULT = "default"
    MESH = "mesh"


class Layer(Enum):
    """Which enforcement points a verdict counts: NetworkPolicy tiers, the Istio mesh, or both."""

    NETWORK = "network"
    MESH = "mesh"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class MeshVerdict:
    """The mesh's answer to one request: `allowed`, possibly only when one of `requires`
    holds (L7 alternatives such as `{methods: GET}`; empty: no condition) and none of
    `unless` does (conditions of DENY rules, or an external authorizer's say)."""

    allowed: bool
    requires: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return self.allowed and bool(self.requires or self.unless)


@dataclass(frozen=True, slots=True)
class Step:
    """One reason: `policy`'s rule `rule` in `tier` had `effect` on `conns`. A DEFAULT step
    with no policy is the fallback: allow when nothing isolates, deny when no rule allows."""

    tier: Tier
    effect: Verdict
    conns: ConnSet
    policy: str | None = None
    rule: int | None = None
    origin: Origin | None = None
    rule_name: str = ""
    kind: str = ""
    """The short kind of the policy when the tier alone does not say it (`CNP`); for MESH
    steps `mTLS`, `AuthZ` or `mesh`."""
    detail: str = ""
    """MESH steps: what decided, e.g. `STRICT shop` or `principal cluster.local/ns/a/sa/b`."""


@dataclass(frozen=True, slots=True)
class Trace:
    """How one endpoint's policies decided one direction of a connection.

    `endpoint` is the side whose policies apply (the destination for ingress, the source for
    egress); `external` is True when that side is outside the cluster, where no policy of the
    cluster applies.
    """

    direction: Direction
    endpoint: str
    peer: str
    external: bool
    isolated: bool
    policies: tuple[str, ...]
    steps: tuple[Step, ...]
    allowed: ConnSet
    guardrails: tuple[str, ...] = ()
    """Admin and baseline policies whose subject is the endpoint, e.g. `ANP tenant-guard`."""


@dataclass(frozen=True, slots=True)
class NetworkSide:
    """The primary network of one endpoint; `kind` empty: the cluster's default network.
    `kind` is `UDN` or `CUDN`; `name` is `ns/name` for a UDN, `name` for a CUDN."""

    kind: str = ""
    name: str = ""
    role: str = ""
    topology: str = ""
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class NetworkSplit:
    """Two pods on different primary networks (OVN-Kubernetes user-defined networks): no
    connection between them is possible, whatever the policies allow (engine/index/networks.py)."""

    src: NetworkSide
    dst: NetworkSide


@dataclass(frozen=True, slots=True)
class Decision:
    src: str
    dst: str
    requested: ConnSet | None
    allowed: ConnSet
    verdict: Verdict
    egress: Trace
    ingress: Trace
    partial: bool = False
    """For a range of external addresses: some addresses in it get more than `allowed`."""
    layer: Layer = Layer.NETWORK
    mesh: tuple[Step, ...] = ()
    """The mesh's steps at the destination (layer mesh or both), per connection subset."""
    conditions: tuple[tuple[ConnSet, MeshVerdict], ...] = ()
    """Parts of `allowed` the mesh grants only under L7 conditions, with what they need."""
    networks: NetworkSplit | None = None
    """Set when the endpoints are pods on different primary networks (then nothing is allowed)."""
