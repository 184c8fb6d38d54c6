"""`microseg quarantine list|release`: the quarantines `watch --respond` applied, from the
action log, and undoing one exactly (the policies deleted, the pod's labels restored).

`list` exits 0; `release` exits 0 when everything was undone, 1 when a step was refused
(the rest is still undone, and the log says which), 2 on bad input (an unknown ID, a
quarantine already released, no cluster)."""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from microseg.cli.commands.watch import StateOpt, default_state
from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, emit, say
from microseg.cli.options import Quiet, output_option
from microseg.cli.usage import MicrosegCommand, MicrosegGroup

__all__ = ["app"]

app = typer.Typer(
    name="quarantine",
    cls=MicrosegGroup,
    rich_markup_mode="markdown",
    help="Quarantines applied by `microseg watch --respond`: list them, release one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ListFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _err(code: str, message: str) -> None:
    say(f"error[{code}]: {message}\n")
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command("list", cls=MicrosegCommand)
def list_cmd(
    state: StateOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Released and dry-run ones too.")] = False,
    output: Annotated[ListFormat, output_option(ListFormat)] = ListFormat.TEXT,
    quiet: Quiet = False,
) -> None:
    """The quarantines in force (with --all, every one the log holds)."""
    from microseg.live.actions import read_log

    folder = state or default_state()
    log = read_log(folder / "actions.jsonl")
    if log.cut and not quiet:
        sys.stderr.write(
            f"warning[MS820]: {log.cut} line(s) of the action log are cut short or not actions: skipped\n"
        )
    rows = [q for q in log.quarantines.values() if all_ or q.status == "active"]
    if output is ListFormat.JSON:
        doc = {
            "apiVersion": "microseg.dev/v1alpha1",
            "kind": "QuarantineList",
            "items": [
                {
                    "id": q.id,
                    "status": q.status,
                    "pod": q.applied.get("pod", ""),
                    "cluster": q.applied.get("cluster", ""),
                    "time": q.applied.get("time"),
                    "alert": q.applied.get("alert", {}),
                    "mode": q.applied.get("action", ""),
                    "objects": [
                        f"{o.get('kind')} {o.get('name')}"
                        for o in (q.applied.get("after") or {}).get("objects", [])
                    ],
                    "releasedAt": q.released.get("time") if q.released else None,
                }
                for q in rows
            ],
        }
        emit(json.dumps(doc, indent=2) + "\n", escaped=True)
        return
    if not rows:
        emit("no quarantine in force\n" if not all_ else "the action log is empty\n")
        return
    lines = []
    for q in rows:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(q.applied.get("time") or 0)))
        alert = q.applied.get("alert") or {}
        lines.append(
            f"{q.id}  {q.status:<8}  {q.applied.get('pod', '')}  {q.applied.get('action', '')}  "
            f"{when}  {alert.get('severity', '')} {alert.get('rule', '')}"
        )
    emit("\n".join(lines) + "\n")


@app.command("release", cls=MicrosegCommand)
def release_cmd(
    ident: Annotated[str, typer.Argument(metavar="ID", help="The quarantine's (alert's) id.")],
    state: StateOpt = None,
    context: Annotated[
        str | None,
        typer.Option(
            "--context", help="The kubeconfig context (default: current).", show_default=False
        ),
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="The kubeconfig file.", show_default=False)
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Ask the API server to check, persist nothing (dryRun=All)."
        ),
    ] = False,
    output: Annotated[ListFormat, output_option(ListFormat)] = ListFormat.TEXT,
    quiet: Quiet = False,
) -> None:
    """Undo one quarantine exactly: its policies deleted, the pod's labels restored."""
    from microseg.ingest.cluster import ClusterConfig, ConfigError, connect
    from microseg.live.actions import ActionLog, read_log
    from microseg.live.respond import release

    folder = state or default_state()
    log = read_log(folder / "actions.jsonl")
    q = log.quarantines.get(ident)
    if q is None:
        _err("MS821", f"no quarantine {ident!r} in {folder / 'actions.jsonl'}")
    assert q is not None
    if q.status == "released":
        _err("MS821", f"quarantine {ident} was released already")
    if q.status == "planned":
        _err("MS821", f"quarantine {ident} was a dry run: nothing was applied, nothing to release")
    try:
        api = connect(ClusterConfig(kubeconfig, context))
    except ConfigError as exc:
        _err("MS700", str(exc))
    if q.applied.get("cluster") and q.applied.get("cluster") != api.context and not quiet:
        sys.stderr.write(
            f"warning[MS822]: quarantine {ident} was applied in context {q.applied.get('cluster')}, "
            f"releasing it in {api.context}\n"
        )
    namespace, pod = str(q.applied["pod"]).split("/", 1)
    before = (q.applied.get("before") or {}).get("labels") or {}
    after = (q.applied.get("after") or {}).get("labels") or {}
    objects: list[dict[str, Any]] = (q.applied.get("after") or {}).get("objects") or []
    outcome = release(api, ident, namespace, pod, before, after, objects, dry_run)
    if not dry_run:
        ActionLog(folder / "actions.jsonl").append(
            {
                "action": "release",
                "id": ident,
                "time": time.time(),
                "pod": f"{namespace}/{pod}",
                "cluster": api.context,
                "before": {"labels": outcome.labels_before},
                "after": {"labels": outcome.labels_after, "objects": outcome.objects},
                "result": "released" if outcome.ok else "partial",
                "errors": outcome.errors,
            }
        )
    for e in outcome.errors:
        say(f"error[MS823]: {e}\n")
    if output is ListFormat.JSON:
        doc = {
            "apiVersion": "microseg.dev/v1alpha1",
            "kind": "QuarantineRelease",
            "id": ident,
            "pod": f"{namespace}/{pod}",
            "dryRun": dry_run,
            "released": outcome.ok,
            "labels": outcome.labels_after,
            "deleted": [f"{o['kind']} {o['name']}" for o in outcome.objects if o.get("deleted")],
            "errors": outcome.errors,
        }
        emit(json.dumps(doc, indent=2) + "\n", escaped=True)
    elif not quiet or outcome.ok:
        deleted = ", ".join(f"{o['kind']} {o['name']}" for o in outcome.objects if o.get("deleted"))
        verb = "would release" if dry_run else "released"
        emit(
            f"{verb if outcome.ok else 'partly released'} {ident}: {namespace}/{pod} labels "
            f"{json.dumps(outcome.labels_after, sort_keys=True)}; deleted {deleted or 'nothing'}\n"
        )
    raise typer.Exit(0 if outcome.ok else EXIT_VIOLATION)
