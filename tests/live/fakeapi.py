"""A small Kubernetes API server for the tests: the JSON protocol of the API reference on
loopback, with the faults a real one shows.

It speaks what microseg and kubectl use (https://kubernetes.io/docs/reference/using-api/
api-concepts/): discovery (`/api`, `/api/v1`, `/apis`, `/apis/GROUP/VERSION`), lists with
`resourceVersion` and `limit`/`continue` (a consistent snapshot per continue token), single
GETs, watches (`?watch=true`: a chunked stream of `{"type","object"}` lines, ADDED,
MODIFIED, DELETED, BOOKMARK with `allowWatchBookmarks`, and an ERROR event with a 410
Status when the resourceVersion asked for is older than the compaction horizon), and
server-side apply (PATCH `application/apply-patch+yaml` with `fieldManager`, `force`, and
`dryRun=All`, which answers without persisting), JSON Patch (RFC 6902: add, remove,
replace, test; a failed test is 422) and merge patch (RFC 7386), and DELETE. Typed lists leave `kind`/`apiVersion` off
their items, as the real server does; custom resources keep them.

Faults, switched on by the tests: a watch connection dropped after N events, a 410 for the
next watches, a delay before every answer, a malformed event line, 403 on one resource.
Objects are created, changed and deleted by the tests through `put` and `delete`, each
with a new resourceVersion and a watch event.
"""

from __future__ import annotations

import base64
import copy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml


@dataclass(frozen=True)
class Res:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def builtin(self) -> bool:
        return self.group in ("", "apps", "batch", "networking.k8s.io")


