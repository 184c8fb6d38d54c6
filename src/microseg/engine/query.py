"""What a query returns: a Decision with one Trace per direction, made of Steps.

The engine never formats strings; `render/` turns these into text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from microseg.errors import Origin
from microseg.model.netpol import Direction
from microseg.model.sets import ConnSet

__all__ = [
    "Decision",
    "EntryStep",
    "Layer",
    "MeshCause",
    "MeshDetail",
    "MeshVerdict",
    "NetworkSide",
    "NetworkSplit",
    "PolicyKind",
    "Step",
    "StepKind",
    "Tier",
    "Trace",
    "Verdict",
    "ext_authz_condition",
    "http_condition",
]


class Verdict(Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"
    NO_MATCH = "NoMatch"
    LOG = "Log"
    """A Calico Log rule: it records the packet and decides nothing."""


class Tier(Enum):
    ADMIN = "ANP"
    NETPOL = "NP"
    BASELINE = "BANP"
    DEFAULT = "default"
    MESH = "mesh"
    CALICO = "calico"
    """A Calico tier (its name and order in the step): with Calico objects in the input
    every policy, Kubernetes ones included, is evaluated in Calico's tiers."""
    PROFILE = "profile"
    """An endpoint's Calico profiles, after every tier."""


class Layer(Enum):
    """Which enforcement points a verdict counts: NetworkPolicy tiers, the Istio mesh, or both."""

    NETWORK = "network"
    MESH = "mesh"
    BOTH = "both"


def ext_authz_condition(provider: str, clause: str) -> str:
    """The condition a CUSTOM rule puts on a request: the external authorizer may deny it
    (when `clause`, an L7 alternative, holds; "" for every request). Such labels sit in
    `MeshVerdict.unless` beside the DENY rules' clauses."""
    return f"ext-authz {provider} denies {clause}".strip()


def http_condition(clause: str) -> str:
    """The condition on a request to a port whose protocol the sidecar detects at run time:
    HTTP rules (methods, paths, ...) match only when the traffic turns out to be HTTP."""
    return f"if HTTP {clause}".strip()


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


class StepKind(StrEnum):
    """What a step records: a rule that decided (RULE), an isolating NetworkPolicy with no
    rule for the rest (ISOLATION), the default (DEFAULT), or one of the mesh's reasons."""

    RULE = "rule"
    ISOLATION = "isolation"
    DEFAULT = "default"
    TIER_END = "tier-end"
    """A Calico tier applied to the endpoint and none of its rules decided: its
    defaultAction (Deny, or Pass to the next tier)."""
    PROFILE = "profile"
    LOG = "log"
    MTLS = "mTLS"
    AUTHZ = "AuthZ"
    MESH = "mesh"
    SERVER = "Server"
    """Linkerd: the Server (or default policy) that governs the port."""


class PolicyKind(StrEnum):
    """The kind of the policy behind a step, as labels print it."""

    NP = "NP"
    ANP = "ANP"
    BANP = "BANP"
    CNP = "CNP"
    AUTHZ = "AuthZ"
    LINKERD = "Linkerd"
    GNP = "GNP"
    CALICO_NP = "CalicoNP"
    SNP = "SNP"
    SGNP = "SGNP"
    SKNP = "SKNP"
    PROFILE = "Profile"
    FAILSAFE = "failsafe"


class MeshCause(StrEnum):
    """Why the mesh gave its part of a verdict (istio.io "Authorization Policy" and
    "PeerAuthentication" references)."""

    NOT_GOVERNED = "not-governed"
    """A protocol the sidecar does not intercept; `protocol` says which."""
    OUTSIDE_MESH = "outside-mesh"
    PLAINTEXT_REJECTED = "plaintext-rejected"
    """STRICT mTLS at `scope` and a peer without a mesh identity."""
    MTLS_MODE = "mtls-mode"
    """The effective PeerAuthentication `mode` at `scope`."""
    AMBIENT_L4 = "ambient-l4"
    TCP_ONLY = "tcp-only"
    """UDP and SCTP: the network layer alone decides."""
    PEER = "peer"
    """An AuthorizationPolicy rule matched the peer (`principal`, None for plaintext),
    needing one of `conditions` (L7 alternatives; none: unconditionally)."""
    DENY_WHEN = "deny-when"
    """A DENY rule that denies when one of `conditions` holds."""
    EXT_AUTHZ = "ext-authz"
    """A CUSTOM rule: the external authorizer `provider` may deny on `conditions`."""
    NO_ALLOW_MATCH = "no-allow-match"
    """ALLOW policies (`policies`) apply and none of their rules matches."""
    SNIFFED = "sniffed"
    """No Service declares the port's protocol: the sidecar detects it, and what is
    allowed only to HTTP traffic is conditional on the traffic being HTTP."""
    LINKERD_SERVER = "linkerd-server"
    """Linkerd: the Server `server` governs the port (`protocol`, `mode` its accessPolicy),
    or, `server` empty, the default policy `mode`, set by `scope` (pod, namespace, cluster)."""
    LINKERD_SKIPPED = "linkerd-skipped"
    """Linkerd: the port is in skip-inbound-ports; traffic bypasses the proxy."""
    LINKERD_AUTHZ = "linkerd-authz"
    """Linkerd: an authorization of kind `authz` admits the client (`principal` its identity,
    None when unauthenticated; `network` when it names networks), on every request, or on
    the routes in `conditions` (route-level authorizations and the probe route)."""
    LINKERD_DENIED = "linkerd-denied"
    """Linkerd: no authorization admits the client; `policies` lists those that apply."""


