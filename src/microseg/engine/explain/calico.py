"""Explanations under Calico's tiers: which tier, policy and rule decided which part.

The walk follows the order engine/index/calico_compile.py compiles (failsafe pinholes,
untracked and pre-DNAT policies on host endpoints, the normal tiers, the profiles) and
asks engine/combine.py's TierWalk how each rule's connections stack: within a tier the
first matching rule decides (Allow and Deny are final, Pass hands the rest to the next
tier), a Log rule is shown and decides nothing, and a tier that applies to the endpoint
ends in its defaultAction. Rule matches and connection sets are computed per query from
the policies (named ports resolved on the destination), not read from the tables, so a
test can hold the two against each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from microseg.engine.combine import ALLOW, CODE_OF, DENY, PASS, TierWalk
from microseg.engine.explain.netpol import peer_columns, rule_conns
from microseg.engine.index.calico_compile import profile_chain
from microseg.engine.index.calico_labels import pod_profiles
from microseg.engine.index.calico_ports import source_ports_match
from microseg.engine.index.calico_tiers import Chain, Member, TierPlan
from microseg.engine.query import PolicyKind, Step, Tier, Trace, Verdict
from microseg.model.admin import Action, AdminPolicy
from microseg.model.calico import CalicoAction, CalicoPolicy, CalicoRule
from microseg.model.netpol import Direction, NetworkPolicy, PortSpec
from microseg.model.objects import Pod
from microseg.model.sets import ConnSet, IPSet

if TYPE_CHECKING:
    from microseg.engine.assembly import Endpoint, Index
    from microseg.engine.index.calico_compile import CalicoCompiler

__all__ = ["explain_calico", "member_label"]

_CODE = {CalicoAction.ALLOW: ALLOW, CalicoAction.DENY: DENY, CalicoAction.PASS: PASS}
_EFFECT = {
    CalicoAction.ALLOW: Verdict.ALLOW,
    CalicoAction.DENY: Verdict.DENY,
    CalicoAction.PASS: Verdict.PASS,
    CalicoAction.LOG: Verdict.LOG,
}
_ADMIN_EFFECT = {Action.ALLOW: Verdict.ALLOW, Action.DENY: Verdict.DENY, Action.PASS: Verdict.PASS}
_KINDS = {
    "NetworkPolicy": PolicyKind.CALICO_NP,
    "GlobalNetworkPolicy": PolicyKind.GNP,
    "StagedNetworkPolicy": PolicyKind.SNP,
    "StagedGlobalNetworkPolicy": PolicyKind.SGNP,
    "StagedKubernetesNetworkPolicy": PolicyKind.SKNP,
}


def member_label(policy: CalicoPolicy | NetworkPolicy | AdminPolicy) -> str:
    """`GNP security/deny-pci`, `CalicoNP shop/db`, `NP shop/web`, `ANP guard`."""
    if isinstance(policy, NetworkPolicy):
        return f"NP {policy.ref}"
    if isinstance(policy, AdminPolicy):
        return f"{policy.short_kind} {policy.name}"
    return f"{policy.short_kind} {_ref(policy)}"


def _ref(policy: CalicoPolicy) -> str:
    """A GlobalNetworkPolicy as `tier/name` (a `tier.` prefix of the name dropped), a
    NetworkPolicy as `namespace/name`."""
    if policy.namespace:
        return policy.ref
    return f"{policy.tier}/{policy.name.removeprefix(policy.tier + '.')}"


class _Walk:
    """One direction of one query: the steps as the tiers are walked."""

    def __init__(
        self,
        conn: Index,
        direction: Direction,
        klass: int,
        columns: list[int],
        destination: Pod | None,
    ) -> None:
        assert conn.calico is not None
        self.cc: CalicoCompiler = conn.calico
        self.conn = conn
        self.direction = direction
        self.klass = klass
        self.columns = columns
        self.destination = destination
        everything = conn.everything
        self.walk = TierWalk(everything, ConnSet.none(), False, everything)
        self.steps: list[Step] = []
        self.applied: list[str] = []
        self.everything = everything

    def _all(self, mask: npt.NDArray[np.bool_]) -> bool:
        return bool(self.columns) and all(bool(mask[c]) for c in self.columns)

    def _step(self, part: ConnSet, effect: Verdict, tier: TierPlan | None, **kw: object) -> None:
        given = str(kw.pop("tier_name", ""))
        name = tier.tier.name if tier is not None else given
        order = tier.tier.order if tier is not None else None
        self.steps.append(
            Step(
                Tier.CALICO,
                effect,
                part,
                tier_name=name,
                tier_order=order,
                **kw,  # type: ignore[arg-type]
            )
        )

    # -- one member of a tier --------------------------------------------------------------
    def _calico(self, policy: CalicoPolicy, plan: TierPlan | None, profile: bool = False) -> None:
        subjects = self.cc.subjects(policy) if not profile else None
        for rule in policy.rules(self.direction):
            self._calico_rule(rule, policy, plan, subjects)

    def _calico_rule(
        self,
        rule: CalicoRule,
        policy: CalicoPolicy | None,
        plan: TierPlan | None,
        subjects: npt.NDArray[np.bool_] | None,
        profile: str = "",
    ) -> bool:
        """One rule's step; True when it decided something."""
        if not self.walk.tier_open or not source_ports_match(rule):
            return False
        namespace = policy.namespace if policy is not None else ""
        rows = subjects if subjects is not None else np.ones(self.cc.n_classes, dtype=np.bool_)
        rows, peers = self.cc.rule_cells(rule, namespace, rows)
        if not rows[self.klass] or not self._all(peers):
            return False
        conns = self.cc.rule_ports(rule).toward(self.destination) & self.everything
        effect = _EFFECT[rule.action]
        if policy is not None:
            who = {"policy": _ref(policy), "policy_kind": _KINDS[policy.kind]}
        else:
            who = {"policy": profile, "policy_kind": PolicyKind.PROFILE}
        if rule.action is CalicoAction.LOG or rule.http is not None:
            part = conns & self.walk.tier_open
            if part:
                # A Log rule decides nothing; an HTTP rule is an L7 condition that the
                # tables do not count (README, Calico): both are shown as they stand.
                label = rule.http.label() if rule.http is not None else ""
                self._step(
                    part,
                    Verdict.LOG if rule.http is None else Verdict.PASS,
                    plan,
                    rule=rule.index,
                    origin=rule.origin,
                    rule_name=label,
                    tier_name="profiles" if profile else "",
                    **who,
                )
            return False
        part = self.walk.first_match(conns, _CODE[rule.action])
        if part:
            tier = Tier.PROFILE if profile else Tier.CALICO
            self.steps.append(
                Step(
                    tier,
                    effect,
                    part,
                    who["policy"],
                    rule.index,
                    rule.origin,
                    policy_kind=who["policy_kind"],  # type: ignore[arg-type]
                    tier_name=plan.tier.name if plan is not None else "profiles",
                    tier_order=plan.tier.order if plan is not None else None,
                )
            )
        return bool(part)

    def _k8s(self, policy: NetworkPolicy, plan: TierPlan) -> None:
        rc = self.conn.rules
        for rule in policy.rules(self.direction):
            if not self.walk.tier_open:
                return
            if rule.peers is not None and not all(
                any(bool(rc.peer_mask(p)[c]) for p in rule.peers) for c in self.columns
            ):
                continue
            if not self.columns:
                continue
            conns = self._conns(rule.ports)
            part = self.walk.first_match(conns, ALLOW)
            if part:
                self._step(
                    part,
                    Verdict.ALLOW,
                    plan,
                    policy=policy.ref,
                    rule=rule.index,
                    origin=rule.origin,
                    policy_kind=PolicyKind.NP,
                )

    def _admin(self, policy: AdminPolicy, plan: TierPlan) -> None:
        rc = self.conn.rules
        for rule in policy.rules(self.direction):
            if not self.walk.tier_open or not self.columns:
                return
            masks = [rc.peer_mask(p) for p in rule.peers or ()]
            if rule.peers is not None and not all(
                any(bool(m[c]) for m in masks) for c in self.columns
            ):
                continue
            part = self.walk.first_match(self._conns(rule.ports), CODE_OF[rule.action])
            if part:
                self._step(
                    part,
                    _ADMIN_EFFECT[rule.action],
                    plan,
                    policy=policy.name,
                    rule=rule.index,
                    origin=rule.origin,
                    rule_name=rule.name,
                    policy_kind=PolicyKind(policy.short_kind),
                )

    def _conns(self, ports: tuple[PortSpec, ...] | None) -> ConnSet:
        if ports is None:
            return self.everything
        return rule_conns(ports, self.destination)

    # -- tiers ----------------------------------------------------------------------------
    def _applies(self, member: Member) -> bool:
        p = member.policy
        if isinstance(p, CalicoPolicy):
            return self.direction in p.types and bool(self.cc.subjects(p)[self.klass])
        if isinstance(p, NetworkPolicy):
            return p.affects(self.direction) and bool(self.conn.rules.policy_targets(p)[self.klass])
        return bool(p.rules(self.direction)) and bool(
            self.conn.rules.subject_targets(p.subject)[self.klass]
        )

    def tier(self, plan: TierPlan, chain: Chain) -> None:
        members = [m for m in plan.chain(chain) if self._applies(m)]
        if not members:
            return
        self.walk.start_first_match()
        for m in members:
            self.applied.append(member_label(m.policy))
            p = m.policy
            if isinstance(p, CalicoPolicy):
                self._calico(p, plan)
            elif isinstance(p, NetworkPolicy):
                self._k8s(p, plan)
            else:
                self._admin(p, plan)
        rest = self.walk.tier_open
        if not rest:
            return
        drop = chain is Chain.NORMAL and plan.tier.default_action is CalicoAction.DENY
        self.walk.first_match(rest, DENY if drop else PASS)
        self._step(rest, Verdict.DENY if drop else Verdict.PASS, plan)

    def failsafe(self) -> None:
        pod = self.conn.classes.reps[self.klass]
        if pod.workload.kind != "HostEndpoint":
            return
        calico = self.conn.cluster.calico
        holes = (
            calico.failsafe_inbound
            if self.direction is Direction.INGRESS
            else calico.failsafe_outbound
        )
        self.walk.start_first_match()
        for hole in holes:
            if hole.net and not self._all(self.cc.nets(IPSet.from_cidr(hole.net))):
                continue
            part = self.walk.first_match(ConnSet.single(hole.protocol, hole.port), ALLOW)
            if part:
                self._step(
                    part,
                    Verdict.ALLOW,
                    None,
                    policy="failsafe",
                    policy_kind=PolicyKind.FAILSAFE,
                    tier_name="failsafe",
                )

    def profiles(self) -> None:
        pod = self.conn.classes.reps[self.klass]
        profiles = {p.name: p for p in self.conn.cluster.calico.profiles}
        chain = profile_chain(pod_profiles(pod), profiles)
        if not self.walk.undecided:
            return
        for name, profile in chain:
            self.walk.start_first_match()
            if profile is None:  # Calico's generated kns profile: everything
                part = self.walk.first_match(self.walk.undecided, ALLOW)
                if part:
                    self.steps.append(
                        Step(
                            Tier.PROFILE, Verdict.ALLOW, part, name, policy_kind=PolicyKind.PROFILE
                        )
                    )
                return
            for rule in profile.rules(self.direction):
                if rule.action is CalicoAction.PASS:
                    continue
                self._calico_rule(rule, None, None, None, profile=name)
            if not self.walk.undecided:
                return
        rest = self.walk.undecided
        if rest:
            self.walk.first_match(rest, DENY)
            self.steps.append(Step(Tier.PROFILE, Verdict.DENY, rest))


