"""The tier order, evaluated for one direction between a real workload and a potential peer
(or the whole cluster), with port sets that may hold unresolved named ports.

Same order as the engine's (README, Guardrail tiers; network-policy-api): admin rules by
ascending priority, first match per port, Pass hands the port down; NetworkPolicy decides
where one isolates the pod; then the baseline tier, then allow. What differs is only how a
rule's peer matches: a real workload by its labels, a potential peer by equal selectors
(peers.full_match), and the whole cluster by a peer that selects every namespace. This is a
per-pair evaluator over the model, run once per (workload class, potential peer): the
potential peers of a cluster are few, and none of them is a pod the engine's tables know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from microseg.analyses.potential.peers import (
    Potential,
    admin_affects,
    full_match,
    is_cluster_wide,
    namespace_labels,
    np_rules,
    rule_is_cluster_wide,
)
from microseg.analyses.potential.ports import Named, PortSet
from microseg.model import (
    Action,
    AdminPolicy,
    AdminTier,
    Cluster,
    ConnSet,
    IntervalSet,
    NetworkPolicy,
    Pod,
)
from microseg.model.netpol import Direction, Peer, PodPeer, PortSpec
from microseg.model.sets import Protocol

__all__ = ["CLUSTER", "Cluster", "Party", "Real", "TierEvaluator", "named_universe"]


@dataclass(frozen=True, slots=True)
class Real:
    """An existing workload, by one of its pods. `host`: its traffic is its node's (the
    engine's host-network reading), so selectors neither select nor match it."""

    pod: Pod
    host: bool = False


class _Cluster:
    """Every pod of every namespace: what `namespaceSelector: {}` opens."""

    def __repr__(self) -> str:
        return "entire-cluster"


CLUSTER = _Cluster()
Party = Real | Potential | _Cluster


def named_universe(cluster: Cluster) -> frozenset[Named]:
    out: set[Named] = set()
    for p in cluster.policies:
        for d in Direction:
            for r in p.rules(d):
                out |= {(s.protocol, s.name) for s in r.ports or () if s.name}
    for ap in cluster.admin_policies:
        for d in Direction:
            for ar in ap.rules(d):
                out |= {(None, s.name) for s in ar.ports or () if s.name}
    return frozenset(out)


_Selecting = tuple[list[AdminPolicy], list[NetworkPolicy] | None, list[AdminPolicy]]


