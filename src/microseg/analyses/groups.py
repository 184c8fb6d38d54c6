"""Intent groups resolved to endpoints: nodes of the WorkloadGraph and external addresses.

Endpoints are the WorkloadGraph's nodes (a workload, or one pod of a workload whose pods
differ in connectivity), so that verify names what `connectivity` names. Selectors are
evaluated once per pod class (pods of a class share namespace and labels), then spread to
pods and nodes with numpy: no loop over pods per group.

A node belongs to a group when any of its pods matches: a workload's pods normally share
their template's labels, and a workload split because its pods differ is split into pods.
A `workload:` group may also name one pod (`ns/pod` or `ns/pod[Pod]`), as verify prints the
pods of a split workload.

Built-in groups: `internet` is every public address (`microseg.model.addresses.PUBLIC`),
`cluster` every pod, `kube-dns` the pods labelled `k8s-app=kube-dns` in `kube-system` (the
label upstream CoreDNS and kube-dns deployments carry).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.engine import Connectivity, WorkloadGraph
from microseg.model.addresses import PUBLIC
from microseg.model.intent import CLUSTER_GROUP, INTERNET_GROUP, KUBE_DNS_GROUP, GroupSpec
from microseg.model.selectors import LabelSelector
from microseg.model.sets import IPSet

__all__ = ["GroupResolver", "Members"]

_KUBE_DNS = GroupSpec(
    KUBE_DNS_GROUP,
    namespace="kube-system",
    selector=LabelSelector.from_labels({"k8s-app": "kube-dns"}),
)


@dataclass(frozen=True, slots=True)
class Members:
    """`nodes[i]`: graph node i is in the group; `addresses`: its external addresses."""

    name: str
    nodes: npt.NDArray[np.bool_]
    addresses: IPSet = field(default_factory=IPSet)
    notes: tuple[str, ...] = ()

    def empty(self) -> bool:
        return not self.nodes.any() and not self.addresses

    def size(self) -> int:
        return int(self.nodes.sum())


@dataclass(frozen=True, slots=True)
class GroupResolver:
    conn: Connectivity
    graph: WorkloadGraph
    node_of_pod: npt.NDArray[np.int64]
    """`node_of_pod[i]`: the graph node of `cluster.pods[i]`."""

    @staticmethod
    def build(conn: Connectivity, graph: WorkloadGraph) -> GroupResolver:
        index = {name: i for i, name in enumerate(graph.nodes)}
        split = set(graph.split)
        out = np.empty(len(conn.cluster.pods), dtype=np.int64)
        # Replicas share their workload: its node is looked up once, not once per pod
        # (`microseg monitor` builds a resolver per event on 10,000 pods).
        node_of: dict[object, int] = {}
        for i, pod in enumerate(conn.cluster.pods):
            node = node_of.get(pod.workload)
            if node is None:
                key = str(pod.workload)
                if key in split:
                    out[i] = index[f"{pod.namespace}/{pod.name}[Pod]"]
                    continue
                node = node_of[pod.workload] = index[key]
            out[i] = node
        return GroupResolver(conn, graph, out)

    @property
    def n_nodes(self) -> int:
        return len(self.graph.nodes)

    def resolve(self, name: str, spec: GroupSpec | None) -> Members:
        if name == INTERNET_GROUP:
            return Members(name, np.zeros(self.n_nodes, np.bool_), PUBLIC)
        if name == CLUSTER_GROUP:
            return Members(name, np.ones(self.n_nodes, np.bool_))
        if name == KUBE_DNS_GROUP:
            spec = _KUBE_DNS
        assert spec is not None, f"group {name!r} was checked at load time"
        if spec.cidrs:
            addresses = IPSet()
            for c in spec.cidrs:
                addresses = addresses | IPSet.from_cidr(c)
            return Members(name, np.zeros(self.n_nodes, np.bool_), addresses)
        if spec.workload is not None:
            return self._workload(name, spec.workload)
        return Members(name, self._pods(spec))

    def _workload(self, name: str, text: str) -> Members:
        spec, kind = text, None
        if spec.endswith("]"):
            spec, kind = spec[:-1].split("[", 1)
        namespace, wname = spec.split("/", 1)
        keys = [
            k
            for k in self.conn.names.workloads.get((namespace, wname), ())
            if kind in (None, k.kind)
        ]
        wanted = {str(k) for k in keys}
        nodes = np.array([w in wanted for w in self.graph.node_workload], dtype=np.bool_)
        notes: tuple[str, ...] = ()
        pod = self.conn.names.pods.get((namespace, wname)) if kind in (None, "Pod") else None
        if not keys and pod is not None:
            # One pod of a workload: the node verify names `ns/pod[Pod]` when the workload is
            # split, else its workload's node (its pods share their connectivity).
            nodes = np.zeros(self.n_nodes, np.bool_)
            nodes[self.node_of_pod[pod]] = True
            return Members(name, nodes)
        if not keys:
            notes = (f"no workload {text} in the input",)
        elif len(keys) > 1:
            notes = (
                f"{text} names {len(keys)} workloads ({', '.join(sorted(wanted))}); all are in the group",
            )
        return Members(
            name, nodes.reshape(-1) if len(nodes) else np.zeros(0, np.bool_), notes=notes
        )

    def _pods(self, spec: GroupSpec) -> npt.NDArray[np.bool_]:
        classes = self.conn.classes
        reps = classes.reps
        namespaces = classes.namespaces
        ok = np.ones(len(reps), dtype=np.bool_)
        ns_ok = np.array(
            [
                (spec.namespace is None or ns.name == spec.namespace)
                and (spec.namespace_selector is None or spec.namespace_selector.matches(ns.labels))
                for ns in namespaces
            ],
            dtype=np.bool_,
        )
        ok &= ns_ok[classes.class_namespace] if len(reps) else ok
        if spec.selector is not None:
            ok &= np.array([spec.selector.matches(p.labels) for p in reps], dtype=np.bool_)
        pod_ok = ok[classes.pod_class] if len(classes.pod_class) else np.zeros(0, np.bool_)
        nodes = np.zeros(self.n_nodes, dtype=np.bool_)
        nodes[self.node_of_pod[pod_ok]] = True
        return nodes