@dataclass(frozen=True, slots=True)
class MeshDetail:
    """The data behind a mesh step; render/ words it."""

    cause: MeshCause
    protocol: str = ""
    mode: str = ""
    scope: str = ""
    principal: str | None = None
    conditions: tuple[str, ...] = ()
    provider: str = ""
    policies: tuple[str, ...] = ()
    server: str = ""
    """Linkerd: the Server's `ns/name`."""
    authz: str = ""
    """Linkerd: the kind of authorization (AuthorizationPolicy, ServerAuthorization,
    default, accessPolicy, probe)."""
    network: str = ""
    """Linkerd: the networks an authorization admits clients from, when not every network."""


_MESH_KIND = {
    MeshCause.MTLS_MODE: StepKind.MTLS,
    MeshCause.PLAINTEXT_REJECTED: StepKind.MTLS,
    MeshCause.PEER: StepKind.AUTHZ,
    MeshCause.DENY_WHEN: StepKind.AUTHZ,
    MeshCause.EXT_AUTHZ: StepKind.AUTHZ,
    MeshCause.NO_ALLOW_MATCH: StepKind.AUTHZ,
    MeshCause.LINKERD_SERVER: StepKind.SERVER,
    MeshCause.LINKERD_SKIPPED: StepKind.SERVER,
    MeshCause.LINKERD_AUTHZ: StepKind.AUTHZ,
    MeshCause.LINKERD_DENIED: StepKind.AUTHZ,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One reason: `policy`'s rule `rule` in `tier` had `effect` on `conns`. A NETPOL step
    with no policy is the isolation's deny for what no rule allows; a DEFAULT step with no
    policy is the fallback allow. Every field is data: render/steps.py words it."""

    tier: Tier
    effect: Verdict
    conns: ConnSet
    policy: str | None = None
    rule: int | None = None
    origin: Origin | None = None
    rule_name: str = ""
    policy_kind: PolicyKind | None = None
    """Set with `policy`: which kind of policy it names."""
    mesh: MeshDetail | None = None
    """MESH steps: what decided, as data."""
    tier_name: str = ""
    """CALICO steps: the Calico tier's name."""
    tier_order: float | None = None
    """CALICO steps: the tier's order (None: the tier has none, it comes last)."""

    @property
    def kind(self) -> StepKind:
        if self.mesh is not None:
            return _MESH_KIND.get(self.mesh.cause, StepKind.MESH)
        if self.effect is Verdict.LOG:
            return StepKind.LOG
        if self.tier is Tier.PROFILE:
            return StepKind.PROFILE
        if self.tier is Tier.CALICO:
            return StepKind.RULE if self.policy is not None else StepKind.TIER_END
        if self.tier is Tier.MESH:
            return StepKind.MESH
        if self.policy is not None:
            return StepKind.RULE
        if self.tier is Tier.NETPOL:
            return StepKind.ISOLATION
        return StepKind.DEFAULT


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
class EntryStep:
    """How the ingress controller reaches a pod: an Ingress or Route (`kind`, `ref`) names
    `service` and the port asked for, whose target port the pod declares (`conns`)."""

    kind: str
    ref: str
    service: str
    conns: ConnSet
    origin: Origin | None = None


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
    entries: tuple[EntryStep, ...] | None = None
    """From the ingress controller: the Ingress and Route objects that open ports to the
    destination (None for any other source). Only those ports can be allowed."""
