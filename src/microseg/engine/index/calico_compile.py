"""Calico's tiers compiled into first-match tiers over endpoint classes and peer columns.

Selectors are assembled as Calico's own conversion assembles them before Felix sees them
(libcalico-go lib/backend/syncersv1/updateprocessors):
- a NetworkPolicy selects `(selector) && projectcalico.org/namespace == '<ns>'`, and its
  serviceAccountSelector is added over `pcsa.` labels (networkpolicyprocessor.go);
- a GlobalNetworkPolicy adds its namespaceSelector over `pcns.` labels, after which every
  `all()` reads `has(projectcalico.org/namespace)`; likewise the serviceAccountSelector with
  `has(projectcalico.org/serviceaccount)` (globalnetworkpolicyprocessor.go);
- a rule's source or destination (rules.go, getEndpointSelector): the namespaceSelector
  over `pcns.` labels (`all()` is every namespaced endpoint, `global()` every other), or
  for a namespaced policy its own namespace, scopes the selector and the service-account
  match as soon as any selector-like field is given, notSelector included; the
  notSelector itself is not scoped; nets, notNets and services are further conditions.
Selectors match endpoints and network sets (a set's addresses). `nets` and `notNets` match
addresses outside the pods and the declared addresses of hosts (host endpoints,
host-network pods): a pod's address is not known statically, so a side with either field
matches no pod, as network-config-analyzer reads it (README, Calico).

Each direction is a sequence of first-match tiers (engine/index/firstmatch.py), top first:
failsafe pinholes and untracked and pre-DNAT policies on host endpoints (ending without a
drop: host-endpoints/summary), the normal tiers (ending in their defaultAction), then the
profiles (each one's rules in turn, then a drop: profile reference). A pod whose first
profile is the kns.<namespace> Calico generates (allow everything) needs no profile tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.engine.combine import ALLOW, CODE_OF, DENY, PASS, Code
from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.calico_labels import CalicoLabelIndex, pod_profiles
from microseg.engine.index.calico_ports import RulePorts, rule_ports, source_ports_match
from microseg.engine.index.calico_tiers import Chain, Member, TierPlan, plan_tiers
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.index.firstmatch import FirstMatchTier, PortMatch, runs_of
from microseg.engine.index.packed import Bits, pack
from microseg.engine.index.rules import RuleCompiler
from microseg.model.admin import AdminPolicy
from microseg.model.calico import (
    LABEL_NAMESPACE,
    LABEL_SERVICE_ACCOUNT,
    NAMESPACE_PREFIX,
    SERVICE_ACCOUNT_PREFIX,
    CalicoAction,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    FailsafePort,
    Profile,
    ServiceAccountMatch,
)
from microseg.model.calico_selector import (
    All,
    And,
    Global,
    Has,
    LabelOp,
    Not,
    Op,
    Selector,
    prefixed,
    replaced,
)
from microseg.model.cluster import Cluster
from microseg.model.netpol import Direction, NetworkPolicy, PortSpec
from microseg.model.sets import IPV4_MAX, ConnSet, IPSet

__all__ = [
    "CalicoCompiler",
    "entity_selector",
    "policy_selector",
    "profile_chain",
]

Mask = npt.NDArray[np.bool_]
Index = npt.NDArray[np.intp]
Policy = CalicoPolicy | NetworkPolicy | AdminPolicy
Swap = tuple[Policy, Policy | None]
Stop = tuple[Policy, int]

_CODES = {CalicoAction.ALLOW: ALLOW, CalicoAction.DENY: DENY, CalicoAction.PASS: PASS}
GENERATED_KNS = "generated"


def _and(a: Selector | None, b: Selector) -> Selector:
    return b if a is None else And((a, b))


def policy_selector(policy: CalicoPolicy) -> Selector:
    """The endpoints a Calico policy applies to, as Calico's conversion writes it."""
    sel: Selector | None = policy.selector if policy.selector_text else None
    if policy.namespace:
        sel = _and(sel, LabelOp(LABEL_NAMESPACE, Op.EQ, policy.namespace))
        if policy.service_account_selector is not None:
            sel = And((sel, prefixed(policy.service_account_selector, SERVICE_ACCOUNT_PREFIX)))
        return sel
    if policy.namespace_selector is not None:
        sel = _and(sel, prefixed(policy.namespace_selector, NAMESPACE_PREFIX))
        sel = replaced(sel, All, Has(LABEL_NAMESPACE))
    if policy.service_account_selector is not None:
        sel = _and(sel, prefixed(policy.service_account_selector, SERVICE_ACCOUNT_PREFIX))
        sel = replaced(sel, All, Has(LABEL_SERVICE_ACCOUNT))
    return sel if sel is not None else All()


