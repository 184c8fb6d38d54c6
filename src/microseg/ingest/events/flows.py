"""Flow records read as events, one batch of lines at a time, by the same DuckDB SQL that
`microseg flows import` uses (`microseg.ingest.flows.formats.select_for`): Hubble, Calico,
Envoy access logs and microseg's CSV, each line to one normalised row or one reject with
its reason. Nothing is aggregated here: the detectors need each record's time.

The batch reaches DuckDB as one string split in SQL (a parameter per line would cost more
than the parsing); endpoints and protocols come back factorised, as integer columns.
A record is *denied* when its source recorded a drop or a denial (Hubble `DROPPED`, Calico
`deny`, Envoy's RBAC denial, a CSV verdict `denied`/`dropped`/`deny`). Replies are turned
to their request's direction by the formats and are not connection attempts: they are
kept out with that reason, as is the second report of a connection both of its ends
reported (Calico's `reporter` src and dst, Hubble's EGRESS and INGRESS), which would
otherwise count twice: the importer's fold pairs them within the batch and keeps one row
with the pair's verdict (a denial at either end is a denial).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np

from microseg.ingest.events.lines import Line, record
from microseg.ingest.flows import FlowFormat, detect_format
from microseg.ingest.flows.aggregate import finish, fold, folds
from microseg.ingest.flows.formats import NORMAL, select_for
from microseg.ingest.flows.reader import MAX_LINE, hubble_shape
from microseg.ingest.flows.schema import (
    CALICO,
    ENVOY,
    HUBBLE,
    Field,
    duckdb_json,
    duckdb_type,
    hubble_fields,
)
from microseg.model.events import EventSource, FlowBatch, Reject
from microseg.model.flows import ObservedEndpoint

__all__ = ["DENIED", "FlowParser", "sniff_format"]

DENIED = ("dropped", "denied", "deny", "drop")
_FIELDS: dict[FlowFormat, dict[str, Field]] = {
    FlowFormat.HUBBLE: HUBBLE,
    FlowFormat.CALICO: CALICO,
    FlowFormat.ENVOY: ENVOY,
}
_NOT_A_FLOW = "not a flow with IP source and destination (Hubble Flow.IP)"
_OTHER_END = {FlowFormat.CALICO: "Calico reporter", FlowFormat.HUBBLE: "Hubble traffic_direction"}


def sniff_format(lines: Sequence[bytes], scratch: Path) -> FlowFormat:
    """The format of a stream from its first lines, by the flow importer's own detection
    (written to `scratch`, a file the caller owns). Raises UnknownFormatError."""
    scratch.write_bytes(b"\n".join(lines[:20]) + b"\n")
    return detect_format(scratch)


class FlowParser:
    """One DuckDB connection, reused for every batch of one source."""

    def __init__(self, fmt: FlowFormat) -> None:
        self.format = fmt
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self._scratch: Path | None = None
        self.fast = 0
        """Batches the fast reader read (the rest went the precise way)."""
        # The importer's precise path over the batch's lines (ingest/flows/reader.py): each
        # line typed by the format's fields, a bad line a reject rather than an error.
        if fmt is FlowFormat.CSV:
            self._src = (
                "CREATE OR REPLACE TEMP VIEW src AS SELECT '' AS file, line, text FROM lines"
            )
        else:
            structure = duckdb_json(_FIELDS[fmt]).replace("'", "''")
            self._src = f"""CREATE OR REPLACE TEMP VIEW src AS
                SELECT '' AS file, line, text, coalesce(trim(text), '') = '' AS skip, ok,
                       ok AND ltrim(text) LIKE '{{%' AS obj, r
                FROM (SELECT line, text, r, CASE WHEN r IS NULL
                                                 THEN coalesce(json_valid(text), false)
                                                 ELSE true END AS ok
                      FROM (SELECT line, text, try(json_transform(text, '{structure}')) AS r
                            FROM lines))"""

    def close(self) -> None:
        self.db.close()
        if self._scratch is not None:
            self._scratch.unlink(missing_ok=True)
            self._scratch = None

    def _fast(self, keep: Sequence[Line]) -> bool:
        """The importer's fast path (ingest/flows/reader.py) over the batch written to a
        scratch file: `read_ndjson` with the format's fields parses a Hubble record in a
        quarter of the time `json_transform` takes. It refuses the whole batch for one bad
        line, so it is used only when it reads exactly one record per line; otherwise the
        precise path says which line is bad and why."""
        if self.format is FlowFormat.CSV:
            return False
        if self._scratch is None:
            fd, name = tempfile.mkstemp(prefix="microseg-watch-", suffix=".json")
            os.close(fd)
            self._scratch = Path(name)
        scratch = self._scratch
        scratch.write_bytes(b"\n".join([ln.data for ln in keep]) + b"\n")
        shapes = [hubble_shape(scratch), "both"] if self.format is FlowFormat.HUBBLE else ["both"]
        path = "'" + str(scratch).replace("'", "''") + "'"
        for shape in dict.fromkeys(shapes):
            fields = (
                hubble_fields(shape) if self.format is FlowFormat.HUBBLE else _FIELDS[self.format]
            )
            columns = ", ".join(
                "'" + k.replace("'", "''") + "': '" + duckdb_type(v) + "'"
                for k, v in fields.items()
            )
            self.db.execute(
                "CREATE OR REPLACE TEMP VIEW src AS SELECT '' AS file, "
                "CAST(NULL AS BIGINT) AS line, CAST(NULL AS VARCHAR) AS text, false AS skip, "
                f"true AS ok, true AS obj, t AS r FROM read_ndjson({path}, columns = {{{columns}}}, "
                f"format = 'newline_delimited', maximum_object_size = {MAX_LINE}) AS t"
            )
            try:
                self.db.execute(
                    "CREATE OR REPLACE TEMP TABLE norm0 AS "
                    f"SELECT * FROM ({select_for(self.format, shape=shape)}) AS t({', '.join(NORMAL)})"
                )
            except duckdb.Error:
                return False
            got = self.db.execute(
                "SELECT count(*), count(*) FILTER (WHERE reason = ?) FROM norm0", [_NOT_A_FLOW]
            ).fetchone()
            if got is None or int(got[0]) != len(keep):
                return False
            if shape == "both" or int(got[1]) == 0:
                rest = ", ".join(c for c in NORMAL if c not in ("file", "line"))
                self.db.execute(
                    "CREATE OR REPLACE TEMP TABLE norm AS "
                    f"SELECT file, rowid + 1 AS line, {rest} FROM norm0"
                )
                return True
        return False

    def parse(self, lines: Sequence[Line], arrival: float) -> tuple[FlowBatch, list[Reject], int]:
        """(batch, rejects, skipped): `skipped` counts the lines that are no record at all
        (blank, comments, a CSV header). A record without a time is given `arrival`."""
        keep = [ln for ln in lines if ln.data.strip()]
        blank = len(lines) - len(keep)
        records = tuple(record(EventSource.FLOWS, ln) for ln in keep)
        if not keep:
            return _empty(), [], blank
        cut = next((i + 1 for i, ln in enumerate(keep) if ln.cut), 0)
        db = self.db
        if self._fast(keep):
            self.fast += 1
        else:
            blob = b"\n".join(ln.data for ln in keep).decode("utf-8", "replace")
            db.execute(
                "CREATE OR REPLACE TEMP TABLE lines AS SELECT unnest(range(1, len(l) + 1)) "
                "AS line, unnest(l) AS text FROM (SELECT string_split(?, chr(10)) AS l)",
                [blob],
            )
            db.execute(self._src)
            db.execute(
                "CREATE OR REPLACE TEMP TABLE norm AS "
                f"SELECT * FROM ({select_for(self.format)}) AS t({', '.join(NORMAL)})"
            )
        # The importer's own steps: `finish` names a cut last line, `fold` keeps one row
        # per connection its two ends reported (Calico src/dst, Hubble EGRESS/INGRESS)
        # with the pair's verdict; the other end's row is set aside with that reason.
        db.execute(f"CREATE OR REPLACE TEMP TABLE fin AS {finish('norm', str(cut))}")
        marker = folds(self.format)
        paired = marker is not None and _any(
            db, f"SELECT count(*) FROM fin WHERE {marker[0]} = ? AND reason IS NULL", marker[1]
        )
        folded = fold("fin", self.format) if paired else "SELECT * FROM fin WHERE reason IS NULL"
        db.execute(f"CREATE OR REPLACE TEMP TABLE kept AS {folded}")
        db.execute(
            f"""CREATE OR REPLACE TEMP TABLE obs AS
            SELECT * FROM fin WHERE reason IS NOT NULL UNION ALL SELECT * FROM kept UNION ALL
            SELECT * REPLACE ('the same flow reported by its other end ({_OTHER_END.get(self.format, "")})' AS reason)
            FROM fin WHERE reason IS NULL AND line NOT IN (SELECT line FROM kept)"""
        )
        db.execute(
            "UPDATE obs SET reason = 'a reply (its request is the connection attempt)' "
            "WHERE reason IS NULL AND reply"
        )
        rows = db.execute("SELECT count(*) FROM obs").fetchone()
        blank += len(keep) - int(rows[0] if rows else 0)
        rejects = [
            Reject(records[int(i) - 1], str(why))
            for i, why in db.execute(
                "SELECT line, reason FROM obs WHERE reason IS NOT NULL ORDER BY line"
            ).fetchall()
        ]
        db.execute(
            "CREATE OR REPLACE TEMP TABLE eps AS SELECT row_number() OVER (ORDER BY ns, pod, workload, ip) - 1 AS id, * FROM ("
            "SELECT src_ns AS ns, src_pod AS pod, src_workload AS workload, src_ip AS ip FROM obs WHERE reason IS NULL UNION "
            "SELECT dst_ns, dst_pod, dst_workload, dst_ip FROM obs WHERE reason IS NULL)"
        )
        endpoints = tuple(
            ObservedEndpoint(*map(str, r))
            for r in db.execute("SELECT ns, pod, workload, ip FROM eps ORDER BY id").fetchall()
        )
        protocols = tuple(
            str(r[0])
            for r in db.execute(
                "SELECT DISTINCT protocol FROM obs WHERE reason IS NULL ORDER BY 1"
            ).fetchall()
        )
        got = db.execute(
            f"""SELECT o.line - 1 AS rec, s.id AS src, d.id AS dst,
                 list_position(?, o.protocol) - 1 AS protocol, o.port AS port,
                 o.verdict IN {DENIED!r} AS denied, o.n AS n,
                 coalesce(epoch_ms(o.t_first)::DOUBLE / 1000, 'nan'::DOUBLE) AS time
               FROM obs o
               JOIN eps s ON s.ns = o.src_ns AND s.pod = o.src_pod AND s.workload = o.src_workload AND s.ip = o.src_ip
               JOIN eps d ON d.ns = o.dst_ns AND d.pod = o.dst_pod AND d.workload = o.dst_workload AND d.ip = o.dst_ip
               WHERE o.reason IS NULL ORDER BY o.line""",
            [list(protocols)],
        ).fetchnumpy()
        time = np.asarray(got["time"], dtype=np.float64)
        time[np.isnan(time)] = arrival
        batch = FlowBatch(
            endpoints,
            protocols,
            time,
            np.asarray(got["src"], dtype=np.int64),
            np.asarray(got["dst"], dtype=np.int64),
            np.asarray(got["protocol"], dtype=np.int64),
            np.asarray(got["port"], dtype=np.int64),
            np.asarray(got["denied"], dtype=np.bool_),
            np.asarray(got["n"], dtype=np.int64),
            np.asarray(got["rec"], dtype=np.int64),
            records,
        )
        return batch, rejects, blank


def _any(db: duckdb.DuckDBPyConnection, count: str, value: str) -> bool:
    got = db.execute(count, [value]).fetchone()
    return got is not None and int(got[0]) > 0


def _empty() -> FlowBatch:
    z = np.zeros(0, dtype=np.int64)
    return FlowBatch((), (), np.zeros(0), z, z, z, z, np.zeros(0, dtype=np.bool_), z, z, ())
