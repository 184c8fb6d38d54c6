"""`microseg audit`: network, identity and mesh, pod security and RBAC posture, mapped to
compliance frameworks, scored, compared with a previous report, as text, JSON, SARIF, HTML
or PDF (printed from the HTML by headless Chromium).

Exit codes (UX.md): 0 the audit ran (and, with `--fail-on`, no finding is that severe or
worse); 1 a finding at or above `--fail-on`; 2 bad input or usage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, FILES, Inputs, emit, fail
from microseg.cli.mesh_session import reading_session
from microseg.cli.options import (
    AssumeMesh,
    AssumeSystemPods,
    HostNet,
    HostNetworkChoice,
    IstioRoot,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    TrustDomain,
    output_option,
    reads_inputs,
)
from microseg.errors import Diagnostic, InputError, Origin, Severity
from microseg.render.diagnostics import render_diagnostics

if TYPE_CHECKING:
    from microseg.analyses.audit import Baseline
    from microseg.cli.common import Session
    from microseg.ingest.audit_inputs import AuditInputs

__all__ = ["AuditFormat", "audit"]

CODE_BASELINE = "MS920"


class AuditFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    HTML = "html"
    PDF = "pdf"


class FailOn(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


def _bad(diags: list[Diagnostic], what: str) -> None:
    sys.stderr.write(render_diagnostics(diags))
    n = len(diags)
    sys.stderr.write(f"{n} error{'s' if n != 1 else ''} {what}; nothing was audited\n")
    raise typer.Exit(EXIT_BAD_INPUT)


def _frameworks(chosen: list[str], cis_version: str) -> tuple[str, ...]:
    from microseg.analyses.audit import CIS_VERSIONS, FRAMEWORK_IDS

    if cis_version not in CIS_VERSIONS:
        fail(f"--cis-version {cis_version!r}: expected one of {', '.join(CIS_VERSIONS)}")
    names = chosen or ["all"]
    out: list[str] = []
    for name in names:
        if name == "all":
            wanted = list(FRAMEWORK_IDS)
        elif name in FRAMEWORK_IDS or (name.startswith("cis-") and name[4:] in CIS_VERSIONS):
            wanted = [name]
        else:
            fail(f"--framework {name!r}: expected all, {', '.join(FRAMEWORK_IDS)}")
        for w in wanted:
            fid = f"cis-{cis_version}" if w == "cis" else w
            if fid not in out:
                out.append(fid)
    return tuple(out)


def _baseline(path: str) -> Baseline:
    from microseg.analyses.audit import CLUSTER_SCOPE, Baseline

    def bad(message: str) -> Baseline:
        _bad([Diagnostic(Severity.ERROR, CODE_BASELINE, message, Origin(path))], "in --baseline")
        raise AssertionError  # unreachable: _bad exits

    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return bad(f"cannot read the baseline: {exc}")
    except json.JSONDecodeError as exc:
        return bad(
            f"not JSON ({exc.msg} at line {exc.lineno}): give a `microseg audit -o json` report"
        )
    if not isinstance(data, dict) or data.get("kind") != "AuditReport":
        return bad(
            "not a microseg audit report (kind AuditReport): give a `microseg audit -o json` report"
        )
    try:
        score = data["score"]["overall"]
        namespaces = {
            str(n["namespace"]): (None if n["score"] is None else float(n["score"]))
            for n in data.get("namespaces", [])
        }
        findings = {str(f["id"]): str(f["severity"]) for f in data.get("findings", [])}
    except (KeyError, TypeError, ValueError) as exc:
        return bad(f"malformed audit report: {exc!r} missing or of the wrong type")
    namespaces.setdefault(CLUSTER_SCOPE, namespaces.get(CLUSTER_SCOPE))
    return Baseline(
        str(data.get("generated", path)),
        None if score is None else float(score),
        {k: v for k, v in namespaces.items() if v is not None},
        findings,
    )


def _load(session: Session, paths: list[str] | None, assume_system_pods: bool) -> AuditInputs:
    from microseg.ingest.audit_inputs import load_audit_inputs
    from microseg.ingest.documents import read_paths

    paths = list(paths or [])
    live = session.inputs.cluster
    if live and paths:
        fail("give PATHs or --cluster, not both")
    if not live and not paths:
        fail("no input: give one or more files or folders, - for stdin, or --cluster")
    session.rbac = True
    try:
        items = session.cluster_read().items() if live else read_paths(paths)
        loaded = load_audit_inputs(
            items, namespace=session.namespace, assume_system_pods=assume_system_pods
        )
    except InputError as exc:
        _bad(list(exc.diagnostics), "in the input")
        raise AssertionError from None  # unreachable
    session.strict_check(loaded.cluster.diagnostics)
    if not session.quiet:
        sys.stderr.write(
            render_diagnostics(
                d for d in loaded.cluster.diagnostics if d.severity is not Severity.ERROR
            )
        )
    return loaded


def _check_out(out: str) -> None:
    """Refuse an --out the report cannot be written to before the audit runs, not after."""
    target = Path(out)
    if target.is_dir():
        fail(f"--out {out}: is a folder; give a file name")
    parent = target.parent
    if not parent.is_dir():
        fail(f"--out {out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        fail(f"--out {out}: not writable")


def _write(out: str, body: str) -> None:
    try:
        Path(out).write_text(body, encoding="utf-8")
    except OSError as exc:
        fail(f"--out {out}: cannot write: {exc.strerror or exc}")


def _chromium() -> str | None:
    found = os.environ.get("MICROSEG_CHROMIUM") or shutil.which("chromium")
    for candidate in (found, "/usr/bin/chromium", shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def print_pdf(html: str, out: str, timeout: float = 180.0) -> None:
    """Print the page to `out` with headless Chromium (no network: the page is
    self-contained, and background networking is off)."""
    binary = _chromium()
    if binary is None:
        fail(
            "-o pdf prints the HTML report with Chromium, which is not installed (apt-get install chromium); use -o html"
        )
    with tempfile.TemporaryDirectory(prefix="microseg-audit-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        target = Path(out).resolve()
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            fail(f"Chromium did not print the report within {timeout:.0f} s")
        if done.returncode != 0 or not target.exists():
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            fail("Chromium could not print the report: " + " | ".join(tail))


@reads_inputs
def audit(
    paths: Paths,
    framework: Annotated[
        list[str],
        typer.Option(
            "--framework",
            help="all (default), nist-800-207, nist-800-190, nist-800-53, pci-dss-4, soc2, "
            "iso-27001-2022 or cis (repeatable).",
            show_default=False,
        ),
    ] = [],  # noqa: B006 - typer's list option default
    cis_version: Annotated[
        str, typer.Option("--cis-version", help="CIS Kubernetes Benchmark version: 1.8 to 1.12.")
    ] = "1.12",
    intents: Annotated[
        list[str],
        typer.Option(
            "--intents", help="SegmentationIntent file or folder (repeatable).", show_default=False
        ),
    ] = [],  # noqa: B006
    guardrails: Annotated[
        list[str],
        typer.Option(
            "--guardrails",
            help="Guardrails file (repeatable): its pod rules, registries and Pod Security level.",
            show_default=False,
        ),
    ] = [],  # noqa: B006
    audit_log: Annotated[
        list[str],
        typer.Option(
            "--audit-log",
            help="Kubernetes API audit log (audit.k8s.io/v1 Events, JSON lines; repeatable): "
            "the permissions service accounts actually used.",
            show_default=False,
        ),
    ] = [],  # noqa: B006
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", help="A previous `audit -o json` report: the trend.", show_default=False
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding at or above this severity exists.",
            show_default=False,
        ),
    ] = None,
    tenant_label: Annotated[
        str, typer.Option("--tenant-label", help="Namespace label that names its tenant.")
    ] = "tenant",
    max_hops: Annotated[
        int,
        typer.Option(
            "--max-hops",
            help="Lateral movement from the internet beyond this many hops is a finding.",
        ),
    ] = 2,
    output: Annotated[AuditFormat, output_option(AuditFormat)] = AuditFormat.TEXT,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Write the report to FILE (required for pdf).", show_default=False
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title", help="The report's subtitle (default: the input).", show_default=False
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Text: each finding's evidence and fix.")
    ] = False,
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    assume_mesh: AssumeMesh = False,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Audit posture (network, identity, pod security, RBAC) against compliance frameworks. Exit 1 with --fail-on."""
    from microseg.analyses.audit import AuditedWorkload, AuditOptions, run_audit
    from microseg.analyses.audit import Severity as Sev
    from microseg.cli.commands.verify import tool_version
    from microseg.cli.guardrail_files import load_guardrail_files
    from microseg.cli.intent_files import load_intent_files
    from microseg.engine import Connectivity
    from microseg.model.mesh import MeshSettings
    from microseg.render.text import print_text

    chosen = _frameworks(framework, cis_version)
    if max_hops < 0:
        fail(f"--max-hops {max_hops}: expected 0 or more")
    if output is AuditFormat.PDF and not out:
        fail("-o pdf writes a file: give --out FILE")
    if out:
        _check_out(out)
    intent_set = load_intent_files(intents, quiet) if intents else None
    rules = load_guardrail_files(guardrails, quiet) if guardrails else None
    events = None
    if audit_log:
        from microseg.ingest.audit_log import read_audit_logs

        events, notes = read_audit_logs(audit_log)
        errors = [d for d in notes if d.severity is Severity.ERROR]
        if errors:
            _bad(errors, "in --audit-log")
        if not quiet:
            sys.stderr.write(render_diagnostics(notes))
    previous = _baseline(baseline) if baseline else None
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    if not trust_domain or "/" in trust_domain:
        fail(f"--trust-domain {trust_domain!r}: expected a domain such as cluster.local")
    with session.progress():
        loaded = session.stage("loading", lambda: _load(session, paths, assume_system_pods))
        cluster = replace(
            loaded.cluster, mesh=MeshSettings(trust_domain, istio_root_namespace, assume_mesh)
        )
        conn = session.stage(
            "computing connectivity", lambda: Connectivity.build(cluster, session.options)
        )
        report = session.stage(
            "auditing",
            lambda: run_audit(
                conn,
                [AuditedWorkload(n, o, loaded.secret_env.get(n, ())) for n, o in loaded.workloads],
                loaded.locate,
                guardrails=rules,
                intents=intent_set,
                events=events,
                baseline=previous,
                options=AuditOptions(chosen, tenant_label, max_hops),
            ),
        )
    generated = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    where = "the live cluster" if inputs.cluster else ", ".join(paths or [])
    if output is AuditFormat.TEXT:
        from microseg.render.audit import audit_text

        text = audit_text(report, verbose)
        if out:
            from io import StringIO

            from rich.console import Console

            buffer = StringIO()
            print_text(Console(file=buffer, width=160, no_color=True), text)
            _write(out, buffer.getvalue())
        else:
            print_text(session.out, text)
    else:
        if output is AuditFormat.JSON:
            from microseg.render.audit import audit_json

            body = audit_json(report, generated)
        elif output is AuditFormat.SARIF:
            from microseg.render.audit import audit_sarif

            body = audit_sarif(report, tool_version())
        else:
            from microseg.render.audit_html import audit_html

            body = audit_html(report, generated, title or where, tool_version())
        if output is AuditFormat.PDF:
            assert out is not None
            session.stage("printing the PDF", lambda: print_pdf(body, out))
        elif out:
            _write(out, body)
        else:
            emit(body, escaped=True)
    if not quiet and out:
        sys.stderr.write(
            f"wrote {out}: score {report.overall.score if report.overall.score is not None else 'n/a'}, "
            f"{len(report.findings)} findings\n"
        )
    if fail_on is not None:
        threshold = Sev(fail_on.value).rank
        if any(f.level.rank >= threshold for f in report.findings):
            raise typer.Exit(EXIT_VIOLATION)