def _accounts(match: ServiceAccountMatch) -> Selector | None:
    sel = prefixed(match.selector, SERVICE_ACCOUNT_PREFIX) if match.selector else None
    if not match.names:
        return sel
    names = LabelOp(LABEL_SERVICE_ACCOUNT, Op.IN, values=frozenset(match.names))
    return names if sel is None else And((sel, names))


def entity_selector(er: EntityRule, namespace: str) -> Selector | None:
    """The positive endpoint selector of a rule's source or destination (None: none)."""
    scope: Selector | None = None
    if er.namespace_selector is not None:
        scope = prefixed(er.namespace_selector, NAMESPACE_PREFIX)
        scope = replaced(scope, All, Has(LABEL_NAMESPACE))
        scope = replaced(scope, Global, Not(Has(LABEL_NAMESPACE)))
    elif namespace:
        scope = LabelOp(LABEL_NAMESPACE, Op.EQ, namespace)
    parts = []
    if er.service_accounts is not None:
        sa = _accounts(er.service_accounts)
        if sa is not None:
            parts.append(sa)
    if er.selector is not None:
        parts.append(er.selector)
    sel: Selector | None = None
    if parts:
        sel = parts[0] if len(parts) == 1 else And(tuple(parts))
    scoped = sel is not None or er.not_selector is not None or er.namespace_selector is not None
    if scope is not None and scoped:
        sel = scope if sel is None else And((scope, sel))
    return sel


def profile_chain(
    names: tuple[str, ...], profiles: dict[str, Profile]
) -> list[tuple[str, Profile | None]]:
    """An endpoint's profiles with their rules: an input Profile, or the kns.<namespace>
    Calico generates (None: allow everything both ways); generated ksa. profiles and
    missing ones have no rules and are left out."""
    out: list[tuple[str, Profile | None]] = []
    for name in names:
        given = profiles.get(name)
        if given is not None:
            out.append((name, given))
        elif name.startswith("kns."):
            out.append((name, None))
    return out


