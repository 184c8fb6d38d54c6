"""Scores and trend.

A score is the share of what was checked that passed, weighted by severity: every `Check`
(a code on a subject) weighs its code's severity (findings.py `Severity.weight`), a failed
one its finding's severity; the score is 100 x (1 - failed weight / checked weight), per
namespace (cluster-scoped subjects under `(cluster)`) and overall. Nothing checked: no
score (None), never a 100.

The trend compares with a previous `microseg audit -o json` report: the score moves, and
the findings (by their stable id, `CODE:subject`) that are new or resolved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from microseg.analyses.audit.findings import CODES, Check, Finding

__all__ = ["CLUSTER_SCOPE", "Baseline", "Score", "Trend", "scores", "trend"]

CLUSTER_SCOPE = "(cluster)"


@dataclass(frozen=True, slots=True)
class Score:
    scope: str
    score: float | None
    checks: int
    failed: int
    findings: int


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a previous report said (read from its JSON by the adapter)."""

    generated: str
    overall: float | None
    namespaces: dict[str, float | None]
    findings: dict[str, str]
    """Finding id -> severity."""


@dataclass(frozen=True, slots=True)
class Trend:
    previous: str
    overall_delta: float | None
    namespace_deltas: tuple[tuple[str, float | None], ...]
    new: tuple[str, ...]
    resolved: tuple[str, ...]


def _scope(ns: str) -> str:
    return ns or CLUSTER_SCOPE


def scores(findings: tuple[Finding, ...], checks: tuple[Check, ...]) -> tuple[Score, list[Score]]:
    total: dict[str, float] = defaultdict(float)
    failed: dict[str, float] = defaultdict(float)
    n_checks: dict[str, int] = defaultdict(int)
    n_failed: dict[str, int] = defaultdict(int)
    n_findings: dict[str, int] = defaultdict(int)
    worst: dict[tuple[str, str], Finding] = {}
    for f in findings:
        n_findings[_scope(f.namespace)] += 1
        key = (f.code, f.subject)
        if key not in worst or f.level.weight > worst[key].level.weight:
            worst[key] = f
    checked = set()
    for c in checks:
        key = (c.code, c.subject)
        if key in checked:
            continue
        checked.add(key)
        scope = _scope(c.namespace)
        hit = worst.get(key)
        weight = hit.level.weight if hit is not None else CODES[c.code].severity.weight
        total[scope] += weight
        n_checks[scope] += 1
        if hit is not None:
            failed[scope] += weight
            n_failed[scope] += 1
    for key, f in worst.items():
        if key in checked:
            continue
        scope = _scope(f.namespace)
        total[scope] += f.level.weight
        failed[scope] += f.level.weight
        n_checks[scope] += 1
        n_failed[scope] += 1

    def score(t: float, x: float) -> float | None:
        return round(100.0 * (1.0 - x / t), 1) if t else None

    per = [
        Score(s, score(total[s], failed[s]), n_checks[s], n_failed[s], n_findings[s])
        for s in sorted(set(total) | set(n_findings))
    ]
    overall = Score(
        "overall",
        score(sum(total.values()), sum(failed.values())),
        sum(n_checks.values()),
        sum(n_failed.values()),
        len(findings),
    )
    return overall, per


def trend(
    baseline: Baseline, overall: Score, per: list[Score], findings: tuple[Finding, ...]
) -> Trend:
    def delta(now: float | None, before: float | None) -> float | None:
        return None if now is None or before is None else round(now - before, 1)

    ids = {f.id for f in findings}
    return Trend(
        baseline.generated,
        delta(overall.score, baseline.overall),
        tuple(
            (s.scope, delta(s.score, baseline.namespaces.get(s.scope)))
            for s in per
            if s.scope in baseline.namespaces
        ),
        tuple(sorted(ids - baseline.findings.keys())),
        tuple(sorted(baseline.findings.keys() - ids)),
    )
