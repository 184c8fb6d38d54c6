"""What `microseg watch` says about one alert: the alert, what its workload can reach, and
the response (the quarantine plan, its proof, and whether and how fast it was applied)."""

from __future__ import annotations

from dataclasses import dataclass

from microseg.analyses.runtime.quarantine import Plan
from microseg.analyses.runtime.reach import Reach
from microseg.model.events import Alert

__all__ = ["AlertReport", "Response"]


@dataclass(frozen=True, slots=True)
class Response:
    """`mode` off, label or isolate; `applied` whether the API accepted every change;
    `latency_ms` from the moment the event's line was read to the last change accepted;
    `file` the YAML written on a dry run; `skipped` why nothing was done."""

    mode: str
    dry_run: bool = False
    applied: bool = False
    latency_ms: float | None = None
    file: str = ""
    skipped: str = ""
    errors: tuple[str, ...] = ()
    plan: Plan | None = None


@dataclass(frozen=True, slots=True)
class AlertReport:
    alert: Alert
    reach: Reach | None
    response: Response
    note: str = ""
    """Why the workload or its reach is unknown, when it is."""
