"""The same import on Apache Spark (`flows import --engine spark`): Spark reads and parses
the files, runs formats.py's normalising SQL and aggregate.py's finish, fold and
aggregation in its own dialect (dialect.SPARK), and the keys and rejects land in the same
DuckDB store (FlowStore.commit_run) or, with `--out`, in Parquet.

What differs from DuckDB's reader, and why:
- Lines are numbered without a pass in Python: each row's split (`_metadata.file_path`,
  `file_block_start`) and `monotonically_increasing_id()` (consecutive within a split)
  give its place in the file once the splits' row counts are summed in offset order.
- JSON is parsed by `from_json` with schema.py's fields as a Spark schema (PERMISSIVE,
  single quotes refused as DuckDB refuses them); a line is JSON when the parser took it
  whole, or, for the rare others, when `try_parse_json` (strict JSON) can read it.
- Lines that are not UTF-8 are found by `is_valid_utf8` (Spark's text reader keeps the
  bytes as they are).
- Parquet inputs (`*.parquet`, or a folder of them) are rows, not lines: each row is
  turned into a JSON record (`to_json`; the CSV format's columns into a CSV line) and
  numbered by `_metadata.row_index`.

Spark is optional (`pip install 'microseg[spark]'`, and a Java 17+ runtime): a missing
one is a clear error (SparkUnavailable), never an ImportError.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from microseg.ingest.flows.aggregate import KEY, OBS, aggregate, finish, fold
from microseg.ingest.flows.detect import UnknownFormatError, detect_format, detect_lines
from microseg.ingest.flows.dialect import SPARK
from microseg.ingest.flows.formats import CSV_HEADER, NORMAL, FlowFormat, select_for
from microseg.ingest.flows.reader import SNIPPET, scan
from microseg.ingest.flows.schema import CALICO, ENVOY, HUBBLE, Field, spark_ddl
from microseg.ingest.flows.store import FlowStore, ImportFailure, ImportResult, Pending

__all__ = ["SparkUnavailable", "import_with_spark", "session", "stop"]

_FIELDS: dict[FlowFormat, dict[str, Field]] = {
    FlowFormat.HUBBLE: HUBBLE,
    FlowFormat.CALICO: CALICO,
    FlowFormat.ENVOY: ENVOY,
}
_SESSIONS: dict[str, Any] = {}
_LOG4J = "rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n" + (
    "appender.console.type = Console\nappender.console.name = console\n"
    "appender.console.target = SYSTEM_ERR\nappender.console.layout.type = PatternLayout\n"
    "appender.console.layout.pattern = spark: %p %c{1}: %m%n\n"
)


class SparkUnavailable(Exception):
    """pyspark or Java is missing, or the Spark session could not start."""


def session(master: str | None = None) -> Any:
    """A SparkSession for `master` (default `local[*]`), started once per process."""
    key = master or "local[*]"
    if key in _SESSIONS:
        return _SESSIONS[key]
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "--engine spark needs pyspark: pip install 'microseg[spark]'"
        ) from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise SparkUnavailable(
            "--engine spark needs a Java 17+ runtime: install one (Debian: apt-get install "
            "default-jre-headless) or set JAVA_HOME"
        )
    conf = Path(tempfile.mkdtemp(prefix="microseg-spark-")) / "log4j2.properties"
    conf.write_text(_LOG4J)
    try:
        spark = (
            SparkSession.builder.master(key)
            .appName("microseg flows import")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # Fewer, larger jobs: adaptive execution runs every shuffle stage as a job of
            # its own, which costs more than it saves on these plans (small tables are
            # broadcast by hints instead).
            .config("spark.sql.adaptive.enabled", "false")
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            .config("spark.sql.shuffle.partitions", str(max(2, (os.cpu_count() or 2) * 2)))
            .config("spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile={conf}")
            .getOrCreate()
        )
    except Exception as exc:  # py4j and the JVM raise many kinds; the user needs one line
        text = str(exc).strip().splitlines()
        raise SparkUnavailable(
            f"Spark did not start: {text[0] if text else type(exc).__name__}"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    _SESSIONS[key] = spark
    return spark


def stop() -> None:
    for spark in _SESSIONS.values():
        spark.stop()
    _SESSIONS.clear()


@dataclass(frozen=True, slots=True)
class _Input:
    path: Path
    name: str
    sha256: str
    lines: int
    format: FlowFormat
    parquet: bool


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _sample_parquet(spark: Any, path: Path) -> list[str]:
    rows = spark.read.parquet(str(path)).limit(20)
    if {c.lower() for c in rows.columns} >= set(CSV_HEADER.split(",")):
        return [CSV_HEADER]
    return [r[0] for r in rows.selectExpr("to_json(struct(*))").collect()]


def import_with_spark(
    spark: Any,
    files: Sequence[tuple[Path, str]],
    fmt: FlowFormat | None,
    store: FlowStore | None,
    out: Path | None = None,
) -> list[ImportResult | ImportFailure]:
    """Import `files` as one run with Spark, into `store` or (with `out`) as Parquet."""
    results: list[ImportResult | ImportFailure] = []
    inputs: list[_Input] = []
    digests: dict[str, str] = {}
    for path, name in files:
        try:
            facts = scan(path)
            seen = (store.imported(facts.sha256) if store else None) or digests.get(facts.sha256)
            if seen is not None:
                results.append(ImportResult(name, seen, already=True))
                continue
            parquet = _is_parquet(path)
            chosen = fmt or (
                detect_lines(_sample_parquet(spark, path)) if parquet else detect_format(path)
            )
        except OSError as exc:
            results.append(ImportFailure(name, "MS001", exc.strerror or str(exc)))
            continue
        except UnknownFormatError as exc:
            results.append(ImportFailure(name, "MS500", str(exc)))
            continue
        digests[facts.sha256] = chosen.value
        inputs.append(_Input(path, name, facts.sha256, facts.lines, chosen, parquet))
        results.append(ImportResult(name, chosen.value))
    if not inputs:
        return results
    with tempfile.TemporaryDirectory(prefix="microseg-spark-") as tmp:
        counts = _run(spark, inputs, Path(tmp), out)
        pending = [
            Pending(i.path, i.name, i.sha256, i.format, *counts.get(i.name, (0, 0))) for i in inputs
        ]
        if store is not None:
            _load(store, Path(tmp))
            store.commit_run(pending)
        elif out is not None:
            _write_imports(spark, pending, out)
    done = {p.name: p for p in pending}
    return [
        replace(r, read=p.read, stored=p.read - p.rejected, rejected=p.rejected)
        if isinstance(r, ImportResult) and not r.already and (p := done.get(r.file))
        else r
        for r in results
    ]


def _names(spark: Any, inputs: Sequence[_Input]) -> None:
    rows = [(str(i.path.resolve()), i.name, i.lines if not i.parquet else 0) for i in inputs]
    spark.createDataFrame(
        rows, "path STRING, name STRING, last_line BIGINT"
    ).createOrReplaceTempView("ms_names")


def _numbered_text(spark: Any, paths: list[str], n: int) -> Any:
    """(path, line, text) for every physical line, numbered exactly."""
    spark.read.text(paths).selectExpr(
        "value AS text",
        "url_decode(regexp_replace(_metadata.file_path, '^file:(//)?', '')) AS path",
        "_metadata.file_block_start AS blk",
        "monotonically_increasing_id() AS mid",
    ).createOrReplaceTempView(f"ms_base{n}")
    return spark.sql(
        f"""
        WITH splits AS (
          SELECT path, blk, min(mid) AS m0, count(*) AS c FROM ms_base{n} GROUP BY path, blk
        ), before AS (
          SELECT path, blk, m0,
                 sum(c) OVER (PARTITION BY path ORDER BY blk ROWS UNBOUNDED PRECEDING) - c AS n0
          FROM splits
        )
        SELECT /*+ BROADCAST(s) */ b.path, n0 + (b.mid - m0) + 1 AS line, b.text
        FROM ms_base{n} b JOIN before s ON b.path = s.path AND b.blk = s.blk
        """
    )


def _numbered_parquet(spark: Any, paths: list[str], fmt: FlowFormat) -> Any:
    df = spark.read.parquet(*paths)
    if fmt is FlowFormat.CSV:
        cols = {c.lower(): c for c in df.columns}
        text = (
            "concat_ws(',', "
            + ", ".join(f"coalesce(CAST(`{cols[c]}` AS STRING), '')" for c in CSV_HEADER.split(","))
            + ")"
        )
    else:
        text = "to_json(struct(*))"
    return df.selectExpr(
        "url_decode(regexp_replace(_metadata.file_path, '^file:(//)?', '')) AS path",
        "_metadata.row_index + 1 AS line",
        f"{text} AS text",
    )


def _src(spark: Any, numbered: Any, fmt: FlowFormat, n: int) -> None:
    numbered.createOrReplaceTempView(f"ms_numbered{n}")
    spark.sql(
        "SELECT /*+ BROADCAST(n) */ n.name AS file, l.line, l.text, n.last_line, "
        "is_valid_utf8(l.text) AS utf8 "
        f"FROM ms_numbered{n} l JOIN ms_names n ON l.path = n.path"
    ).createOrReplaceTempView(f"ms_lines{n}")
    if fmt is FlowFormat.CSV:
        spark.sql(f"SELECT file, line, text FROM ms_lines{n} WHERE utf8").createOrReplaceTempView(
            f"ms_src{n}"
        )
        return
    schema = spark_ddl({**_FIELDS[fmt], "_corrupt": "string"})
    spark.sql(
        f"""
        SELECT file, line, text, coalesce(trim(text), '') = '' AS skip, ok,
               ok AND ltrim(text) LIKE '{{%' AS obj, r
        FROM (
          SELECT file, line, text, r,
                 CASE WHEN r._corrupt IS NULL AND ltrim(text) LIKE '{{%' THEN true
                      WHEN coalesce(trim(text), '') = '' THEN false
                      ELSE try_parse_json(text) IS NOT NULL END AS ok
          FROM (
            SELECT file, line, text,
                   from_json(text, '{schema}', map('mode', 'PERMISSIVE',
                             'columnNameOfCorruptRecord', '_corrupt',
                             'allowSingleQuotes', 'false')) AS r
            FROM ms_lines{n} WHERE utf8))
        """
    ).createOrReplaceTempView(f"ms_src{n}")


def _run(
    spark: Any, inputs: Sequence[_Input], tmp: Path, out: Path | None
) -> dict[str, tuple[int, int]]:
    """Spark jobs, one per (format, text or Parquet) group of inputs; the keys and rejects
    go to Parquet under `tmp` (or `out`), the per-file counts come back."""
    _names(spark, inputs)
    counts: dict[str, tuple[int, int]] = {}
    groups: dict[tuple[FlowFormat, bool], list[str]] = {}
    for i in inputs:
        groups.setdefault((i.format, i.parquet), []).append(str(i.path.resolve()))
    obs_cols = ", ".join(OBS)
    parts = []
    for n, ((fmt, parquet), paths) in enumerate(sorted(groups.items())):
        numbered = (
            _numbered_parquet(spark, paths, fmt) if parquet else _numbered_text(spark, paths, n)
        )
        _src(spark, numbered, fmt, n)
        cols = ", ".join(NORMAL)
        norm = f"SELECT * FROM ({select_for(fmt, SPARK, f'ms_src{n}')}) AS t({cols})"
        spark.sql(
            f"SELECT /*+ BROADCAST(n) */ t.*, n.last_line FROM ({norm}) t "
            "JOIN ms_names n ON t.file = n.name"
        ).createOrReplaceTempView(f"ms_norm{n}")
        nulls = ", ".join(_UTF8.get(c, f"NULL AS {c}") for c in OBS)
        spark.sql(
            f"SELECT {obs_cols} FROM ({finish(f'ms_norm{n}', 'last_line')}) UNION ALL "
            f"SELECT {nulls} FROM ms_lines{n} WHERE NOT utf8"
        ).createOrReplaceTempView(f"ms_obs{n}")
        parts.append(f"SELECT {obs_cols}, '{fmt.value}' AS format FROM ms_obs{n}")
        spark.sql(f"SELECT file, line, text FROM ms_lines{n}").createOrReplaceTempView(
            f"ms_text{n}"
        )
    # One persisted relation for every group, so that the counts, the keys and the rejects
    # are three jobs whatever the number of formats.
    obs = spark.sql(" UNION ALL ".join(parts)).persist()
    obs.createOrReplaceTempView("ms_obs")
    counts = {
        str(file): (int(read), int(rejected))
        for file, read, rejected in spark.sql(
            "SELECT file, count(*), count(reason) FROM ms_obs GROUP BY file"
        ).collect()
    }
    key = ", ".join(KEY)
    keys = " UNION ALL ".join(
        f"SELECT *, '{fmt.value}' AS format FROM ("
        + aggregate(
            f"({fold(f'(SELECT * FROM ms_obs WHERE format = {fmt.value!r})', fmt)})", ("file",)
        )
        + ")"
        for fmt in sorted({f for f, _ in groups})
    )
    if out is None:
        cols = "file, " + key + ", count, replies, first_seen, last_seen, detail"
        agg = spark.sql(f"SELECT {cols} FROM ({keys})")
    else:
        agg = spark.sql(
            f"SELECT {key}, sum(count) AS count, sum(replies) AS replies, "
            "min(first_seen) AS first_seen, max(last_seen) AS last_seen, "
            f"min(detail) AS detail, min(format) AS format FROM ({keys}) GROUP BY {key}"
        )
    texts = " UNION ALL ".join(f"SELECT * FROM ms_text{n}" for n in range(len(groups)))
    if not any(rejected for _, rejected in counts.values()):
        texts = "SELECT * FROM ms_text0 WHERE false"  # no rejects: no second pass over the lines
    rejects = spark.sql(
        # Every reject is a line of its file: the (few) rejects are broadcast to the lines.
        f"""SELECT /*+ BROADCAST(o) */ o.file, o.line, o.reason,
                   substr(make_valid_utf8(l.text), 1, {SNIPPET}) AS text
        FROM (SELECT file, line, reason FROM ms_obs WHERE reason IS NOT NULL) o
        JOIN ({texts}) l ON o.file = l.file AND o.line = l.line"""
    )
    target = out if out is not None else tmp
    agg.write.mode("errorifexists").parquet(str(target / "flows"))
    rejects.write.mode("errorifexists").parquet(str(target / "rejects"))
    obs.unpersist()
    return counts


_UTF8 = {
    "file": "file",
    "line": "line",
    "reason": "'not UTF-8 text' AS reason",
    "dup": "false AS dup",
}


def _load(store: FlowStore, tmp: Path) -> None:
    """The run's keys and rejects from Spark's Parquet into the store's temp tables."""
    db = store.db
    cols = ", ".join("CAST(port AS INTEGER) AS port" if k == "port" else k for k in KEY)
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE agg_all AS
        SELECT file, {cols},
               CAST(count AS BIGINT) AS count, CAST(replies AS BIGINT) AS replies,
               CAST(first_seen AS TIMESTAMP) AS first_seen, CAST(last_seen AS TIMESTAMP) AS last_seen,
               detail
        FROM read_parquet(?)""",
        [str(tmp / "flows" / "*.parquet")],
    )
    db.execute(
        "CREATE OR REPLACE TEMP TABLE rej_all AS SELECT file, CAST(line AS BIGINT) AS line, "
        "reason, text FROM read_parquet(?)",
        [str(tmp / "rejects" / "*.parquet")],
    )


def _write_imports(spark: Any, pending: Sequence[Pending], out: Path) -> None:
    rows = [
        (p.name, p.sha256, p.format.value, p.read, p.read - p.rejected, p.rejected) for p in pending
    ]
    spark.createDataFrame(
        rows,
        "file STRING, sha256 STRING, format STRING, read BIGINT, stored BIGINT, rejected BIGINT",
    ).write.mode("errorifexists").parquet(str(out / "imports"))
