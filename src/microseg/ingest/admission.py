"""AdmissionReview requests and manifest documents to `ReviewRequest`s.

An AdmissionReview (admission.k8s.io/v1, kubernetes.io/docs/reference/access-authn-authz/
extensible-admission-controllers/, "Request" and "Response") is checked for what an answer
needs before anything else: a JSON object, `apiVersion: admission.k8s.io/v1`, `kind:
AdmissionReview`, a `request` with a `uid`. Without those there is no one to answer, and the
webhook replies HTTP 400 with the `ReviewError`'s message (MS630). With them, an object
whose fields cannot be read is answered, denied, with the located message (`ObjectError`,
MS620 for pods, the policy readers' own codes for policies).

Objects are read by the readers the rest of microseg uses (`parse_workload`,
`parse_network_policy`, `parse_admin_policy`, `parse_namespace`), so the webhook and `check`
see one object the same way.
"""

from __future__ import annotations

import json
from typing import Any

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.core import parse_namespace
from microseg.ingest.documents import Document
from microseg.ingest.netpols import parse_network_policy
from microseg.ingest.podspec import parse_workload
from microseg.ingest.validation import FieldError, field_diagnostic, shown
from microseg.model.admission import AdmittedObject, Operation, OtherObject, ReviewRequest
from microseg.model.labels import FrozenLabels
from microseg.model.podspec import POD_TEMPLATE_PATHS

__all__ = [
    "ADMISSION_API_VERSION",
    "CODE_REVIEW",
    "ObjectError",
    "ReviewError",
    "parse_review",
    "read_object",
    "request_from_document",
]

ADMISSION_API_VERSION = "admission.k8s.io/v1"
CODE_REVIEW = "MS630"
_ADMIN_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
_WORKLOAD_GROUPS = ("", "apps", "batch")


class ReviewError(Exception):
    """The body is not an AdmissionReview request one can answer (HTTP 400)."""


class ObjectError(Exception):
    """The object under review cannot be read; `diagnostics` say where and why."""

    def __init__(self, uid: str, diagnostics: list[Diagnostic]) -> None:
        self.uid = uid
        self.diagnostics = tuple(diagnostics)
        super().__init__("; ".join(d.render() for d in diagnostics))


def _group(api_version: object) -> str:
    return str(api_version).rpartition("/")[0] if isinstance(api_version, str) else ""


def read_object(
    data: dict[str, Any], origin: Origin, namespace: str, doc: Document | None = None
) -> AdmittedObject:
    """A raw object in the model form the rules read; raises ObjectError (uid "")."""
    kind = str(data.get("kind", ""))
    group = _group(data.get("apiVersion"))
    doc = doc or Document(data, origin.file, origin.document, origin.line)
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    if kind in POD_TEMPLATE_PATHS and group in _WORKLOAD_GROUPS:
        try:
            return parse_workload(data, origin, namespace)
        except FieldError as err:
            raise ObjectError("", [field_diagnostic(doc, err)]) from None
    if kind == "NetworkPolicy" and group == "networking.k8s.io":
        if not meta.get("namespace"):
            data = {**data, "metadata": {**meta, "namespace": namespace}}
            doc = Document(data, doc.file, doc.index, doc.line, doc.node, doc.base_path, doc.tree)
        result = parse_network_policy(doc)
        if isinstance(result, list):
            raise ObjectError("", [d for d in result if d.severity is Severity.ERROR] or result)
        return result
    if kind in _ADMIN_KINDS and group == "policy.networking.k8s.io":
        from microseg.ingest.admin import parse_admin_policy

        policy, notes = parse_admin_policy(doc)
        if policy is None:
            raise ObjectError("", notes)
        return policy
    if kind == "Namespace" and group == "":
        try:
            return parse_namespace(doc)
        except FieldError as err:
            raise ObjectError("", [field_diagnostic(doc, err)]) from None
    labels = meta.get("labels")
    ok = isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
    return OtherObject(
        kind,
        str(meta.get("namespace") or namespace),
        str(meta.get("name") or ""),
        FrozenLabels(labels) if ok and isinstance(labels, dict) else FrozenLabels(),
    )


def request_from_document(doc: Document, namespace: str = "default") -> ReviewRequest:
    """A manifest document as the CREATE the API server would review; raises ObjectError."""
    data = doc.data
    origin = doc.origin()
    obj = read_object(data, origin, namespace, doc)
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    kind = str(data.get("kind", ""))
    cluster_scoped = kind in ("Namespace", "Node", *_ADMIN_KINDS) or kind.startswith("Cluster")
    return ReviewRequest(
        uid=f"{doc.file}#{doc.index}",
        operation=Operation.CREATE,
        kind=kind,
        namespace="" if cluster_scoped else str(meta.get("namespace") or namespace),
        name=str(meta.get("name") or ""),
        object=obj,
        group=_group(data.get("apiVersion")),
        origin=origin,
    )


def _field(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise ReviewError(
            f"{where}{key}: expected {kind.__name__}, got {type(value).__name__} {shown(value)}"
        )
    return value


def parse_review(body: bytes | str) -> ReviewRequest:
    """An AdmissionReview body as a request. Raises ReviewError when it cannot be answered
    (HTTP 400), ObjectError (with the uid) when its object cannot be read (a denial)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ReviewError(f"the body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ReviewError(f"expected an AdmissionReview object, got a JSON {type(data).__name__}")
    api, kind = data.get("apiVersion"), data.get("kind")
    if api != ADMISSION_API_VERSION or kind != "AdmissionReview":
        raise ReviewError(
            f"expected apiVersion {ADMISSION_API_VERSION} and kind AdmissionReview, got "
            f"{shown(api)} and {shown(kind)} (admissionReviewVersions must list v1)"
        )
    req = data.get("request")
    if not isinstance(req, dict):
        raise ReviewError("AdmissionReview has no request object")
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError("request.uid is missing: a response must echo it")
    where = "request."
    op_text = _field(req, "operation", str, where)
    try:
        operation = Operation(op_text)
    except ValueError:
        raise ReviewError(
            f"request.operation: expected CREATE, UPDATE, DELETE or CONNECT, got {shown(op_text)}"
        ) from None
    gvk = _field(req, "kind", dict, where) or {}
    kind_name = str(gvk.get("kind") or "")
    namespace = str(_field(req, "namespace", str, where) or "")
    name = str(_field(req, "name", str, where) or "")
    dry_run = _field(req, "dryRun", bool, where) is True
    subresource = str(_field(req, "subResource", str, where) or "")
    objects: list[AdmittedObject | None] = []
    for key in ("object", "oldObject"):
        raw = _field(req, key, dict, where)
        if raw is None:
            objects.append(None)
            continue
        origin = Origin(
            file=f"<{key}>", kind=str(raw.get("kind", kind_name)), namespace=namespace, name=name
        )
        try:
            objects.append(read_object(raw, origin, namespace or "default"))
        except ObjectError as err:
            raise ObjectError(uid, list(err.diagnostics)) from None
    return ReviewRequest(
        uid=uid,
        operation=operation,
        kind=kind_name,
        namespace=namespace,
        name=name,
        object=objects[0],
        old_object=objects[1],
        dry_run=dry_run,
        group=str(gvk.get("group") or ""),
        subresource=subresource,
        origin=Origin(file="<admission>", kind=kind_name, namespace=namespace, name=name),
    )
