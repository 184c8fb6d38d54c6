"""DuckDB reads one file of flow records into the temp table `obs` (aggregate.OBS), every
line accounted for: a stored observation, a reject with its reason, or no record at all
(a blank line, a comment, the CSV header).

Two paths, the same SQL after the reader (formats.py, aggregate.py):

- **fast**, for JSON lines: `read_ndjson` with the format's fields as explicit columns
  (schema.py), which parses each line once and materialises only the normalised
  columns. It refuses a whole file for one bad line (malformed, cut short, not an object,
  a field of the wrong type) and skips blank lines without saying where they were, so it
  is used only when it succeeds and returns exactly one record per physical line (the
  scan counted them): then record k is line k.
- **precise**, for everything else (CSV, and any JSON file the fast path refused):
  `read_csv` hands over each line whole, one VARCHAR per line in file order (a line that
  is not UTF-8 lands in the reader's rejects table with its number and is put back into
  the numbering), and `json_transform` types each one, a bad line being a reject rather
  than an error.

Line numbers come from the order rows are materialised in (DuckDB keeps insertion order:
`preserve_insertion_order`), never from a Python loop over records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from microseg.ingest.flows.aggregate import OBS, finish, fold, folds
from microseg.ingest.flows.formats import NORMAL, FlowFormat, select_for
from microseg.ingest.flows.schema import CALICO, ENVOY, HUBBLE, Field, duckdb_json, duckdb_type

__all__ = ["Scan", "read_file", "scan", "snippets"]

MAX_LINE = 16 * 2**20
SNIPPET = 300
_FIELDS: dict[FlowFormat, dict[str, Field]] = {
    FlowFormat.HUBBLE: HUBBLE,
    FlowFormat.CALICO: CALICO,
    FlowFormat.ENVOY: ENVOY,
}


@dataclass(frozen=True, slots=True)
class Scan:
    sha256: str
    lines: int
    """Physical lines: newlines, plus one for a last line without its newline."""


def scan(path: Path) -> Scan:
    """The content hash and the line count, in one pass (both run at memory speed)."""
    h = hashlib.sha256()
    lines = 0
    last = b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
    return Scan(h.hexdigest(), lines + (last != b"\n"))


def snippets(path: Path, wanted: list[int]) -> list[str]:
    """The start of each wanted line (1-based, sorted), decoded leniently, for rejects."""
    out: list[str] = []
    if not wanted:
        return out
    it = iter(wanted)
    target = next(it)
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            while number == target:
                out.append(raw[: SNIPPET * 4].decode("utf-8", "replace").rstrip("\r\n")[:SNIPPET])
                target = next(it, 0)
            if target == 0:
                break
    return out


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(fields: dict[str, Field]) -> str:
    return (
        "{"
        + ", ".join(f"{_literal(k)}: {_literal(duckdb_type(v))}" for k, v in fields.items())
        + "}"
    )


def _normalise(db: duckdb.DuckDBPyConnection, fmt: FlowFormat) -> None:
    cols = ", ".join(NORMAL)
    db.execute(
        f"CREATE OR REPLACE TEMP TABLE norm AS SELECT * FROM ({select_for(fmt)}) AS t({cols})"
    )


def _fast(db: duckdb.DuckDBPyConnection, path: Path, fmt: FlowFormat, lines: int) -> bool:
    fields = _FIELDS.get(fmt)
    if fields is None:
        return False
    db.execute(
        "CREATE OR REPLACE TEMP VIEW src AS SELECT CAST(NULL AS BIGINT) AS line, "
        "CAST(NULL AS VARCHAR) AS text, false AS skip, true AS ok, true AS obj, t AS r "
        f"FROM read_ndjson({_literal(str(path))}, columns = {_columns(fields)}, "
        f"format = 'newline_delimited', maximum_object_size = {MAX_LINE}) AS t"
    )
    try:
        _normalise(db, fmt)
    except duckdb.InvalidInputException:
        return False  # a line the reader refuses: the precise path says which
    got = db.execute("SELECT count(*) FROM norm").fetchone()
    return got is not None and int(got[0]) == lines


def _precise(db: duckdb.DuckDBPyConnection, path: Path, fmt: FlowFormat) -> bool:
    """Returns whether the reader refused lines (not UTF-8), which are then in csv_rej."""
    # One VARCHAR column per line: \x01 never occurs unescaped in JSON or in the CSV
    # format, and quoting is off, so DuckDB's reader hands each line over whole.
    db.execute("DROP TABLE IF EXISTS csv_rej; DROP TABLE IF EXISTS csv_rej_scan")
    lines = (
        f"read_csv({_literal(str(path))}, columns = {{'text': 'VARCHAR'}}, header = false, "
        "delim = chr(1), quote = '', escape = '', auto_detect = false, strict_mode = false, "
        f"max_line_size = {MAX_LINE}, store_rejects = true, rejects_table = 'csv_rej', "
        "rejects_scan = 'csv_rej_scan')"
    )
    if fmt is FlowFormat.CSV:
        db.execute(
            f"CREATE OR REPLACE TEMP VIEW src AS SELECT CAST(NULL AS BIGINT) AS line, text FROM {lines}"
        )
    else:
        structure = duckdb_json(_FIELDS[fmt])
        db.execute(
            f"""CREATE OR REPLACE TEMP VIEW src AS
            SELECT CAST(NULL AS BIGINT) AS line, text, coalesce(trim(text), '') = '' AS skip,
                   ok, ok AND ltrim(text) LIKE '{{%' AS obj, r
            FROM (SELECT text, r, CASE WHEN r IS NULL THEN coalesce(json_valid(text), false) ELSE true END AS ok
                  FROM (SELECT text, try(json_transform(text, {_literal(structure)})) AS r FROM {lines}))"""
        )
    _normalise(db, fmt)
    got = db.execute("SELECT count(*) FROM csv_rej").fetchone()
    return got is not None and int(got[0]) > 0


def read_file(db: duckdb.DuckDBPyConnection, path: Path, fmt: FlowFormat, lines: int) -> None:
    """Leaves the file's observations in the temp table `obs` (aggregate.OBS)."""
    refused = False
    if not _fast(db, path, fmt, lines):
        refused = _precise(db, path, fmt)
    rest = ", ".join(c for c in NORMAL if c != "line")
    if not refused:
        numbered = f"SELECT rowid + 1 AS line, {rest} FROM norm"
    else:
        # The lines the reader refused are put back into the numbering.
        numbered = f"""
        WITH bad AS (SELECT DISTINCT line FROM csv_rej),
        slots AS (
          SELECT range + 1 AS line FROM range((SELECT count(*) FROM norm) + (SELECT count(*) FROM bad))
          WHERE range + 1 NOT IN (SELECT line FROM bad)),
        numbered AS (SELECT line, row_number() OVER (ORDER BY line) AS k FROM slots)
        SELECT numbered.line, {rest} FROM (SELECT rowid + 1 AS k, * FROM norm) n JOIN numbered USING (k)"""
    db.execute(f"CREATE OR REPLACE TEMP VIEW numbered AS {numbered}")
    db.execute(f"CREATE OR REPLACE TEMP TABLE obs AS {finish('numbered', str(lines))}")
    if refused:
        db.execute(
            "INSERT INTO obs BY NAME SELECT line, min('not UTF-8 text: ' || error_message) "
            "AS reason, false AS dup FROM csv_rej GROUP BY line"
        )
    marker = folds(fmt)
    if marker is not None:
        column, value = marker
        has = db.execute(f"SELECT count(*) FROM obs WHERE {column} = ?", [value]).fetchone()
        if has is not None and int(has[0]) > 0:
            cols = ", ".join(OBS)
            db.execute(
                f"CREATE OR REPLACE TEMP TABLE obs AS SELECT {cols} FROM ({fold('obs', fmt)})"
            )
    db.execute("DROP VIEW numbered; DROP VIEW src; DROP TABLE norm")
    db.execute("DROP TABLE IF EXISTS csv_rej; DROP TABLE IF EXISTS csv_rej_scan")