class TierEvaluator:
    """Evaluations share what depends on one side only: which policies select a subject in a
    direction (cached per subject), and which potential peers a rule peer names."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.universe = named_universe(cluster)
        self.every = PortSet.every(self.universe)
        self.admin = cluster.tier(AdminTier.ADMIN)
        self.baseline = cluster.tier(AdminTier.BASELINE)
        self._selecting: dict[tuple[Real | Potential, Direction], _Selecting] = {}
        self._named: dict[tuple[int, str | None], frozenset[int]] = {}
        self._namespaces: dict[str, Mapping[str, str]] = {}
        self._port_sets: dict[tuple[int, bool, object], PortSet] = {}

    def selecting(self, subject: Real | Potential, direction: Direction) -> _Selecting:
        """(admin policies, NetworkPolicies or None, baseline policies) that select
        `subject` in `direction`, in evaluation order."""
        key = (subject, direction)
        hit = self._selecting.get(key)
        if hit is None:
            admin = [
                p
                for p in self.admin
                if admin_affects(p, direction) and self._admin_subject(p, subject)
            ]
            baseline = [
                p
                for p in self.baseline
                if admin_affects(p, direction) and self._admin_subject(p, subject)
            ]
            nps = None
            if isinstance(subject, Real) and not subject.host:
                pod = subject.pod
                nps = [
                    p
                    for p in self.cluster.policies
                    if p.namespace == pod.namespace
                    and p.affects(direction)
                    and p.pod_selector.matches(pod.labels)
                ] or None
            hit = self._selecting[key] = (admin, nps, baseline)
        return hit

    def names(
        self, peer: Peer, policy_namespace: str | None, potentials: list[Potential]
    ) -> frozenset[int]:
        """The potential peers (indices) the rule peer matches otherwise than the whole
        cluster: only for those can a connection differ from the cluster's. Cached per peer
        object (ingest shares equal peers)."""
        key = (id(peer), policy_namespace)
        hit = self._named.get(key)
        if hit is None:
            if self.peer_matches(peer, policy_namespace, CLUSTER):
                hit = frozenset()
            else:
                hit = frozenset(
                    i
                    for i, p in enumerate(potentials)
                    if self.peer_matches(peer, policy_namespace, p)
                )
            self._named[key] = hit
        return hit

    # --- who matches ---------------------------------------------------------------

    def _labels(self, real: Real) -> tuple[Mapping[str, str], Mapping[str, str]]:
        ns = real.pod.namespace
        labels = self._namespaces.get(ns)
        if labels is None:
            labels = self._namespaces[ns] = namespace_labels(self.cluster, ns)
        return real.pod.labels, labels

    def peer_matches(self, peer: Peer, policy_namespace: str | None, other: Party) -> bool:
        """Whether a rule peer (ipBlock and node peers never match a workload here; the
        connectivity list covers addresses) matches `other`."""
        if not isinstance(peer, PodPeer):
            return False
        if isinstance(other, _Cluster):
            return is_cluster_wide(peer)
        if isinstance(other, Potential):
            if peer.namespace is not None:  # NetworkPolicy peer without namespaceSelector
                ns_ok = other.home == peer.namespace
            else:
                ns_ok = full_match(peer.namespace_selector, other.namespaces)
            return ns_ok and full_match(peer.pod_selector, other.pods)
        if other.host:
            return False
        labels, ns_labels = self._labels(other)
        if peer.namespace is not None:
            ns_ok = other.pod.namespace == peer.namespace
        else:
            assert peer.namespace_selector is not None
            ns_ok = peer.namespace_selector.matches(ns_labels)
        return ns_ok and peer.pod_selector.matches(labels)

    def _admin_subject(self, policy: AdminPolicy, subject: Party) -> bool:
        s = policy.subject
        if isinstance(subject, Potential):
            return full_match(s.namespace_selector, subject.namespaces) and full_match(
                s.pod_selector, subject.pods
            )
        assert isinstance(subject, Real)
        if subject.host:
            return False
        labels, ns_labels = self._labels(subject)
        return s.namespace_selector.matches(ns_labels) and s.pod_selector.matches(labels)

    # --- ports -----------------------------------------------------------------------

    def _ports(
        self, specs: tuple[PortSpec, ...] | None, destination: Party, admin: bool
    ) -> PortSet:
        """A rule's ports; named ones resolve on a real destination (a NetworkPolicy name
        with its protocol, an admin name whatever the protocol), stay named otherwise."""
        if specs is None:
            return self.every
        # The answer depends on the destination only through a real pod's named ports.
        key = (id(specs), admin, destination.pod.ports if isinstance(destination, Real) else None)
        hit = self._port_sets.get(key)
        if hit is None:
            hit = self._port_sets[key] = self._resolve(specs, destination, admin)
        return hit

    def _resolve(self, specs: tuple[PortSpec, ...], destination: Party, admin: bool) -> PortSet:
        numbers: dict[Protocol, IntervalSet] = {}
        named: set[Named] = set()
        for s in specs:
            if not s.name:
                numbers[s.protocol] = numbers.get(s.protocol, IntervalSet()) | IntervalSet.span(
                    s.start, s.end
                )
            elif isinstance(destination, Real):
                n = destination.pod.named_port(s.name, s.protocol)
                if n is not None:
                    numbers[s.protocol] = numbers.get(s.protocol, IntervalSet()) | IntervalSet.span(
                        n, n
                    )
            else:
                named.add((None if admin else s.protocol, s.name))
        return PortSet(ConnSet.of(numbers), frozenset(named))

    # --- the tiers ---------------------------------------------------------------------

    def _first_match(
        self,
        policies: list[AdminPolicy],
        subject: Party,
        other: Party,
        direction: Direction,
    ) -> tuple[PortSet, PortSet]:
        """(allowed, denied) by first match over the policies of one tier that select the
        subject in this direction."""
        destination = subject if direction is Direction.INGRESS else other
        allowed = denied = passed = PortSet()
        for policy in policies:
            for rule in policy.rules(direction):
                if not any(self.peer_matches(p, None, other) for p in rule.peers):
                    continue
                ports = self._ports(rule.ports, destination, admin=True) - allowed - denied - passed
                if rule.action is Action.ALLOW:
                    allowed = allowed | ports
                elif rule.action is Action.DENY:
                    denied = denied | ports
                else:  # Pass: no later admin rule sees these ports; the tiers below decide
                    passed = passed | ports
        return allowed, denied

    def netpol(
        self, policies: list[NetworkPolicy], subject: Real, other: Party, direction: Direction
    ) -> PortSet:
        """What the NetworkPolicies selecting `subject` allow towards `other`."""
        destination: Party = subject if direction is Direction.INGRESS else other
        out = PortSet()
        for policy in policies:
            for rule in np_rules(policy, direction):
                if isinstance(other, _Cluster):
                    hit = rule_is_cluster_wide(rule.peers)
                else:
                    hit = rule.peers is None or any(
                        self.peer_matches(p, policy.namespace, other) for p in rule.peers
                    )
                if hit:
                    out = out | self._ports(rule.ports, destination, admin=False)
        return out

    def direction(
        self, subject: Real | Potential, other: Party, direction: Direction
    ) -> tuple[PortSet, bool]:
        """(allowed, protected): what `subject` lets through with `other` in `direction`,
        and whether any policy of any tier selects it there."""
        admin, nps, baseline = self.selecting(subject, direction)
        if not admin and nps is None and not baseline:
            return self.every, False
        admin_allowed, admin_denied = self._first_match(admin, subject, other, direction)
        decided = admin_allowed | admin_denied
        if nps is not None:
            assert isinstance(subject, Real)
            np_allowed = self.netpol(nps, subject, other, direction)
            return admin_allowed | (np_allowed - decided), True
        _, banp_denied = self._first_match(baseline, subject, other, direction)
        rest = self.every - decided - banp_denied
        return admin_allowed | rest, bool(admin or baseline)
