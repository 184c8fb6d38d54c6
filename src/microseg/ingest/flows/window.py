"""Reading one learning window out of a flow store (for `microseg recommend`): the keys
last seen at or after a cut-off, their time span, and the DNS names seen per external
address. Like `FlowStore.key_arrays`, endpoints are factorised in SQL so that Python sees
each endpoint once; the detail column is read only for keys to external addresses."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from microseg.ingest.flows.store import FlowStore
from microseg.model.flow_window import FlowWindow
from microseg.model.flows import FlowKeys, ObservedEndpoint

__all__ = ["MAX_NAMES", "read_window"]

MAX_NAMES = 5
"""DNS names kept per external address (the most frequent first, then by name)."""

# A DNS name as Hubble's `destination_names` and DNS queries give it: labels of letters,
# digits and '-', at least two, the last alphabetic; a trailing root dot is dropped.
_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}$")


def _names(detail: str) -> list[str]:
    out = []
    for token in re.split(r"[\s,]+", detail.lower()):
        token = token.rstrip(".")
        if _NAME.fullmatch(token):
            out.append(token)
    return out


def read_window(
    store: FlowStore, since: datetime | None = None, since_last: timedelta | None = None
) -> FlowWindow:
    """Keys last seen at or after `since` (UTC), or within `since_last` of the store's
    newest record; keys without a time are outside any such window. No cut-off: every key."""
    db = store.db
    cutoff: datetime | None = since
    if since_last is not None:
        newest = db.execute("SELECT max(last_seen) FROM flows").fetchone()
        cutoff = newest[0] - since_last if newest and newest[0] is not None else None
        if cutoff is None:
            cutoff = datetime(9999, 1, 1)  # nothing timed: nothing is in the window
    where = "last_seen >= ?" if cutoff is not None else "true"
    params: list[Any] = [cutoff.replace(tzinfo=None)] if cutoff is not None else []
    db.execute(f"CREATE OR REPLACE TEMP TABLE win AS SELECT * FROM flows WHERE {where}", params)
    total = db.execute("SELECT count(*) FROM flows").fetchone()
    kept = db.execute("SELECT count(*) FROM win").fetchone()
    before = int(total[0]) - int(kept[0]) if total and kept else 0
    db.execute(
        "CREATE OR REPLACE TEMP TABLE weps AS SELECT row_number() OVER (ORDER BY ns, pod, workload, ip) - 1 AS id, * FROM ("
        "SELECT src_ns AS ns, src_pod AS pod, src_workload AS workload, src_ip AS ip FROM win UNION "
        "SELECT dst_ns, dst_pod, dst_workload, dst_ip FROM win)"
    )
    endpoints = tuple(
        ObservedEndpoint(*map(str, r))
        for r in db.execute("SELECT ns, pod, workload, ip FROM weps ORDER BY id").fetchall()
    )
    protocols = tuple(
        str(r[0]) for r in db.execute("SELECT DISTINCT protocol FROM win ORDER BY 1").fetchall()
    )
    verdicts = tuple(
        str(r[0]) for r in db.execute("SELECT DISTINCT verdict FROM win ORDER BY 1").fetchall()
    )
    got: dict[str, Any] = db.execute(
        """SELECT s.id AS src, d.id AS dst,
             list_position(?, f.protocol) - 1 AS protocol, f.port AS port,
             list_position(?, f.verdict) - 1 AS verdict, f.count AS count
           FROM win f
           JOIN weps s ON s.ns = f.src_ns AND s.pod = f.src_pod AND s.workload = f.src_workload AND s.ip = f.src_ip
           JOIN weps d ON d.ns = f.dst_ns AND d.pod = f.dst_pod AND d.workload = f.dst_workload AND d.ip = f.dst_ip
           ORDER BY ALL""",
        [list(protocols), list(verdicts)],
    ).fetchnumpy()

    def col(name: str) -> Any:
        return np.asarray(got[name], dtype=np.int64)

    keys = FlowKeys(
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
    span = db.execute(
        "SELECT coalesce(strftime(min(first_seen), '%Y-%m-%dT%H:%M:%SZ'), ''), "
        "coalesce(strftime(max(last_seen), '%Y-%m-%dT%H:%M:%SZ'), '') FROM win"
    ).fetchone()
    names: dict[str, dict[str, int]] = {}
    for ip, detail, count in db.execute(
        "SELECT dst_ip, detail, sum(count) FROM win WHERE dst_ns = '' AND dst_ip <> '' "
        "AND detail IS NOT NULL AND detail <> '' GROUP BY 1, 2"
    ).fetchall():
        for name in _names(str(detail)):
            seen = names.setdefault(str(ip), {})
            seen[name] = seen.get(name, 0) + int(count)
    db.execute("DROP TABLE win; DROP TABLE weps")
    shown = tuple(
        (ip, tuple(n for n, _ in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_NAMES]))
        for ip, seen in sorted(names.items())
    )
    return FlowWindow(
        keys,
        str(span[0]) if span else "",
        str(span[1]) if span else "",
        shown,
        before,
        cutoff.strftime("%Y-%m-%dT%H:%M:%SZ") if cutoff is not None and cutoff.year < 9999 else "",
    )