BUILTIN = (
    Res("", "v1", "Namespace", "namespaces", False),
    Res("", "v1", "Node", "nodes", False),
    Res("", "v1", "Pod", "pods", True),
    Res("", "v1", "Service", "services", True),
    Res("", "v1", "ServiceAccount", "serviceaccounts", True),
    Res("", "v1", "ReplicationController", "replicationcontrollers", True),
    Res("", "v1", "ConfigMap", "configmaps", True),
    Res("apps", "v1", "Deployment", "deployments", True),
    Res("apps", "v1", "ReplicaSet", "replicasets", True),
    Res("apps", "v1", "StatefulSet", "statefulsets", True),
    Res("apps", "v1", "DaemonSet", "daemonsets", True),
    Res("batch", "v1", "Job", "jobs", True),
    Res("batch", "v1", "CronJob", "cronjobs", True),
    Res("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True),
    Res("networking.k8s.io", "v1", "Ingress", "ingresses", True),
)
ADMIN = (
    Res(
        "policy.networking.k8s.io", "v1alpha1", "AdminNetworkPolicy", "adminnetworkpolicies", False
    ),
    Res(
        "policy.networking.k8s.io",
        "v1alpha1",
        "BaselineAdminNetworkPolicy",
        "baselineadminnetworkpolicies",
        False,
    ),
)
ISTIO = (
    Res("security.istio.io", "v1", "PeerAuthentication", "peerauthentications", True),
    Res("security.istio.io", "v1", "AuthorizationPolicy", "authorizationpolicies", True),
)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass
class Faults:
    forbidden: set[str] = field(default_factory=set)  # plural names answered 403
    drop_after: int | None = None  # the next watch drops its connection after N events
    gone: int = 0  # the next N watches answer 410 Gone (ERROR event)
    delay: float = 0.0  # seconds before every answer
    malformed: int = 0  # the next N watches start with a line that is not JSON
    expire_continue: int = 0  # the next N continue tokens are refused with 410
    event_delay: float = 0.0  # seconds before each watch event is written


class FakeApi:
    """The server's state: objects, resourceVersions, the event log, and faults."""

    def __init__(self, resources: tuple[Res, ...] = BUILTIN, bookmark_every: float = 0.3) -> None:
        self.resources = resources
        self.objects: dict[Res, dict[tuple[str, str], dict[str, Any]]] = {r: {} for r in resources}
        self.events: list[tuple[int, Res, str, dict[str, Any]]] = []
        self.rv = 100
        self.compacted = 0
        self.faults = Faults()
        self.bookmark_every = bookmark_every
        self.requests: list[str] = []
        self.timed: list[tuple[float, str]] = []  # (time.perf_counter(), "METHOD path") per request
        self.snapshots: dict[str, list[dict[str, Any]]] = {}
        self.validate: Callable[[dict[str, Any]], str | None] = _validate
        self.cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.watches = 0
        self.generation = 0  # kill_watches() bumps it: open watches drop their connection
        self.poison: dict[str, int] = {}  # plural -> malformed lines to write into open watches

    # -- state ---------------------------------------------------------------------
    def res(self, kind: str, api_version: str | None = None) -> Res:
        for r in self.resources:
            if r.kind == kind and (api_version is None or r.api_version == api_version):
                return r
        raise KeyError(kind)

    def _stamp(self, obj: dict[str, Any], res: Res, manager: str = "test") -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), meta["name"])
        old = self.objects[res].get(key)
        meta["uid"] = old["metadata"]["uid"] if old else f"uid-{self.rv + 1}"
        meta["creationTimestamp"] = (
            old["metadata"]["creationTimestamp"] if old else "2026-01-01T00:00:00Z"
        )
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta["managedFields"] = [
            {
                "manager": manager,
                "operation": "Apply" if manager == "microseg" else "Update",
                "apiVersion": res.api_version,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}},
            }
        ]
        if res.kind == "Pod":
            obj.setdefault(
                "status", {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
            )
        return obj

    def put(self, obj: dict[str, Any], manager: str = "test") -> dict[str, Any]:
        """Create or replace an object; records an ADDED or MODIFIED event."""
        res = self.res(str(obj["kind"]), obj.get("apiVersion"))
        with self.cond:
            stored = self._stamp(obj, res, manager)
            meta = stored["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            kind = "MODIFIED" if key in self.objects[res] else "ADDED"
            self.objects[res][key] = stored
            self.events.append((self.rv, res, kind, copy.deepcopy(stored)))
            self.cond.notify_all()
        return stored

    def delete(self, kind: str, namespace: str, name: str) -> None:
        res = self.res(kind)
        with self.cond:
            stored = self.objects[res].pop((namespace if res.namespaced else "", name))
            self.rv += 1
            stored = copy.deepcopy(stored)
            stored["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, res, "DELETED", stored))
            self.cond.notify_all()

    def kill_watches(self) -> None:
        """Drop every open watch connection abruptly (no final chunk)."""
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def inject_malformed(self, plural: str) -> None:
        """The next open watch of `plural` writes a line that is not an event."""
        with self.cond:
            self.poison[plural] = self.poison.get(plural, 0) + 1
            self.cond.notify_all()

    def compact(self) -> None:
        """Forget the event history: watches from an older resourceVersion get 410."""
        with self.cond:
            self.compacted = self.rv
            self.events.clear()

    def all_objects(self) -> list[dict[str, Any]]:
        return [o for r in self.resources for _, o in sorted(self.objects[r].items())]

    def dump(self, folder: Path) -> None:
        """Every object as `kubectl get -o yaml` writes it: one List per kind."""
        folder.mkdir(parents=True, exist_ok=True)
        for r in self.resources:
            items = [o for _, o in sorted(self.objects[r].items())]
            if items:
                doc = {"apiVersion": "v1", "kind": "List", "items": items}
                (folder / f"{r.plural}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    # -- serving -------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeApi:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            with self.cond:
                self.cond.notify_all()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def kubeconfig(self, path: Path, context: str = "fake") -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "test-token"}}],
                    "contexts": [
                        {
                            "name": context,
                            "context": {"cluster": "fake", "user": "tester"},
                        }
                    ],
                    "current-context": context,
                }
            )
        )
        return path

    # -- routes --------------------------------------------------------------------
    def discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/version":
            return {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake"}
        groups: dict[str, list[str]] = {}
        for r in self.resources:
            if r.group:
                groups.setdefault(r.group, [])
                if r.version not in groups[r.group]:
                    groups[r.group].append(r.version)
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in groups.items()
                ],
            }
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        served = [r for r in self.resources if (r.group, r.version) == (group, version)]
        if not served:
            return None
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": [
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
                for r in served
            ],
        }

    def route(self, path: str) -> tuple[Res, str | None, str | None] | None:
        """(resource, namespace, name) of a resource path, or None."""
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] != "status":
            namespace, rest = rest[1], rest[2:]
        for r in self.resources:
            if (r.group, r.version, r.plural) == (group, version, rest[0]) and len(rest) <= 2:
                return r, namespace, rest[1] if len(rest) == 2 else None
        return None

    def item(self, r: Res, obj: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        if r.builtin:  # typed lists carry no TypeMeta on their items
            out.pop("kind", None)
            out.pop("apiVersion", None)
        return out

    def list(self, r: Res, namespace: str | None, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        limit = int(q.get("limit") or 0)
        token = q.get("continue")
        with self.cond:
            if token:
                if self.faults.expire_continue:
                    self.faults.expire_continue -= 1
                    return 410, _status(
                        410, "Expired", "The provided continue parameter is too old"
                    )
                tid, offset = json.loads(base64.b64decode(token))
                snapshot = self.snapshots.get(tid)
                if snapshot is None:
                    return 410, _status(410, "Expired", "continue token unknown")
                rv = tid.split(":")[0]
            else:
                snapshot = [
                    o
                    for (ns, _), o in sorted(self.objects[r].items())
                    if namespace is None or ns == namespace
                ]
                rv = str(self.rv)
                tid = f"{rv}:{len(self.snapshots)}"
                self.snapshots[tid] = snapshot
                offset = 0
        page = snapshot[offset : offset + limit] if limit else snapshot[offset:]
        meta: dict[str, Any] = {"resourceVersion": rv}
        if limit and offset + limit < len(snapshot):
            nxt = json.dumps([tid, offset + limit]).encode()
            meta["continue"] = base64.b64encode(nxt).decode()
            meta["remainingItemCount"] = len(snapshot) - offset - limit
        return 200, {
            "kind": f"{r.kind}List",
            "apiVersion": r.api_version,
            "metadata": meta,
            "items": [self.item(r, o) for o in page],
        }

    def apply(
        self, r: Res, namespace: str | None, name: str, body: bytes, q: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        manager = q.get("fieldManager")
        if not manager:
            return 400, _status(400, "BadRequest", "PATCH /apply requires fieldManager")
        try:
            applied = yaml.safe_load(body.decode())
        except yaml.YAMLError as exc:
            return 400, _status(400, "BadRequest", f"cannot decode the apply patch: {exc}")
        if not isinstance(applied, dict):
            return 400, _status(400, "BadRequest", "the apply patch is not an object")
        if applied.get("kind") != r.kind or applied.get("apiVersion") != r.api_version:
            return 400, _status(400, "BadRequest", "kind or apiVersion does not match the path")
        meta = applied.get("metadata") or {}
        if meta.get("name") != name:
            return 400, _status(400, "BadRequest", "the name of the object does not match the URL")
        if r.namespaced and meta.get("namespace", namespace) != namespace:
            return 400, _status(400, "BadRequest", "the namespace does not match the URL")
        problem = self.validate(applied)
        if problem:
            msg = f'{r.kind} "{name}" is invalid: {problem}'
            return 422, _status(422, "Invalid", msg)
        with self.cond:
            key = (namespace or "", name)
            old = self.objects[r].get(key)
            merged = copy.deepcopy(old) if old else {}
            for k, v in applied.items():
                if k == "metadata":
                    m = merged.setdefault("metadata", {})
                    for mk, mv in v.items():
                        if mk in ("labels", "annotations") and isinstance(mv, dict):
                            m[mk] = {**(m.get(mk) or {}), **mv}
                        else:
                            m[mk] = mv
                elif k != "status":
                    merged[k] = v
            merged.setdefault("metadata", {})["name"] = name
            if r.namespaced:
                merged["metadata"]["namespace"] = namespace
            if q.get("dryRun") == "All":
                out = copy.deepcopy(merged)
                out["apiVersion"], out["kind"] = r.api_version, r.kind
                return (200 if old else 201), out
        stored = self.put(merged, manager)
        return (200 if old else 201), stored


def _pointer(path: str) -> list[str]:
    """RFC 6901: `/a/b~1c` -> ["a", "b/c"]."""
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any] | str:
    """RFC 6902 add, remove, replace and test on objects: the patched copy, or why not."""
    out = copy.deepcopy(doc)
    for op in ops:
        keys = _pointer(str(op.get("path", "")))
        if not keys:
            return "an empty path"
        parent: Any = out
        for k in keys[:-1]:
            if not isinstance(parent, dict) or k not in parent:
                return f"path {op.get('path')} does not exist"
            parent = parent[k]
        last = keys[-1]
        if not isinstance(parent, dict):
            return f"path {op.get('path')}: not an object"
        kind = op.get("op")
        if kind == "test":
            if parent.get(last, object()) != op.get("value"):
                return f"test failed at {op.get('path')}"
        elif kind in ("add", "replace"):
            if kind == "replace" and last not in parent:
                return f"replace: {op.get('path')} does not exist"
            parent[last] = copy.deepcopy(op.get("value"))
        elif kind == "remove":
            if last not in parent:
                return f"remove: {op.get('path')} does not exist"
            del parent[last]
        else:
            return f"unsupported op {kind!r}"
    return out


def merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _validate(obj: dict[str, Any]) -> str | None:
    """The few checks of the API server's validation the tests lean on."""
    if obj.get("kind") != "NetworkPolicy":
        return None
    spec = obj.get("spec") or {}
    for direction in ("ingress", "egress"):
        for i, rule in enumerate(spec.get(direction) or []):
            for j, port in enumerate(rule.get("ports") or []):
                p = port.get("port")
                if isinstance(p, int) and not 1 <= p <= 65535:
                    return (
                        f"spec.{direction}[{i}].ports[{j}].port: Invalid value: {p}: "
                        "must be between 1 and 65535, inclusive"
                    )
    return None


def patch_object(
    api: FakeApi,
    r: Res,
    namespace: str | None,
    name: str,
    body: bytes,
    kind: str,
    q: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    try:
        patch = json.loads(body)
    except ValueError:
        return 400, _status(400, "BadRequest", "the patch is not JSON")
    with api.cond:
        old = api.objects[r].get((namespace or "", name))
    if old is None:
        return 404, _status(404, "NotFound", f'{r.plural} "{name}" not found')
    if kind == "application/json-patch+json":
        if not isinstance(patch, list):
            return 400, _status(400, "BadRequest", "a JSON patch is a list of operations")
        got = json_patch(old, patch)
        if isinstance(got, str):
            # The API server answers a failed `test` with 422 Invalid (apimachinery's
            # jsonpatch error wrapped as a validation error).
            return 422, _status(422, "Invalid", f"the server rejected our request: {got}")
    else:
        got = merge_patch(old, patch)
    if q.get("dryRun") == "All":
        return 200, got
    return 200, api.put(got, q.get("fieldManager") or "test")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (the monitor dropping a watch) is normal here: no traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _prelude(self) -> tuple[str, dict[str, str]]:
        api = self.api
        url = urlsplit(self.path)
        api.requests.append(f"{self.command} {self.path}")
        api.timed.append((time.perf_counter(), f"{self.command} {url.path}"))
        if api.faults.delay:
            time.sleep(api.faults.delay)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        return url.path, q

    def do_GET(self) -> None:
        path, q = self._prelude()
        api = self.api
        if path == "/openapi/v2":
            # Older kubectl (Debian's 1.20) fetches the OpenAPI v2 document as protobuf
            # before any apply: an empty message is a valid, empty document.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        doc = api.discovery(path)
        if doc is not None:
            self._send(200, doc)
            return
        routed = api.route(path)
        if routed is None:
            self._send(404, _status(404, "NotFound", f"the server could not find {path}"))
            return
        r, namespace, name = routed
        if r.plural in api.faults.forbidden:
            what = f"{r.plural}{'.' + r.group if r.group else ''}"
            self._send(
                403,
                _status(
                    403,
                    "Forbidden",
                    f'{what} is forbidden: User "tester" cannot list resource "{r.plural}"',
                ),
            )
            return
        if name is not None:
            with api.cond:
                obj = api.objects[r].get((namespace or "", name))
            if obj is None:
                self._send(404, _status(404, "NotFound", f'{r.plural} "{name}" not found'))
            else:
                self._send(200, obj)
            return
        if q.get("watch") in ("true", "1"):
            self._watch(r, namespace, q)
            return
        code, doc = api.list(r, namespace, q)
        self._send(code, doc)

    def do_PATCH(self) -> None:
        path, q = self._prelude()
        body = self._body()
        routed = self.api.route(path)
        if routed is None or routed[2] is None:
            self._send(404, _status(404, "NotFound", f"the server could not find {path}"))
            return
        kind = self.headers.get("Content-Type", "").split(";")[0]
        r, namespace, name = routed
        if kind in ("application/json-patch+json", "application/merge-patch+json"):
            code, doc = patch_object(self.api, r, namespace, name, body, kind, q)
            self._send(code, doc)
            return
        if kind != "application/apply-patch+yaml":
            self._send(415, _status(415, "UnsupportedMediaType", f"{kind} patches are not served"))
            return
        code, doc = self.api.apply(r, namespace, name, body, q)
        self._send(code, doc)

    def do_DELETE(self) -> None:
        path, q = self._prelude()
        self._body()
        routed = self.api.route(path)
        if routed is None or routed[2] is None:
            self._send(404, _status(404, "NotFound", f"the server could not find {path}"))
            return
        r, namespace, name = routed
        with self.api.cond:
            obj = self.api.objects[r].get((namespace or "", name))
        if obj is None:
            self._send(404, _status(404, "NotFound", f'{r.plural} "{name}" not found'))
            return
        if q.get("dryRun") != "All":
            self.api.delete(r.kind, namespace or "", name)
        self._send(200, _status(200, "Success", "deleted") | {"status": "Success"})

    # -- watch -------------------------------------------------------------------
    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        self._chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    def _drop(self) -> None:
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _pending(
        self, r: Res, namespace: str | None, last: int
    ) -> list[tuple[int, str, dict[str, Any]]]:
        return [
            (rv, kind, obj)
            for rv, res, kind, obj in self.api.events
            if res == r
            and rv > last
            and (namespace is None or obj["metadata"].get("namespace") == namespace)
        ]

    def _watch(self, r: Res, namespace: str | None, q: dict[str, str]) -> None:
        api = self.api
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        timeout = min(float(q.get("timeoutSeconds") or 30), 30.0)
        deadline = time.monotonic() + timeout
        bookmarks = q.get("allowWatchBookmarks") == "true"
        with api.cond:
            api.watches += 1
            since = q.get("resourceVersion") or "0"
            gone = api.faults.gone > 0 or (since != "0" and int(since) < api.compacted)
            if api.faults.gone > 0:
                api.faults.gone -= 1
            malformed = api.faults.malformed > 0
            if malformed:
                api.faults.malformed -= 1
            drop = api.faults.drop_after
            api.faults.drop_after = None
            initial = (
                [
                    ("ADDED", dict(o))
                    for (ns, _), o in sorted(api.objects[r].items())
                    if namespace in (None, ns)
                ]
                if since == "0"
                else []
            )
            last = api.rv if since == "0" else int(since)
            generation = api.generation
        try:
            if gone:
                self._event(
                    "ERROR",
                    _status(410, "Expired", f"too old resource version: {since} ({api.compacted})"),
                )
                self._chunk(b"")
                return
            if malformed:
                self._chunk(b'{"type": "MODIFIED", "object": {"kind": \n')
            sent = 0
            for kind, obj in initial:
                self._event(kind, obj)
            next_bookmark = time.monotonic() + api.bookmark_every
            while True:
                with api.cond:
                    pending = self._pending(r, namespace, last)
                    if not pending:
                        wait = min(deadline, next_bookmark) - time.monotonic()
                        if wait > 0 and api._server is not None:
                            api.cond.wait(wait)
                        pending = self._pending(r, namespace, last)
                    current = api.rv  # with pending, read under one lock: no event between
                    killed = api.generation != generation
                    poisoned = api.poison.get(r.plural, 0) > 0
                    if poisoned:
                        api.poison[r.plural] -= 1
                if killed:
                    self._drop()
                    return
                if poisoned:
                    self._chunk(b'{"type": "MODIFIED", "object": {"kind": \n')
                if api._server is None:
                    return
                for rv, kind, obj in pending:
                    if drop is not None and sent >= drop:
                        self._drop()
                        return
                    if api.faults.event_delay:
                        time.sleep(api.faults.event_delay)
                    self._event(kind, obj)
                    sent += 1
                    last = rv
                now = time.monotonic()
                if now >= deadline:
                    break
                if not pending and bookmarks and now >= next_bookmark:
                    self._event(
                        "BOOKMARK",
                        {
                            "kind": r.kind,
                            "apiVersion": r.api_version,
                            "metadata": {"resourceVersion": str(max(last, current))},
                        },
                    )
                    last = max(last, current)
                    next_bookmark = now + api.bookmark_every
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
