"""Falco alerts to microseg alerts: each firing names its rule's meaning (falco_rules.py),
the pod it ran in and the command; duplicates (the same rule on the same pod) merge."""

from __future__ import annotations

from collections.abc import Sequence

from microseg.analyses.runtime.book import AlertBook, Hit
from microseg.analyses.runtime.falco_rules import meaning, priority_severity
from microseg.analyses.runtime.techniques import technique
from microseg.model.events import Alert, FalcoEvent, Severity

__all__ = ["FalcoDetector"]

BELOW = "below --min-severity"


class FalcoDetector:
    def __init__(self, book: AlertBook, min_severity: Severity = Severity.LOW) -> None:
        self.book = book
        self.min_severity = min_severity
        self.unknown_rules: set[str] = set()
        self.newest = float("-inf")

    def feed(self, events: Sequence[FalcoEvent]) -> list[Alert]:
        tally = self.book.tally
        tally.events["falco"] += len(events)
        out: list[Alert] = []
        for e in events:
            if e.time < self.newest:
                tally.out_of_order["falco"] += 1
            else:
                self.newest = e.time
            m = meaning(e.rule, e.tags, e.process)
            if not m.known:
                self.unknown_rules.add(e.rule)
            severity = max(m.severity, priority_severity(e.priority))
            if severity < self.min_severity:
                tally.ignore("falco", BELOW)
                continue
            where = (
                f"{e.namespace}/{e.pod}" if e.pod else f"{e.hostname}/{e.container_id or 'host'}"
            )
            details: list[tuple[str, object]] = [("category", m.category), ("priority", e.priority)]
            for name, value in (
                ("command", e.cmdline),
                ("user", e.user),
                ("container", e.container_id),
                ("host", e.hostname),
            ):
                if value:
                    details.append((name, value))
            alert = self.book.account(
                Hit(
                    ("falco", e.rule, where),
                    "falco",
                    e.rule,
                    e.rule,
                    severity,
                    technique(m.technique),
                    e.time,
                    (e.record,),
                    "falco",
                    namespace=e.namespace,
                    pod=e.pod,
                    subject="" if e.pod else where,
                    details=tuple(details),
                )
            )
            if alert is not None:
                out.append(alert)
        return out
