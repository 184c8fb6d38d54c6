"""Changes to a cluster snapshot: what `Connectivity.apply` takes.

A change is what a controller watching the API sees between two snapshots: one policy
created, updated or deleted; one pod created, relabelled or deleted; one namespace created,
relabelled or deleted. `apply_change` gives the new snapshot; the engine's incremental
update must equal a rebuild from that snapshot (tests/property/test_incremental.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from operator import attrgetter, indexOf
from typing import Protocol

from microseg.errors import MicrosegError
from microseg.model.admin import AdminPolicy
from microseg.model.calico import CalicoPolicy
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import NetworkPolicy
from microseg.model.objects import NAMESPACE_NAME_LABEL, Namespace, Pod, Workload

__all__ = [
    "CALICO_NETWORK_POLICY",
    "Change",
    "ChangeError",
    "DeleteNamespace",
    "DeletePod",
    "DeletePolicy",
    "PutNamespace",
    "PutPod",
    "PutPolicy",
    "RelabelPod",
    "apply_change",
    "pod_index",
    "position_of",
]


class ChangeError(MicrosegError):
    """A change names an object the snapshot does not have."""


@dataclass(frozen=True, slots=True)
class PutPolicy:
    """Create or replace a NetworkPolicy (by namespace and name), a guardrail policy (by
    kind and name) or a Calico policy (by kind, namespace and name)."""

    policy: NetworkPolicy | AdminPolicy | CalicoPolicy


# How DeletePolicy names a Calico NetworkPolicy (the Kubernetes kind has the bare name).
CALICO_NETWORK_POLICY = "projectcalico.org/NetworkPolicy"


@dataclass(frozen=True, slots=True)
class DeletePolicy:
    """`kind` is NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy,
    ClusterNetworkPolicy, a Calico kind (GlobalNetworkPolicy, the Staged kinds) or
    `projectcalico.org/NetworkPolicy` for a Calico NetworkPolicy; `namespace` for the
    namespaced kinds."""

    kind: str
    name: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class PutPod:
    """Create or replace a pod (by namespace and name); its workload is added if new."""

    pod: Pod


@dataclass(frozen=True, slots=True)
class RelabelPod:
    namespace: str
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DeletePod:
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class PutNamespace:
    """Create a namespace or replace its labels (`kubernetes.io/metadata.name` is kept, as
    the API server sets it)."""

    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DeleteNamespace:
    """Delete a namespace with everything in it (pods, workloads, NetworkPolicies)."""

    name: str


Change = PutPolicy | DeletePolicy | PutPod | RelabelPod | DeletePod | PutNamespace | DeleteNamespace


def pod_index(cluster: Cluster, namespace: str, name: str) -> int | None:
    """Where the pod named `namespace/name` is in `cluster.pods`, if it is there."""
    return position_of(cluster.pods, namespace, name)


class _Named(Protocol):
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...


_NAME = attrgetter("name")


def position_of(items: tuple[_Named, ...], namespace: str, name: str) -> int | None:
    """Where `namespace/name` first is in `items` (pods, NetworkPolicies), if it is there.
    Names are compared in C (`operator.indexOf` over the items' names) and the namespace
    only where the name matches: a change to one of 100,000 pods asks this several times
    (the tracker, the engine's update, the change itself), and a Python loop building a
    (namespace, name) tuple per item cost about 16 ms a call there, this about 3."""
    names = map(_NAME, items)
    start = 0
    while True:
        try:
            at = start + indexOf(names, name)  # consumes `names` up to the match
        except ValueError:
            return None
        if items[at].namespace == namespace:
            return at
        start = at + 1


def _with_namespace(cluster: Cluster, name: str) -> Cluster:
    """A pod's namespace exists even when not declared, with only its name label."""
    if cluster.namespace(name) is not None:
        return cluster
    ns = Namespace(name, FrozenLabels({NAMESPACE_NAME_LABEL: name}), declared=False)
    return replace(cluster, namespaces=(*cluster.namespaces, ns))


def _without_empty_workload(cluster: Cluster, pod: Pod) -> Cluster:
    if any(p.workload == pod.workload for p in cluster.pods):
        return cluster
    return replace(cluster, workloads=tuple(w for w in cluster.workloads if w.key != pod.workload))


def _calico_key(policy: CalicoPolicy) -> tuple[str, str, str]:
    kind = CALICO_NETWORK_POLICY if policy.kind == "NetworkPolicy" else policy.kind
    return (kind, policy.namespace, policy.name)


def _put_calico(cluster: Cluster, policy: CalicoPolicy) -> Cluster:
    kept = [p for p in cluster.calico.policies if _calico_key(p) != _calico_key(policy)]
    calico = replace(cluster.calico, policies=(*kept, policy), present=True)
    if policy.tier not in {t.name for t in calico.tiers}:
        from microseg.model.calico import BUILTIN_TIERS, TierSpec

        tier = BUILTIN_TIERS.get(policy.tier) or TierSpec(policy.tier, None)
        calico = replace(calico, tiers=(*calico.tiers, tier))
    out = replace(cluster, calico=calico)
    return _with_namespace(out, policy.namespace) if policy.namespace else out


def _put_policy(cluster: Cluster, policy: NetworkPolicy | AdminPolicy | CalicoPolicy) -> Cluster:
    if isinstance(policy, CalicoPolicy):
        return _put_calico(cluster, policy)
    if isinstance(policy, NetworkPolicy):
        key = (policy.namespace, policy.name)
        nps = list(cluster.policies)
        at = position_of(cluster.policies, *key)
        if at is None:
            nps.append(policy)
        else:
            nps[at] = policy
        return _with_namespace(replace(cluster, policies=tuple(nps)), policy.namespace)
    admins = list(cluster.admin_policies)
    at = next(
        (i for i, p in enumerate(admins) if (p.kind, p.name) == (policy.kind, policy.name)), None
    )
    if at is None:
        admins.append(policy)
    else:
        admins[at] = policy
    return replace(cluster, admin_policies=tuple(admins))


def _delete_policy(cluster: Cluster, change: DeletePolicy) -> Cluster:
    if change.kind == CALICO_NETWORK_POLICY or change.kind.startswith(("Global", "Staged")):
        key = (change.kind, change.namespace, change.name)
        kept = tuple(p for p in cluster.calico.policies if _calico_key(p) != key)
        if len(kept) == len(cluster.calico.policies):
            raise ChangeError(f"no {change.kind} {change.namespace}/{change.name}")
        return replace(cluster, calico=replace(cluster.calico, policies=kept))
    if change.kind == "NetworkPolicy":
        where = (change.namespace, change.name)
        nps = tuple(p for p in cluster.policies if (p.namespace, p.name) != where)
        if len(nps) == len(cluster.policies):
            raise ChangeError(f"no NetworkPolicy {change.namespace}/{change.name}")
        return replace(cluster, policies=nps)
    admins = tuple(
        p for p in cluster.admin_policies if (p.kind, p.name) != (change.kind, change.name)
    )
    if len(admins) == len(cluster.admin_policies):
        raise ChangeError(f"no {change.kind} {change.name}")
    return replace(cluster, admin_policies=admins)


def _put_pod(cluster: Cluster, pod: Pod) -> Cluster:
    pods = list(cluster.pods)
    at = pod_index(cluster, pod.namespace, pod.name)
    old = None
    if at is None:
        pods.append(pod)
    else:
        old = pods[at]
        pods[at] = pod
    out = replace(cluster, pods=tuple(pods))
    if all(w.key != pod.workload for w in out.workloads):
        out = replace(
            out,
            workloads=(*out.workloads, Workload(pod.workload, pod.origin, pod.service_account)),
        )
    if old is not None and old.workload != pod.workload:
        out = _without_empty_workload(out, old)
    return _with_namespace(out, pod.namespace)


def _delete_pod(cluster: Cluster, change: DeletePod) -> Cluster:
    at = pod_index(cluster, change.namespace, change.name)
    if at is None:
        raise ChangeError(f"no pod {change.namespace}/{change.name}")
    pod = cluster.pods[at]
    out = replace(cluster, pods=cluster.pods[:at] + cluster.pods[at + 1 :])
    return _without_empty_workload(out, pod)


def _put_namespace(cluster: Cluster, change: PutNamespace) -> Cluster:
    labels = FrozenLabels({**change.labels, NAMESPACE_NAME_LABEL: change.name})
    spaces = list(cluster.namespaces)
    at = next((i for i, ns in enumerate(spaces) if ns.name == change.name), None)
    if at is None:
        spaces.append(Namespace(change.name, labels))
    else:
        spaces[at] = replace(spaces[at], labels=labels, declared=True)
    return replace(cluster, namespaces=tuple(spaces))


def _delete_namespace(cluster: Cluster, name: str) -> Cluster:
    if cluster.namespace(name) is None:
        raise ChangeError(f"no namespace {name}")
    return replace(
        cluster,
        namespaces=tuple(ns for ns in cluster.namespaces if ns.name != name),
        pods=tuple(p for p in cluster.pods if p.namespace != name),
        workloads=tuple(w for w in cluster.workloads if w.key.namespace != name),
        policies=tuple(p for p in cluster.policies if p.namespace != name),
        services=tuple(s for s in cluster.services if s.namespace != name),
        service_accounts=tuple(a for a in cluster.service_accounts if a.namespace != name),
        ingresses=tuple(i for i in cluster.ingresses if i.namespace != name),
        routes=tuple(r for r in cluster.routes if r.namespace != name),
        peer_authentications=tuple(p for p in cluster.peer_authentications if p.namespace != name),
        authorization_policies=tuple(
            p for p in cluster.authorization_policies if p.namespace != name
        ),
        linkerd=cluster.linkerd.without_namespace(name),
        calico=replace(
            cluster.calico,
            policies=tuple(p for p in cluster.calico.policies if p.namespace != name),
            network_sets=tuple(s for s in cluster.calico.network_sets if s.namespace != name),
        ),
    )


def apply_change(cluster: Cluster, change: Change) -> Cluster:
    """The snapshot after `change`; raises ChangeError when it names a missing object."""
    if isinstance(change, PutPolicy):
        return _put_policy(cluster, change.policy)
    if isinstance(change, DeletePolicy):
        return _delete_policy(cluster, change)
    if isinstance(change, PutPod):
        return _put_pod(cluster, change.pod)
    if isinstance(change, RelabelPod):
        at = pod_index(cluster, change.namespace, change.name)
        if at is None:
            raise ChangeError(f"no pod {change.namespace}/{change.name}")
        pod = cluster.pods[at]
        return _put_pod(cluster, replace(pod, labels=FrozenLabels(dict(change.labels))))
    if isinstance(change, DeletePod):
        return _delete_pod(cluster, change)
    if isinstance(change, PutNamespace):
        return _put_namespace(cluster, change)
    return _delete_namespace(cluster, change.name)
