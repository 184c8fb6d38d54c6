"""Flows to alerts: scans, sweeps, bursts of denied connections, and flows an intent forbids.

Over the sliding window (windows.py), per source (the pod the record names, else the
workload or address it resolves to):
- `port-scan`: `scan.ports` distinct destination ports, or `scan.sensitive` distinct ports
  of `SENSITIVE_PORTS` (T1046, Network Service Discovery);
- `sweep`: `sweep.hosts` distinct destinations on one port (T1018, Remote System
  Discovery);
- `denied-burst`: `denied.count` flows the network denied or dropped (T1046: what a scan
  into segmented networks looks like; a misconfigured client looks the same, which the
  alert's evidence shows).
- `intent-violation`: a flow that happened (not denied) between endpoints a `deny` intent
  separates, or from a `noInternetEgress` group to a public address (no technique: a
  breach of the segmentation, whatever the intent behind it).

All of it over numpy columns of the batch: one window feed per detector per batch, and
intents checked with boolean masks over graph nodes; Python runs per firing key only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.runtime.book import LIMITED, AlertBook, Hit
from microseg.analyses.runtime.config import SENSITIVE_PORTS, Thresholds
from microseg.analyses.runtime.techniques import technique
from microseg.analyses.runtime.windows import Window
from microseg.model.events import Alert, FlowBatch, Severity
from microseg.model.flows import EndpointKind, ObservedEndpoint, Resolved

__all__ = ["Endpoint", "FlowDetector", "IntentCheck"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
_SENSITIVE = np.array(sorted(SENSITIVE_PORTS), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A flow endpoint as the detectors name it: `name` the key (`ns/pod`, a workload or an
    address), `namespace`/`pod` the pod when one is known, `pod_index` its index into the
    cluster's pods (-1: none), `node` its workload-graph node (-1: an address or unknown),
    `ip` its address."""

    name: str
    namespace: str = ""
    pod: str = ""
    pod_index: int = -1
    node: int = -1
    ip: str = ""


@dataclass(frozen=True, slots=True)
class IntentCheck:
    """One forbidding intent as masks: `src`/`dst` over graph nodes, `dst_ips` a predicate
    on addresses, `ports` a predicate on (protocol, port, destination pod index)."""

    id: str
    description: str
    src: Bools
    dst: Bools
    dst_ips: Callable[[str], bool]
    ports: Callable[[str, int, int], bool]


def endpoint_of(
    observed: ObservedEndpoint, resolved: Resolved, node_of_pod: Ints | None
) -> Endpoint:
    pod_index = (
        resolved.pods[0] if resolved.kind is EndpointKind.POD and len(resolved.pods) == 1 else -1
    )
    node = -1
    if resolved.kind is EndpointKind.POD and resolved.pods and node_of_pod is not None:
        node = int(node_of_pod[resolved.pods[0]])
    if observed.ns and observed.pod:
        return Endpoint(
            f"{observed.ns}/{observed.pod}", observed.ns, observed.pod, pod_index, node, observed.ip
        )
    return Endpoint(resolved.name, "", "", pod_index, node, observed.ip or resolved.ip)


