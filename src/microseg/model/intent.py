"""Segmentation intents: what a team says must be possible, impossible, or isolated.

An intent file (`kind: SegmentationIntent`) names endpoint groups, then states flows that
must be allowed, flows that must be denied, strict domains, and expectations. This module
holds the validated, frozen form that `microseg.analyses.verify` checks against the engine;
`microseg.ingest.intents` builds it from YAML with located errors.

Quantifiers (documented in docs/intents.md):
- `allow {from: A, to: B, ports: P}` holds when every endpoint of A reaches every endpoint of
  B (other than itself) on every connection of P.
- `deny {from: A, to: B, ports: P}` holds when no endpoint of A reaches any endpoint of B on
  any connection of P.
- Omitted `ports` mean every protocol and port, in both: the same convention as a
  NetworkPolicy rule without `ports` ("If this field is empty or missing, this rule matches
  all ports", networking.k8s.io/v1 NetworkPolicyIngressRule.ports). So an allow without
  ports asks for All Connections, and a deny without ports forbids any connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.intent_port import IntentPort, parse_intent_port
from microseg.model.selectors import LabelSelector

__all__ = [
    "BUILTIN_GROUPS",
    "CLUSTER_GROUP",
    "INTERNET_GROUP",
    "KUBE_DNS_GROUP",
    "DefaultDeny",
    "Domain",
    "Expectation",
    "FlowIntent",
    "FlowKind",
    "GroupSpec",
    "IntentPort",
    "IntentSet",
    "MaxBlastRadius",
    "NoInternetEgress",
    "parse_intent_port",
]

INTERNET_GROUP = "internet"
CLUSTER_GROUP = "cluster"
KUBE_DNS_GROUP = "kube-dns"
BUILTIN_GROUPS = (INTERNET_GROUP, CLUSTER_GROUP, KUBE_DNS_GROUP)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """One named endpoint group. Exactly one form is set:
    - `workload`: one workload `ns/name` (any kind) or `ns/name[Kind]`;
    - pods: `namespace` and/or `namespace_selector`, optionally narrowed by `selector`
      (a `selector` alone selects matching pods in every namespace);
    - `cidrs`: external addresses (CIDRs)."""

    name: str
    workload: str | None = None
    namespace: str | None = None
    namespace_selector: LabelSelector | None = None
    selector: LabelSelector | None = None
    cidrs: tuple[str, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    def describe(self) -> str:
        if self.workload is not None:
            return f"workload {self.workload}"
        if self.cidrs:
            return "addresses " + ", ".join(self.cidrs)
        parts = []
        if self.namespace is not None:
            parts.append(f"namespace {self.namespace}")
        if self.namespace_selector is not None:
            parts.append(f"namespaces {{{self.namespace_selector}}}")
        if self.selector is not None:
            parts.append(f"pods {{{self.selector}}}")
        return ", ".join(parts) or "every pod"


class FlowKind(Enum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class FlowIntent:
    """`allow` or `deny` entry `index` of intent document `intent`."""

    kind: FlowKind
    intent: str
    index: int
    src: str
    dst: str
    ports: tuple[IntentPort, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.intent}/{self.kind.value}[{self.index}]"

    def describe(self) -> str:
        ports = " ".join(str(p) for p in self.ports) if self.ports else "any port"
        if self.kind is FlowKind.ALLOW and not self.ports:
            ports = "all connections"
        verb = "must reach" if self.kind is FlowKind.ALLOW else "must not reach"
        return f"{self.src} {verb} {self.dst} on {ports}"


@dataclass(frozen=True, slots=True)
class Domain:
    """A strict domain: every flow entering, leaving or inside it must be allow-listed."""

    intent: str
    index: int
    name: str
    members: tuple[str, ...]
    isolation: str = "strict"
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.intent}/domain/{self.name}"

    def describe(self) -> str:
        return f"domain {self.name} ({', '.join(self.members)}): only allow-listed flows"


@dataclass(frozen=True, slots=True)
class DefaultDeny:
    intent: str
    group: str
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.intent}/expect/defaultDeny/{self.group}"

    def describe(self) -> str:
        return f"{self.group} is isolated for ingress and egress"


@dataclass(frozen=True, slots=True)
class NoInternetEgress:
    intent: str
    group: str
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.intent}/expect/noInternetEgress/{self.group}"

    def describe(self) -> str:
        return f"{self.group} reaches no public address"


@dataclass(frozen=True, slots=True)
class MaxBlastRadius:
    intent: str
    index: int
    src: str
    hops: int
    at_most: int
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.intent}/expect/maxBlastRadius[{self.index}]"

    def describe(self) -> str:
        return f"{self.src} reaches at most {self.at_most} workloads within {self.hops} hops"


Expectation = DefaultDeny | NoInternetEgress | MaxBlastRadius


@dataclass(frozen=True, slots=True)
class IntentSet:
    """Every intent document given, merged: groups share one name space across files."""

    groups: tuple[GroupSpec, ...] = ()
    flows: tuple[FlowIntent, ...] = ()
    domains: tuple[Domain, ...] = ()
    expectations: tuple[Expectation, ...] = ()
    files: tuple[str, ...] = ()

    def group(self, name: str) -> GroupSpec | None:
        return next((g for g in self.groups if g.name == name), None)

    @property
    def allows(self) -> tuple[FlowIntent, ...]:
        return tuple(f for f in self.flows if f.kind is FlowKind.ALLOW)

    @property
    def denies(self) -> tuple[FlowIntent, ...]:
        return tuple(f for f in self.flows if f.kind is FlowKind.DENY)

    def count(self) -> int:
        return len(self.flows) + len(self.domains) + len(self.expectations)