@dataclass(slots=True)
class CalicoCompiler:
    cluster: Cluster
    classes: EndpointClasses
    ports: PortAtoms
    ips: IPAtoms
    rc: RuleCompiler
    labels: CalicoLabelIndex = field(init=False)
    plans: tuple[TierPlan, ...] = field(init=False)
    _set_atoms: Mask = field(init=False)
    _hosts: list[tuple[int, IPSet | None]] = field(init=False)
    _services: dict[tuple[str, str], object] = field(init=False)
    _memo: dict[object, object] = field(init=False)

    def __post_init__(self) -> None:
        c = self.classes
        self.labels = CalicoLabelIndex(self.cluster, c.namespaces, c.reps, c.host_network)
        self.plans = plan_tiers(self.cluster)
        sets = self.cluster.calico.network_sets
        self._set_atoms = np.array([self.ips.mask(s.nets) for s in sets], dtype=np.bool_).reshape(
            len(sets), len(self.ips)
        )
        self._hosts = []
        for k, pod in enumerate(c.reps):
            if not c.host_network[k]:
                continue
            addresses = pod.ips if pod.workload.kind == "HostEndpoint" else (pod.host_ip,)
            known = [a for a in addresses if a] or list(pod.ips[:1])
            found = IPSet()
            for a in known:
                found = found | IPSet.from_address(a)
            self._hosts.append((k, found if known else None))
        self._services = {(s.namespace, s.name): s for s in self.cluster.services}
        self._memo = {}

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_peers(self) -> int:
        return len(self.classes) + len(self.ips)

    # -- selection ---------------------------------------------------------------------
    def selected(self, sel: Selector) -> Mask:
        """Peer columns a selector matches: endpoint classes, and the addresses of the
        network sets it matches."""
        key = ("sel", sel)
        hit = self._memo.get(key)
        if hit is None:
            rows = self.labels.match(sel)
            c = self.n_classes
            sets = rows[c:]
            ip = (
                self._set_atoms[sets].any(axis=0)
                if sets.any()
                else np.zeros(len(self.ips), np.bool_)
            )
            hit = np.concatenate([rows[:c], ip])
            hit.setflags(write=False)
            self._memo[key] = hit
        return hit  # type: ignore[return-value]

    def nets(self, nets: IPSet) -> Mask:
        out = np.zeros(self.n_peers, dtype=np.bool_)
        out[self.n_classes :] = self.ips.mask(nets)
        for k, address in self._hosts:
            if address is None:
                out[k] = nets.v4.intervals == ((0, IPV4_MAX),)
            else:
                out[k] = address.issubset(nets)
        return out

    def outside(self, nets: IPSet) -> Mask:
        """Columns known to be outside `nets`: address atoms outside it, and hosts whose
        every address is; a pod's address is not known (nor is an undeclared host's), so
        neither `nets` nor `notNets` matches it."""
        out = np.zeros(self.n_peers, dtype=np.bool_)
        out[self.n_classes :] = ~self.ips.mask(nets)
        for k, address in self._hosts:
            out[k] = address is not None and not (address & nets)
        return out

    def _service_pods(self, namespace: str, name: str) -> Mask:
        svc = self._services.get((namespace, name))
        out = np.zeros(self.n_peers, dtype=np.bool_)
        selector = getattr(svc, "selector", None)
        if svc is None or selector is None:
            return out
        for k, pod in enumerate(self.classes.reps):
            if (
                pod.namespace == namespace
                and not self.classes.host_network[k]
                and all(pod.labels.get(a) == b for a, b in selector.items())
            ):
                out[k] = True
        return out

    def entity(self, er: EntityRule, namespace: str, ip_version: int | None = None) -> Mask:
        """Peer columns (classes, then address atoms) a source or destination matches."""
        key = ("entity", er, namespace, ip_version)
        hit = self._memo.get(key)
        if hit is not None:
            return hit  # type: ignore[return-value]
        out = np.ones(self.n_peers, dtype=np.bool_)
        sel = entity_selector(er, namespace)
        if sel is not None:
            out &= self.selected(sel)
        if er.nets is not None:
            out &= self.nets(er.nets)
        if er.not_nets is not None:
            out &= self.outside(er.not_nets)
        if er.not_selector is not None:
            out &= ~self.selected(er.not_selector)
        if er.services is not None:
            out &= self._service_pods(er.services.namespace, er.services.name)
        if ip_version is not None:
            c, v4 = self.n_classes, len(self.ips.v4)
            if ip_version == 4:
                out[c + v4 :] = False
            else:
                out[c : c + v4] = False
        out.setflags(write=False)
        self._memo[key] = out
        return out

    def subjects(self, policy: CalicoPolicy) -> Mask:
        key = ("subjects", policy.kind, policy.namespace, policy.name)
        hit = self._memo.get(key)
        if hit is None:
            hit = self.labels.match(policy_selector(policy))[: self.n_classes].copy()
            if policy.do_not_track or policy.pre_dnat:
                hit &= self.host_endpoints()
            self._memo[key] = hit
        return hit  # type: ignore[return-value]

    def host_endpoints(self) -> Mask:
        return np.array(
            [p.workload.kind == "HostEndpoint" for p in self.classes.reps], dtype=np.bool_
        ).reshape(len(self.classes.reps))

    def rule_ports(self, rule: CalicoRule) -> RulePorts:
        key = ("ports", rule)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = rule_ports(rule, self._services)  # type: ignore[arg-type]
        return hit  # type: ignore[return-value]

    def port_match(self, ports: RulePorts) -> PortMatch:
        key = ("port_match", ports)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = PortMatch(
                pack(self.ports.mask_of(ports.include)),
                pack(self.ports.mask_of(ports.exclude)),
                ports.named,
                ports.not_named,
            )
        return hit  # type: ignore[return-value]

    def rule_cells(self, rule: CalicoRule, namespace: str, subjects: Mask) -> tuple[Mask, Mask]:
        """The rows (classes whose policy applies and whose own side the rule matches) and
        the peer columns of one Calico rule."""
        local = self.entity(rule.local, namespace, rule.ip_version)[: self.n_classes]
        peers = self.entity(rule.peer, namespace, rule.ip_version)
        return subjects & local, peers

    def rule_applies(self, rule: CalicoRule) -> bool:
        """Whether a rule can decide a connection in the tables: Log never decides, an
        HTTP match is an L7 condition (explained, not counted), source ports are decided
        against the ephemeral range (calico_ports.source_ports_match)."""
        return (
            rule.action is not CalicoAction.LOG and rule.http is None and source_ports_match(rule)
        )

    # -- tiers -------------------------------------------------------------------------
    def _member_entries(
        self, member: Member, direction: Direction
    ) -> tuple[Mask | None, list[tuple[Index, Index, PortMatch, Code, object]]]:
        """A member's rows (None: it does not apply in this direction) and rule entries."""
        p = member.policy
        entries: list[tuple[Index, Index, PortMatch, Code, object]] = []
        if isinstance(p, CalicoPolicy):
            if direction not in p.types:
                return None, entries
            subjects = self.subjects(p)
            for rule in p.rules(direction):
                if not self.rule_applies(rule):
                    continue
                rows, peers = self.rule_cells(rule, p.namespace, subjects)
                entries.append(
                    (
                        np.flatnonzero(rows),
                        np.flatnonzero(peers),
                        self.port_match(self.rule_ports(rule)),
                        _CODES[rule.action],
                        (rule.peer, p.namespace, rule.ip_version),
                    )
                )
            return subjects, entries
        if isinstance(p, NetworkPolicy):
            if not p.affects(direction):
                return None, entries
            targets = self.rc.policy_target_index(p)
            for nrule in p.rules(direction):
                entries.append(
                    (
                        targets,
                        self.rc.peer_index(nrule.peers),
                        self.k8s_ports(nrule.ports),
                        ALLOW,
                        nrule.peers,
                    )
                )
            mask = np.zeros(self.n_classes, dtype=np.bool_)
            mask[targets] = True
            return mask, entries
        assert isinstance(p, AdminPolicy)
        rules = p.rules(direction)
        if not rules:
            return None, entries
        mask = self.rc.subject_targets(p.subject)
        subject_rows = np.flatnonzero(mask)
        for arule in rules:
            entries.append(
                (
                    subject_rows,
                    self.rc.peer_index(arule.peers),
                    self.k8s_ports(arule.ports),
                    CODE_OF[arule.action],
                    arule.peers,
                )
            )
        return mask, entries

    def k8s_ports(self, ports: tuple[PortSpec, ...] | None) -> PortMatch:
        named = tuple(s for s in ports or () if s.name)
        zero = np.zeros(self.rc.n_words, dtype=np.uint64)
        return PortMatch(self.rc.numeric_words(ports), zero, named)

    def _tier(
        self,
        plan: TierPlan,
        chain: Chain,
        direction: Direction,
        swap: Swap | None = None,
        stop: Stop | None = None,
    ) -> FirstMatchTier | None:
        """One tier. `swap` (policy, replacement or None) compiles the tier with a policy
        changed or removed; `stop` (policy, rule index) keeps only what comes before that
        rule, Pass counted as deciding and no end action: what the rule never sees."""
        members = plan.chain(chain)
        if not members:
            return None
        applies = np.zeros(self.n_classes, dtype=np.bool_)
        entries: list[tuple[Index, Index, PortMatch, Code, object]] = []
        for m in members:
            if swap is not None and m.policy is swap[0]:
                if swap[1] is None:
                    continue
                m = Member(m.kind, swap[1], m.order, m.sort_name)
            rows, found = self._member_entries(m, direction)
            if rows is None:
                continue
            applies |= rows
            if stop is not None and m.policy is stop[0]:
                before = stop[1]
                if isinstance(m.policy, CalicoPolicy):  # Log, HTTP and dead rules make no entry
                    kept = m.policy.rules(direction)[: stop[1]]
                    before = sum(1 for r in kept if self.rule_applies(r))
                entries += found[:before]
                break
            entries += found
        if not applies.any():
            return None
        if stop is not None:
            end = PASS
            entries = [(*e[:3], DENY if e[3] is PASS else e[3], e[4]) for e in entries]
        elif chain is Chain.NORMAL:
            end = DENY if plan.tier.default_action is CalicoAction.DENY else PASS
        else:
            end = PASS  # untracked and pre-DNAT chains end without a drop
        return FirstMatchTier(np.flatnonzero(applies), runs_of(entries), end, plan.tier.name)

    def _failsafe(self, direction: Direction) -> FirstMatchTier | None:
        hep = self.host_endpoints()
        if not hep.any():
            return None
        calico = self.cluster.calico
        holes: tuple[FailsafePort, ...] = (
            calico.failsafe_inbound if direction is Direction.INGRESS else calico.failsafe_outbound
        )
        rows = np.flatnonzero(hep)
        entries = []
        for hole in holes:
            peers = (
                self.nets(IPSet.from_cidr(hole.net))
                if hole.net
                else np.ones(self.n_peers, np.bool_)
            )
            conns = ConnSet.single(hole.protocol, hole.port)
            ports = self.port_match(RulePorts(conns))
            entries.append((rows, np.flatnonzero(peers), ports, ALLOW, ("failsafe", hole.net)))
        return FirstMatchTier(rows, runs_of(entries), PASS, "failsafe")

    def _profiles(self, direction: Direction) -> list[FirstMatchTier]:
        """Profile tiers for the rows whose profiles are not Calico's allow-everything
        kns profile first: position k holds each row's k-th profile, then a drop."""
        profiles = {p.name: p for p in self.cluster.calico.profiles}
        chains: dict[int, list[tuple[str, Profile | None]]] = {}
        for k, pod in enumerate(self.classes.reps):
            if not self.labels.endpoint_ok[k]:
                continue
            chain = profile_chain(pod_profiles(pod), profiles)
            if chain and chain[0][1] is None:
                continue  # Calico's kns profile: everything allowed
            chains[k] = chain
        if not chains:
            return []
        out = []
        everything = np.ones(self.n_peers, dtype=np.bool_)
        depth = max(len(c) for c in chains.values())
        for position in range(depth):
            by_profile: dict[str, list[int]] = {}
            for k, chain in chains.items():
                if position < len(chain):
                    by_profile.setdefault(chain[position][0], []).append(k)
            entries: list[tuple[Index, Index, PortMatch, Code, object]] = []
            for name, ks in by_profile.items():
                rows = np.array(sorted(ks), dtype=np.intp)
                profile = profiles.get(name)
                if profile is None:  # generated kns: allow everything
                    all_ports = self.port_match(RulePorts(self.ports.everything()))
                    entries.append((rows, np.flatnonzero(everything), all_ports, ALLOW, "all"))
                    continue
                subjects = np.zeros(self.n_classes, dtype=np.bool_)
                subjects[rows] = True
                for rule in profile.rules(direction):
                    if not self.rule_applies(rule) or rule.action is CalicoAction.PASS:
                        continue
                    r, q = self.rule_cells(rule, "", subjects)
                    entries.append(
                        (
                            np.flatnonzero(r),
                            np.flatnonzero(q),
                            self.port_match(self.rule_ports(rule)),
                            _CODES[rule.action],
                            (rule.peer, "", rule.ip_version),
                        )
                    )
                # a profile's rules end without a verdict: the next profile is asked
            rows_here = np.array(sorted(k for ks in by_profile.values() for k in ks), dtype=np.intp)
            out.append(FirstMatchTier(rows_here, runs_of(entries), PASS, f"profiles#{position}"))
        rows_all = np.array(sorted(chains), dtype=np.intp)
        out.append(FirstMatchTier(rows_all, (), DENY, "profiles"))
        return out

    def tiers(self, direction: Direction) -> tuple[FirstMatchTier, ...]:
        """Every first-match tier of the direction, top first."""
        key = ("tiers", direction)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self.stack(direction)
        return hit  # type: ignore[return-value]

    def stack(
        self, direction: Direction, swap: Swap | None = None, stop: Stop | None = None
    ) -> tuple[FirstMatchTier, ...]:
        """The tiers top first, with `swap` applied (see `_tier`); with `stop`, only what
        lies above the rule `stop` names: the tiers before its own, then its tier cut
        before it (analyses of shadowed rules, engine/views/calico_lint.py)."""
        out: list[FirstMatchTier] = []
        failsafe = self._failsafe(direction)
        if failsafe is not None:
            out.append(failsafe)
        chains = [Chain.UNTRACKED] + ([Chain.PRE_DNAT] if direction is Direction.INGRESS else [])
        for chain in [*chains, Chain.NORMAL]:
            for plan in self.plans:
                here = stop is not None and any(m.policy is stop[0] for m in plan.chain(chain))
                tier = self._tier(plan, chain, direction, swap, stop if here else None)
                if tier is not None:
                    out.append(tier)
                if here:
                    return tuple(out)
        out += self._profiles(direction)
        return tuple(out)

    def protected(self, direction: Direction) -> Mask:
        """Rows where what no rule allows is dropped: a normal tier with defaultAction
        Deny applies, or the profiles end in a drop (host endpoints among them)."""
        out = np.zeros(self.n_classes, dtype=np.bool_)
        for tier in self.tiers(direction):
            if tier.end is DENY:
                out[tier.rows] = True
        return out

    def everything(self) -> Bits:
        return pack(np.ones(len(self.ports), dtype=np.bool_))
