"""Potential peers: the workloads a policy rule describes by selectors, whether or not any
exists yet, and how a rule's peer is matched against one.

netpol-analyzer's exposure analysis (docs/exposure_analysis.md of np-guard/netpol-analyzer)
defines the vocabulary this follows, so that its expected outputs are an oracle:

- Every rule peer that selects pods by labels (NetworkPolicy `podSelector` /
  `namespaceSelector`, admin `namespaces` / `pods`) is one potential peer: a namespace
  selector and a pod selector (None: every pod). A NetworkPolicy peer without
  `namespaceSelector` lies in the policy's own namespace, written as a selector on its
  `kubernetes.io/metadata.name` label. Equal selector pairs are one peer (`app in (x)` and
  `app=x` are equal).
- A peer that selects every namespace (`namespaceSelector: {}` with no or an empty
  `podSelector`; admin `namespaces: {}`), or a NetworkPolicy rule with no peers, is the
  whole cluster: `entire-cluster`, not a potential peer.
- A potential peer with plain label selectors that an existing pod (and its namespace)
  matches is dropped: connectivity to that pod is the connectivity list's business.
- A rule matches a potential peer when its selectors equal the peer's (an empty rule
  selector matches any): a policy opens a potential workload exactly by the rule that names
  it, not by every selector that would happen to match its labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from microseg.model import AdminPolicy, Cluster, NetworkPolicy
from microseg.model.netpol import Direction, Peer, PodPeer, Rule
from microseg.model.objects import NAMESPACE_NAME_LABEL
from microseg.model.selectors import LabelSelector, Operator, Requirement

__all__ = [
    "Potential",
    "full_match",
    "is_cluster_wide",
    "namespace_labels",
    "potential_peers",
]


def _key(selector: LabelSelector | None) -> frozenset[Requirement]:
    return frozenset(selector.requirements) if selector is not None else frozenset()


@dataclass(frozen=True, slots=True)
class Potential:
    """A workload some rule describes: pods matching `pods` (None: all) in namespaces matching
    `namespaces`; `home` is the policy namespace of a NetworkPolicy peer without a
    namespaceSelector ("" otherwise)."""

    namespaces: LabelSelector
    pods: LabelSelector | None
    home: str = ""

    @property
    def key(self) -> tuple[frozenset[Requirement], frozenset[Requirement]]:
        return _key(self.namespaces), _key(self.pods)

    def namespace_name(self) -> str | None:
        """The namespace when the selector is exactly its name label, else None."""
        reqs = self.namespaces.requirements
        if len(reqs) == 1:
            r = reqs[0]
            if r.key == NAMESPACE_NAME_LABEL and r.operator is Operator.IN and len(r.values) == 1:
                return next(iter(r.values))
        return None


def full_match(rule: LabelSelector | None, potential: LabelSelector | None) -> bool:
    """A rule selector matches a potential peer's selector when it is empty (every object)
    or has exactly the same requirements."""
    if rule is None or rule.is_empty():
        return True
    return potential is not None and _key(rule) == _key(potential)


def is_cluster_wide(peer: Peer) -> bool:
    return (
        isinstance(peer, PodPeer)
        and peer.namespace_selector is not None
        and peer.namespace_selector.is_empty()
        and peer.pod_selector.is_empty()
    )


def rule_is_cluster_wide(peers: tuple[Peer, ...] | None) -> bool:
    """A NetworkPolicy rule without peers, or with a peer selecting every namespace."""
    return peers is None or any(is_cluster_wide(p) for p in peers)


def namespace_labels(cluster: Cluster, name: str) -> Mapping[str, str]:
    ns = cluster.namespace(name)
    return ns.labels if ns is not None else {NAMESPACE_NAME_LABEL: name}


def _from_peer(peer: Peer, policy_namespace: str | None) -> Potential | None:
    if not isinstance(peer, PodPeer) or is_cluster_wide(peer):
        return None
    pods = None if peer.pod_selector.is_empty() else peer.pod_selector
    if peer.namespace is not None:
        home = LabelSelector.from_labels({NAMESPACE_NAME_LABEL: peer.namespace})
        return Potential(home, pods, peer.namespace)
    assert peer.namespace_selector is not None
    return Potential(peer.namespace_selector, pods, "")


def _rules(cluster: Cluster) -> Iterable[tuple[tuple[Peer, ...] | None, str | None]]:
    for np_ in cluster.policies:
        for d in Direction:
            if np_.affects(d):
                for rule in np_.rules(d):
                    yield rule.peers, np_.namespace
    for ap in cluster.admin_policies:
        for d in Direction:
            for admin_rule in ap.rules(d):
                yield admin_rule.peers, None


def _plain(selector: LabelSelector) -> bool:
    """Only label equalities (matchLabels): the selectors a real pod can stand in for."""
    return not selector.is_empty() and all(
        r.operator is Operator.IN and len(r.values) == 1 for r in selector.requirements
    )


def potential_peers(cluster: Cluster) -> list[Potential]:
    """Every distinct potential peer the rules name, minus those a real pod matches."""
    found: dict[tuple[frozenset[Requirement], frozenset[Requirement]], Potential] = {}
    for peers, namespace in _rules(cluster):
        if rule_is_cluster_wide(peers) and namespace is not None:
            continue  # a NetworkPolicy rule opening the whole cluster names no peer
        for peer in peers or ():
            if namespace is None and is_cluster_wide(peer):
                continue
            potential = _from_peer(peer, namespace)
            if potential is not None:
                found.setdefault(potential.key, potential)
    # Distinct (namespace labels, pod labels) of the real pods: replicas repeat them.
    reals = {
        (pod.namespace, pod.labels): (namespace_labels(cluster, pod.namespace), pod.labels)
        for pod in cluster.pods
    }
    return [p for p in found.values() if not _stood_in_for(p, list(reals.values()))]


def _stood_in_for(p: Potential, reals: list[tuple[Mapping[str, str], Mapping[str, str]]]) -> bool:
    if p.pods is None or not _plain(p.namespaces) or not _plain(p.pods):
        return False
    return any(p.pods.matches(labels) and p.namespaces.matches(ns) for ns, labels in reals)


def np_rules(policy: NetworkPolicy, direction: Direction) -> tuple[Rule, ...]:
    return policy.rules(direction) if policy.affects(direction) else ()


def admin_affects(policy: AdminPolicy, direction: Direction) -> bool:
    """An admin policy takes part in a direction only when it has rules there."""
    return bool(policy.rules(direction))
