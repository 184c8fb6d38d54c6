"""Choosing the selector that names a workload in generated policies: stable labels only.

Generated policies outlive the pods they were learnt from, so a selector must not key on
labels that change on every rollout or release. Never used:
- controller bookkeeping: `pod-template-hash` (Deployment, per ReplicaSet),
  `controller-revision-hash` and `statefulset.kubernetes.io/pod-name` /
  `apps.kubernetes.io/pod-index` (StatefulSet, per revision or per pod),
  `pod-template-generation` (DaemonSet), `controller-uid`, `job-name` and their
  `batch.kubernetes.io/` forms (Job, per run);
- release metadata: `app.kubernetes.io/version`, `app.kubernetes.io/instance`,
  `app.kubernetes.io/managed-by`, `helm.sh/chart`, Helm 2's `chart`, `release`,
  `heritage`, the common `version` label, Istio's `service.istio.io/canonical-revision`.
(kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/ and
kubernetes.io/docs/reference/labels-annotations-taints/ name these labels.)

Preferred, in order: `app.kubernetes.io/name`, `app`, `k8s-app`, alone when that tells the
workload apart from every other workload of its namespace; else such a label plus further
stable labels, added greedily (the one that excludes most neighbours first); else the
controller's own `spec.selector` (less any unstable key). When nothing tells the workload apart (two workloads with
the same stable labels), that is a finding: the selector chosen also selects the
neighbours, so policies cannot be tighter than the labels, and the proof counts the excess.

Exclusivity is decided over distinct (workload, labels) pairs of the namespace's
selectable pods (host-network pods are node traffic and never selected), not pod by pod.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.selectors import LabelSelector, Operator

__all__ = ["PREFERRED", "UNSTABLE", "Choice", "choose_selectors", "stable_labels"]

PREFERRED = ("app.kubernetes.io/name", "app", "k8s-app")
UNSTABLE = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "pod-template-generation",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "controller-uid",
        "job-name",
        "batch.kubernetes.io/controller-uid",
        "batch.kubernetes.io/job-name",
        "app.kubernetes.io/version",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
        "chart",
        "release",
        "heritage",
        "version",
        "service.istio.io/canonical-revision",
    }
)


@dataclass(frozen=True, slots=True)
class Choice:
    """The selector of one workload: `source` says where it came from (a preferred label's
    key, `labels`, `controller` (its spec.selector less unstable keys), or `none` when the
    workload has no stable label at all);
    `neighbours` are the other workloads of its namespace it also selects."""

    selector: LabelSelector
    source: str
    neighbours: tuple[str, ...] = ()

    @property
    def exclusive(self) -> bool:
        return not self.neighbours

    @property
    def match_labels(self) -> dict[str, str] | None:
        """The selector as plain labels, when it is one (AuthorizationPolicy takes only those)."""
        out = {}
        for r in self.selector.requirements:
            if r.operator is not Operator.IN or len(r.values) != 1:
                return None
            out[r.key] = next(iter(r.values))
        return out


def stable_labels(labels: FrozenLabels | dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in UNSTABLE}


def _common(label_sets: list[FrozenLabels]) -> dict[str, str]:
    first = dict(label_sets[0])
    for other in label_sets[1:]:
        first = {k: v for k, v in first.items() if other.get(k) == v}
    return first


def choose_selectors(cluster: Cluster, host_network_as_node: bool = True) -> dict[int, Choice]:
    """A Choice per index of `cluster.workloads` that has selectable pods."""
    index = {w.key: i for i, w in enumerate(cluster.workloads)}
    pods_of: dict[int, list[FrozenLabels]] = defaultdict(list)
    for pod in cluster.pods:
        if pod.host_network and host_network_as_node:
            continue
        i = index.get(pod.workload)
        if i is not None:
            pods_of[i].append(pod.labels)
    per_ns: dict[str, list[tuple[int, FrozenLabels]]] = defaultdict(list)
    for i, label_sets in pods_of.items():
        ns = cluster.workloads[i].key.namespace
        per_ns[ns].extend((i, labels) for labels in set(label_sets))
    out: dict[int, Choice] = {}
    for i, label_sets in sorted(pods_of.items()):
        w = cluster.workloads[i]
        others = [(j, lab) for j, lab in per_ns[w.key.namespace] if j != i]
        out[i] = _choose(cluster, i, _common(label_sets), w.selector, label_sets, others)
    return out


def _neighbours(
    cluster: Cluster, selector: LabelSelector, others: list[tuple[int, FrozenLabels]]
) -> tuple[str, ...]:
    hit = {j for j, labels in others if selector.matches(labels)}
    return tuple(sorted(str(cluster.workloads[j].key) for j in hit))


def _choose(
    cluster: Cluster,
    i: int,
    common: dict[str, str],
    controller: LabelSelector | None,
    own: list[FrozenLabels],
    others: list[tuple[int, FrozenLabels]],
) -> Choice:
    stable = stable_labels(common)
    for key in PREFERRED:
        if key in stable:
            sel = LabelSelector.from_labels({key: stable[key]})
            if not _neighbours(cluster, sel, others):
                return Choice(sel, key)
    # A preferred label (if any) plus the stable labels that exclude most neighbours.
    chosen = {k: stable[k] for k in PREFERRED[:3] if k in stable}
    chosen = dict(list(chosen.items())[:1])
    rest = sorted(k for k in stable if k not in chosen)
    while rest:
        sel = LabelSelector.from_labels(chosen)
        left = [(j, lab) for j, lab in others if sel.matches(lab)]
        if not left:
            break
        best = min(rest, key=lambda k: (sum(1 for _, lab in left if lab.get(k) == stable[k]), k))
        chosen[best] = stable[best]
        rest.remove(best)
    if chosen:
        sel = LabelSelector.from_labels(chosen)
        if not _neighbours(cluster, sel, others):
            return Choice(sel, "labels")
    if controller is not None:
        stable_part = LabelSelector(
            tuple(r for r in controller.requirements if r.key not in UNSTABLE)
        )
        if not stable_part.is_empty() and all(stable_part.matches(lab) for lab in own):
            return Choice(stable_part, "controller", _neighbours(cluster, stable_part, others))
    if chosen:
        sel = LabelSelector.from_labels(chosen)
        return Choice(sel, "labels", _neighbours(cluster, sel, others))
    # No stable label at all: never an unstable one, so every pod of the namespace is
    # selected; a finding says so and the proof counts what that opens.
    return Choice(LabelSelector(), "none", _neighbours(cluster, LabelSelector(), others))
