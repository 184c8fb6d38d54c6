"""`microseg check`: the guardrails (Pod Security Standards, images, labels, resources,
tokens, segmentation) on manifests, for CI.

Exit codes (UX.md): 0 when no enforce rule has a finding (warnings and audits are printed,
on stderr for text), 1 when one does, 2 on bad input (manifests or guardrail files).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, FILES, Inputs, Session, emit, say
from microseg.cli.guardrail_files import load_guardrail_files
from microseg.cli.options import NamespaceOpt, NoColor, Paths, Quiet, output_option, reads_inputs
from microseg.errors import Diagnostic, InputError, Severity
from microseg.render.diagnostics import render_diagnostics

if TYPE_CHECKING:
    from microseg.ingest.documents import Document
    from microseg.model.admission import ReviewRequest

__all__ = ["CheckFormat", "check"]


class CheckFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


def _bad_input(found: list[Diagnostic]) -> None:
    # A policy is read by the snapshot's reader and by the review's: one error, said once.
    diags = list({d.render(): d for d in found}.values())
    sys.stderr.write(render_diagnostics(diags))
    n = len(diags)
    sys.stderr.write(f"{n} error{'s' if n != 1 else ''}; nothing was checked\n")
    raise typer.Exit(EXIT_BAD_INPUT)


@reads_inputs
def check(
    paths: Paths,
    guardrails: Annotated[
        list[str],
        typer.Option(
            "--guardrails",
            help="Guardrails file or folder (repeatable); `microseg schema guardrails` prints "
            "its JSON Schema.",
            show_default=False,
        ),
    ],
    output: Annotated[CheckFormat, output_option(CheckFormat)] = CheckFormat.TEXT,
    namespace: NamespaceOpt = "default",
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Check manifests against guardrails, as the admission webhook would. Exit 0 admitted, 1 denied."""
    from microseg.analyses.guardrails import check_manifests
    from microseg.cli.commands.verify import tool_version
    from microseg.engine import Connectivity
    from microseg.ingest import ClusterBuilder
    from microseg.ingest.admission import ObjectError, request_from_document
    from microseg.ingest.documents import read_paths
    from microseg.render.guardrails import check_json, check_junit, check_sarif, check_text

    rules = load_guardrail_files(guardrails, quiet)
    session = Session(quiet, no_color, namespace=namespace, inputs=inputs)
    if inputs.cluster and paths:
        _bad_input([Diagnostic(Severity.ERROR, "MS001", "give PATHs or --cluster, not both")])
    if not paths and not inputs.cluster:
        _bad_input([Diagnostic(Severity.ERROR, "MS001", "no input: give files or folders, or -")])
    if inputs.cluster:  # the running cluster's objects, reviewed as their manifests would be
        try:
            source: Iterable[Document | Diagnostic] = session.cluster_read().items()
        except InputError as exc:
            _bad_input(list(exc.diagnostics))
    else:
        source = read_paths(paths or [], inputs.max_input_bytes)
    builder = ClusterBuilder(default_namespace=session.namespace)
    errors: list[Diagnostic] = []
    requests: list[ReviewRequest] = []
    docs: dict[str, Document] = {}
    for item in source:
        if isinstance(item, Diagnostic):
            (errors if item.severity is Severity.ERROR else builder.diagnostics).append(item)
            continue
        if str(item.data.get("apiVersion", "")).startswith("microseg.dev/"):
            continue  # guardrails and intents beside the manifests
        builder.add(item)
        try:
            request = request_from_document(item, session.namespace)
        except ObjectError as err:
            errors.extend(err.diagnostics)
            continue
        requests.append(request)
        docs[request.uid] = item
    try:
        cluster = builder.build()
    except InputError as exc:
        errors.extend(exc.diagnostics)
    if errors:
        _bad_input(errors)
    session.strict_check(cluster.diagnostics)
    if not quiet:
        sys.stderr.write(
            render_diagnostics(d for d in cluster.diagnostics if d.severity is not Severity.NOTICE)
        )
    conn = Connectivity.build(cluster, session.options) if rules.needs_snapshot else None
    report = check_manifests(requests, rules, conn)
    lines = {
        (r.request.uid, f.path): docs[r.request.uid].line_of(f.path, exact=True)
        for r in report.reviews
        for f in r.result.findings
        if f.path
    }
    if not quiet:
        for note in report.notes:
            say(f"notice: {note}\n")
    if output is CheckFormat.JSON:
        emit(check_json(report, lines))
    elif output is CheckFormat.SARIF:
        emit(check_sarif(report, lines, tool_version()))
    elif output is CheckFormat.JUNIT:
        emit(check_junit(report, lines))
    else:
        emit(check_text(report, lines))
    raise typer.Exit(EXIT_VIOLATION if report.failed else 0)
