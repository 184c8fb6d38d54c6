"""`microseg flows import|stats|show`: observed traffic into a DuckDB flow store, and out.

`import` exits 0 when it read anything (rejected records are reported, first ones on
stderr as `file:line: warning[MS501]: reason`, all of them in the store's `rejects` table)
and 2 only when nothing could be read. Importing a file whose content (sha256) is already
in the store changes nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from microseg.ingest.flows.store import FlowStore, ImportResult

from microseg.cli.common import EXIT_BAD_INPUT, Session, fail
from microseg.cli.options import (
    HostNet,
    HostNetworkChoice,
    NoColor,
    Quiet,
    TextOrJson,
    output_option,
)
from microseg.cli.usage import MicrosegCommand, MicrosegGroup, choice
from microseg.ingest.flows.detect import UnknownFormatError
from microseg.ingest.flows.formats import FlowFormat
from microseg.model.flows import EndpointKind, EndpointResolver
from microseg.render.flows import (
    balance_line,
    flows_csv,
    flows_json,
    flows_table,
    stats_json,
    stats_text,
)

__all__ = ["FormatChoice", "ShowFormat", "StatsFormat", "app", "open_store"]

SHOWN_REJECTS = 10


class FormatChoice(StrEnum):
    AUTO = "auto"
    HUBBLE = "hubble"
    CALICO = "calico"
    ENVOY = "envoy"
    CSV = "csv"


class ShowFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


StatsFormat = TextOrJson


Db = Annotated[str, typer.Option("--db", help="The DuckDB flow store (created when missing).")]
Snapshot = Annotated[
    list[str] | None,
    typer.Option(
        "--cluster-snapshot",
        help="Manifests (files, folders, -) to resolve endpoints against: pods, workloads, "
        "Service ClusterIPs, nodes (repeatable).",
        show_default=False,
    ),
]

app = typer.Typer(
    name="flows",
    cls=MicrosegGroup,
    rich_markup_mode="markdown",
    help="Observed traffic: import flow logs into a DuckDB store, count them, list them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def store_error() -> type[Exception]:
    from microseg.ingest.flows.store import StoreError

    return StoreError


def open_store(db: str) -> FlowStore:
    from microseg.ingest.flows.store import FlowStore, StoreError

    try:
        return FlowStore(db)
    except StoreError as exc:
        sys.stderr.write(f"{db}: error[MS502]: {exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _files(inputs: list[str], tmp: Path) -> Iterator[tuple[Path, str] | str]:
    """Each input file with the name it is recorded under; a string for a path that cannot
    be read (reported, not fatal: the others are still imported)."""
    for spec in inputs:
        if spec == "-":
            target = tmp / "stdin"
            with target.open("wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out)
            yield target, "<stdin>"
            continue
        path = Path(spec)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                yield f"{spec}: warning[MS005]: a folder without flow files"
            for p in found:
                yield p, str(p)
        elif path.is_file() and os.access(path, os.R_OK):
            yield path, spec
        else:
            yield f"{spec}: error[MS001]: no such file or folder, or it cannot be read"


def _rejects(store: FlowStore, name: str, quiet: bool) -> None:
    if quiet:
        return
    rows = store.query(
        "SELECT line, reason FROM rejects WHERE file = ? ORDER BY line LIMIT ?",
        [name, SHOWN_REJECTS + 1],
    )
    for line, reason in rows[:SHOWN_REJECTS]:
        sys.stderr.write(f"{name}:{line}: warning[MS501]: {reason}\n")
    if len(rows) > SHOWN_REJECTS:
        sys.stderr.write(f"{name}: notice: more rejected records in the store's rejects table\n")


def _resolve(store: FlowStore, session: Session, paths: list[str], as_node: bool) -> str:
    with session.progress():
        cluster = session.load(paths)
    resolver = EndpointResolver(cluster, as_node)
    rows = []
    counts: dict[str, int] = {}
    for ep in store.distinct_endpoints():
        got = resolver.resolve(ep.ns, ep.pod, ep.workload, ep.ip)
        rows.append((ep, got.kind.value, got.name))
        counts[got.kind.value] = counts.get(got.kind.value, 0) + 1
    store.put_resolution(rows)
    unresolved = counts.get(EndpointKind.UNRESOLVED.value, 0)
    parts = ", ".join(f"{k} {n:,}" for k, n in sorted(counts.items()) if k != "unresolved")
    return f"endpoints: {len(rows) - unresolved:,} resolved ({parts or 'none'}), {unresolved:,} unresolved"


@app.command("import", cls=MicrosegCommand)
def import_cmd(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Flow files or folders (read recursively), or - for stdin.", show_default=False
        ),
    ],
    db: Db,
    fmt: Annotated[
        FormatChoice,
        typer.Option(
            "--format",
            parser=choice("--format", FormatChoice),
            help="Record format (auto: from each file's first records).",
        ),
    ] = FormatChoice.AUTO,
    snapshot: Snapshot = None,
    host_network: HostNet = HostNetworkChoice.NODE,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Import flow records (Hubble, Calico, Envoy/Istio JSON, CSV). Exit 2 when none could be read."""
    session = Session(quiet, no_color, host_network.value)
    chosen = None if fmt is FormatChoice.AUTO else FlowFormat(fmt.value)
    results: list[ImportResult] = []
    with open_store(db) as store, tempfile.TemporaryDirectory() as tmp:
        for item in _files(inputs, Path(tmp)):
            if isinstance(item, str):
                sys.stderr.write(item + "\n")
                continue
            path, name = item
            try:
                result = store.import_file(path, name, chosen)
            except (store_error(), UnknownFormatError) as exc:
                sys.stderr.write(f"{name}: error[MS500]: {exc}\n")
                continue
            except OSError as exc:
                sys.stderr.write(f"{name}: error[MS001]: {exc.strerror or exc}\n")
                continue
            results.append(result)
            if result.already:
                sys.stdout.write(
                    f"{name}: {result.format}, already imported (same sha256): nothing changed\n"
                )
                continue
            sys.stdout.write(
                f"{name}: {result.format}, {balance_line(result.read, result.stored, result.rejected)}\n"
            )
            _rejects(store, name, quiet)
        read = sum(r.read for r in results)
        stored = sum(r.stored for r in results)
        rejected = sum(r.rejected for r in results)
        sys.stdout.write(f"total: {balance_line(read, stored, rejected)}\n")
        if snapshot:
            sys.stdout.write(
                _resolve(store, session, snapshot, host_network is HostNetworkChoice.NODE) + "\n"
            )
    if not any(r.read or r.already for r in results):  # nothing could be read
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command("stats", cls=MicrosegCommand)
def stats_cmd(
    db: Db,
    output: Annotated[StatsFormat, output_option(StatsFormat)] = StatsFormat.TEXT,
) -> None:
    """Counts of a flow store: keys, records, verdicts, formats, rejects, endpoints."""
    if not Path(db).exists():
        fail(f"--db {db}: no such flow store (create one with `microseg flows import`)")
    with open_store(db) as store:
        from microseg.ingest.flows.store import stats

        s = stats(store)
    sys.stdout.write(stats_json(s) if output is StatsFormat.JSON else stats_text(s))


