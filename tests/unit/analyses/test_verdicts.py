"""Violations opened and closed between two verifications (`microseg monitor`)."""

from __future__ import annotations

from microseg.analyses.verdicts import Cause, verdict_changes
from microseg.analyses.verify import Finding, VerificationReport
from microseg.errors import Origin


def finding(id: str, holds: bool) -> Finding:
    return Finding(id, "deny", f"intent {id}", Origin("intents.yaml", 0, 3), holds)


def report(*pairs: tuple[str, bool]) -> VerificationReport:
    return VerificationReport(tuple(finding(i, h) for i, h in pairs))


CAUSE = Cause("MODIFIED", "NetworkPolicy", "shop", "allow-web", "42")


def test_at_start_every_violation_is_opened() -> None:
    out = verdict_changes(None, report(("a", True), ("b", False)), Cause("LIST"), 0.1)
    assert [(c.finding.id, c.opened) for c in out] == [("b", True)]


def test_opened_and_closed_in_intent_order_with_their_cause() -> None:
    before = report(("a", False), ("b", True), ("c", False))
    after = report(("a", True), ("b", False), ("c", False))
    out = verdict_changes(before, after, CAUSE, 0.05, batched=2)
    assert [(c.finding.id, c.opened) for c in out] == [("a", False), ("b", True)]
    assert all(c.cause is CAUSE and c.batched == 2 and c.latency == 0.05 for c in out)
    assert verdict_changes(after, after, CAUSE, 0.0) == []


def test_a_violated_intent_that_is_gone_is_closed() -> None:
    out = verdict_changes(report(("a", False)), report(), CAUSE, 0.0)
    assert [(c.finding.id, c.opened, c.finding.holds) for c in out] == [("a", False, True)]
