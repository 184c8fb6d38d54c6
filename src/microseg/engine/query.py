"""What a query returns: a Decision with one Trace per direction, made of Steps.

The engine never formats strings; `render/` turns these into text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from microseg.errors import Origin
from microseg.model.netpol import Direction
from microseg.model.sets import ConnSet

__all__ = ["Decision", "Step", "Tier", "Trace", "Verdict"]


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
    """The short kind of the policy when the tier alone does not say it (`CNP`)."""


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