@app.command("show", cls=MicrosegCommand)
def show_cmd(
    db: Db,
    src: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Source: ns/name, a glob such as 'shop/*', or an address.",
            show_default=False,
        ),
    ] = None,
    dst: Annotated[
        str | None, typer.Option("--to", help="Destination, as --from.", show_default=False)
    ] = None,
    verdict: Annotated[
        list[str] | None,
        typer.Option(
            "--verdict",
            help="Only keys with this recorded verdict (repeatable), e.g. dropped.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many keys.", show_default=False)
    ] = None,
    output: Annotated[ShowFormat, output_option(ShowFormat)] = ShowFormat.TABLE,
) -> None:
    """List flow keys, most frequent first."""
    if not Path(db).exists():
        fail(f"--db {db}: no such flow store (create one with `microseg flows import`)")
    if limit is not None and limit < 0:
        fail(f"--limit {limit}: expected 0 or more")
    with open_store(db) as store:
        from microseg.ingest.flows.store import show

        flows = show(store, src, dst, tuple(v.lower() for v in verdict or ()), limit)
    if output is ShowFormat.JSON:
        sys.stdout.write(flows_json(flows))
    elif output is ShowFormat.CSV:
        sys.stdout.write(flows_csv(flows))
    else:
        sys.stdout.write(flows_table(flows))
