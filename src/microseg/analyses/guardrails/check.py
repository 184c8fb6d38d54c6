"""`microseg check`: the guardrails on manifests, in CI.

Every object is reviewed as a CREATE with `review` (the webhook's decision), against the
snapshot the manifests themselves make; segmentation intents are then verified once on that
whole state, as the state the manifests will give (at admission they are checked change by
change instead).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from microseg.analyses.guardrails.findings import Finding
from microseg.analyses.guardrails.review import ReviewContext, ReviewResult, review
from microseg.analyses.guardrails.segmentation import IntentMemo, intent_state_findings
from microseg.engine import Connectivity
from microseg.model.admission import ReviewRequest
from microseg.model.guardrails import GuardrailSet, IntentsRule, Mode

__all__ = ["CheckReport", "ObjectReview", "check_manifests"]


@dataclass(frozen=True, slots=True)
class ObjectReview:
    request: ReviewRequest
    result: ReviewResult


@dataclass(frozen=True, slots=True)
class CheckReport:
    guardrails: GuardrailSet
    reviews: tuple[ObjectReview, ...]
    state: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()

    def findings(self) -> list[tuple[ReviewRequest | None, Finding]]:
        """Every finding with the object it is about (None: about the whole state)."""
        out: list[tuple[ReviewRequest | None, Finding]] = [
            (r.request, f) for r in self.reviews for f in r.result.findings
        ]
        out += [(None, f) for f in self.state]
        return out

    def count(self, mode: Mode) -> int:
        return sum(f.mode is mode for _, f in self.findings())

    @property
    def failed(self) -> bool:
        return self.count(Mode.ENFORCE) > 0


def check_manifests(
    requests: Iterable[ReviewRequest], guardrails: GuardrailSet, conn: Connectivity | None
) -> CheckReport:
    context = ReviewContext(guardrails, conn, IntentMemo(), intents_per_change=False)
    reviews = tuple(ObjectReview(r, review(r, context)) for r in requests)
    notes: list[str] = []
    for r in reviews:
        for note in r.result.notes:
            if note not in notes:
                notes.append(note)
    state: list[Finding] = []
    for rule in guardrails.rules:
        if isinstance(rule.check, IntentsRule):
            if conn is None:
                notes.append(f"rule {rule.name}: no workloads to verify the intents on")
                continue
            state += intent_state_findings(rule, rule.check, conn)
    return CheckReport(guardrails, reviews, tuple(state), tuple(notes))
