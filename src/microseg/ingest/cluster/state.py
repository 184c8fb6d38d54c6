"""The objects a watch has seen, and what each event changes in the model.

`microseg monitor` keeps every object the API served, by (API group, kind, namespace,
name), and turns each watch event into the `model.changes` values `Connectivity.apply`
takes, read by the same readers as files:

- a NetworkPolicy: the policy read again, then PutPolicy or DeletePolicy (nothing when the
  model is unchanged: a status or annotation update changes no verdict);
- a guardrail policy (ANP, BANP, CNP): the guardrail set read again (their clashes are
  between policies), and a PutPolicy or DeletePolicy per policy that differs;
- a Namespace: PutNamespace with its labels; deleted, DeleteNamespace once nothing is
  left in it, else its labels fall back to the name label the API sets;
- a Pod or a controller: the workloads of its namespace grouped again (ownerReferences,
  templates of controllers without pods: ingest/workloads.py), then PutPod and DeletePod
  for the pods that differ from the model;
- anything else the loader reads (Services, ServiceAccounts, Nodes, Ingresses, Routes,
  Istio, user-defined networks): when its model object changed, the whole snapshot read
  again (`Update.cluster`, counted as a rebuild); unchanged, nothing.

An object the readers refuse is left out of the model and reported, as `load --keep-going`
would leave it out, so that the state after any sequence of events equals a fresh list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from microseg.errors import Diagnostic
from microseg.ingest.cluster.kinds import Resource
from microseg.ingest.cluster.overlay import ObjectKey, object_key
from microseg.ingest.cluster.reading import to_document
from microseg.ingest.core import parse_namespace, parse_node, parse_service, parse_service_account
from microseg.ingest.documents import Document
from microseg.ingest.manifests import ClusterBuilder, load_documents
from microseg.ingest.netpols import PolicyMemo, parse_network_policy
from microseg.ingest.validation import FieldError, field_diagnostic
from microseg.ingest.workloads import CONTROLLER_KINDS, WorkloadBuilder
from microseg.model.changes import (
    Change,
    DeleteNamespace,
    DeletePod,
    DeletePolicy,
    PutNamespace,
    PutPod,
    PutPolicy,
)
from microseg.model.cluster import Cluster
from microseg.model.netpol import NetworkPolicy

__all__ = ["ADMIN_KINDS", "LiveState", "Update"]

ADMIN_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
_WORKLOAD_KINDS = frozenset({"Pod", *CONTROLLER_KINDS})
# Single-object readers for the kinds without an incremental form: an event whose object
# reads the same as the model's changes nothing (Node heartbeats, Service status).
_SINGLE: dict[str, tuple[Callable[[Document], Any], Callable[[Cluster], Iterable[Any]]]] = {
    "Service": (parse_service, lambda c: c.services),
    "ServiceAccount": (parse_service_account, lambda c: c.service_accounts),
    "Node": (parse_node, lambda c: c.nodes),
}


@dataclass(slots=True)
class Update:
    """What one event does to the model: changes to apply in order, or a whole new
    snapshot (`cluster`, when the kind has no incremental form: `reason` says which)."""

    changes: list[Change] = field(default_factory=list)
    cluster: Cluster | None = None
    reason: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)


class LiveState:
    """Every object served, by key; `event` and `relist` say what changes in the model."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.docs: dict[ObjectKey, Document] = {}
        self._memo = PolicyMemo()

    # -- the whole snapshot ------------------------------------------------------------
    def put_all(self, resource: Resource, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            doc = to_document(item, resource, self.context)
            self.docs[object_key(doc.data)] = doc

    def snapshot(self) -> Cluster:
        """The model of every object held, as the loader reads them (refused objects left
        out, their errors among the diagnostics)."""
        return load_documents(list(self.docs.values()), keep_going=True)

    # -- one event -------------------------------------------------------------------
    def event(self, cluster: Cluster, kind: str, resource: Resource, obj: dict[str, Any]) -> Update:
        doc = to_document(obj, resource, self.context)
        key = object_key(doc.data)
        if kind == "DELETED":
            self.docs.pop(key, None)
        else:
            self.docs[key] = doc
        return self._changed(cluster, key)

    def relist(
        self,
        cluster: Cluster,
        resource: Resource,
        items: list[dict[str, Any]],
        namespace: str | None,
        apply: Callable[[Update], Cluster],
    ) -> None:
        """A fresh list of one resource (after 410 Gone or a lost event): what it adds,
        changes or no longer has, each applied through `apply`, which returns the model
        after it."""
        fresh = {}
        for item in items:
            doc = to_document(item, resource, self.context)
            fresh[object_key(doc.data)] = doc
        held = [
            k
            for k in self.docs
            if (k[0], k[1]) == (resource.group, resource.kind)
            and (namespace is None or k[2] == namespace)
        ]
        for key in held:
            if key not in fresh:
                del self.docs[key]
                cluster = apply(self._changed(cluster, key))
        for key, doc in fresh.items():
            old = self.docs.get(key)
            if old is not None and _version(old) == _version(doc) and old.data == doc.data:
                continue
            self.docs[key] = doc
            cluster = apply(self._changed(cluster, key))

    def _changed(self, cluster: Cluster, key: ObjectKey) -> Update:
        kind = key[1]
        if kind == "NetworkPolicy" and key[0] == "networking.k8s.io":
            return self._netpol(cluster, key)
        if kind in ADMIN_KINDS:
            return self._admin(cluster)
        if kind == "Namespace" and key[0] == "":
            return self._namespace(cluster, key[3])
        if kind in _WORKLOAD_KINDS:
            return self._workloads(cluster, key[2] or "default")
        return self._other(cluster, key)

    def _netpol(self, cluster: Cluster, key: ObjectKey) -> Update:
        out = Update()
        _, _, namespace, name = key
        doc = self.docs.get(key)
        new: NetworkPolicy | None = None
        if doc is not None:
            parsed = parse_network_policy(doc, self._memo)
            if isinstance(parsed, list):
                out.diagnostics.extend(parsed)
            else:
                new = parsed
        old = next(
            (p for p in cluster.policies if (p.namespace, p.name) == (namespace, name)), None
        )
        if new is not None and new != old:
            out.changes.append(PutPolicy(new))
        elif new is None and old is not None:
            out.changes.append(DeletePolicy("NetworkPolicy", name, namespace))
        return out

    def _admin(self, cluster: Cluster) -> Update:
        builder = ClusterBuilder()
        for key, doc in self.docs.items():
            if key[1] in ADMIN_KINDS:
                builder.add(doc)
        out = Update(diagnostics=list(builder.diagnostics))
        new = {(p.kind, p.name): p for p in builder.admin_policies}
        old = {(p.kind, p.name): p for p in cluster.admin_policies}
        for k, policy in new.items():
            if old.get(k) != policy:
                out.changes.append(PutPolicy(policy))
        for kind, name in old.keys() - new.keys():
            out.changes.append(DeletePolicy(kind, name))
        return out

    def _namespace(self, cluster: Cluster, name: str) -> Update:
        out = Update()
        doc = self.docs.get(("", "Namespace", "", name))
        current = cluster.namespace(name)
        if doc is None:
            if current is None:
                return out
            if any(k[2] == name for k in self.docs):
                # Objects still in it: it stays, with only the label the API sets.
                if len(current.labels) > 1:
                    out.changes.append(PutNamespace(name, {}))
            else:
                out.changes.append(DeleteNamespace(name))
            return out
        try:
            namespace = parse_namespace(doc)
        except FieldError as err:
            out.diagnostics.append(field_diagnostic(doc, err))
            return out
        if current is None or current.labels != namespace.labels or not current.declared:
            out.changes.append(PutNamespace(name, dict(namespace.labels)))
        return out

    def _workloads(self, cluster: Cluster, namespace: str) -> Update:
        """The namespace's workloads grouped again from its pods and controllers: a pod's
        workload depends on the controllers above it, and a controller left without pods
        stands for its replicas, so one event may change several endpoints."""
        builder = WorkloadBuilder()
        for key, doc in self.docs.items():
            if key[1] in _WORKLOAD_KINDS and (key[2] or "default") == namespace:
                builder.add(doc)
        _, pods = builder.build()
        out = Update(diagnostics=list(builder.diagnostics))
        old = {p.name: p for p in cluster.pods if p.namespace == namespace}
        new = {p.name: p for p in pods}
        for name, pod in new.items():
            if old.get(name) != pod:
                out.changes.append(PutPod(pod))
        for name in old.keys() - new.keys():
            out.changes.append(DeletePod(namespace, name))
        return out

    def _other(self, cluster: Cluster, key: ObjectKey) -> Update:
        reader = _SINGLE.get(key[1]) if key[0] == "" else None
        if reader is not None:
            parse, held = reader
            doc = self.docs.get(key)
            try:
                new = parse(doc) if doc is not None else None
            except FieldError:
                new = None  # reported by the rebuild below
            _, _, namespace, name = key
            old = next(
                (
                    o
                    for o in held(cluster)
                    if o.name == name and getattr(o, "namespace", "") == namespace
                ),
                None,
            )
            if new == old:
                return Update()
        cluster = self.snapshot()
        errors = [d for d in cluster.diagnostics if d.code != "MS010"]
        return Update(cluster=cluster, reason=key[1], diagnostics=errors)


def _version(doc: Document) -> str:
    meta = doc.data.get("metadata")
    return str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""
