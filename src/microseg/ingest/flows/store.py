"""The DuckDB flow store: imports files of flow records, keeps aggregated flow keys, the
rejected records and which files (by content hash) were imported.

Tables:
- `flows`: one row per flow key (source endpoint, destination endpoint, protocol,
  destination port, verdict as recorded), with `count` (request records, Calico `num_flows`),
  `replies` (reply records folded into their request's key), first/last seen, `detail`.
  Source ports are never part of a key: they are ephemeral, one per connection.
- `rejects`: file, line, reason and the start of the line, for every record not stored.
- `imports`: file, sha256, format and the counts, so importing a file twice changes nothing.
- `endpoints`: each observed endpoint resolved against a cluster snapshot (written by the
  caller, which owns the cluster model; this module only stores the answer).

One import (the files of one `flows import`) is one transaction: either all their records
are accounted for (stored or rejected) and their hashes recorded, or nothing changed. The
import's memory is bounded (MEMORY_LIMIT): DuckDB spills to disk rather than grow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from microseg.ingest.flows.aggregate import KEY
from microseg.ingest.flows.detect import UnknownFormatError, detect_format
from microseg.ingest.flows.formats import FlowFormat
from microseg.ingest.flows.query import show, stats
from microseg.ingest.flows.reader import Reader, scan, snippets
from microseg.model.flows import FlowKeys, Ints, ObservedEndpoint

__all__ = [
    "FlowStore",
    "ImportFailure",
    "ImportResult",
    "Pending",
    "StoreError",
    "show",
    "stats",
]

EP = ("ns", "pod", "workload", "ip")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
  src_ns VARCHAR NOT NULL, src_pod VARCHAR NOT NULL, src_workload VARCHAR NOT NULL,
  src_ip VARCHAR NOT NULL, dst_ns VARCHAR NOT NULL, dst_pod VARCHAR NOT NULL,
  dst_workload VARCHAR NOT NULL, dst_ip VARCHAR NOT NULL, protocol VARCHAR NOT NULL,
  port INTEGER NOT NULL, verdict VARCHAR NOT NULL,
  count BIGINT NOT NULL, replies BIGINT NOT NULL, first_seen TIMESTAMP, last_seen TIMESTAMP,
  format VARCHAR NOT NULL, detail VARCHAR
);
CREATE TABLE IF NOT EXISTS rejects (
  file VARCHAR NOT NULL, line BIGINT NOT NULL, reason VARCHAR NOT NULL, text VARCHAR
);
CREATE TABLE IF NOT EXISTS imports (
  file VARCHAR NOT NULL, sha256 VARCHAR PRIMARY KEY, format VARCHAR NOT NULL,
  read BIGINT NOT NULL, stored BIGINT NOT NULL, rejected BIGINT NOT NULL,
  imported_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
  ns VARCHAR NOT NULL, pod VARCHAR NOT NULL, workload VARCHAR NOT NULL, ip VARCHAR NOT NULL,
  kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
  PRIMARY KEY (ns, pod, workload, ip)
);
"""


MEMORY_LIMIT = "1GB"


class StoreError(Exception):
    """The database or a file could not be read or written (a message for the user)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    file: str
    format: str
    read: int = 0
    stored: int = 0
    rejected: int = 0
    already: bool = False
    """The same content (sha256) was imported before: nothing changed."""


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """A file that could not be imported (the others of the run still are)."""

    file: str
    code: str
    """MS001: it cannot be read; MS500: its format is unknown or its records unreadable."""
    message: str


@dataclass(frozen=True, slots=True)
class Pending:
    """A file read into the run's observations, not yet committed."""

    path: Path
    name: str
    sha256: str
    format: FlowFormat
    read: int = 0
    rejected: int = 0


def file_hash(path: Path) -> str:
    return scan(path).sha256


class FlowStore:
    """One open flow database."""

    def __init__(self, path: str) -> None:
        try:
            self.db = duckdb.connect(path)
            self.db.execute("SET TimeZone = 'UTC'")
            # DuckDB would take up to 80% of the machine's memory; an import of millions of
            # records keeps within MEMORY_LIMIT by spilling its sorts and hash tables to
            # disk (MICROSEG_DUCKDB_MEMORY, e.g. 8GB, trades memory for speed).
            limit = os.environ.get("MICROSEG_DUCKDB_MEMORY", MEMORY_LIMIT)
            self.db.execute(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
            self.db.execute(_SCHEMA)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open the flow database: {_first_line(exc)}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> FlowStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- import ---------------------------------------------------------------------------
    def imported(self, digest: str) -> str | None:
        """The format a file of this content (sha256) was imported as, if it was."""
        seen = self.db.execute("SELECT format FROM imports WHERE sha256 = ?", [digest]).fetchone()
        return None if seen is None else str(seen[0])

    def import_file(self, path: Path, name: str, fmt: FlowFormat | None = None) -> ImportResult:
        """Read one file into the store. `name` is how the file is recorded and reported."""
        (got,) = self.import_files([(path, name)], fmt)
        if isinstance(got, ImportFailure):
            if got.code == "MS500" and got.message.startswith("cannot tell"):
                raise UnknownFormatError(got.message)
            raise StoreError(got.message)
        return got

    def import_files(
        self, files: Sequence[tuple[Path, str]], fmt: FlowFormat | None = None
    ) -> list[ImportResult | ImportFailure]:
        """Read files into the store as one run: each file's records are parsed by DuckDB
        (reader.py), the two ends' reports of a connection are folded across the run's
        files (aggregate.fold), and everything is committed in one transaction. A file
        already imported (same sha256, before or earlier in this run) changes nothing."""
        results: list[ImportResult | ImportFailure] = []
        pending: list[Pending] = []
        digests: dict[str, str] = {}
        reader = Reader(self.db)
        try:
            for path, name in files:
                try:
                    facts = scan(path)
                    seen = self.imported(facts.sha256) or digests.get(facts.sha256)
                    if seen is not None:
                        results.append(ImportResult(name, seen, already=True))
                        continue
                    chosen = fmt or detect_format(path)
                except OSError as exc:
                    results.append(ImportFailure(name, "MS001", exc.strerror or str(exc)))
                    continue
                except UnknownFormatError as exc:
                    results.append(ImportFailure(name, "MS500", str(exc)))
                    continue
                try:
                    reader.read(path, name, chosen, facts.lines)
                except duckdb.Error as exc:
                    message = f"cannot read: {_first_line(exc)}"
                    results.append(ImportFailure(name, "MS500", message))
                    continue
                digests[facts.sha256] = chosen.value
                pending.append(Pending(path, name, facts.sha256, chosen))
                results.append(ImportResult(name, chosen.value))
            committed = {p.name: p for p in self._commit_duckdb(reader, pending)}
        finally:
            reader.close()
        return [
            _counted(r, committed[r.file]) if isinstance(r, ImportResult) and not r.already else r
            for r in results
        ]

    def _commit_duckdb(self, reader: Reader, pending: list[Pending]) -> list[Pending]:
        if not pending:
            return []
        db = self.db
        try:
            tables = {fmt: reader.obs(fmt) for fmt in sorted({p.format for p in pending})}
            counted = []
            db.execute(
                "CREATE OR REPLACE TEMP TABLE rej_all "
                "(file VARCHAR, line BIGINT, reason VARCHAR, text VARCHAR)"
            )
            for p in pending:
                table = tables[p.format]
                counts = db.execute(
                    f"SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL) FROM {table} "
                    "WHERE file = ?",
                    [p.name],
                ).fetchone()
                assert counts is not None
                bad = db.execute(
                    f"SELECT line, reason FROM {table} WHERE file = ? AND reason IS NOT NULL "
                    "ORDER BY line",
                    [p.name],
                ).fetchall()
                lines = [int(line) for line, _ in bad]
                db.execute(
                    "INSERT INTO rej_all SELECT ?, unnest(?::BIGINT[]), unnest(?::VARCHAR[]), "
                    "unnest(?::VARCHAR[])",
                    [p.name, lines, [str(r) for _, r in bad], snippets(p.path, lines)],
                )
                counted.append(replace(p, read=int(counts[0]), rejected=int(counts[1])))
            union = " UNION ALL ".join(reader.keys(fmt) for fmt in tables)
            db.execute(f"CREATE OR REPLACE TEMP TABLE agg_all AS {union}")
            self.commit_run(counted)
        except duckdb.Error as exc:
            raise StoreError(f"cannot read: {_first_line(exc)}") from None
        return counted

    def commit_run(self, files: Sequence[Pending]) -> None:
        """One transaction for a run: each file's rejects (temp table `rej_all`: file, line,
        reason, text), its keys merged (temp table `agg_all`: file and
        aggregate.aggregate's columns), its hash and counts. Spark's engine fills the two
        tables the same way."""
        db = self.db
        db.execute("BEGIN TRANSACTION")
        try:
            for p in files:
                db.execute(
                    "INSERT INTO rejects SELECT file, line, reason, text FROM rej_all "
                    "WHERE file = ? ORDER BY line",
                    [p.name],
                )
                name = "'" + p.name.replace("'", "''") + "'"
                db.execute(
                    "CREATE OR REPLACE TEMP VIEW agg AS SELECT * EXCLUDE (file) FROM agg_all "
                    f"WHERE file = {name}"
                )
                self._merge(p.format)
                db.execute(
                    "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                    [p.name, p.sha256, p.format.value, p.read, p.read - p.rejected, p.rejected],
                )
            db.execute("COMMIT")
        except duckdb.Error:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute(
                "DROP VIEW IF EXISTS agg; DROP TABLE IF EXISTS agg_all; DROP TABLE IF EXISTS rej_all"
            )

    def _merge(self, fmt: FlowFormat) -> None:
        """One file's keys (temp table `agg`) into `flows`: existing keys get the counts
        added and the seen interval widened, new keys are appended. A hash join on the key
        columns, no index: an index over eleven text columns cost more than the parsing
        at a million keys."""
        same = " AND ".join(f"f.{k} = a.{k}" for k in KEY)
        db = self.db
        empty = db.execute("SELECT NOT EXISTS (SELECT 1 FROM flows)").fetchone()
        if empty is not None and empty[0]:
            db.execute("INSERT INTO flows BY NAME SELECT a.*, ? AS format FROM agg a", [fmt.value])
            return
        db.execute(
            f"""UPDATE flows f SET count = f.count + a.count, replies = f.replies + a.replies,
              first_seen = least(f.first_seen, a.first_seen),
              last_seen = greatest(f.last_seen, a.last_seen),
              detail = coalesce(f.detail, a.detail)
            FROM agg a WHERE {same}"""
        )
        db.execute(
            f"""INSERT INTO flows BY NAME
            SELECT a.*, ? AS format FROM agg a WHERE NOT EXISTS (
              SELECT 1 FROM flows f WHERE {same})""",
            [fmt.value],
        )

    # -- endpoints ------------------------------------------------------------------------
    def distinct_endpoints(self) -> list[ObservedEndpoint]:
        rows = self.db.execute(
            "SELECT DISTINCT src_ns, src_pod, src_workload, src_ip FROM flows UNION "
            "SELECT DISTINCT dst_ns, dst_pod, dst_workload, dst_ip FROM flows"
        ).fetchall()
        return [ObservedEndpoint(*map(str, r)) for r in rows]

    def put_resolution(self, rows: list[tuple[ObservedEndpoint, str, str]]) -> None:
        """Each endpoint's resolution (kind: pod, service, node, external, unresolved; name)."""
        self.db.execute("BEGIN TRANSACTION")
        self.db.execute("DELETE FROM endpoints")
        if rows:
            self.db.executemany(
                "INSERT INTO endpoints VALUES (?, ?, ?, ?, ?, ?)",
                [(e.ns, e.pod, e.workload, e.ip, kind, name) for e, kind, name in rows],
            )
        self.db.execute("COMMIT")

    # -- reading --------------------------------------------------------------------------
    def key_arrays(self) -> FlowKeys:
        """All keys, endpoints factorised in SQL so that Python sees each endpoint once."""
        db = self.db
        db.execute(
            "CREATE OR REPLACE TEMP TABLE eps AS SELECT row_number() OVER (ORDER BY ns, pod, workload, ip) - 1 AS id, * FROM ("
            "SELECT src_ns AS ns, src_pod AS pod, src_workload AS workload, src_ip AS ip FROM flows UNION "
            "SELECT dst_ns, dst_pod, dst_workload, dst_ip FROM flows)"
        )
        endpoints = tuple(
            ObservedEndpoint(*map(str, r))
            for r in db.execute("SELECT ns, pod, workload, ip FROM eps ORDER BY id").fetchall()
        )
        protocols = tuple(
            str(r[0])
            for r in db.execute("SELECT DISTINCT protocol FROM flows ORDER BY 1").fetchall()
        )
        verdicts = tuple(
            str(r[0])
            for r in db.execute("SELECT DISTINCT verdict FROM flows ORDER BY 1").fetchall()
        )
        got: dict[str, Any] = db.execute(
            """SELECT s.id AS src, d.id AS dst,
                 list_position(?, f.protocol) - 1 AS protocol, f.port AS port,
                 list_position(?, f.verdict) - 1 AS verdict, f.count AS count
               FROM flows f
               JOIN eps s ON s.ns = f.src_ns AND s.pod = f.src_pod AND s.workload = f.src_workload AND s.ip = f.src_ip
               JOIN eps d ON d.ns = f.dst_ns AND d.pod = f.dst_pod AND d.workload = f.dst_workload AND d.ip = f.dst_ip
               ORDER BY ALL""",
            [list(protocols), list(verdicts)],
        ).fetchnumpy()

        def col(name: str) -> Ints:
            return np.asarray(got[name], dtype=np.int64)

        return FlowKeys(
            endpoints,
            protocols,
            verdicts,
            col("src"),
            col("dst"),
            col("protocol"),
            col("port"),
            col("verdict"),
            col("count"),
        )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params or []).fetchall()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _table(fmt: FlowFormat) -> str:
    return f"obs_{fmt.value}"


def _counted(result: ImportResult, p: Pending) -> ImportResult:
    return replace(result, read=p.read, stored=p.read - p.rejected, rejected=p.rejected)
