"""`microseg monitor --cluster`: list every kind, watch them all, and re-verify the intents
after each change, printing every violation opened or closed with the event behind it.

One watcher thread per resource (live/watcher.py) feeds one queue; this loop takes each
event, turns it into model changes (ingest/cluster/state.py), applies them to the index
with `Connectivity.apply` (a rebuild only where a change has no incremental form, counted),
verifies the intents and compares the verdicts with the previous ones. When events arrive
faster than they are verified, the waiting ones are applied together and verified once
(`batched` in the output), so the monitor never falls further behind.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from microseg.analyses.verdicts import Cause, VerdictChange, verdict_changes
from microseg.analyses.verify import VerificationReport, verify
from microseg.engine import Connectivity, EngineOptions, Layer
from microseg.errors import Diagnostic, InputError, Severity
from microseg.ingest.cluster import Api, ClusterConfig, Resource, read_cluster
from microseg.ingest.cluster.state import LiveState, Update
from microseg.live.metrics import Metrics
from microseg.live.watcher import Backoff, Event, Listed, Problem, Watcher
from microseg.model.changes import ChangeError
from microseg.model.cluster import Cluster
from microseg.model.intent import IntentSet

__all__ = ["MAX_BATCH", "Monitor", "MonitorOptions"]

MAX_BATCH = 64


@dataclass(frozen=True, slots=True)
class MonitorOptions:
    engine: EngineOptions = field(default_factory=EngineOptions)
    layer: Layer | None = None
    watch_timeout: int = 300
    backoff_base: float = 0.2
    backoff_cap: float = 30.0


class Monitor:
    """The monitor's state: the objects held, the index, the last verdicts, the metrics."""

    def __init__(
        self,
        api: Api,
        config: ClusterConfig,
        intents: IntentSet,
        on_change: Callable[[VerdictChange], None],
        on_diagnostic: Callable[[Diagnostic], None],
        options: MonitorOptions | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.api, self.config, self.intents = api, config, intents
        self.on_change, self.on_diagnostic = on_change, on_diagnostic
        self.options = options or MonitorOptions()
        self.metrics = metrics or Metrics()
        self.state = LiveState(api.context)
        self.queue: queue.Queue[Event | Listed | Problem] = queue.Queue()
        self.stop = threading.Event()
        self.conn: Connectivity | None = None
        self.report: VerificationReport | None = None
        self.watchers: list[Watcher] = []
        self.processed = 0
        self._said: set[Diagnostic] = set()
        self.started_diagnostics: list[Diagnostic] = []
        # Seconds from each event's arrival to its verdict (the last ones; for the bench).
        self.latencies: deque[float] = deque(maxlen=100_000)

    # -- start -----------------------------------------------------------------------
    def start(self) -> VerificationReport:
        """List everything, verify, report the violations open now (cause LIST), and start
        one watcher per resource. Raises InputError when the cluster cannot be read."""
        read = read_cluster(self.config, api=self.api)
        fatal = [d for d in read.diagnostics if d.severity is Severity.ERROR]
        if fatal:
            raise InputError(fatal)
        for d in read.diagnostics:
            self._diagnostic(d)
        for listing in read.listings:
            self.state.put_all(listing.resource, listing.items)
        started = time.perf_counter()
        cluster = self.state.snapshot()
        self.started_diagnostics = [*read.diagnostics, *cluster.diagnostics]
        for d in cluster.diagnostics:
            self._diagnostic(d)
        self._rebuild(cluster, "")
        self._verify(Cause("LIST"), started, 1)
        versions = {(lst.resource, lst.namespace): lst.resource_version for lst in read.listings}
        for resource in read.resources:
            for namespace in self._scopes(resource):
                # A resource whose list failed (403) has no version: its watcher lists it.
                self._spawn(resource, namespace, versions.get((resource, namespace)))
        return self.report if self.report is not None else VerificationReport(())

    def state_resources(self) -> list[Resource]:
        """The resources watched (one per kind)."""
        return list(dict.fromkeys(w.resource for w in self.watchers))

    def _scopes(self, resource: Resource) -> list[str | None]:
        if self.config.namespaces and resource.namespaced:
            return [str(ns) for ns in self.config.namespaces]
        return [None]

    def _spawn(self, resource: Resource, namespace: str | None, version: str | None) -> None:
        watcher = Watcher(
            self.api,
            resource,
            namespace,
            version,
            self.queue,
            self.stop,
            self.options.watch_timeout,
            Backoff(self.options.backoff_base, self.options.backoff_cap),
        )
        self.watchers.append(watcher)
        watcher.start()

    # -- the loop --------------------------------------------------------------------
    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Process events until `stop` is set (or `until()` is true)."""
        while not self.stop.is_set() and not (until is not None and until()):
            try:
                first = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self.process(batch)

    def close(self) -> None:
        self.stop.set()

    def process(self, batch: list[Event | Listed | Problem]) -> None:
        """Apply every event of `batch`, then verify once if anything changed."""
        changed = False
        started = min((_arrival(i) for i in batch), default=time.perf_counter())
        cause: Cause | None = None
        for item in batch:
            self.processed += 1
            if isinstance(item, Problem):
                self.on_diagnostic(item.diagnostic)  # the watcher says each once per outage
                self.metrics.watch_errors.labels(item.resource.kind, item.reason).inc()
                continue
            assert self.conn is not None
            if isinstance(item, Listed):
                self.metrics.relists.labels(item.resource.kind).inc()
                before = self.conn
                items = [i for i in item.items if self._wanted(item.resource, i)]
                self.state.relist(
                    self.conn.cluster, item.resource, items, item.namespace, self._apply
                )
                changed |= self.conn is not before
                cause = Cause("RELIST", item.resource.kind, item.namespace or "")
                continue
            event = item.event
            if not self._wanted(item.resource, event.object):
                continue
            meta = event.object.get("metadata") or {}
            self.metrics.events.labels(item.resource.kind, event.type).inc()
            update = self.state.event(self.conn.cluster, event.type, item.resource, event.object)
            before = self.conn
            self._apply(update)
            if self.conn is not before:
                changed = True
                cause = Cause(
                    event.type,
                    item.resource.kind,
                    str(meta.get("namespace") or ""),
                    str(meta.get("name") or ""),
                    event.resource_version,
                )
        if changed and cause is not None:
            self._verify(cause, started, sum(not isinstance(i, Problem) for i in batch))
        now = time.perf_counter()
        self.latencies.extend(now - _arrival(i) for i in batch if not isinstance(i, Problem))

    def _wanted(self, resource: Resource, obj: dict[str, Any]) -> bool:
        """With --cluster-namespace, Namespaces are kept to those named, as a list keeps them."""
        if not self.config.namespaces or resource.kind != "Namespace" or resource.group:
            return True
        meta = obj.get("metadata")
        return isinstance(meta, dict) and meta.get("name") in self.config.namespaces

    def _apply(self, update: Update) -> Cluster:
        """One update into the index; returns the model after it."""
        assert self.conn is not None
        for d in update.diagnostics:
            self._diagnostic(d)
        if update.cluster is not None:
            self._rebuild(update.cluster, update.reason)
            return self.conn.cluster
        if not update.changes:
            self.metrics.changes.labels("none").inc()
        for change in update.changes:
            try:
                self.conn = self.conn.apply(change)
                self.metrics.changes.labels("incremental").inc()
            except ChangeError:
                # The model and the objects held disagree (a bug): read them again whole.
                self._rebuild(self.state.snapshot(), "inconsistent")
        return self.conn.cluster

    def _rebuild(self, cluster: Cluster, reason: str) -> None:
        conn = Connectivity.build(cluster, self.options.engine)
        if self.options.layer is not None:
            conn = conn.with_layer(self.options.layer)
        self.conn = conn
        if reason:
            self.metrics.rebuilds.labels(reason).inc()
            self.metrics.changes.labels("rebuild").inc()

    def _verify(self, cause: Cause, started: float, batched: int) -> None:
        assert self.conn is not None
        report = verify(self.conn, self.intents)
        latency = time.perf_counter() - started
        if cause.type != "LIST":
            self.metrics.latency.observe(latency)
        # The gauge first: whoever reacts to a printed line then reads the same state.
        self.metrics.open_violations.set(len(report.violations))
        for change in verdict_changes(self.report, report, cause, latency, batched):
            self.on_change(change)
        self.report = report

    def _diagnostic(self, d: Diagnostic) -> None:
        if d in self._said:
            return
        self._said.add(d)
        self.on_diagnostic(d)


def _arrival(item: Event | Listed | Problem) -> float:
    if isinstance(item, Event):
        return item.event.received
    if isinstance(item, Listed):
        return item.received
    return time.perf_counter()