class FlowDetector:
    """`resolve` maps an observed endpoint to an `Endpoint` (the adapter owns the cluster)."""

    DETECTORS = ("port-scan", "sensitive-scan", "sweep", "denied-burst")

    def __init__(
        self,
        book: AlertBook,
        thresholds: Thresholds,
        resolve: Callable[[ObservedEndpoint], Endpoint],
        intents: Sequence[IntentCheck] = (),
    ) -> None:
        self.book = book
        self.t = thresholds
        self.resolve = resolve
        self.intents = tuple(intents)
        w, late = thresholds.window, thresholds.lateness
        self.windows = {
            "port-scan": Window(w, thresholds.scan_ports, late),
            "sensitive-scan": Window(w, thresholds.scan_sensitive, late),
            "sweep": Window(w, thresholds.sweep_hosts, late),
            "denied-burst": Window(w, thresholds.denied_count, late),
        }
        self._ids: dict[str, int] = {}
        self._pairs: dict[int, int] = {}
        self._names: list[str] = []
        self._eps: dict[int, Endpoint] = {}
        self.newest = float("-inf")

    def _pair_ids(self, src: Ints, port: Ints) -> Ints:
        """A stable small id per (source, port): the sweep window's key."""
        uniq, inverse = np.unique(src * 65536 + port, return_inverse=True)
        ids = np.fromiter(
            (self._pairs.setdefault(int(c), len(self._pairs)) for c in uniq.tolist()),
            np.int64,
            len(uniq),
        )
        out: Ints = ids[inverse.reshape(-1)]
        return out

    def _id(self, name: str) -> int:
        got = self._ids.get(name)
        if got is None:
            got = self._ids[name] = len(self._names)
            self._names.append(name)
        return got

    def feed(self, batch: FlowBatch) -> list[Alert]:
        tally = self.book.tally
        n = len(batch)
        tally.events["flows"] += n
        if not n:
            return []
        eps = [self.resolve(e) for e in batch.endpoints]
        ep_id = np.array([self._id(e.name) for e in eps], dtype=np.int64)
        for e in eps:
            self._eps[self._ids[e.name]] = e
        dst_key = np.array([self._id(e.ip or e.name) for e in eps], dtype=np.int64)
        src = ep_id[batch.src]
        times = np.round(batch.time * 1000).astype(np.int64)
        order_break = np.diff(batch.time, prepend=self.newest) < 0
        tally.out_of_order["flows"] += int(order_break.sum())
        self.newest = max(self.newest, float(batch.time.max()))
        status = np.zeros(n, np.int8)  # 0 nothing, 1 alerted, 2 rate-limited, 3 late
        out: list[Alert] = []
        late_any = np.zeros(n, np.bool_)
        plans: list[tuple[str, Bools, Ints, Ints]] = [
            ("port-scan", np.ones(n, np.bool_), src, batch.port),
            ("sensitive-scan", np.isin(batch.port, _SENSITIVE), src, batch.port),
            ("sweep", np.ones(n, np.bool_), self._pair_ids(src, batch.port), dst_key[batch.dst]),
            ("denied-burst", batch.denied.copy(), src, np.zeros(n, np.int64)),
        ]
        for name, use, key, value in plans:
            rows = np.flatnonzero(use)
            if not len(rows):
                continue
            # Rows of sources with an open alert of this detector merge into it.
            open_src = {
                self._ids[k[2]]
                for k in self.book.open
                if k[:2] == ("flows", name) and self.book.current(k, float(batch.time[rows].max()))
            }
            if open_src:
                merging = rows[np.isin(src[rows], np.fromiter(open_src, np.int64))]
                for s in np.unique(src[merging]).tolist():
                    mine = merging[src[merging] == s]
                    code = self._account(self._hit(name, batch, int(mine[0]), eps, len(mine), 0))
                    status[mine] = np.maximum(status[mine], code)
                rows = rows[~np.isin(rows, merging)]
            window = self.windows[name]
            if name == "denied-burst":
                value = np.zeros(n, np.int64)
                value[rows] = window.serial(len(rows))
            late_any[rows] |= window.late(times[rows])
            fired = window.feed(key[rows], value[rows], times[rows])
            for row, count in zip(fired.rows.tolist(), fired.counts.tolist(), strict=True):
                first = int(rows[row])
                hit = self._hit(name, batch, first, eps, 1, int(count))
                verdict, alert = self.book.add(hit)
                status[first] = max(int(status[first]), 2 if verdict == "limited" else 1)
                if alert is not None:
                    out.append(alert)
                if verdict != "limited":
                    # What this key sent from the firing on merges into the alert, as it
                    # would had it come in the next batch: counts do not depend on batching.
                    same = rows[(key[rows] == key[first]) & (times[rows] >= times[first])]
                    later = same[same != first]
                    if len(later):
                        self._account(self._hit(name, batch, int(later[0]), eps, len(later), 0))
                        status[later] = np.maximum(status[later], 1)
            window.forget(fired.keys)
        out.extend(self._intents(batch, eps, status))
        alerted = int((status == 1).sum())
        tally.alerted["flows"] += alerted
        tally.ignore("flows", LIMITED, int((status == 2).sum()))
        rest = status == 0
        tally.ignore("flows", "too late for its window (lateness)", int((rest & late_any).sum()))
        tally.ignore(
            "flows",
            "no detection (counted in the scan, sweep and denial windows)",
            int((rest & ~late_any).sum()),
        )
        return out

    def _account(self, hit: Hit) -> int:
        status, _ = self.book.add(hit)
        return 2 if status == "limited" else 1

    def _hit(
        self, name: str, batch: FlowBatch, row: int, eps: list[Endpoint], events: int, count: int
    ) -> Hit:
        s = eps[int(batch.src[row])]
        d = eps[int(batch.dst[row])]
        port = int(batch.port[row])
        proto = batch.protocols[int(batch.protocol[row])]
        same = np.flatnonzero(batch.src == batch.src[row])[: self.t.evidence + 1].tolist()
        rows = [row, *(i for i in same if i != row)][: self.t.evidence]
        records = tuple(batch.records[int(batch.record[i])] for i in rows)
        title, severity, tech = {
            "port-scan": (
                f"port scan: {count} destination ports within the window",
                Severity.HIGH,
                "T1046",
            ),
            "sensitive-scan": (
                f"probe of {count} sensitive ports within the window",
                Severity.HIGH,
                "T1046",
            ),
            "sweep": (
                f"sweep: {count} destinations on {proto}/{port} within the window",
                Severity.HIGH,
                "T1018",
            ),
            "denied-burst": (
                f"{count} denied connections within the window",
                Severity.MEDIUM,
                "T1046",
            ),
        }[name]
        details: tuple[tuple[str, object], ...] = (
            ("source", s.name),
            ("last", f"{d.name} {proto}/{port}"),
        )
        if count:
            details += (("distinct" if name != "denied-burst" else "denied", count),)
        return Hit(
            ("flows", name, s.name, f"{proto}/{port}" if name == "sweep" else ""),
            "flows",
            name,
            title,
            severity,
            technique(tech),
            float(batch.time[row]),
            records,
            "flows",
            events,
            s.namespace,
            s.pod,
            "" if s.pod else s.name,
            details,
        )

    def _intents(
        self, batch: FlowBatch, eps: list[Endpoint], status: npt.NDArray[np.int8]
    ) -> list[Alert]:
        if not self.intents:
            return []
        out: list[Alert] = []
        node = np.array([e.node for e in eps], dtype=np.int64)
        src_node, dst_node = node[batch.src], node[batch.dst]
        live = ~batch.denied & (src_node >= 0)
        for check in self.intents:
            rows = np.flatnonzero(live & check.src[np.maximum(src_node, 0)])
            if not len(rows):
                continue
            dst_in = dst_node[rows] >= 0
            hit_nodes = np.zeros(len(rows), np.bool_)
            hit_nodes[dst_in] = check.dst[dst_node[rows][dst_in]]
            ips = [eps[int(batch.dst[r])].ip for r in rows.tolist()]
            for i, r in enumerate(rows.tolist()):
                if dst_in[i] and not hit_nodes[i]:
                    continue
                if not dst_in[i] and not (ips[i] and check.dst_ips(ips[i])):
                    continue
                d = eps[int(batch.dst[r])]
                proto = batch.protocols[int(batch.protocol[r])]
                if not check.ports(proto, int(batch.port[r]), d.pod_index):
                    continue
                s = eps[int(batch.src[r])]
                hit = Hit(
                    ("flows", "intent-violation", s.name, check.id),
                    "flows",
                    "intent-violation",
                    f"a flow the intent forbids: {check.description}",
                    Severity.HIGH,
                    None,
                    float(batch.time[r]),
                    (batch.records[int(batch.record[r])],),
                    "flows",
                    1,
                    s.namespace,
                    s.pod,
                    "" if s.pod else s.name,
                    (
                        ("intent", check.id),
                        ("flow", f"{s.name} -> {d.name} {proto}/{int(batch.port[r])}"),
                    ),
                )
                st, alert = self.book.add(hit)
                status[r] = max(int(status[r]), 2 if st == "limited" else 1)
                if alert is not None:
                    out.append(alert)
        return out
