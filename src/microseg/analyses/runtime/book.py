"""Alerts made, merged and rate-limited; and the account of every event.

A detection is a `Hit`: what fired (its key: detector, rule, subject), on what, with which
records. The book turns hits into alerts:
- a hit whose key has an open alert (its last event within `dedupe` seconds, event time)
  merges into it: the count grows, the first records stay as evidence, nothing is printed;
- otherwise a new alert, unless the rate limit says no: at most `rate.alerts` new alerts in
  any minute, and `rate.subject` per subject (event time, so a replay decides as the live
  run did); a refused hit is counted as rate-limited.

Every event read ends in exactly one place: evidence of an alert (new or merged), or
ignored with a reason (`Tally`): `events == alerted + sum(ignored)` always holds. The
detectors keep that account, since one flow record may feed several detectors.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import dataclass, field, replace

from microseg.analyses.runtime.config import Thresholds
from microseg.model.events import Alert, Record, Severity, Technique

__all__ = ["LIMITED", "AlertBook", "Hit", "Tally"]

LIMITED = "rate-limited (rate.alerts, rate.subject)"


@dataclass(slots=True)
class Tally:
    events: Counter[str] = field(default_factory=Counter)
    """Per source: records read (blank lines and comments are not records)."""
    alerted: Counter[str] = field(default_factory=Counter)
    ignored: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, reason) -> events."""
    out_of_order: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    """New alerts by severity."""

    def ignore(self, source: str, reason: str, n: int = 1) -> None:
        if n:
            self.ignored[(source, reason)] += n

    def balanced(self) -> bool:
        ignored = Counter[str]()
        for (source, _), n in self.ignored.items():
            ignored[source] += n
        return all(self.events[s] == self.alerted[s] + ignored[s] for s in self.events | ignored)


@dataclass(frozen=True, slots=True)
class Hit:
    key: tuple[str, ...]
    detector: str
    rule: str
    title: str
    severity: Severity
    technique: Technique | None
    time: float
    records: tuple[Record, ...]
    source: str
    events: int = 1
    """Events this hit accounts for (a window's firing event, or a merged batch)."""
    namespace: str = ""
    pod: str = ""
    subject: str = ""
    details: tuple[tuple[str, object], ...] = ()
    last_time: float = 0.0
    """The newest event of the hit, when it stands for several (0: `time`)."""


def alert_id(key: tuple[str, ...], first: Record | None) -> str:
    """Stable across replays of the same input: the key and the first record's place."""
    where = f"{first.file}:{first.line}" if first is not None else ""
    digest = hashlib.sha256("\x00".join((*key, where)).encode()).hexdigest()
    return "a" + digest[:11]


class AlertBook:
    def __init__(self, thresholds: Thresholds, tally: Tally) -> None:
        self.t = thresholds
        self.tally = tally
        self.open: dict[tuple[str, ...], Alert] = {}
        self._recent: deque[float] = deque()
        self._by_subject: dict[str, deque[float]] = {}
        self.rate_limited = 0

    def current(self, key: tuple[str, ...], time: float) -> Alert | None:
        alert = self.open.get(key)
        if alert is None:
            return None
        if time - alert.last_time > self.t.dedupe:
            del self.open[key]
            return None
        return alert

    def _allowed(self, subject: str, time: float) -> bool:
        for q in (self._recent, self._by_subject.setdefault(subject, deque())):
            while q and q[0] <= time - 60.0:
                q.popleft()
        if len(self._recent) >= self.t.rate_alerts:
            return False
        return len(self._by_subject[subject]) < self.t.rate_subject

    def add(self, hit: Hit) -> tuple[str, Alert | None]:
        """("new", the alert), ("merged", None) or ("limited", None)."""
        alert = self.current(hit.key, hit.time)
        if alert is not None:
            room = self.t.evidence - len(alert.evidence)
            self.open[hit.key] = replace(
                alert,
                count=alert.count + hit.events,
                last_time=max(alert.last_time, hit.time, hit.last_time),
                evidence=alert.evidence + hit.records[: max(room, 0)],
            )
            return "merged", None
        subject = hit.subject or f"{hit.namespace}/{hit.pod}"
        if not self._allowed(subject, hit.time):
            self.rate_limited += 1
            return "limited", None
        self._recent.append(hit.time)
        self._by_subject[subject].append(hit.time)
        new = Alert(
            alert_id(hit.key, hit.records[0] if hit.records else None),
            hit.key,
            hit.detector,
            hit.rule,
            hit.title,
            hit.severity,
            hit.time,
            hit.technique,
            hit.namespace,
            hit.pod,
            hit.subject,
            hit.records[: self.t.evidence],
            hit.events,
            max(hit.time, hit.last_time),
            dict(hit.details),
        )
        self.open[hit.key] = new
        self.tally.alerts[hit.severity.word] += 1
        return "new", new

    def account(self, hit: Hit) -> Alert | None:
        """`add`, with the hit's events counted as alerted or rate-limited."""
        status, alert = self.add(hit)
        if status == "limited":
            self.tally.ignore(hit.source, LIMITED, hit.events)
        else:
            self.tally.alerted[hit.source] += hit.events
        return alert
