"""Helpers for the audit tests: manifests written to a folder, loaded as `microseg audit`
loads them, audited."""

from __future__ import annotations

import textwrap
from pathlib import Path

from microseg.analyses.audit import AuditedWorkload, AuditOptions, AuditReport, run_audit
from microseg.engine import Connectivity
from microseg.ingest.audit_inputs import load_audit_inputs
from microseg.ingest.documents import read_paths
from microseg.model.guardrails import GuardrailSet
from microseg.model.intent import IntentSet
from microseg.model.rbac import AuditEvent


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def audit_folder(
    folder: Path,
    *,
    guardrails: GuardrailSet | None = None,
    intents: IntentSet | None = None,
    events: tuple[AuditEvent, ...] | None = None,
    frameworks: tuple[str, ...] = (),
    max_hops: int = 2,
) -> AuditReport:
    loaded = load_audit_inputs(read_paths([str(folder)]))
    conn = Connectivity.build(loaded.cluster)
    return run_audit(
        conn,
        [AuditedWorkload(n, o, loaded.secret_env.get(n, ())) for n, o in loaded.workloads],
        loaded.locate,
        guardrails=guardrails,
        intents=intents,
        events=events,
        options=AuditOptions(frameworks, "tenant", max_hops),
    )


def codes(report: AuditReport) -> set[str]:
    return {f.code for f in report.findings}
