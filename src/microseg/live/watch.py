"""`microseg watch`: tail the event sources, detect, say what the workload can reach, and
respond; one loop, one thread (the live cluster's watches run in their own, live/monitor.py).

Each poll reads what every source appended (live/tail.py), parses it by batch
(ingest/events), feeds the detectors (analyses/runtime) and, for each new alert: resolves
the pod to the engine's workload, computes its blast radius on the current index, and with
`--respond` plans the quarantine (proven by the engine), applies it through the API
(live/respond.py) and appends the action, fsync'd, to the action log. The latency reported
is from the moment the event's line was read to the moment the API accepted the last
change. Offsets are saved (atomically) at most every half second and at the end, so that a
restart goes on where this run stopped.

The snapshot the alerts are judged on: the PATHs' manifests, read once; or with `--cluster`
the live cluster, listed then kept current by the monitor's watches (`Connectivity.apply`
per event), so that "what it can reach" is what it can reach now.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from microseg.analyses.blast import sources_of
from microseg.analyses.groups import GroupResolver
from microseg.analyses.runtime.book import AlertBook, Tally
from microseg.analyses.runtime.config import Thresholds
from microseg.analyses.runtime.detect_audit import AuditDetector
from microseg.analyses.runtime.detect_falco import FalcoDetector
from microseg.analyses.runtime.detect_flows import Endpoint, FlowDetector, endpoint_of
from microseg.analyses.runtime.intents import intent_checks
from microseg.analyses.runtime.quarantine import QUARANTINE_LABEL, Detach, Keep, plan_quarantine
from microseg.analyses.runtime.reach import reach_of
from microseg.analyses.runtime.report import AlertReport, Response
from microseg.engine import Connectivity, UnknownEndpointError, WorkloadGraph
from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.events import Line, parse_audit, parse_falco
from microseg.ingest.events.flows import FlowParser, sniff_format
from microseg.ingest.events.flowstore import StoreFollower, is_store
from microseg.ingest.events.lines import record
from microseg.ingest.flows import FlowFormat, UnknownFormatError
from microseg.live.actions import ActionLog, read_log
from microseg.live.respond import apply_plan
from microseg.live.tail import Notice, Tailer
from microseg.model.events import Alert, EventSource, Record, Reject
from microseg.model.events import Severity as AlertSeverity
from microseg.model.flows import EndpointKind, EndpointResolver, ObservedEndpoint
from microseg.model.intent import IntentSet
from microseg.render.quarantine import manifests, plan_json, plan_yaml

__all__ = ["Snapshot", "WatchLoop", "WatchOptions"]


@dataclass(frozen=True, slots=True)
class WatchOptions:
    state: Path
    thresholds: Thresholds = field(default_factory=Thresholds)
    min_severity: AlertSeverity = AlertSeverity.LOW
    respond: str = "off"
    respond_severity: AlertSeverity = AlertSeverity.HIGH
    dry_run: bool = False
    keep: Keep = field(default_factory=Keep)
    anp: str = "auto"
    detach: Detach = Detach.AUTO
    poll: float = 0.1
    resume: bool = True
    flows_format: FlowFormat | None = None
    ignore_accounts: tuple[str, ...] = ("kube-system",)
    intents: IntentSet | None = None


class Snapshot:
    """The cluster the alerts are judged on: `conn` now, the API (with `--cluster`), and
    whether the cluster serves AdminNetworkPolicy."""

    def __init__(
        self, conn: Connectivity | None = None, api: Any = None, monitor: Any = None
    ) -> None:
        self._conn = conn
        self.api = api
        self.monitor = monitor
        self._anp: bool | None = None
        self._thread: threading.Thread | None = None

    @property
    def conn(self) -> Connectivity:
        if self.monitor is not None and self.monitor.conn is not None:
            got: Connectivity = self.monitor.conn
            return got
        assert self._conn is not None
        return self._conn

    def anp_served(self) -> bool:
        if self._anp is None:
            if self.api is None:
                self._anp = bool(self.conn.cluster.admin_policies)
            else:
                from microseg.ingest.cluster import ApiError, resource_for

                try:
                    self._anp = (
                        resource_for(
                            self.api, "policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"
                        )
                        is not None
                    )
                except ApiError:
                    self._anp = False
        return self._anp

    def follow(self, until: Callable[[], bool]) -> None:
        """Keep the live model current in a thread of its own (with `--cluster`)."""
        if self.monitor is not None:
            self._thread = threading.Thread(
                target=self.monitor.run, args=(until,), name="microseg-monitor", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
            if self._thread is not None:
                self._thread.join(timeout=5)


@dataclass(slots=True)
class _Source:
    kind: str  # falco, audit, flows
    spec: str
    tailer: Tailer
    parser: FlowParser | None = None
    sample: list[Line] = field(default_factory=list)
    store: StoreFollower | None = None
    """A flow store followed by its keys' last_seen, instead of lines."""
    polled: float = 0.0
    said: str = ""


