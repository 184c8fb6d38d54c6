"""A flow store (`microseg flows import --db FILE`) followed as a source of flow events: each
poll reads the flow keys last seen after the newest time already read, one event per key at
its `last_seen`, standing for its `count` records.

A store holds flow keys, not records: a key seen again (its count grown, its last_seen
moved) comes back as one event. That is what the windowed detectors need (distinct ports and
destinations per source are exact over keys); counts of denied flows are counted per key,
so a burst of denials of one key is one event. The database is opened read-only for each
poll, and closed again, so that `flows import` can take its write lock between polls; a
poll that finds it locked reads nothing and says so (`locked`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from microseg.ingest.events.flows import DENIED
from microseg.model.events import EventSource, FlowBatch, Record
from microseg.model.flows import ObservedEndpoint

__all__ = ["StoreFollower", "is_store"]

_MAGIC = b"DUCK"


def is_store(path: Path) -> bool:
    """A DuckDB database file (its header carries the magic bytes `DUCK` at offset 8)."""
    try:
        with path.open("rb") as f:
            return f.read(12)[8:12] == _MAGIC
    except OSError:
        return False


class StoreFollower:
    def __init__(self, path: Path, since: str = "") -> None:
        self.path = path
        self.since = since
        """The newest `last_seen` read (ISO text, UTC); '' for none."""

    def poll(self) -> tuple[FlowBatch | None, str]:
        """(the new keys as a batch, '') or (None, why nothing could be read)."""
        try:
            db = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return None, "locked" if "lock" in text.lower() else text
        try:
            db.execute("SET TimeZone = 'UTC'")
            where, params = (
                ("WHERE last_seen > ?", [datetime.fromisoformat(self.since)])
                if self.since
                else ("WHERE last_seen IS NOT NULL", [])
            )
            rows = db.execute(
                "SELECT src_ns, src_pod, src_workload, src_ip, dst_ns, dst_pod, dst_workload, "
                "dst_ip, protocol, port, verdict, count, epoch_ms(last_seen)::DOUBLE / 1000, "
                f"strftime(last_seen, '%Y-%m-%dT%H:%M:%S.%f') FROM flows {where} "
                "ORDER BY last_seen",
                params,
            ).fetchall()
        except duckdb.Error as exc:
            return None, str(exc).splitlines()[0]
        finally:
            db.close()
        if not rows:
            return None, ""
        endpoints: dict[ObservedEndpoint, int] = {}
        protocols: dict[str, int] = {}
        cols: list[list[float | int | bool]] = [[] for _ in range(7)]
        records: list[Record] = []
        for r in rows:
            src = ObservedEndpoint(*map(str, r[0:4]))
            dst = ObservedEndpoint(*map(str, r[4:8]))
            cols[0].append(float(r[12]))
            cols[1].append(endpoints.setdefault(src, len(endpoints)))
            cols[2].append(endpoints.setdefault(dst, len(endpoints)))
            cols[3].append(protocols.setdefault(str(r[8]), len(protocols)))
            cols[4].append(int(r[9]))
            cols[5].append(str(r[10]) in DENIED)
            cols[6].append(int(r[11]))
            text = json.dumps(
                {
                    "src": "/".join(x for x in (src.ns, src.pod or src.workload) if x) or src.ip,
                    "dst": "/".join(x for x in (dst.ns, dst.pod or dst.workload) if x) or dst.ip,
                    "protocol": r[8],
                    "port": r[9],
                    "verdict": r[10],
                    "count": r[11],
                    "last_seen": r[13] + "Z",
                }
            )
            records.append(Record(EventSource.FLOWS, str(self.path), 0, text.encode()))
        self.since = str(rows[-1][13])
        batch = FlowBatch(
            tuple(endpoints),
            tuple(protocols),
            np.asarray(cols[0], dtype=np.float64),
            np.asarray(cols[1], dtype=np.int64),
            np.asarray(cols[2], dtype=np.int64),
            np.asarray(cols[3], dtype=np.int64),
            np.asarray(cols[4], dtype=np.int64),
            np.asarray(cols[5], dtype=np.bool_),
            np.asarray(cols[6], dtype=np.int64),
            np.arange(len(rows), dtype=np.int64),
            tuple(records),
        )
        return batch, ""
