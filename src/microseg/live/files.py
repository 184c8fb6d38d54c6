"""`microseg monitor PATH...`: the files read again whenever one changes (a GitOps checkout
being pulled, an editor saving), and the intents verified again.

Files are compared by modification time and size every `--poll` seconds; any difference
reads all of them again (a folder of manifests reads in milliseconds to a second), so a
file added, removed or renamed is seen too. A change that makes the input unreadable is
reported and the previous verdicts stand until the files read again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from microseg.analyses.verdicts import Cause, VerdictChange, verdict_changes
from microseg.analyses.verify import VerificationReport, verify
from microseg.engine import Connectivity, EngineOptions, Layer
from microseg.errors import Diagnostic, InputError
from microseg.ingest import load
from microseg.live.metrics import Metrics

__all__ = ["FileMonitor"]

_SUFFIXES = (".yaml", ".yml", ".json")
Stamp = dict[str, tuple[int, int]]


def _stamp(paths: list[str]) -> Stamp:
    out: Stamp = {}
    for raw in paths:
        p = Path(raw)
        files = [p] if p.is_file() else sorted(p.rglob("*")) if p.is_dir() else []
        for f in files:
            if f.name.startswith(".") or (f != p and f.suffix.lower() not in _SUFFIXES):
                continue
            try:
                st = os.stat(f)
            except OSError:
                continue
            out[str(f)] = (st.st_mtime_ns, st.st_size)
    return out


class FileMonitor:
    def __init__(
        self,
        paths: list[str],
        intents: object,
        on_change: Callable[[VerdictChange], None],
        on_diagnostic: Callable[[Diagnostic], None],
        engine: EngineOptions,
        layer: Layer | None,
        namespace: str,
        metrics: Metrics,
    ) -> None:
        from microseg.model.intent import IntentSet

        assert isinstance(intents, IntentSet)
        self.paths, self.intents = paths, intents
        self.on_change, self.on_diagnostic = on_change, on_diagnostic
        self.engine, self.layer, self.namespace, self.metrics = engine, layer, namespace, metrics
        self.report: VerificationReport | None = None
        self.started_diagnostics: tuple[Diagnostic, ...] = ()
        self._stamp: Stamp = {}
        self._said: set[Diagnostic] = set()

    def _verify(self, cause: Cause, started: float) -> None:
        cluster = load(self.paths, namespace=self.namespace)
        for d in cluster.diagnostics:
            if d not in self._said:
                self._said.add(d)
                self.on_diagnostic(d)
        conn = Connectivity.build(cluster, self.engine)
        if self.layer is not None:
            conn = conn.with_layer(self.layer)
        report = verify(conn, self.intents)
        latency = time.perf_counter() - started
        if cause.type != "LIST":
            self.metrics.latency.observe(latency)
            self.metrics.rebuilds.labels("File").inc()
        self.metrics.open_violations.set(len(report.violations))  # before the lines, as in monitor
        for change in verdict_changes(self.report, report, cause, latency):
            self.on_change(change)
        self.report = report
        self.started_diagnostics = self.started_diagnostics or cluster.diagnostics

    def start(self) -> None:
        """Read and verify once; raises InputError when the files cannot be read."""
        self._stamp = _stamp(self.paths)
        self._verify(Cause("LIST"), time.perf_counter())

    def run(self, until: Callable[[], bool], poll: float) -> None:
        while not until():
            time.sleep(poll)
            now = _stamp(self.paths)
            if now == self._stamp:
                continue
            started = time.perf_counter()
            changed = sorted(
                k for k in now.keys() | self._stamp.keys() if now.get(k) != self._stamp.get(k)
            )
            self._stamp = now
            self.metrics.events.labels("File", "MODIFIED").inc()
            kind = "DELETED" if changed[0] not in now else "MODIFIED"
            try:
                self._verify(Cause("FILE", "File", "", changed[0], kind), started)
            except InputError as exc:
                for d in exc.diagnostics:
                    self.on_diagnostic(d)
