"""Calico's policy model (projectcalico.org/v3) in one internal form.

NetworkPolicy, GlobalNetworkPolicy and their Staged forms become `CalicoPolicy`: a tier,
an order, a selector and ordered rules with an action. Tiers, network sets, host
endpoints and profiles are kept as read. Defaults from the references are applied by the
reader (ingest/calico.py): `types` from the rules present, the `default` tier, `Deny` as a
tier's default action.

References (each decision is cited again where it is made):
- docs.tigera.io/calico/latest/reference/resources/networkpolicy,
  .../globalnetworkpolicy, .../stagednetworkpolicy, .../stagedglobalnetworkpolicy,
  .../stagedkubernetesnetworkpolicy, .../tier, .../networkset, .../globalnetworkset,
  .../hostendpoint, .../profile, .../workloadendpoint;
- docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy (tier order, the
  default, adminnetworkpolicy and baselineadminnetworkpolicy tiers, end-of-tier deny);
- docs.tigera.io/calico/latest/reference/host-endpoints/ (failsafe rules, pre-DNAT,
  untracked policy, applyOnForward).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.calico_config import (
    FAILSAFE_INBOUND,
    FAILSAFE_OUTBOUND,
    CalicoConfig,
    FailsafePort,
)
from microseg.model.calico_selector import Selector
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import Direction, NetworkPolicy
from microseg.model.objects import ContainerPort
from microseg.model.sets import IPSet, Protocol

__all__ = [
    "ADMIN_TIER",
    "BASELINE_TIER",
    "BUILTIN_TIERS",
    "DEFAULT_TIER",
    "FAILSAFE_INBOUND",
    "FAILSAFE_OUTBOUND",
    "KUBE_ADMIN_TIER",
    "KUBE_BASELINE_TIER",
    "LABEL_NAME",
    "LABEL_NAMESPACE",
    "LABEL_ORCHESTRATOR",
    "LABEL_SERVICE_ACCOUNT",
    "NAMESPACE_PREFIX",
    "SERVICE_ACCOUNT_PREFIX",
    "CalicoAction",
    "CalicoConfig",
    "CalicoPolicy",
    "CalicoPort",
    "CalicoRule",
    "EntityRule",
    "FailsafePort",
    "HostEndpoint",
    "HttpMatch",
    "IcmpMatch",
    "NetworkSet",
    "Profile",
    "ProtocolMatch",
    "ServiceAccountMatch",
    "ServiceMatch",
    "TierSpec",
]

# Labels Calico adds to every Kubernetes workload endpoint, and the prefixes under which
# an endpoint inherits its namespace's and service account's labels through the profiles
# kns.<namespace> and ksa.<namespace>.<account> (libcalico-go k8s/conversion: the
# namespaceSelector `a == 'b'` is evaluated as `pcns.a == 'b'` on the endpoint).
LABEL_NAMESPACE = "projectcalico.org/namespace"
LABEL_ORCHESTRATOR = "projectcalico.org/orchestrator"
LABEL_SERVICE_ACCOUNT = "projectcalico.org/serviceaccount"
LABEL_NAME = "projectcalico.org/name"
NAMESPACE_PREFIX = "pcns."
SERVICE_ACCOUNT_PREFIX = "pcsa."

DEFAULT_TIER = "default"
ADMIN_TIER = "adminnetworkpolicy"
BASELINE_TIER = "baselineadminnetworkpolicy"
KUBE_ADMIN_TIER = "kube-admin"
KUBE_BASELINE_TIER = "kube-baseline"


class CalicoAction(Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"
    LOG = "Log"


@dataclass(frozen=True, slots=True)
class TierSpec:
    """A tier: `order` None sorts last (tier reference: "No value indicates highest
    order"); `default_action` is what a tier that applies to an endpoint does with a
    packet none of its policies decided: Deny, or Pass to the next tier."""

    name: str
    order: float | None
    default_action: CalicoAction = CalicoAction.DENY
    origin: Origin = field(default=Origin(), compare=False)
    builtin: bool = False


# The tiers Calico creates itself, with the orders and default actions the tiered-policy
# page gives as fixed: the default tier at 1,000,000 (Kubernetes NetworkPolicies and every
# policy without a tier); AdminNetworkPolicy in `adminnetworkpolicy` at 1,000 and the
# BaselineAdminNetworkPolicy in `baselineadminnetworkpolicy` at 10,000,000, both Pass
# (Calico 3.30); ClusterNetworkPolicy in `kube-admin` (1,000) and `kube-baseline`
# (10,000,000), both Pass (Calico 3.31).
BUILTIN_TIERS = {
    DEFAULT_TIER: TierSpec(DEFAULT_TIER, 1_000_000.0, CalicoAction.DENY, builtin=True),
    ADMIN_TIER: TierSpec(ADMIN_TIER, 1_000.0, CalicoAction.PASS, builtin=True),
    BASELINE_TIER: TierSpec(BASELINE_TIER, 10_000_000.0, CalicoAction.PASS, builtin=True),
    KUBE_ADMIN_TIER: TierSpec(KUBE_ADMIN_TIER, 1_000.0, CalicoAction.PASS, builtin=True),
    KUBE_BASELINE_TIER: TierSpec(KUBE_BASELINE_TIER, 10_000_000.0, CalicoAction.PASS, builtin=True),
}


@dataclass(frozen=True, slots=True)
class ProtocolMatch:
    """`protocol` of a rule: a member of Protocol, with the protocol number for IP."""

    protocol: Protocol
    number: int = 0


@dataclass(frozen=True, slots=True)
class IcmpMatch:
    """An `icmp`/`notICMP` match: a type (0-254) and optionally a code (0-255)."""

    type: int
    code: int | None = None


@dataclass(frozen=True, slots=True)
class CalicoPort:
    """A port of `ports`/`notPorts`: a number or range (`name` empty), or a named port
    resolved on the endpoint that has it."""

    start: int = 0
    end: int = 0
    name: str = ""


@dataclass(frozen=True, slots=True)
class ServiceAccountMatch:
    """`serviceAccounts`: by `names`, by `selector` over the account's labels, or both."""

    names: tuple[str, ...] = ()
    selector: Selector | None = None


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    """`services`: a Kubernetes Service's endpoints (and, as a destination, its ports)."""

    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class EntityRule:
    """A rule's `source` or `destination`. Every field given must match; None means the
    field is absent."""

    selector: Selector | None = None
    not_selector: Selector | None = None
    namespace_selector: Selector | None = None
    service_accounts: ServiceAccountMatch | None = None
    services: ServiceMatch | None = None
    nets: IPSet | None = None
    not_nets: IPSet | None = None
    ports: tuple[CalicoPort, ...] | None = None
    not_ports: tuple[CalicoPort, ...] = ()

    def selects_endpoints(self) -> bool:
        """Whether a selector-like field is set (then a namespaced policy's rule is scoped
        to its namespace: libcalico-go updateprocessors/rules.go, getEndpointSelector)."""
        return (
            self.selector is not None
            or self.not_selector is not None
            or self.namespace_selector is not None
            or self.service_accounts is not None
        )


@dataclass(frozen=True, slots=True)
class HttpMatch:
    """Application-layer match: methods, and paths as ("exact" | "prefix", value)."""

    methods: tuple[str, ...] = ()
    paths: tuple[tuple[str, str], ...] = ()

    def label(self) -> str:
        parts = []
        if self.methods:
            parts.append("methods: " + "|".join(self.methods))
        if self.paths:
            shown = [v if kind == "exact" else v + "*" for kind, v in self.paths]
            parts.append("paths: " + "|".join(shown))
        return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True, slots=True)