def explain_calico(conn: Index, direction: Direction, endpoint: Endpoint, peer: Endpoint) -> Trace:
    """Why `endpoint`'s Calico tiers allow (or not) traffic with `peer` in `direction`."""
    assert endpoint.klass is not None
    assert conn.calico is not None
    klass = endpoint.klass
    columns = peer_columns(conn, peer)
    if direction is Direction.INGRESS:
        destination: Pod | None = conn.classes.reps[klass]
    else:
        destination = conn.classes.reps[peer.klass] if peer.klass is not None else None
    w = _Walk(conn, direction, klass, columns, destination)
    endpoint_ok = bool(conn.calico.labels.endpoint_ok[klass])
    if endpoint_ok:
        w.failsafe()
        chains = [Chain.UNTRACKED] + ([Chain.PRE_DNAT] if direction is Direction.INGRESS else [])
        for chain in [*chains, Chain.NORMAL]:
            for plan in conn.calico.plans:
                w.tier(plan, chain)
        w.profiles()
    else:
        # A host-network pod has no workload endpoint: no Calico policy applies to it.
        rest = w.walk.default()
        if rest:
            w.steps.append(Step(Tier.DEFAULT, Verdict.ALLOW, rest))
    table = conn.ingress if direction is Direction.INGRESS else conn.egress
    return Trace(
        direction,
        endpoint.name,
        peer.name,
        False,
        bool(table.isolated[klass]),
        tuple(dict.fromkeys(w.applied)),
        tuple(w.steps),
        w.walk.allowed,
    )
