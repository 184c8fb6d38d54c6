"""DuckDB reads the files of one import (Reader), each file's lines accounted for: a
stored observation, a reject with its reason, or no record at all (a blank line, a
comment, the CSV header); `Reader.obs` is a view of one format's observations
(aggregate.OBS), `Reader.keys` their keys.

Two paths, the same SQL after the reader (formats.py, aggregate.py):

- **fast**, for JSON lines: `read_ndjson` with the format's fields as explicit columns
  (schema.py; for Hubble only the shape the first records have, and again with both
  shapes if a record of the other one turns up), which parses each line once and
  materialises only the normalised columns. It refuses a whole file for one bad line
  (malformed, cut short, not an object, a field of the wrong type) and skips blank
  lines without saying where they were, so it is used only when it succeeds and returns
  exactly one record per physical line (the scan counted them): then record k is line k.
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
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from microseg.ingest.flows.aggregate import OBS, aggregate, finish, fold, folds
from microseg.ingest.flows.formats import NORMAL, FlowFormat, select_for
from microseg.ingest.flows.schema import (
    CALICO,
    ENVOY,
    HUBBLE,
    Field,
    duckdb_json,
    duckdb_type,
    hubble_fields,
)

__all__ = ["Reader", "Scan", "hubble_shape", "scan", "snippets"]

_NOT_A_FLOW = "not a flow with IP source and destination (Hubble Flow.IP)"
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


def hubble_shape(path: Path) -> str:
    """`wrapped` when the first records are all GetFlowsResponse objects, `bare` when
    they are all Flow objects, else `both` (the fast reader checks its guess)."""
    shapes = set()
    with path.open("rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                return "both"
            if isinstance(record, dict):
                wrapped = any(k in record for k in ("flow", "node_status", "lost_events"))
                shapes.add("wrapped" if wrapped else "bare")
            if len(shapes) > 1:
                return "both"
            if f.tell() > 1 << 16:
                break
    return shapes.pop() if len(shapes) == 1 else "both"


class Reader:
    """One run's files read into per-file tables, each file's observations a view."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self.db = db
        self.views: dict[FlowFormat, list[str]] = {}
        self.tables: list[str] = []
        self.n = 0

    def read(self, path: Path, name: str, fmt: FlowFormat, lines: int) -> None:
        """Reads one file; its observations (aggregate.OBS) are `obs(fmt)`'s rows whose
        `file` is `name`."""
        k = self.n
        self.n += 1
        norm, refused = f"norm_{k}", f"csv_rej_{k}"
        self.tables += [norm, refused, f"{refused}_scan"]
        if self._fast(path, name, fmt, lines, norm):
            self.db.execute(f"CREATE OR REPLACE TEMP TABLE {refused} (line BIGINT)")
        else:
            self._precise(path, name, fmt, norm, refused)
        has = self.db.execute(f"SELECT count(*) FROM {refused}").fetchone()
        rest = ", ".join(c for c in NORMAL if c not in ("file", "line"))
        if has is None or int(has[0]) == 0:
            numbered = f"SELECT file, rowid + 1 AS line, {rest} FROM {norm}"
        else:
            # The lines the reader refused are put back into the numbering.
            numbered = f"""
            WITH bad AS (SELECT DISTINCT line FROM {refused}),
            slots AS (
              SELECT range + 1 AS line
              FROM range((SELECT count(*) FROM {norm}) + (SELECT count(*) FROM bad))
              WHERE range + 1 NOT IN (SELECT line FROM bad)),
            numbered AS (SELECT line, row_number() OVER (ORDER BY line) AS k FROM slots)
            SELECT file, numbered.line, {rest}
            FROM (SELECT rowid + 1 AS k, * FROM {norm}) n JOIN numbered USING (k)"""
        nulls = ", ".join(
            {"file": _literal(name), "line": "line", "reason": "'not UTF-8 text'"}.get(
                c, "false" if c == "dup" else "NULL"
            )
            + f" AS {c}"
            for c in OBS
        )
        self.views.setdefault(fmt, []).append(
            f"SELECT * FROM ({finish(f'({numbered})', str(lines))}) UNION ALL "
            f"SELECT {nulls} FROM (SELECT DISTINCT line FROM {refused})"
        )

    def obs(self, fmt: FlowFormat) -> str:
        """A view of the run's observations of one format, one row per record."""
        name = f"obs_{fmt.value}"
        self.db.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS " + " UNION ALL ".join(self.views[fmt])
        )
        return name

    def keys(self, fmt: FlowFormat) -> str:
        """The SELECT of the run's keys of one format, per file (aggregate.aggregate's
        columns), the two ends' reports folded when the run has any."""
        name = f"obs_{fmt.value}"
        marker = folds(fmt)
        if marker is not None:
            column, value = marker
            has = self.db.execute(
                f"SELECT count(*) FROM {name} WHERE {column} = ? AND reason IS NULL", [value]
            ).fetchone()
            if has is not None and int(has[0]) > 0:
                return aggregate(f"({fold(name, fmt)})", ("file",))
        return aggregate(name, ("file",))

    def close(self) -> None:
        for fmt in self.views:
            self.db.execute(f"DROP VIEW IF EXISTS obs_{fmt.value}")
        for table in reversed(self.tables):
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.execute("DROP VIEW IF EXISTS src")

    def _normalise(self, fmt: FlowFormat, norm: str, shape: str = "both") -> None:
        cols = ", ".join(NORMAL)
        self.db.execute(
            f"CREATE OR REPLACE TEMP TABLE {norm} AS "
            f"SELECT * FROM ({select_for(fmt, shape=shape)}) AS t({cols})"
        )

    def _fast(self, path: Path, name: str, fmt: FlowFormat, lines: int, norm: str) -> bool:
        if fmt is FlowFormat.CSV:
            return False
        shapes = [hubble_shape(path), "both"] if fmt is FlowFormat.HUBBLE else ["both"]
        for shape in dict.fromkeys(shapes):
            fields = hubble_fields(shape) if fmt is FlowFormat.HUBBLE else _FIELDS[fmt]
            self.db.execute(
                f"CREATE OR REPLACE TEMP VIEW src AS SELECT {_literal(name)} AS file, "
                "CAST(NULL AS BIGINT) AS line, CAST(NULL AS VARCHAR) AS text, false AS skip, "
                "true AS ok, true AS obj, t AS r "
                f"FROM read_ndjson({_literal(str(path))}, columns = {_columns(fields)}, "
                f"format = 'newline_delimited', maximum_object_size = {MAX_LINE}) AS t"
            )
            try:
                self._normalise(fmt, norm, shape)
            except duckdb.InvalidInputException:
                return False  # a line the reader refuses: the precise path says which
            got = self.db.execute(
                f"SELECT count(*), count(*) FILTER (WHERE reason = ?) FROM {norm}", [_NOT_A_FLOW]
            ).fetchone()
            if got is None or int(got[0]) != lines:
                return False
            if shape == "both" or int(got[1]) == 0:
                return True  # no record of the other shape was read as a shapeless one
        return False

    def _precise(self, path: Path, name: str, fmt: FlowFormat, norm: str, refused: str) -> None:
        # One VARCHAR column per line: \x01 never occurs unescaped in JSON or in the CSV
        # format, and quoting is off, so DuckDB's reader hands each line over whole. A line
        # that is not UTF-8 lands in the reader's rejects table with its number.
        db = self.db
        db.execute(f"DROP TABLE IF EXISTS {refused}; DROP TABLE IF EXISTS {refused}_scan")
        lines = (
            f"read_csv({_literal(str(path))}, columns = {{'text': 'VARCHAR'}}, header = false, "
            "delim = chr(1), quote = '', escape = '', auto_detect = false, strict_mode = false, "
            f"max_line_size = {MAX_LINE}, store_rejects = true, rejects_table = '{refused}', "
            f"rejects_scan = '{refused}_scan')"
        )
        file = _literal(name)
        if fmt is FlowFormat.CSV:
            db.execute(
                f"CREATE OR REPLACE TEMP VIEW src AS SELECT {file} AS file, "
                f"CAST(NULL AS BIGINT) AS line, text FROM {lines}"
            )
        else:
            structure = _literal(duckdb_json(_FIELDS[fmt]))
            db.execute(
                f"""CREATE OR REPLACE TEMP VIEW src AS
                SELECT {file} AS file, CAST(NULL AS BIGINT) AS line, text,
                       coalesce(trim(text), '') = '' AS skip, ok,
                       ok AND ltrim(text) LIKE '{{%' AS obj, r
                FROM (SELECT text, r, CASE WHEN r IS NULL THEN coalesce(json_valid(text), false)
                                           ELSE true END AS ok
                      FROM (SELECT text, try(json_transform(text, {structure})) AS r FROM {lines}))"""
            )
        self._normalise(fmt, norm)
