"""What a guardrail rule says about one object: typed findings, never prose layouts.

A finding names its rule (name, kind, mode), the control within it (a Pod Security
Standards check id, `registry`, `tag`, ...), the field it is about as written in the object,
and a one-line message; segmentation findings also carry the intent, the offending flows,
the engine's explanation of the first one and the policies responsible. `render/` turns
them into text, JSON, SARIF, JUnit or an AdmissionReview response.
"""

from __future__ import annotations

from dataclasses import dataclass

from microseg.analyses.verify_flows import FlowRow
from microseg.engine import Decision
from microseg.errors import Origin
from microseg.model.guardrails import Mode, Rule
from microseg.model.podspec import FieldPath

__all__ = ["Finding", "finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    kind: str
    mode: Mode
    control: str
    message: str
    path: FieldPath = ()
    rule_origin: Origin | None = None
    origin: Origin | None = None
    """Where the finding is, when not in the reviewed object (a violated intent's line)."""
    details: tuple[str, ...] = ()
    related: tuple[Origin, ...] = ()
    decision: Decision | None = None
    rows: tuple[FlowRow, ...] = ()
    """The offending flows of a segmentation finding (at most verify's MAX_ROWS of `total`)."""
    total: int = 0

    @property
    def enforced(self) -> bool:
        return self.mode is Mode.ENFORCE


def finding(rule: Rule, control: str, message: str, path: FieldPath = ()) -> Finding:
    return Finding(rule.name, rule.kind, rule.mode, control, message, path, rule.origin)
