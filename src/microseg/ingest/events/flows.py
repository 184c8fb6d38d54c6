"""Flow records read as events, one batch of lines at a time, by the same DuckDB SQL that
`microseg flows import` uses (`microseg.ingest.flows.formats.select_for`): Hubble, Calico,
Envoy access logs and microseg's CSV, each line to one normalised row or one reject with
its reason. Nothing is aggregated here: the detectors need each record's time.

The batch reaches DuckDB as one string split in SQL (a parameter per line would cost more
than the parsing); endpoints and protocols come back factorised, as integer columns.
A record is *denied* when its source recorded a drop or a denial (Hubble `DROPPED`, Calico
`deny`, Envoy's RBAC denial, a CSV verdict `denied`/`dropped`/`deny`). Replies are turned
to their request's direction by the formats and are not connection attempts: they are
kept out with that reason, as is Calico's second report of one flow (its other end,
`reporter`), which would otherwise count twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np

from microseg.ingest.events.lines import Line, record
from microseg.ingest.flows import FlowFormat, detect_format
from microseg.ingest.flows.formats import COLUMNS, select_for
from microseg.model.events import EventSource, FlowBatch, Reject
from microseg.model.flows import ObservedEndpoint

__all__ = ["DENIED", "FlowParser", "sniff_format"]

DENIED = ("dropped", "denied", "deny", "drop")


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

    def close(self) -> None:
        self.db.close()

    def parse(self, lines: Sequence[Line], arrival: float) -> tuple[FlowBatch, list[Reject], int]:
        """(batch, rejects, skipped): `skipped` counts the lines that are no record at all
        (blank, comments, a CSV header). A record without a time is given `arrival`."""
        keep = [ln for ln in lines if ln.data.strip()]
        blank = len(lines) - len(keep)
        records = tuple(record(EventSource.FLOWS, ln) for ln in keep)
        if not keep:
            return _empty(), [], blank
        cut = next((i + 1 for i, ln in enumerate(keep) if ln.cut), 0)
        blob = b"\n".join(ln.data for ln in keep).decode("utf-8", "replace")
        db = self.db
        db.execute(
            "CREATE OR REPLACE TEMP TABLE lines AS SELECT unnest(range(1, len(l) + 1)) AS line, "
            "unnest(l) AS text FROM (SELECT string_split(?, chr(10)) AS l)",
            [blob],
        )
        cols = ", ".join(COLUMNS)
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE obs AS SELECT * FROM ({select_for(self.format, str(cut))}) AS t({cols})"
        )
        if self.format is FlowFormat.CALICO:
            group = ", ".join(
                c for c in COLUMNS if c not in ("line", "verdict", "n", "detail", "reason")
            )
            db.execute(
                f"""UPDATE obs SET reason = 'the same flow reported by its other end (Calico reporter)'
                WHERE line IN (SELECT line FROM (SELECT line, row_number() OVER
                  (PARTITION BY {group} ORDER BY line) AS k FROM obs WHERE reason IS NULL) WHERE k > 1)"""
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


def _empty() -> FlowBatch:
    z = np.zeros(0, dtype=np.int64)
    return FlowBatch((), (), np.zeros(0), z, z, z, z, np.zeros(0, dtype=np.bool_), z, z, ())