class CalicoRule:
    action: CalicoAction
    direction: Direction
    index: int
    protocol: ProtocolMatch | None = None
    not_protocol: ProtocolMatch | None = None
    icmp: IcmpMatch | None = None
    not_icmp: IcmpMatch | None = None
    ip_version: int | None = None
    source: EntityRule = EntityRule()
    destination: EntityRule = EntityRule()
    http: HttpMatch | None = None
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def peer(self) -> EntityRule:
        """The side that is not the policy's endpoint: the source for ingress rules."""
        return self.source if self.direction is Direction.INGRESS else self.destination

    @property
    def local(self) -> EntityRule:
        """The policy's own endpoint's side: the destination for ingress rules."""
        return self.destination if self.direction is Direction.INGRESS else self.source


@dataclass(frozen=True, slots=True)
class CalicoPolicy:
    """A Calico NetworkPolicy (`namespace` set) or GlobalNetworkPolicy (`namespace` empty),
    enforced or staged. A StagedKubernetesNetworkPolicy keeps its Kubernetes form in
    `k8s` (it stages a NetworkPolicy of the default tier)."""

    kind: str
    name: str
    namespace: str
    tier: str
    order: float | None
    selector: Selector
    types: frozenset[Direction]
    ingress: tuple[CalicoRule, ...] = ()
    egress: tuple[CalicoRule, ...] = ()
    namespace_selector: Selector | None = None
    service_account_selector: Selector | None = None
    do_not_track: bool = False
    pre_dnat: bool = False
    apply_on_forward: bool = False
    staged_action: str = ""
    """For staged kinds: "Set" (enforce as written) or "Delete" (remove the policy)."""
    k8s: NetworkPolicy | None = None
    selector_text: str = ""
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def staged(self) -> bool:
        return self.kind.startswith("Staged")

    @property
    def is_global(self) -> bool:
        return not self.namespace

    def rules(self, direction: Direction) -> tuple[CalicoRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    @property
    def ref(self) -> str:
        """How outputs name it: `ns/name` or, for a global policy, `name`."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def short_kind(self) -> str:
        return {
            "NetworkPolicy": "CalicoNP",
            "GlobalNetworkPolicy": "GNP",
            "StagedNetworkPolicy": "SNP",
            "StagedGlobalNetworkPolicy": "SGNP",
            "StagedKubernetesNetworkPolicy": "SKNP",
        }[self.kind]

    @property
    def enforced_kind(self) -> str:
        """The kind a staged policy stages (itself for an enforced one)."""
        if self.kind == "StagedKubernetesNetworkPolicy":
            return "KubernetesNetworkPolicy"
        return self.kind.removeprefix("Staged")


@dataclass(frozen=True, slots=True)
class NetworkSet:
    """A labelled group of addresses; `namespace` empty for a GlobalNetworkSet."""

    name: str
    namespace: str
    labels: FrozenLabels
    nets: IPSet
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class HostEndpoint:
    """A host interface (or all of a host's interfaces, `interface` "*"). It is also a
    Pod of the cluster (workload kind HostEndpoint, no namespace), so that policies,
    tables and outputs treat it as an endpoint."""

    name: str
    node: str
    interface: str
    expected_ips: tuple[str, ...]
    labels: FrozenLabels
    profiles: tuple[str, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class Profile:
    """Rules and labels an endpoint gets from each profile it names, after every tier
    (profile reference). A pod names kns.<namespace> and ksa.<namespace>.<account>."""

    name: str
    labels_to_apply: FrozenLabels = field(default_factory=FrozenLabels)
    ingress: tuple[CalicoRule, ...] = ()
    egress: tuple[CalicoRule, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)

    def rules(self, direction: Direction) -> tuple[CalicoRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress
