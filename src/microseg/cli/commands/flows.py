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
    from microseg.ingest.flows.store import FlowStore, ImportFailure, ImportResult

from microseg.cli.common import EXIT_BAD_INPUT, Session, fail, say
from microseg.cli.options import (
    HostNet,
    HostNetworkChoice,
    NoColor,
    Quiet,
    TextOrJson,
    output_option,
)
from microseg.cli.usage import MicrosegCommand, MicrosegGroup, choice
from microseg.ingest.flows.formats import FlowFormat

__all__ = ["Engine", "FormatChoice", "ShowFormat", "StatsFormat", "app", "open_store"]

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
        say(f"{db}: error[MS502]: {exc}\n")
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
        say(f"{name}:{line}: warning[MS501]: {reason}\n")
    if len(rows) > SHOWN_REJECTS:
        say(f"{name}: notice: more rejected records in the store's rejects table\n")


def _resolve(store: FlowStore, session: Session, paths: list[str], as_node: bool) -> str:
    from microseg.model.flows import EndpointKind, EndpointResolver  # numpy: not at start-up

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


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


@app.command("import", cls=MicrosegCommand)
def import_cmd(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Flow files or folders (read recursively), or - for stdin; with --engine "
            "spark also Parquet files.",
            show_default=False,
        ),
    ],
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="The DuckDB flow store (created when missing).", show_default=False
        ),
    ] = None,
    fmt: Annotated[
        FormatChoice,
        typer.Option(
            "--format",
            parser=choice("--format", FormatChoice),
            help="Record format (auto: from each file's first records).",
        ),
    ] = FormatChoice.AUTO,
    snapshot: Snapshot = None,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            parser=choice("--engine", Engine),
            help="Who parses and aggregates: DuckDB in this process, or Apache Spark.",
        ),
    ] = Engine.DUCKDB,
    master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="With --engine spark: the master URL (default local[*]).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="With --engine spark: write the keys, rejects and imports as Parquet "
            "folders under this new folder instead of a --db store.",
            show_default=False,
        ),
    ] = None,
    host_network: HostNet = HostNetworkChoice.NODE,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Import flow records (Hubble, Calico, Envoy/Istio JSON, CSV). Exit 2 when none could be read."""
    if out is not None and engine is not Engine.SPARK:
        fail("--out writes Parquet from Spark: add --engine spark (DuckDB writes --db)")
    if master is not None and engine is not Engine.SPARK:
        fail("--spark-master needs --engine spark")
    if (db is None) == (out is None):
        fail("give --db (the DuckDB flow store) or, with --engine spark, --out (Parquet)")
    if out is not None and out.exists():
        fail(f"--out {out}: already exists (Spark writes a new folder)")
    if out is not None and snapshot:
        fail("--cluster-snapshot resolves endpoints in a --db store, not in --out Parquet")
    session = Session(quiet, no_color, host_network.value)
    chosen = None if fmt is FormatChoice.AUTO else FlowFormat(fmt.value)
    with tempfile.TemporaryDirectory() as tmp:
        files: list[tuple[Path, str]] = []
        for item in _files(inputs, Path(tmp)):
            if isinstance(item, str):
                sys.stderr.write(item + "\n")
            else:
                files.append(item)
        if engine is Engine.SPARK:
            results = _spark_run(files, chosen, db, out, master)
            store = open_store(db) if db is not None else None
        else:
            assert db is not None
            store = open_store(db)
            try:
                results = store.import_files(files, chosen)
            except store_error() as exc:
                store.close()
                say(f"{db}: error[MS502]: {exc}\n")
                raise typer.Exit(EXIT_BAD_INPUT) from None
        try:
            done = _report(results, store, quiet)
            if store is not None and snapshot:
                sys.stdout.write(
                    _resolve(store, session, snapshot, host_network is HostNetworkChoice.NODE)
                    + "\n"
                )
        finally:
            if store is not None:
                store.close()
    if not any(r.read or r.already for r in done):  # nothing could be read
        raise typer.Exit(EXIT_BAD_INPUT)


def _spark_run(
    files: list[tuple[Path, str]],
    fmt: FlowFormat | None,
    db: str | None,
    out: Path | None,
    master: str | None,
) -> list[ImportResult | ImportFailure]:
    """The import on Spark; its keys land in `db` (or Parquet under `out`)."""
    from microseg.ingest.flows.spark import SparkUnavailable, import_with_spark, session

    try:
        spark = session(master)
    except SparkUnavailable as exc:
        say(f"error[MS503]: {exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    store = open_store(db) if db is not None else None
    try:
        return import_with_spark(spark, files, fmt, store, out)
    except store_error() as exc:
        say(f"{db}: error[MS502]: {exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as exc:  # a failed Spark job surfaces as a py4j or Spark error
        text = str(exc).strip().splitlines()
        say(f"error[MS504]: the Spark job failed: {text[0] if text else exc!r}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        if store is not None:
            store.close()


def _report(
    results: list[ImportResult | ImportFailure], store: FlowStore | None, quiet: bool
) -> list[ImportResult]:
    from microseg.ingest.flows.store import ImportFailure
    from microseg.render.flows import balance_line

    done: list[ImportResult] = []
    for result in results:
        if isinstance(result, ImportFailure):
            say(f"{result.file}: error[{result.code}]: {result.message}\n")
            continue
        done.append(result)
        name = result.file
        if result.already:
            sys.stdout.write(
                f"{name}: {result.format}, already imported (same sha256): nothing changed\n"
            )
            continue
        sys.stdout.write(
            f"{name}: {result.format}, {balance_line(result.read, result.stored, result.rejected)}\n"
        )
        if store is not None:
            _rejects(store, name, quiet)
    read = sum(r.read for r in done)
    stored = sum(r.stored for r in done)
    rejected = sum(r.rejected for r in done)
    sys.stdout.write(f"total: {balance_line(read, stored, rejected)}\n")
    return done


@app.command("stats", cls=MicrosegCommand)
def stats_cmd(
    db: Db,
    output: Annotated[StatsFormat, output_option(StatsFormat)] = StatsFormat.TEXT,
) -> None:
    """Counts of a flow store: keys, records, verdicts, formats, rejects, endpoints."""
    from microseg.render.flows import stats_json, stats_text

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
    from microseg.render.flows import flows_csv, flows_json, flows_table

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
