"""Which policies sit in which Calico tier, in evaluation order: data, no masks.

With Calico objects in the input every policy is placed as Calico places it
(docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy):
- tiers by `order`, smallest first; a tier without an order comes after every ordered one
  (tier reference); equal orders by name (Felix calc/policy_sorter.go, TierLess);
- within a tier, policies by `order` (none: after every ordered one), equal orders by
  name (PolKVLess), the name being the one Felix sees: `<namespace>/<tier>.<name>` for a
  namespaced policy, `<tier>.<name>` for a global one, `<namespace>/knp.default.<name>`
  for a Kubernetes NetworkPolicy, `kanp.adminnetworkpolicy.<name>` and
  `kbanp.baselineadminnetworkpolicy.<name>` for the admin policies (libcalico-go
  lib/names/policy.go; a name that already has a dot keeps it);
- Kubernetes NetworkPolicies in the `default` tier at order 1000 (kube-controllers'
  conversion); AdminNetworkPolicies in `adminnetworkpolicy` at their priority, the
  BaselineAdminNetworkPolicy in `baselineadminnetworkpolicy` at order 1000;
  ClusterNetworkPolicies in `kube-admin` / `kube-baseline` at their priority.

The result is one list of tiers, each a list of members; engine/index/calico_compile.py
turns it into first-match tiers and engine/explain/calico.py walks it per query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from microseg.model.admin import AdminPolicy, AdminTier
from microseg.model.calico import (
    ADMIN_TIER,
    BASELINE_TIER,
    BUILTIN_TIERS,
    DEFAULT_TIER,
    KUBE_ADMIN_TIER,
    KUBE_BASELINE_TIER,
    CalicoPolicy,
    TierSpec,
)
from microseg.model.cluster import Cluster
from microseg.model.netpol import NetworkPolicy

__all__ = ["Chain", "Member", "MemberKind", "TierPlan", "plan_tiers", "v1_name"]


class MemberKind(Enum):
    CALICO = "calico"
    KUBERNETES = "kubernetes"
    ADMIN = "admin"


class Chain(Enum):
    """Which of Felix's chains a policy belongs to (host-endpoints/summary): untracked
    (doNotTrack) and pre-DNAT policies apply to host endpoints only, before the normal
    ones, and end without a drop."""

    UNTRACKED = "untracked"
    PRE_DNAT = "preDNAT"
    NORMAL = "normal"


@dataclass(frozen=True, slots=True)
class Member:
    kind: MemberKind
    policy: CalicoPolicy | NetworkPolicy | AdminPolicy
    order: float
    sort_name: str

    @property
    def chain(self) -> Chain:
        p = self.policy
        if isinstance(p, CalicoPolicy):
            if p.do_not_track:
                return Chain.UNTRACKED
            if p.pre_dnat:
                return Chain.PRE_DNAT
        return Chain.NORMAL


@dataclass(frozen=True, slots=True)
class TierPlan:
    tier: TierSpec
    members: tuple[Member, ...]

    def chain(self, chain: Chain) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.chain is chain)


def _tiered(name: str, tier: str) -> str:
    """libcalico-go names.TieredPolicyName: a name without a dot gets its tier in front
    (`default.` when the tier is default); one with a dot is kept."""
    return name if "." in name else f"{tier or DEFAULT_TIER}.{name}"


def v1_name(policy: CalicoPolicy | NetworkPolicy | AdminPolicy) -> str:
    """The name Felix sorts by (see the module docstring)."""
    if isinstance(policy, NetworkPolicy):
        return f"{policy.namespace}/knp.default.{policy.name}"
    if isinstance(policy, AdminPolicy):
        if policy.kind == "AdminNetworkPolicy":
            return f"kanp.adminnetworkpolicy.{policy.name}"
        if policy.kind == "BaselineAdminNetworkPolicy":
            return f"kbanp.baselineadminnetworkpolicy.{policy.name}"
        tier = KUBE_ADMIN_TIER if policy.tier is AdminTier.ADMIN else KUBE_BASELINE_TIER
        return f"kcnp.{tier}.{policy.name}"
    name = _tiered(policy.name, policy.tier)
    return f"{policy.namespace}/{name}" if policy.namespace else name


def _admin_place(policy: AdminPolicy) -> tuple[str, float]:
    if policy.kind == "AdminNetworkPolicy":
        return ADMIN_TIER, float(policy.priority)
    if policy.kind == "BaselineAdminNetworkPolicy":
        return BASELINE_TIER, 1000.0  # "treated as if it had an order of 1,000"
    tier = KUBE_ADMIN_TIER if policy.tier is AdminTier.ADMIN else KUBE_BASELINE_TIER
    return tier, float(policy.priority)


def _tier_key(tier: TierSpec) -> tuple[bool, float, str]:
    return (tier.order is None, tier.order if tier.order is not None else 0.0, tier.name)


def plan_tiers(cluster: Cluster) -> tuple[TierPlan, ...]:
    """The tiers that hold some policy, in evaluation order, each with its members in
    order. Staged policies are not members (they never change a verdict)."""
    specs = {t.name: t for t in cluster.calico.tiers}
    members: dict[str, list[Member]] = {}

    def put(tier: str, member: Member) -> None:
        members.setdefault(tier, []).append(member)
        if tier not in specs:
            specs[tier] = BUILTIN_TIERS.get(tier) or TierSpec(tier, None)

    for p in cluster.calico.enforced:
        order = math.inf if p.order is None else p.order
        put(p.tier, Member(MemberKind.CALICO, p, order, v1_name(p)))
    for np_ in cluster.policies:
        put(DEFAULT_TIER, Member(MemberKind.KUBERNETES, np_, 1000.0, v1_name(np_)))
    for ap in cluster.admin_policies:
        tier, order = _admin_place(ap)
        put(tier, Member(MemberKind.ADMIN, ap, order, v1_name(ap)))
    out = []
    for name in sorted(members, key=lambda n: _tier_key(specs[n])):
        ordered = sorted(members[name], key=lambda m: (m.order, m.sort_name))
        out.append(TierPlan(specs[name], tuple(ordered)))
    return tuple(out)
