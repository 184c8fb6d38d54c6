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
        """Events of one batch are grouped by what they would merge on (rule and pod): one
        hit per group, standing for all of its events."""
        tally = self.book.tally
        tally.events["falco"] += len(events)
        groups: dict[tuple[str, str], list[FalcoEvent]] = {}
        newest = self.newest
        for e in events:
            if e.time < newest:
                tally.out_of_order["falco"] += 1
            else:
                newest = e.time
            where = (
                f"{e.namespace}/{e.pod}" if e.pod else f"{e.hostname}/{e.container_id or 'host'}"
            )
            group = groups.get((e.rule, where))
            if group is None:
                groups[(e.rule, where)] = [e]
            else:
                group.append(e)
        self.newest = newest
        out: list[Alert] = []
        limit = self.book.t.evidence
        for (rule, where), group in groups.items():
            e = group[0]
            m = meaning(rule, e.tags, e.process)
            if not m.known:
                self.unknown_rules.add(rule)
            severity = max(m.severity, priority_severity(e.priority))
            if severity < self.min_severity:
                tally.ignore("falco", BELOW, len(group))
                continue
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
                    ("falco", rule, where),
                    "falco",
                    rule,
                    rule,
                    severity,
                    technique(m.technique),
                    e.time,
                    tuple(x.record for x in group[:limit]),
                    "falco",
                    len(group),
                    e.namespace,
                    e.pod,
                    "" if e.pod else where,
                    tuple(details),
                    max(x.time for x in group),
                )
            )
            if alert is not None:
                out.append(alert)
        return out
