"""Per node facts shown on the graph (isolation, guardrails, pods) and the policies that
govern one node, each with the file and line it came from.

Isolation is the NetworkPolicy reference's: a pod is isolated for ingress (egress) when
some NetworkPolicy of that type selects it (networking.k8s.io/v1 NetworkPolicy, "Isolated
and Non-isolated Pods"); a node counts as isolated in a direction when all its pods are, as
`stats` counts it. `guarded`: some AdminNetworkPolicy, BaselineAdminNetworkPolicy or
ClusterNetworkPolicy has the node's pods as its subject (they decide before, or for pods no
NetworkPolicy isolates, after the NetworkPolicies).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.graphview.space import NodeSpace
from microseg.engine import Connectivity, applies_to
from microseg.errors import Origin
from microseg.model.admin import AdminTier
from microseg.model.netpol import Direction

__all__ = ["PolicyRef", "WorkloadFacts", "node_policies", "workload_facts"]

Bool = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class WorkloadFacts:
    """Per workload node of a NodeSpace (peers excluded)."""

    ingress_isolated: Bool
    egress_isolated: Bool
    guarded: Bool
    pods: Ints
    first_pod: Ints
    """A pod of the node (index into cluster.pods), -1 for a node of another input."""


def workload_facts(conn: Connectivity, space: NodeSpace) -> WorkloadFacts:
    n = space.n_workloads
    pod_node = space.pod_node
    has = pod_node >= 0
    nodes = pod_node[has]
    classes = np.asarray(conn.classes.pod_class, dtype=np.int64)[has]
    pods = np.bincount(nodes, minlength=n)[:n].astype(np.int64)

    def every(per_class: Bool) -> Bool:
        open_pods = np.bincount(nodes, weights=~per_class[classes], minlength=n)[:n]
        out: Bool = (open_pods == 0) & (pods > 0)
        return out

    guard = np.zeros(conn.n_classes, dtype=np.bool_)
    for policy in conn.cluster.admin_policies:
        guard |= np.asarray(conn.rules.subject_targets(policy.subject), dtype=np.bool_)[
            : conn.n_classes
        ]
    first = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(has)
    first[nodes[::-1]] = idx[::-1]  # the lowest pod index wins
    return WorkloadFacts(
        every(np.asarray(conn.ingress.isolated[: conn.n_classes], dtype=np.bool_)),
        every(np.asarray(conn.egress.isolated[: conn.n_classes], dtype=np.bool_)),
        np.bincount(nodes, weights=guard[classes], minlength=n)[:n] > 0,
        pods,
        first,
    )


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """One policy that governs a workload: `kind` NetworkPolicy, AdminNetworkPolicy, ...;
    `scope`: the directions it applies in (ingress, egress), or the mesh's word."""

    kind: str
    name: str
    scope: tuple[str, ...]
    origin: Origin


def node_policies(conn: Connectivity, pod: int) -> tuple[PolicyRef, ...]:
    """The policies that select the pod (a node's pods share one class, so one pod speaks
    for them): NetworkPolicies by direction, guardrail policies (tier order), then the
    Istio PeerAuthentication and AuthorizationPolicy objects that apply to it."""
    cluster = conn.cluster
    klass = int(conn.classes.pod_class[pod])
    out: list[PolicyRef] = []
    by_index: dict[int, list[str]] = {}
    for direction, table in ((Direction.INGRESS, conn.ingress), (Direction.EGRESS, conn.egress)):
        for i in table.policies_of(klass):
            by_index.setdefault(i, []).append(direction.value.lower())
    for i in sorted(by_index):
        p = cluster.policies[i]
        out.append(PolicyRef("NetworkPolicy", p.ref, tuple(by_index[i]), p.origin))
    for tier in (AdminTier.ADMIN, AdminTier.BASELINE):
        for a in cluster.tier(tier):
            if not conn.rules.subject_targets(a.subject)[klass]:
                continue
            scope = tuple(
                d.value.lower()
                for d, rules in ((Direction.INGRESS, a.ingress), (Direction.EGRESS, a.egress))
                if rules
            )
            out.append(PolicyRef(a.kind, a.name, scope, a.origin))
    p0 = cluster.pods[pod]
    for pa in cluster.peer_authentications:
        if pa.namespace not in (p0.namespace, cluster.mesh.root_namespace):
            continue
        if pa.selector is not None and not all(
            p0.labels.get(k) == v for k, v in pa.selector.items()
        ):
            continue
        out.append(PolicyRef("PeerAuthentication", pa.ref, ("mtls",), pa.origin))
    for ap in cluster.authorization_policies:
        if applies_to(cluster, ap, p0):
            out.append(PolicyRef("AuthorizationPolicy", ap.ref, (ap.action.value,), ap.origin))
    return tuple(out)
