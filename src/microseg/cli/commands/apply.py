"""`microseg apply DIR --cluster`: the semantic diff of the connectivity before and after,
a confirmation, then server-side apply of DIR's objects (field manager `microseg`).

`--dry-run=client` stops after the diff; `--dry-run=server` sends every object with
`dryRun=All`, so the API server validates (and admission webhooks see) what would be
applied without persisting it, and asks no confirmation; `none` (the default) applies
after the confirmation, or at once with `--yes`. Exit 0 when everything was applied (or
would be), 2 when an object was refused or the input is bad.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from microseg.cli.common import EXIT_BAD_INPUT, FILES, Inputs, emit, fail
from microseg.cli.mesh_session import mesh_connectivity, reading_session
from microseg.cli.options import (
    HostNet,
    HostNetworkChoice,
    LayerOpt,
    NamespaceOpt,
    NoColor,
    Quiet,
    reads_inputs,
)
from microseg.cli.usage import choice

__all__ = ["DryRun", "apply"]


class DryRun(StrEnum):
    NONE = "none"
    CLIENT = "client"
    SERVER = "server"


@reads_inputs
def apply(
    folder: Annotated[
        str,
        typer.Argument(
            metavar="DIR",
            help="The objects to apply (a file or folder of generated policies).",
            show_default=False,
        ),
    ],
    dry_run: Annotated[
        DryRun,
        typer.Option(
            "--dry-run",
            parser=choice("--dry-run", DryRun),
            help="client: show the diff only; server: the API validates without persisting; "
            "none: apply.",
        ),
    ] = DryRun.NONE,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    force_conflicts: Annotated[
        bool,
        typer.Option(
            "--force-conflicts",
            help="Take fields another field manager owns (server-side apply's force).",
        ),
    ] = False,
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    layer: LayerOpt = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Server-side apply DIR to the cluster, after showing what it changes in connectivity.
    Exit 0 applied, 2 refused."""
    from microseg.analyses.diff import comparable, diff_graphs
    from microseg.engine import WorkloadGraph
    from microseg.live.apply import apply_documents, documents_to_apply
    from microseg.render.diagnostics import render_diagnostics
    from microseg.render.diff import render_diff

    if not inputs.cluster:
        fail("apply writes to the live cluster: add --cluster (and --context to choose one)")
    if folder is None:
        fail("give DIR: the file or folder of objects to apply")
    session = reading_session(inputs, quiet, no_color, host_network, namespace, False, False)
    docs, notes = documents_to_apply([folder], namespace, inputs.max_input_bytes)
    errors = [d for d in notes if d.severity.value == "error"]
    if errors:
        sys.stderr.write(render_diagnostics(errors))
        raise typer.Exit(EXIT_BAD_INPUT)
    if not docs:
        fail(f"{folder}: no Kubernetes objects to apply")
    before = mesh_connectivity(session, None, layer, "cluster.local", "istio-system")
    after = mesh_connectivity(
        session, [folder], layer, "cluster.local", "istio-system", overlay=True
    )
    old, new = comparable(before, after)
    result = diff_graphs(WorkloadGraph.build(old), WorkloadGraph.build(new))
    context = session.cluster_read().context
    if result:
        emit(render_diff(result, "txt", ("cluster", "applied"), ("cluster", folder)))
    elif not quiet:
        sys.stderr.write("no difference in connectivity\n")
    if dry_run is DryRun.CLIENT:
        if not quiet:
            sys.stderr.write(f"{len(docs)} object(s) not sent (--dry-run=client)\n")
        return
    if dry_run is DryRun.NONE and not yes:
        if not sys.stdin.isatty():
            fail("apply asks before changing the cluster: pass --yes (stdin is not a terminal)")
        if not typer.confirm(f"Apply {len(docs)} object(s) to {context}?", err=True):
            sys.stderr.write("nothing applied\n")
            raise typer.Exit(0)
    from microseg.ingest.cluster import connect

    api = connect(inputs.config())
    results = apply_documents(api, docs, dry_run is DryRun.SERVER, force_conflicts)
    suffix = " (server dry run)" if dry_run is DryRun.SERVER else ""
    refused = [r.error for r in results if r.error is not None]
    for r in results:
        if r.error is None:
            emit(f"{r.name} {r.verb}{suffix}\n")
    if refused:
        sys.stderr.write(render_diagnostics(refused))
        sys.stderr.write(f"{len(refused)} of {len(results)} object(s) refused\n")
        raise typer.Exit(EXIT_BAD_INPUT)
