"""One thread per watched resource: watch from the last resourceVersion seen, list again
when the server says 410 Gone or an event could not be read, reconnect with backoff when
the connection drops, and hand everything to the monitor through one queue.

Nothing is lost: a watch resumes at the version of the last event or BOOKMARK delivered,
which the API guarantees to continue from (api-concepts, "Efficient detection of
changes"); when that version is gone from the server's history, or a line of the stream
was not an event (so an update may have been in it), the resource is listed again and the
monitor compares the list with what it holds.
"""

from __future__ import annotations

import queue
import random
import threading
from dataclasses import dataclass
from typing import Any

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.cluster import Api, ApiError, Resource, list_resource
from microseg.ingest.cluster.watch import Bookmark, Gone, Malformed, WatchEvent, watch_resource

__all__ = ["Backoff", "Event", "Listed", "Problem", "Watcher"]


@dataclass(frozen=True, slots=True)
class Event:
    resource: Resource
    event: WatchEvent


@dataclass(frozen=True, slots=True)
class Listed:
    """A fresh list of one resource (in one namespace, or all)."""

    resource: Resource
    namespace: str | None
    items: list[dict[str, Any]]
    reason: str
    received: float


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the monitor could not read, or read again: said on stderr."""

    diagnostic: Diagnostic
    reason: str
    resource: Resource


class Backoff:
    """Exponential backoff with full jitter (the AWS architecture blog's "Exponential
    Backoff And Jitter"), so that many monitors do not reconnect in step."""

    def __init__(self, base: float = 0.2, cap: float = 30.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.attempt = 0


class Watcher(threading.Thread):
    def __init__(
        self,
        api: Api,
        resource: Resource,
        namespace: str | None,
        version: str | None,
        out: queue.Queue[Event | Listed | Problem],
        stop: threading.Event,
        timeout: int = 300,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(name=f"watch-{resource.plural}", daemon=True)
        self.api, self.resource, self.namespace = api, resource, namespace
        self.version = version  # None: list first (the start-up list failed)
        self.out, self.stop, self.timeout = out, stop, timeout
        self.backoff = backoff or Backoff()
        self._said: set[str] = set()

    def _say(self, severity: Severity, code: str, reason: str, message: str) -> None:
        """Each problem once until the watch works again (no line per retry)."""
        if reason in self._said:
            return
        self._said.add(reason)
        where = f" in namespace {self.namespace}" if self.namespace else ""
        origin = Origin(file=f"cluster:{self.api.context}/{self.resource.kind}")
        diag = Diagnostic(severity, code, f"{self.resource.label}{where}: {message}", origin)
        self.out.put(Problem(diag, reason, self.resource))

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if self.version is None:
                    self._relist("start" if not self._said else "retry")
                self._watch()
            except Gone as exc:
                self._say(Severity.NOTICE, "MS706", "gone", f"410 Gone ({exc}); listing again")
                self.version = None
            except ApiError as exc:
                if self.stop.is_set():
                    return
                if exc.status in (401, 403):
                    reason, code, what = "forbidden", "MS702", f"cannot watch: {exc.message}"
                else:
                    reason, code = "connection", "MS707"
                    what = f"watch lost ({exc.message}); reconnecting with backoff"
                self._say(Severity.WARNING, code, reason, what)
                self.stop.wait(self.backoff.next())

    def _relist(self, reason: str) -> None:
        import time

        listing = list_resource(self.api, self.resource, self.namespace)
        self.out.put(
            Listed(self.resource, self.namespace, listing.items, reason, time.perf_counter())
        )
        self.version = listing.resource_version

    def _watch(self) -> None:
        assert self.version is not None
        for item in watch_resource(
            self.api, self.resource, self.namespace, self.version, self.timeout
        ):
            if self.stop.is_set():
                return
            if self._said:
                self._said.clear()  # working again: a later problem is said again
                self.backoff.reset()
            if isinstance(item, Bookmark):
                self.version = item.resource_version
            elif isinstance(item, Malformed):
                self._say(
                    Severity.WARNING,
                    "MS705",
                    "malformed",
                    f"a watch event that is not an event ({item.text[:80]!r}); listing again",
                )
                self.version = None
                return
            else:
                self.out.put(Event(self.resource, item))
                self.version = item.resource_version or self.version
        self.backoff.reset()
