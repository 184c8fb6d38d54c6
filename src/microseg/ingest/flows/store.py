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

A file is imported in one transaction: either all its records are accounted for (stored or
rejected) and its hash recorded, or nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from microseg.ingest.flows.aggregate import KEY, aggregate
from microseg.ingest.flows.detect import detect_format
from microseg.ingest.flows.formats import FlowFormat
from microseg.ingest.flows.reader import read_file, scan, snippets
from microseg.model.flows import FlowKeys, FlowStats, Ints, ObservedEndpoint, ShownFlow

__all__ = [
    "FlowStore",
    "ImportResult",
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


def file_hash(path: Path) -> str:
    return scan(path).sha256


class FlowStore:
    """One open flow database."""

    def __init__(self, path: str) -> None:
        try:
            self.db = duckdb.connect(path)
            self.db.execute("SET TimeZone = 'UTC'")
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
        facts = scan(path)
        seen = self.imported(facts.sha256)
        if seen is not None:
            return ImportResult(name, seen, already=True)
        fmt = fmt or detect_format(path)
        db = self.db
        try:
            read_file(db, path, fmt, facts.lines)
            counts = db.execute(
                "SELECT count(*), count(*) FILTER (WHERE reason IS NOT NULL) FROM obs"
            ).fetchone()
            assert counts is not None
            read, rejected = int(counts[0]), int(counts[1])
            bad = db.execute(
                "SELECT line, reason FROM obs WHERE reason IS NOT NULL ORDER BY line"
            ).fetchall()
            lines = [int(line) for line, _ in bad]
            db.execute(
                "CREATE OR REPLACE TEMP TABLE rej AS SELECT unnest(?::BIGINT[]) AS line, "
                "unnest(?::VARCHAR[]) AS reason, unnest(?::VARCHAR[]) AS text",
                [lines, [str(reason) for _, reason in bad], snippets(path, lines)],
            )
            db.execute(f"CREATE OR REPLACE TEMP TABLE agg AS {aggregate('obs')}")
            db.execute("DROP TABLE obs")
            self._commit(name, facts.sha256, fmt, read, rejected)
        except duckdb.Error as exc:
            raise StoreError(f"cannot read: {_first_line(exc)}") from None
        return ImportResult(name, fmt.value, read, read - rejected, rejected)

    def add_aggregated(
        self, name: str, digest: str, fmt: FlowFormat, read: int, rejected: int
    ) -> None:
        """Store a file aggregated elsewhere (Spark): the caller has put its keys in the temp
        table `agg` (aggregate.aggregate's columns) and its rejects in `rej` (line, reason,
        text)."""
        try:
            self._commit(name, digest, fmt, read, rejected)
        except duckdb.Error as exc:
            raise StoreError(f"cannot write: {_first_line(exc)}") from None

    def _commit(self, name: str, digest: str, fmt: FlowFormat, read: int, rejected: int) -> None:
        """One transaction: the rejects, the keys merged, the file's hash and counts."""
        db = self.db
        db.execute("BEGIN TRANSACTION")
        try:
            db.execute(
                "INSERT INTO rejects SELECT ?, line, reason, text FROM rej ORDER BY line", [name]
            )
            self._merge(fmt)
            db.execute(
                "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [name, digest, fmt.value, read, read - rejected, rejected],
            )
            db.execute("COMMIT")
        except duckdb.Error:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute("DROP TABLE IF EXISTS agg; DROP TABLE IF EXISTS rej")

    def _merge(self, fmt: FlowFormat) -> None:
        """This file's keys (temp table `agg`) into `flows`: existing keys get the counts
        added and the seen interval widened, new keys are appended. A hash join on the key
        columns, no index: an index over eleven text columns cost more than the parsing
        at a million keys."""
        same = " AND ".join(f"f.{k} = a.{k}" for k in KEY)
        db = self.db
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


def _display(side: str) -> str:
    """How an endpoint prints: its resolution when a snapshot was given, else `ns/pod`,
    `ns/workload` or the address, as observed."""
    return (
        f"coalesce(e_{side}.name, CASE WHEN f.{side}_ns <> '' THEN f.{side}_ns || '/' || "
        f"coalesce(nullif(f.{side}_pod, ''), nullif(f.{side}_workload, ''), '?') "
        f"WHEN f.{side}_ip <> '' THEN f.{side}_ip ELSE '?' END)"
    )


def _matches(side: str) -> str:
    """`--from`/`--to`: a glob over the shown name, the observed ns/pod, ns/workload (with or
    without its kind) and the address."""
    cands = (
        _display(side),
        f"f.{side}_ip",
        f"f.{side}_ns || '/' || f.{side}_pod",
        f"f.{side}_ns || '/' || f.{side}_workload",
        f"f.{side}_ns || '/' || split_part(f.{side}_workload, '[', 1)",
        f"split_part({_display(side)}, '[', 1)",
    )
    return "(" + " OR ".join(f"{c} GLOB ?" for c in cands) + ")"


_JOIN = (
    "FROM flows f LEFT JOIN endpoints e_src ON e_src.ns = f.src_ns AND e_src.pod = f.src_pod "
    "AND e_src.workload = f.src_workload AND e_src.ip = f.src_ip "
    "LEFT JOIN endpoints e_dst ON e_dst.ns = f.dst_ns AND e_dst.pod = f.dst_pod "
    "AND e_dst.workload = f.dst_workload AND e_dst.ip = f.dst_ip"
)


def show(
    store: FlowStore,
    src: str | None = None,
    dst: str | None = None,
    verdicts: tuple[str, ...] = (),
    limit: int | None = None,
) -> list[ShownFlow]:
    where: list[str] = ["true"]
    params: list[Any] = []
    for side, pattern in (("src", src), ("dst", dst)):
        if pattern:
            where.append(_matches(side))
            params += [pattern] * 6
    if verdicts:
        where.append("f.verdict IN (SELECT unnest(?))")
        params.append(list(verdicts))
    sql = (
        f"SELECT {_display('src')}, {_display('dst')}, f.protocol, f.port, f.verdict, f.count, "
        "f.replies, coalesce(strftime(f.first_seen, '%Y-%m-%dT%H:%M:%SZ'), ''), "
        "coalesce(strftime(f.last_seen, '%Y-%m-%dT%H:%M:%SZ'), ''), f.format, "
        f"coalesce(f.detail, '') {_JOIN} WHERE {' AND '.join(where)} "
        "ORDER BY f.count DESC, 1, 2, 3, 4, 5"
        + (f" LIMIT {int(limit)}" if limit is not None else "")
    )
    return [ShownFlow(*r) for r in store.query(sql, params)]


def stats(store: FlowStore) -> FlowStats:
    q = store.query

    def groups(col: str) -> tuple[tuple[str, int, int], ...]:
        rows = q(f"SELECT {col}, count(*), sum(count) FROM flows GROUP BY 1 ORDER BY 3 DESC, 1")
        return tuple((str(a), int(b), int(c)) for a, b, c in rows)

    total = q(
        "SELECT count(*), coalesce(sum(count), 0), coalesce(sum(replies), 0), "
        "coalesce(strftime(min(first_seen), '%Y-%m-%dT%H:%M:%SZ'), ''), "
        "coalesce(strftime(max(last_seen), '%Y-%m-%dT%H:%M:%SZ'), '') FROM flows"
    )[0]
    files = q("SELECT count(*) FROM imports")[0][0]
    rejected = q("SELECT count(*) FROM rejects")[0][0]
    reasons = q("SELECT reason, count(*) FROM rejects GROUP BY 1 ORDER BY 2 DESC, 1")
    eps = q("SELECT kind, count(*) FROM endpoints GROUP BY 1 ORDER BY 1")
    return FlowStats(
        int(files),
        int(total[0]),
        int(total[1]),
        int(total[2]),
        int(rejected),
        str(total[3]),
        str(total[4]),
        groups("verdict"),
        groups("format"),
        groups("protocol"),
        tuple((str(a), int(b)) for a, b in reasons),
        tuple((str(a), int(b)) for a, b in eps),
    )
