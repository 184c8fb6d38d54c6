"""Quarantines applied through the API, and undone.

Applying (`apply_plan`): the policies first, by server-side apply with field manager
`microseg` (as `microseg apply` does; https://kubernetes.io/docs/reference/using-api/
server-side-apply/), then the pod's labels by a JSON Patch (RFC 6902) whose first operation
`test`s the labels read just before, so that a pod relabelled meanwhile is refused (409/422)
rather than overwritten. Isolation starts at that last request: the policies select only
the quarantine label, which the pod does not carry until then.

Undoing (`release`): the policies deleted (a 404 is what was wanted), and the labels put
back: the quarantine label removed and the labels the quarantine took away restored to
their values before it, every other label left as it is now; again behind a `test` that the
pod still carries this quarantine's label. Before and after of each step go to the action
log.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from microseg.analyses.runtime.quarantine import QUARANTINE_LABEL
from microseg.ingest.cluster import Api, ApiError, resource_for
from microseg.live.apply import FIELD_MANAGER

__all__ = ["Outcome", "apply_plan", "pod_path", "release"]

JSON_PATCH = "application/json-patch+json"


@dataclass(slots=True)
class Outcome:
    labels_before: dict[str, str] = field(default_factory=dict)
    labels_after: dict[str, str] = field(default_factory=dict)
    objects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done_at: float = 0.0
    uid: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def _escape(key: str) -> str:
    """A JSON Pointer token (RFC 6901): `~` then `/` escaped."""
    return key.replace("~", "~0").replace("/", "~1")


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _object_path(api: Api, doc: dict[str, Any]) -> tuple[str | None, str]:
    resource = resource_for(api, str(doc["apiVersion"]), str(doc["kind"]))
    meta = doc["metadata"]
    if resource is None:
        return None, f"the cluster does not serve {doc['kind']} at {doc['apiVersion']}"
    return resource.path(meta.get("namespace") if resource.namespaced else None, meta["name"]), ""


def apply_plan(
    api: Api,
    namespace: str,
    pod: str,
    ident: str,
    manifests: list[dict[str, Any]],
    detach: bool,
    dry_run: bool = False,
) -> Outcome:
    """The policies (none for `--respond label`), then the label. Every refusal is in
    `errors`; a policy refused does not stop the label (a label alone is still a mark the
    operator's own policies may act on)."""
    out = Outcome()
    try:
        current = api.get(pod_path(namespace, pod))
    except ApiError as exc:
        out.errors.append(f"pod {namespace}/{pod}: {exc.message}")
        out.done_at = time.perf_counter()
        return out
    out.uid = str((current.get("metadata") or {}).get("uid", ""))
    out.labels_before = _labels(current)
    for doc in manifests:
        path, why = _object_path(api, doc)
        label = f"{doc['kind']} {doc['metadata'].get('namespace', '') + '/' if doc['metadata'].get('namespace') else ''}{doc['metadata']['name']}"
        if path is None:
            out.errors.append(f"{label}: {why}")
            continue
        try:
            existed = api.get_object(path) is not None
            got = api.apply(path, json.dumps(doc), FIELD_MANAGER, dry_run, force=True)
            version = str((got.get("metadata") or {}).get("resourceVersion", ""))
            out.objects.append(
                {
                    "apiVersion": doc["apiVersion"],
                    "kind": doc["kind"],
                    "namespace": doc["metadata"].get("namespace", ""),
                    "name": doc["metadata"]["name"],
                    "path": path,
                    "existed": existed,
                    "resourceVersion": version,
                }
            )
        except ApiError as exc:
            out.errors.append(f"{label}: {exc.message}")
    wanted = {QUARANTINE_LABEL: ident} if detach else {**out.labels_before, QUARANTINE_LABEL: ident}
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/labels", "value": out.labels_before}
        if out.labels_before
        else {"op": "add", "path": "/metadata/labels", "value": {}},
        {"op": "replace", "path": "/metadata/labels", "value": wanted},
    ]
    try:
        got = api.patch(pod_path(namespace, pod), ops, JSON_PATCH, FIELD_MANAGER, dry_run)
        out.labels_after = _labels(got) if got else wanted
    except ApiError as exc:
        out.errors.append(f"pod {namespace}/{pod} labels: {exc.message}")
    out.done_at = time.perf_counter()
    return out


def release(
    api: Api,
    ident: str,
    namespace: str,
    pod: str,
    labels_before: dict[str, str],
    labels_after: dict[str, str],
    objects: list[dict[str, Any]],
    dry_run: bool = False,
) -> Outcome:
    """Undo one quarantine exactly (see the module's docstring)."""
    out = Outcome()
    for obj in objects:
        if obj.get("existed"):
            continue  # not ours to delete (never the case for microseg-quarantine-<id> names)
        try:
            api.delete(str(obj["path"]), dry_run)
            out.objects.append({**obj, "deleted": True})
        except ApiError as exc:
            if exc.status == 404:
                out.objects.append({**obj, "deleted": False, "note": "already gone"})
            else:
                out.errors.append(f"{obj['kind']} {obj['name']}: {exc.message}")
    try:
        current = api.get(pod_path(namespace, pod))
    except ApiError as exc:
        if exc.status != 404:
            out.errors.append(f"pod {namespace}/{pod}: {exc.message}")
        else:
            out.labels_before = {}
        out.done_at = time.perf_counter()
        return out
    out.uid = str((current.get("metadata") or {}).get("uid", ""))
    now = _labels(current)
    out.labels_before = now
    if now.get(QUARANTINE_LABEL) != ident:
        out.errors.append(
            f"pod {namespace}/{pod} no longer carries {QUARANTINE_LABEL}={ident} "
            f"(it has {now.get(QUARANTINE_LABEL, 'none')}): labels left as they are"
        )
        out.done_at = time.perf_counter()
        return out
    restored = {k: v for k, v in now.items() if k != QUARANTINE_LABEL}
    for k, v in labels_before.items():
        if k not in labels_after and k != QUARANTINE_LABEL:
            restored[k] = v  # taken away by the quarantine (detached): put back
    if QUARANTINE_LABEL in labels_before:
        restored[QUARANTINE_LABEL] = labels_before[QUARANTINE_LABEL]
    ops = [
        {"op": "test", "path": f"/metadata/labels/{_escape(QUARANTINE_LABEL)}", "value": ident},
        {"op": "replace", "path": "/metadata/labels", "value": restored},
    ]
    try:
        got = api.patch(pod_path(namespace, pod), ops, JSON_PATCH, FIELD_MANAGER, dry_run)
        out.labels_after = _labels(got) if got else restored
    except ApiError as exc:
        out.errors.append(f"pod {namespace}/{pod} labels: {exc.message}")
    out.done_at = time.perf_counter()
    return out
