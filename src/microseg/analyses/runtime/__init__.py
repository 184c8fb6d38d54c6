"""Runtime detection and response (`microseg watch`): detectors over event streams (Falco
alerts, Kubernetes audit events, flows), alerts merged and rate-limited, the blast radius
of the workload an alert names, and quarantine plans proven by the engine. Pure functions
and objects over model events and the engine's answers: no I/O, no printing; the loop that
reads the sources and talks to the API is live/watch.py."""

from microseg.analyses.runtime.book import AlertBook, Hit, Tally
from microseg.analyses.runtime.config import SENSITIVE_PORTS, Thresholds
from microseg.analyses.runtime.quarantine import (
    QUARANTINE_LABEL,
    Detach,
    Keep,
    Plan,
    plan_quarantine,
)
from microseg.analyses.runtime.reach import Reach, reach_of
from microseg.analyses.runtime.report import AlertReport, Response

__all__ = [
    "QUARANTINE_LABEL",
    "SENSITIVE_PORTS",
    "AlertBook",
    "AlertReport",
    "Detach",
    "Hit",
    "Keep",
    "Plan",
    "Reach",
    "Response",
    "Tally",
    "Thresholds",
    "plan_quarantine",
    "reach_of",
]
