"""What changed between two verifications of the same intents: the violations opened and
closed, each tied to the change in the cluster that caused it (`microseg monitor`)."""

from __future__ import annotations

from dataclasses import dataclass

from microseg.analyses.verify import Finding, VerificationReport

__all__ = ["Cause", "VerdictChange", "verdict_changes"]


@dataclass(frozen=True, slots=True)
class Cause:
    """The event that led to a verdict: a watch event (ADDED, MODIFIED, DELETED), a list
    (LIST at start, RELIST after 410 Gone or a lost event), or a file that changed (FILE)."""

    type: str
    kind: str = ""
    namespace: str = ""
    name: str = ""
    resource_version: str = ""


@dataclass(frozen=True, slots=True)
class VerdictChange:
    """One intent whose verdict flipped: `opened` (now violated) or closed (holds again).
    `finding` is the new verdict with its explanation; `latency` the seconds from the
    event's arrival to this verdict; `batched` how many events were applied together
    before verifying (1 unless the monitor fell behind)."""

    opened: bool
    finding: Finding
    cause: Cause
    latency: float
    batched: int = 1


def verdict_changes(
    before: VerificationReport | None,
    after: VerificationReport,
    cause: Cause,
    latency: float,
    batched: int = 1,
) -> list[VerdictChange]:
    """Violations in `after` that `before` did not have (opened), and those of `before`
    that `after` no longer has (closed), in the intents' order."""
    was = {f.id for f in before.violations} if before is not None else set()
    now = {f.id for f in after.violations}
    out: list[VerdictChange] = []
    for finding in after.findings:
        if finding.id in now and finding.id not in was:
            out.append(VerdictChange(True, finding, cause, latency, batched))
        elif finding.id in was and finding.id not in now:
            out.append(VerdictChange(False, finding, cause, latency, batched))
    gone = was - {f.id for f in after.findings}
    if before is not None:
        out.extend(
            VerdictChange(False, _dropped(f), cause, latency, batched)
            for f in before.violations
            if f.id in gone
        )
    return out


def _dropped(finding: Finding) -> Finding:
    """A violated intent no longer checked (its intent file changed) is closed."""
    return Finding(finding.id, finding.kind, finding.description, finding.origin, True)
