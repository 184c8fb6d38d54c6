"""Watching one resource: the API's stream of `{"type", "object"}` events, read line by line.

As the API concepts page defines watches (https://kubernetes.io/docs/reference/using-api/
api-concepts/#efficient-detection-of-changes): a watch starts at a resourceVersion (that of
the list it follows, or of the last event seen) and sends ADDED, MODIFIED and DELETED
events; with `allowWatchBookmarks` also BOOKMARK events, which only move the
resourceVersion on; and an ERROR event carrying a Status, whose code 410 (Gone/Expired)
says the version asked for is no longer in the server's history, so the client must list
again. The server ends a watch after `timeoutSeconds`; the caller then watches again from
the last version it saw, which loses nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from microseg.ingest.cluster.api import Api, ApiError
from microseg.ingest.cluster.kinds import Resource

__all__ = ["Bookmark", "Gone", "Malformed", "WatchEvent", "watch_resource"]


class Gone(Exception):
    """410: the resourceVersion is too old to watch from; list again."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    object: dict[str, Any]
    received: float  # time.perf_counter() when the line was read

    @property
    def resource_version(self) -> str:
        meta = self.object.get("metadata")
        return str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""


@dataclass(frozen=True, slots=True)
class Bookmark:
    resource_version: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not an event: an update may be lost, so the caller lists again."""

    text: str


def _event(line: bytes) -> WatchEvent | Bookmark | Malformed:
    received = time.perf_counter()
    try:
        data = json.loads(line)
    except ValueError:
        return Malformed(line[:200].decode("utf-8", "replace"))
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return Malformed(line[:200].decode("utf-8", "replace"))
    kind, obj = data.get("type"), data["object"]
    if kind == "ERROR":
        code = obj.get("code")
        if code == 410 or obj.get("reason") in ("Expired", "Gone"):
            raise Gone(str(obj.get("message") or "resource version too old"))
        raise ApiError(int(code or 500), str(obj.get("reason") or ""), str(obj.get("message")))
    if kind == "BOOKMARK":
        meta = obj.get("metadata")
        version = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if not version:
            return Malformed(line[:200].decode("utf-8", "replace"))
        return Bookmark(str(version))
    if kind not in ("ADDED", "MODIFIED", "DELETED"):
        return Malformed(line[:200].decode("utf-8", "replace"))
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return Malformed(line[:200].decode("utf-8", "replace"))
    return WatchEvent(str(kind), obj, received)


def watch_resource(
    api: Api,
    resource: Resource,
    namespace: str | None,
    resource_version: str,
    timeout: int = 300,
) -> Iterator[WatchEvent | Bookmark | Malformed]:
    """The events of one watch, until the server ends it. Raises Gone on 410, ApiError
    when the watch cannot be opened or the connection drops."""
    query = [
        ("watch", "true"),
        ("resourceVersion", resource_version),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", str(timeout)),
    ]
    try:
        lines = api.stream(resource.path(namespace), query, timeout + 30.0)
        for line in lines:
            yield _event(line)
    except ApiError as exc:
        if exc.status == 410:
            raise Gone(exc.message) from None
        raise
