"""What the webhook keeps between requests: the guardrails, the cluster snapshot, and the
engine's intent verdicts on it; and one request body in, one (status, JSON) out.

The snapshot starts from `--snapshot PATH` (manifests, or a `kubectl get ... -o yaml` dump)
and follows what the webhook admits: a NetworkPolicy, guardrail-tier policy or Namespace
created, updated or deleted, and the pods of workloads created or deleted, are applied to it
with `Connectivity.apply` once the review allowed them and it was not a dry run (a dry run
has no side effects, as `sideEffects: None` promises). A webhook only sees what passes
through it, and another admission controller may still reject what this one allowed, so the
snapshot can drift; restarting with a fresh `--snapshot` resets it. Without `--snapshot`
there is no snapshot at all: segmentation rules then say so in a warning on every response
they would have judged, instead of judging against a partial view.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from microseg.analyses.guardrails import IntentMemo, ReviewContext, ReviewResult, review
from microseg.engine import Connectivity
from microseg.errors import Diagnostic
from microseg.ingest.admission import ObjectError, ReviewError, parse_review
from microseg.ingest.documents import Document
from microseg.ingest.workloads import WorkloadBuilder
from microseg.model.admission import Operation, ReviewRequest
from microseg.model.changes import Change, ChangeError, DeletePod, PutPod
from microseg.model.guardrails import GuardrailSet
from microseg.model.objects import ContainerPort, WorkloadKey
from microseg.model.podspec import WorkloadObject
from microseg.model.sets import Protocol
from microseg.render.admission import admission_response, error_response

__all__ = ["Answer", "WebhookState"]


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP status and JSON body, and what the metrics record."""

    status: int
    body: dict[str, Any]
    kind: str = ""
    operation: str = ""
    allowed: bool | None = None
    error: str = ""
    engine: bool = False


def _needs_engine(request: ReviewRequest, guardrails: GuardrailSet) -> bool:
    return request.kind in (
        "NetworkPolicy",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "ClusterNetworkPolicy",
        "Namespace",
    ) and any(r.segmentation for r in guardrails.rules)


@dataclass
class WebhookState:
    guardrails: GuardrailSet
    conn: Connectivity | None = None
    snapshot: str = ""
    memo: IntentMemo = field(default_factory=IntentMemo)
    lock: threading.Lock = field(default_factory=threading.Lock)
    applied: int = 0

    def needs_engine(self, body: bytes) -> bool:
        """A cheap look at the body: policy and namespace reviews go to a worker thread
        (they run the engine); pod reviews are answered on the event loop."""
        head = body[:4096]
        return self.conn is not None and any(
            k in head
            for k in (
                b'"NetworkPolicy"',
                b'AdminNetworkPolicy"',
                b'"ClusterNetworkPolicy"',
                b'"Namespace"',
            )
        )

    def answer(self, body: bytes) -> Answer:
        try:
            request = parse_review(body)
        except ReviewError as err:
            return Answer(400, {"error": str(err), "code": "MS630"}, error="bad-review")
        except ObjectError as err:
            message = "; ".join(_diag(d) for d in err.diagnostics)
            return Answer(
                200,
                error_response(err.uid, 400, f"the object cannot be read: {message}"),
                error="bad-object",
                allowed=False,
            )
        engine = _needs_engine(request, self.guardrails) and self.conn is not None
        if engine:
            with self.lock:
                result = self._review(request)
                self._adopt(request, result, body)
        else:
            result = self._review(request)
            if self.conn is not None and isinstance(
                request.object or request.old_object, WorkloadObject
            ):
                with self.lock:
                    self._adopt(request, result, body)
        return Answer(
            200,
            admission_response(result),
            request.kind,
            request.operation.value,
            result.allowed,
            engine=engine,
        )

    def _review(self, request: ReviewRequest) -> ReviewResult:
        context = ReviewContext(self.guardrails, self.conn, self.memo)
        return review(request, context)

    def _adopt(self, request: ReviewRequest, result: ReviewResult, body: bytes) -> None:
        """Follow an admitted change in the snapshot (never on a dry run or a denial)."""
        if request.dry_run or not result.allowed or self.conn is None:
            return
        try:
            if result.after is not None:
                self.conn = result.after
            elif result.change is not None:
                self.conn = self.conn.apply(result.change)
            else:
                for change in _pod_changes(request, self.conn, body):
                    self.conn = self.conn.apply(change)
                    self.applied += 1
                return
        except ChangeError:
            return  # the snapshot lacks the object: nothing to follow
        self.applied += 1


def _unchanged(obj: WorkloadObject, conn: Connectivity) -> bool:
    """Whether the snapshot already holds this workload's pods as the object gives them (a
    re-applied manifest): then nothing is rebuilt. Compares what the engine keys pods on:
    labels, serving ports (containers and sidecar init containers), account, host network."""
    kind = "Pod" if obj.kind == "Pod" else obj.kind
    at = conn.names.first_pod.get(WorkloadKey(obj.namespace, obj.name, kind))
    if at is None:
        return False
    have = conn.cluster.pods[at]
    pod = obj.pod
    ports = tuple(
        ContainerPort(Protocol(proto), number, name)
        for c in pod.containers
        if c.group == "containers" or (c.group == "initContainers" and c.restart_policy == "Always")
        for proto, number, name in c.ports
        if proto in ("TCP", "UDP", "SCTP")
    )
    return (
        have.labels == pod.labels
        and have.ports == ports
        and have.service_account == pod.service_account
        and have.host_network == (pod.host_network is True)
    )


def _diag(d: Diagnostic) -> str:
    return f"{d.field}: {d.message}" if d.field else d.message


def _pod_changes(request: ReviewRequest, conn: Connectivity, body: bytes) -> list[Change]:
    """A workload created (its pods as the template gives them, read by the workload
    reader every command uses) or deleted."""
    obj = request.object
    if request.operation is Operation.DELETE:
        old = request.old_object
        if not isinstance(old, WorkloadObject):
            return []
        return [
            DeletePod(p.namespace, p.name)
            for p in conn.cluster.pods
            if p.workload.namespace == old.namespace
            and p.workload.name == old.name
            and p.workload.kind == old.kind
        ]
    if request.operation is not Operation.CREATE or not isinstance(obj, WorkloadObject):
        return []
    if _unchanged(obj, conn):
        return []
    raw = json.loads(body)["request"]["object"]
    meta = raw.setdefault("metadata", {})
    meta.setdefault("namespace", obj.namespace)
    meta.setdefault("name", obj.name)
    builder = WorkloadBuilder()
    builder.add(Document(raw, "<admission>", 0, None))
    _, pods = builder.build()
    if builder.diagnostics:
        return []
    changes: list[Change] = []
    for p in pods:
        at = conn.names.first_pod.get(p.workload)
        if at is not None and conn.cluster.pods[at] == p:
            continue  # already in the snapshot as it is: nothing to apply
        changes.append(PutPod(p))
    return changes
