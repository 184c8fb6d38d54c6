"""Calico selectors compiled to boolean vectors over endpoint classes and network sets.

Calico evaluates a selector against an endpoint's labels together with the labels it
inherits from its profiles (Felix labelindex: an endpoint's "parents"; the endpoint's own
labels win, then the first profile that has the label). For a Kubernetes pod the
workload endpoint carries `projectcalico.org/namespace`, `projectcalico.org/orchestrator`
and `projectcalico.org/serviceaccount`, and its profiles kns.<namespace> and
ksa.<namespace>.<account> give the namespace's labels as `pcns.<key>` (plus
`pcns.projectcalico.org/name`) and the account's as `pcsa.<key>` (plus
`pcsa.projectcalico.org/name`) (libcalico-go k8s/conversion, NamespaceToProfile and
ServiceAccountToProfile). A namespaced NetworkSet gets `projectcalico.org/namespace` and
inherits kns.<namespace> too (updateprocessors/networksetprocessor.go). A Profile object
in the input adds its labelsToApply to the generated ones (a profile dump repeats them).

Classes keep these signatures apart: engine/index/classes.py keys classes on the service
account and profiles when the input has Calico objects. Host-network pods have no
workload endpoint: no Calico selector matches them (their traffic is their node's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from microseg.model.calico import (
    LABEL_NAME,
    LABEL_NAMESPACE,
    LABEL_ORCHESTRATOR,
    LABEL_SERVICE_ACCOUNT,
    NAMESPACE_PREFIX,
    SERVICE_ACCOUNT_PREFIX,
    NetworkSet,
    Profile,
)
from microseg.model.calico_selector import All, And, Global, Has, LabelOp, Not, Op, Or, Selector
from microseg.model.cluster import Cluster
from microseg.model.objects import Namespace, Pod

__all__ = ["CalicoLabelIndex", "endpoint_labels", "network_set_labels", "pod_profiles"]

Mask = npt.NDArray[np.bool_]


def pod_profiles(pod: Pod) -> tuple[str, ...]:
    """The profiles an endpoint names: a WorkloadEndpoint's or HostEndpoint's own list,
    else the two Calico gives every Kubernetes pod."""
    if pod.profiles or pod.workload.kind == "HostEndpoint":
        return pod.profiles
    return (f"kns.{pod.namespace}", f"ksa.{pod.namespace}.{pod.service_account}")


class _Parents:
    """Each profile's labels: generated for kns./ksa. names, plus an input Profile's."""

    def __init__(self, cluster: Cluster, namespaces: Sequence[Namespace]) -> None:
        self.profiles: dict[str, Profile] = {p.name: p for p in cluster.calico.profiles}
        self.namespaces = {ns.name: ns for ns in namespaces}
        self.accounts = {(a.namespace, a.name): a for a in cluster.service_accounts}
        self._memo: dict[str, dict[str, str]] = {}

    def labels(self, name: str) -> dict[str, str]:
        hit = self._memo.get(name)
        if hit is not None:
            return hit
        out: dict[str, str] = {}
        if name.startswith("kns."):
            ns = self.namespaces.get(name[4:])
            if ns is not None:
                out = {NAMESPACE_PREFIX + k: v for k, v in ns.labels.items()}
                out[NAMESPACE_PREFIX + LABEL_NAME] = ns.name
        elif name.startswith("ksa."):
            ns_name, _, account = name[4:].partition(".")
            sa = self.accounts.get((ns_name, account))
            out = {SERVICE_ACCOUNT_PREFIX + k: v for k, v in (sa.labels if sa else {}).items()}
            out[SERVICE_ACCOUNT_PREFIX + LABEL_NAME] = account
        profile = self.profiles.get(name)
        if profile is not None:
            out = {**out, **profile.labels_to_apply}
        self._memo[name] = out
        return out


def _inherit(own: Mapping[str, str], parents: Sequence[Mapping[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for labels in reversed(parents):  # the first parent with a label wins
        out.update(labels)
    out.update(own)
    return out


def endpoint_labels(pod: Pod, parents: _Parents) -> dict[str, str]:
    """The labels Calico selectors see on an endpoint."""
    own = dict(pod.labels)
    if pod.workload.kind != "HostEndpoint":
        own[LABEL_NAMESPACE] = pod.namespace
        own[LABEL_ORCHESTRATOR] = "k8s"
        own[LABEL_SERVICE_ACCOUNT] = pod.service_account
    return _inherit(own, [parents.labels(p) for p in pod_profiles(pod)])


def network_set_labels(item: NetworkSet, parents: _Parents) -> dict[str, str]:
    if not item.namespace:
        return dict(item.labels)
    own = {**item.labels, LABEL_NAMESPACE: item.namespace}
    return _inherit(own, [parents.labels(f"kns.{item.namespace}")])


class CalicoLabelIndex:
    """Selectors evaluated at once over rows: the endpoint classes, then the network
    sets. `endpoint_ok[c]` is False for classes no selector may match (host-network pods)."""

    def __init__(
        self, cluster: Cluster, namespaces: Sequence[Namespace], reps: Sequence[Pod], host: Mask
    ) -> None:
        parents = _Parents(cluster, namespaces)
        rows = [endpoint_labels(p, parents) for p in reps]
        rows += [network_set_labels(s, parents) for s in cluster.calico.network_sets]
        self.n_classes = len(reps)
        self.size = len(rows)
        self.labels = rows
        hep = np.array([p.workload.kind == "HostEndpoint" for p in reps], dtype=np.bool_)
        self.endpoint_ok = ~host | hep if len(reps) else np.zeros(0, dtype=np.bool_)
        self._values: dict[str, dict[str, int]] = {}
        self._columns: dict[str, npt.NDArray[np.int32]] = {}
        for i, labels in enumerate(rows):
            for key, value in labels.items():
                ids = self._values.setdefault(key, {})
                vid = ids.setdefault(value, len(ids))
                col = self._columns.get(key)
                if col is None:
                    col = self._columns[key] = np.full(self.size, -1, dtype=np.int32)
                col[i] = vid
        self._memo: dict[Selector, Mask] = {}
        self._nodes: dict[Selector, Mask] = {}
        valid = np.ones(self.size, dtype=np.bool_)
        valid[: self.n_classes] = self.endpoint_ok
        self._valid = valid

    def match(self, node: Selector) -> Mask:
        """Rows the selector matches (classes then network sets); never host-network pods."""
        hit = self._memo.get(node)
        if hit is None:
            hit = self._eval(node) & self._valid
            hit.setflags(write=False)
            self._memo[node] = hit
        return hit

    def _ids(self, key: str, test: object) -> npt.NDArray[np.int32]:
        values = self._values.get(key, {})
        chosen = [vid for value, vid in values.items() if test(value)]  # type: ignore[operator]
        return np.array(chosen, dtype=np.int32)

    def _eval(self, node: Selector) -> Mask:
        """Every node once: policies repeat the same few terms (`tier == 'api'`)."""
        hit = self._nodes.get(node)
        if hit is None:
            hit = self._nodes[node] = self._compute(node)
            hit.setflags(write=False)
        return hit

    def _compute(self, node: Selector) -> Mask:
        match node:
            case All() | Global():
                return np.ones(self.size, dtype=np.bool_)
            case Has(key):
                col = self._columns.get(key)
                return np.zeros(self.size, np.bool_) if col is None else col >= 0
            case LabelOp(key, op, value, values):
                col = self._columns.get(key)
                if col is None:
                    return np.full(self.size, op in (Op.NE, Op.NOT_IN), dtype=np.bool_)
                if op in (Op.EQ, Op.NE):
                    vid = self._values[key].get(value, -2)
                    eq = np.asarray(col == vid, dtype=np.bool_)
                    return eq if op == Op.EQ else ~eq
                if op in (Op.IN, Op.NOT_IN):
                    known = self._values[key]
                    ids = np.array([known[v] for v in values if v in known], dtype=np.int32)
                    hit = np.isin(col, ids)
                    return hit if op == Op.IN else ~hit
                tests = {
                    Op.CONTAINS: lambda v: value in v,
                    Op.STARTS: lambda v: v.startswith(value),
                    Op.ENDS: lambda v: v.endswith(value),
                }
                return np.isin(col, self._ids(key, tests[op]))
            case Not(operand):
                return ~self._eval(operand)
            case And(operands):
                out = np.ones(self.size, dtype=np.bool_)
                for o in operands:
                    out &= self._eval(o)
                return out
            case Or(operands):
                out = np.zeros(self.size, dtype=np.bool_)
                for o in operands:
                    out |= self._eval(o)
                return out
        raise AssertionError(node)
