"""Calico's staged policies enforced: the cluster as it would be if every staged policy
were committed.

A staged policy never changes a verdict (docs.tigera.io/calico/latest/network-policy/
staged-network-policies: "preview ... without enforcing"). Enforcing one does what its
`stagedAction` says (stagednetworkpolicy reference): `Set` creates or replaces the policy of
the same kind, namespace and name (a StagedNetworkPolicy a Calico NetworkPolicy, a
StagedGlobalNetworkPolicy a GlobalNetworkPolicy, a StagedKubernetesNetworkPolicy a
Kubernetes NetworkPolicy), `Delete` removes it. `connectivity --staged`, `reach` and
`simulate --staged` compare the two clusters.
"""

from __future__ import annotations

from dataclasses import replace

from microseg.model.calico import CalicoPolicy
from microseg.model.cluster import Cluster
from microseg.model.netpol import NetworkPolicy

__all__ = ["enforce_staged"]


def _twin(staged: CalicoPolicy) -> tuple[str, str, str]:
    return (staged.enforced_kind, staged.namespace, staged.name)


def enforce_staged(cluster: Cluster) -> Cluster:
    """The cluster with its staged policies enforced and no staged policy left."""
    calico = cluster.calico
    staged = calico.staged
    if not staged:
        return cluster
    policies: dict[tuple[str, str, str], CalicoPolicy] = {
        (p.kind, p.namespace, p.name): p for p in calico.enforced
    }
    k8s: dict[tuple[str, str], NetworkPolicy] = {(p.namespace, p.name): p for p in cluster.policies}
    for s in staged:
        if s.kind == "StagedKubernetesNetworkPolicy":
            key = (s.namespace, s.name)
            if s.staged_action == "Delete" or s.k8s is None:
                k8s.pop(key, None)
            else:
                k8s[key] = s.k8s
            continue
        twin = _twin(s)
        if s.staged_action == "Delete":
            policies.pop(twin, None)
        else:
            policies[twin] = replace(s, kind=s.enforced_kind, staged_action="")
    return replace(
        cluster,
        policies=tuple(k8s.values()),
        calico=replace(calico, policies=tuple(policies.values())),
    )
