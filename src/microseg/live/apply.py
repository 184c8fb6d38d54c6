"""`microseg apply`: server-side apply of a folder's objects, with field manager `microseg`.

Server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/): each
object is sent whole as a PATCH of type `application/apply-patch+yaml` to its own URL, with
`fieldManager=microseg`; the server merges the fields microseg manages and refuses, with a
409 Conflict, to take fields another manager owns unless `force=true`
(`--force-conflicts`). `dryRun=All` (`--dry-run=server`) runs admission and validation
without persisting anything (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.assumed import with_namespace
from microseg.ingest.cluster import Api, ApiError, Resource, resource_for
from microseg.ingest.documents import MAX_INPUT_BYTES, Document, read_paths

__all__ = ["FIELD_MANAGER", "ApplyResult", "apply_documents", "documents_to_apply"]

FIELD_MANAGER = "microseg"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """One object: `name` as kubectl prints it (`networkpolicy.networking.k8s.io/x`),
    `verb` serverside-applied, or refused with the reason in `error`."""

    name: str
    verb: str
    error: Diagnostic | None = None


def documents_to_apply(
    paths: list[str], namespace: str, max_input_bytes: int = MAX_INPUT_BYTES
) -> tuple[list[Document], list[Diagnostic]]:
    docs: list[Document] = []
    notes: list[Diagnostic] = []
    for item in read_paths(paths, max_input_bytes):
        if isinstance(item, Diagnostic):
            notes.append(item)
            continue
        if item.data.get("apiVersion") == "microseg.dev/v1alpha1":
            continue  # intents beside the policies are microseg's, not the cluster's
        with_namespace(item, namespace)
        docs.append(item)
    return docs, notes


def _label(resource: Resource, name: str) -> str:
    group = f".{resource.group}" if resource.group else ""
    return f"{resource.kind.lower()}{group}/{name}"


def apply_documents(
    api: Api, docs: list[Document], dry_run: bool, force: bool
) -> list[ApplyResult]:
    """Apply each document in order; a refused object is a located error, the others
    are still applied (as kubectl apply does)."""
    resources: dict[tuple[str, str], Resource | None] = {}
    out: list[ApplyResult] = []
    for doc in docs:
        api_version, kind = str(doc.data.get("apiVersion")), str(doc.data.get("kind"))
        meta = doc.data.get("metadata") if isinstance(doc.data.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        name = str(meta.get("name") or "")
        where = Origin(file=doc.file, line=doc.line, kind=kind, name=name)
        key = (api_version, kind)
        try:
            if key not in resources:
                resources[key] = resource_for(api, api_version, kind)
            resource = resources[key]
            if resource is None:
                raise ApiError(
                    404, "NotFound", f"the cluster does not serve {kind} at {api_version}"
                )
            namespace = str(meta.get("namespace") or "") if resource.namespaced else None
            body = json.dumps(doc.data)  # JSON is YAML: the apply patch as the file states it
            api.apply(resource.path(namespace, name), body, FIELD_MANAGER, dry_run, force)
            out.append(ApplyResult(_label(resource, name), "serverside-applied", None))
        except ApiError as exc:
            code = {422: "MS711", 409: "MS712", 404: "MS710"}.get(exc.status, "MS713")
            reason = {
                "MS712": " (another field manager owns these fields; --force-conflicts takes them)",
            }.get(code, "")
            out.append(
                ApplyResult(
                    f"{kind.lower()}/{name}",
                    "refused",
                    Diagnostic(Severity.ERROR, code, f"{exc.message}{reason}", where),
                )
            )
    return out