def settle_memory() -> None:
    """For a long-running watcher, once the cluster is loaded: what exists now (the model,
    the engine's index, the imports) is moved out of the garbage collector's sight
    (`gc.freeze`), and the older generations are collected less often. Every line read
    makes a few short-lived objects, and each full collection would walk the whole cluster
    model again for nothing: measured on bench/watch.py, a fifth of the CPU per event.
    Process-wide, so the CLI calls it, not the loop (https://docs.python.org/3/library/gc.html#gc.freeze)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 20, 20)


class WatchLoop:
    def __init__(
        self,
        sources: list[tuple[str, str]],
        snapshot: Snapshot,
        options: WatchOptions,
        emit: Callable[[AlertReport], None],
        diagnostic: Callable[[Diagnostic], None],
    ) -> None:
        self.options = options
        self.snapshot = snapshot
        self.emit, self.diagnostic = emit, diagnostic
        self.tally = Tally()
        self.book = AlertBook(options.thresholds, self.tally)
        self.falco = FalcoDetector(self.book, options.min_severity)
        self.audit = AuditDetector(self.book, options.thresholds, options.ignore_accounts)
        self.flows = FlowDetector(self.book, options.thresholds, self._endpoint)
        options.state.mkdir(parents=True, exist_ok=True)
        self.offsets_path = options.state / "offsets.json"
        saved = self._load_offsets() if options.resume else {}
        self.sources = []
        for kind, spec in sources:
            state = saved.get(f"{kind}:{spec}")
            source = _Source(kind, spec, Tailer(spec, state))
            if kind == "flows" and spec != "-" and is_store(Path(spec)):
                since = state.get("since", "") if isinstance(state, dict) else ""
                source.store = StoreFollower(Path(spec), str(since))
            self.sources.append(source)
        self.log = ActionLog(options.state / "actions.jsonl")
        self.alerts = 0
        self.responses: list[float] = []
        self._conn_id = -1
        self._graph: WorkloadGraph | None = None
        self._resolver: EndpointResolver | None = None
        self._groups: GroupResolver | None = None
        self._eps: dict[ObservedEndpoint, Endpoint] = {}
        self._said: set[tuple[str, str]] = set()
        self._saved_at = 0.0
        self._dirty = False
        self._read_at = 0.0
        self._quarantined: dict[tuple[str, str], str] = {}
        self._priorities: set[int] = set()
        for q in read_log(self.log.path).active():
            pod = str(q.applied.get("pod", ""))
            if "/" in pod:
                ns, name = pod.split("/", 1)
                self._quarantined[(ns, name)] = q.id
            prio = (q.applied.get("plan") or {}).get("adminNetworkPolicy") or {}
            if isinstance(prio, dict) and "priority" in prio:
                self._priorities.add(int(prio["priority"]))

    # -- offsets --------------------------------------------------------------------------
    def _load_offsets(self) -> dict[str, Any]:
        try:
            data = json.loads(self.offsets_path.read_text())
        except (OSError, ValueError):
            return {}
        got = data.get("sources") if isinstance(data, dict) else None
        return got if isinstance(got, dict) else {}

    def save_offsets(self) -> None:
        state = {
            f"{s.kind}:{s.spec}": {"since": s.store.since}
            if s.store is not None
            else s.tailer.state()
            for s in self.sources
            if s.spec != "-"
        }
        body = json.dumps({"version": 1, "sources": state}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.offsets_path.parent, prefix=".offsets.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.offsets_path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._saved_at = time.monotonic()
        self._dirty = False

    # -- the cluster view -----------------------------------------------------------------
    def _refresh(self) -> Connectivity:
        conn = self.snapshot.conn
        if id(conn) != self._conn_id:
            self._conn_id = id(conn)
            self._graph = None
            self._resolver = EndpointResolver(
                conn.cluster, conn.options.host_network.value == "node"
            )
            self._groups = None
            self._eps.clear()
            if self.options.intents is not None and self.options.intents.count():
                graph = self._workload_graph(conn)
                self._groups = GroupResolver.build(conn, graph)
                self.flows.intents = tuple(
                    intent_checks(conn, graph, self.options.intents, self._groups)
                )
        return conn

    def _workload_graph(self, conn: Connectivity) -> WorkloadGraph:
        if self._graph is None:
            self._graph = WorkloadGraph.build(conn)
        return self._graph

    def _endpoint(self, observed: ObservedEndpoint) -> Endpoint:
        got = self._eps.get(observed)
        if got is None:
            self._refresh()
            assert self._resolver is not None
            resolved = self._resolver.resolve(
                observed.ns, observed.pod, observed.workload, observed.ip
            )
            nodes = self._groups.node_of_pod if self._groups is not None else None
            got = self._eps[observed] = endpoint_of(observed, resolved, nodes)
        return got

    # -- the loop -------------------------------------------------------------------------
    def run(self, until: Callable[[], bool]) -> None:
        """Until `until()`, or until every source is stdin and it ended."""
        only_stdin = all(s.spec == "-" for s in self.sources)
        while not until():
            if not self.step() and only_stdin and all(s.tailer.ended for s in self.sources):
                return

    def step(self) -> int:
        """One poll of every source; the number of lines read."""
        total = 0
        for source in self.sources:
            if source.store is not None:
                total += self._poll_store(source)
                continue
            lines, notices = source.tailer.poll()
            self._read_at = time.perf_counter()
            for n in notices:
                self._notice(source, n)
            if lines:
                total += len(lines)
                self._process(source, lines)
        if total:
            self._dirty = True
        if self._dirty and time.monotonic() - self._saved_at >= 0.5:
            self.save_offsets()
        if not total:
            time.sleep(self.options.poll)
        return total

    def _poll_store(self, source: _Source) -> int:
        """A flow store, at most once a second."""
        assert source.store is not None
        now = time.monotonic()
        if now - source.polled < 1.0:
            return 0
        source.polled = now
        batch, why = source.store.poll()
        self._read_at = time.perf_counter()
        if why and why != source.said:
            source.said = why
            self.diagnostic(
                Diagnostic(
                    Severity.NOTICE if why == "locked" else Severity.WARNING,
                    "MS804",
                    f"flow store: {'locked by a writer; read at the next poll' if why == 'locked' else why}",
                    Origin(file=source.spec),
                )
            )
        if batch is None:
            return 0
        source.said = ""
        self._refresh()
        for alert in self.flows.feed(batch):
            self._report(alert)
        return len(batch)

    def close(self) -> None:
        for s in self.sources:
            if s.spec == "-":
                lines, _ = s.tailer.poll()
                if lines:
                    self._process(s, lines)
        self.save_offsets()
        for s in self.sources:
            s.tailer.close()
            if s.parser is not None:
                s.parser.close()

    def _notice(self, source: _Source, n: Notice) -> None:
        code, severity, text = {
            "missing": (
                "MS803",
                Severity.WARNING,
                "the source is gone; waiting for it to come back",
            ),
            "back": ("MS803", Severity.NOTICE, "the source is back; read from its start"),
            "rotated": (
                "MS803",
                Severity.NOTICE,
                "rotated: the old file read to its end, the new one from its start",
            ),
            "truncated": (
                "MS803",
                Severity.NOTICE,
                "truncated in place; read again from its start",
            ),
            "restarted": (
                "MS803",
                Severity.NOTICE,
                "not the file the offsets recorded; read from its start",
            ),
            "ended": ("MS803", Severity.NOTICE, "the stream ended"),
            "unreadable": ("MS800", Severity.WARNING, f"cannot be read ({n.detail}); retrying"),
        }.get(n.kind, ("MS803", Severity.NOTICE, n.kind))
        self.diagnostic(
            Diagnostic(severity, code, f"{source.kind} source: {text}", Origin(file=n.path))
        )

    def _reject(self, source: str, r: Reject) -> None:
        self.tally.events[source] += 1
        self.tally.ignore(source, r.reason)
        key = (f"{source}:{r.record.file}", r.reason)
        if key not in self._said:
            self._said.add(key)
            code = "MS801" if r.reason.startswith(("invalid JSON", "truncated")) else "MS802"
            self.diagnostic(
                Diagnostic(
                    Severity.WARNING,
                    code,
                    f"{source} record ignored: {r.reason} (further such lines are counted, not shown)",
                    Origin(file=r.record.file, line=r.record.line),
                )
            )

    def _process(self, source: _Source, lines: list[Line]) -> None:
        alerts: list[Alert]
        if source.kind == "falco":
            parsed = parse_falco(lines)
            for r in parsed.rejects:
                self._reject("falco", r)
            before = set(self.falco.unknown_rules)
            alerts = self.falco.feed(parsed.events)
            for rule in sorted(self.falco.unknown_rules - before):
                self.diagnostic(
                    Diagnostic(
                        Severity.NOTICE,
                        "MS805",
                        f"Falco rule {rule!r} is not one microseg knows: kept as a generic alert "
                        "(severity from its priority, technique from its tags)",
                    )
                )
        elif source.kind == "audit":
            parsed_audit = parse_audit(lines)
            for r in parsed_audit.rejects:
                self._reject("audit", r)
            alerts = self.audit.feed(parsed_audit.events)
        else:
            alerts = self._flows(source, lines)
        for alert in alerts:
            self._report(alert)

    def _flows(self, source: _Source, lines: list[Line]) -> list[Alert]:
        if source.parser is None:
            fmt = self.options.flows_format
            if fmt is None:
                source.sample.extend(ln for ln in lines if ln.data.strip())
                if len(source.sample) < 5 and not source.tailer.ended:
                    return []
                with tempfile.TemporaryDirectory() as tmp:
                    try:
                        fmt = sniff_format([ln.data for ln in source.sample], Path(tmp) / "sample")
                    except UnknownFormatError as exc:
                        self.diagnostic(
                            Diagnostic(
                                Severity.WARNING,
                                "MS802",
                                f"flows source: {exc}",
                                Origin(file=source.spec),
                            )
                        )
                        for ln in source.sample:
                            self._reject("flows", Reject(_record(ln), "flow format not recognised"))
                        source.sample.clear()
                        return []
                lines, source.sample = source.sample, []
            source.parser = FlowParser(fmt)
        self._refresh()
        batch, rejects, _ = source.parser.parse(lines, time.time())
        for r in rejects:
            self._reject("flows", r)
        return self.flows.feed(batch)

    # -- one alert --------------------------------------------------------------------------
    def _report(self, alert: Alert) -> None:
        self.alerts += 1
        conn = self._refresh()
        note = ""
        reach = None
        template = -1
        namespace, pod = alert.namespace, alert.pod
        if not pod and alert.subject.startswith("system:serviceaccount:"):
            parts = alert.subject.split(":")
            users = [
                p
                for p in conn.cluster.pods
                if p.namespace == parts[2] and p.service_account == parts[3] and not p.from_template
            ]
            if len(users) == 1:
                namespace, pod = users[0].namespace, users[0].name
        if pod:
            assert self._resolver is not None
            resolved = self._resolver.resolve(namespace, pod, "", "")
            if resolved.kind is EndpointKind.POD and resolved.pods:
                template = resolved.pods[0]
                alert = replace(alert, workload=resolved.name, namespace=namespace, pod=pod)
            else:
                note = f"pod {namespace}/{pod} is not in the cluster's snapshot: reach unknown"
        if alert.workload:
            graph = self._workload_graph(conn)
            exact = (namespace, pod) in conn.names.pods
            try:
                nodes = sources_of(conn, graph, f"{namespace}/{pod}" if exact else alert.workload)
                reach = reach_of(conn, graph, nodes)
            except UnknownEndpointError as exc:
                note = str(exc)
        elif not note:
            note = f"no pod named: {alert.subject or 'unknown'} (reach is per workload)"
        response = self._respond(alert, conn, namespace, pod, template)
        self.emit(AlertReport(alert, reach, response, note))

    def _respond(
        self, alert: Alert, conn: Connectivity, namespace: str, pod: str, template: int
    ) -> Response:
        o = self.options
        mode = o.respond
        if mode == "off":
            return Response("off")
        if alert.severity < o.respond_severity:
            return Response(
                mode,
                o.dry_run,
                skipped=f"severity {alert.severity.word} below --respond-severity {o.respond_severity.word}",
            )
        if not pod or template < 0:
            return Response(mode, o.dry_run, skipped="no pod of the snapshot to act on")
        if conn.cluster.pods[template].host_network:
            return Response(
                mode, o.dry_run, skipped="a host-network pod: policies do not apply to it"
            )
        held = self._quarantined.get((namespace, pod))
        if held is not None:
            return Response(
                mode, o.dry_run, skipped=f"already quarantined ({QUARANTINE_LABEL}={held})"
            )
        plan = None
        if mode == "isolate":
            anp = {"yes": True, "no": False}.get(o.anp)
            plan = plan_quarantine(
                conn,
                alert.id,
                namespace,
                pod,
                template,
                o.keep,
                anp=self.snapshot.anp_served() if anp is None else anp,
                detach=o.detach,
                taken_priorities=frozenset(self._priorities),
            )
            if not plan.proof.holds:
                self.diagnostic(
                    Diagnostic(
                        Severity.WARNING,
                        "MS812",
                        f"quarantine {alert.id} of {namespace}/{pod}: the engine finds "
                        f"{len(plan.proof.residual)} openings beyond what is kept (applied all the same)",
                    )
                )
        docs = manifests(plan) if plan is not None else []
        entry: dict[str, Any] = {
            "action": mode,
            "id": alert.id,
            "time": time.time(),
            "pod": f"{namespace}/{pod}",
            "alert": {
                "rule": alert.rule,
                "severity": alert.severity.word,
                "detector": alert.detector,
            },
            "dryRun": o.dry_run,
        }
        if plan is not None:
            entry["plan"] = plan_json(plan)
        if o.dry_run or self.snapshot.api is None:
            path = o.state / "plans" / f"{alert.id}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            if plan is not None:
                path.write_text(plan_yaml(plan, alert.title))
            else:
                path.write_text(
                    f"# microseg quarantine {alert.id}: {alert.title}\n"
                    f"# kubectl label pod -n {namespace} {pod} {QUARANTINE_LABEL}={alert.id}\n"
                )
            entry["file"] = str(path)
            self.log.append(entry)
            self._quarantined[(namespace, pod)] = alert.id
            return Response(mode, True, False, None, str(path), plan=plan)
        detach = plan.detached if plan is not None else False
        outcome = apply_plan(self.snapshot.api, namespace, pod, alert.id, docs, detach)
        latency = (outcome.done_at - self._read_at) * 1000
        entry.update(
            {
                "cluster": self.snapshot.api.context,
                "uid": outcome.uid,
                "before": {"labels": outcome.labels_before},
                "after": {"labels": outcome.labels_after, "objects": outcome.objects},
                "latencyMs": round(latency, 1),
                "result": "applied"
                if outcome.ok
                else "partial"
                if outcome.objects or outcome.labels_after
                else "failed",
                "errors": outcome.errors,
            }
        )
        self.log.append(entry)
        if outcome.labels_after.get(QUARANTINE_LABEL) == alert.id:
            self._quarantined[(namespace, pod)] = alert.id
            if plan is not None and plan.admin is not None:
                self._priorities.add(plan.admin.priority)
        for e in outcome.errors:
            self.diagnostic(Diagnostic(Severity.ERROR, "MS811", f"quarantine {alert.id}: {e}"))
        self.responses.append(latency)
        return Response(mode, False, outcome.ok, latency, errors=tuple(outcome.errors), plan=plan)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rateLimited": self.book.rate_limited}
        if self.responses:
            ordered = sorted(self.responses)
            out["responses"] = len(ordered)
            out["latencyMsMax"] = round(ordered[-1], 1)
        return out


def _record(line: Line) -> Record:
    return record(EventSource.FLOWS, line)
