"""From normalised observations to flow keys, in SQL that DuckDB and Spark both run.

Three steps, each a SELECT over the previous relation:

1. `finish`: drop the lines that are no records (blank, comments, the CSV header) and
   name a last line that is not JSON and does not end in `}` a truncated record.
2. `fold`: one connection reported at both of its ends counts once (the stored rows
   become observations; `read`, `stored` and `rejected` count the rows before):
   - Calico reports a flow at the source and at the destination (`reporter` src and dst,
     the same key and interval); Calico Enterprise "Flow log data types", `reporter`.
   - Hubble reports a packet between two Cilium endpoints at both: `traffic_direction`
     EGRESS at the source endpoint, INGRESS at the destination (flow.proto,
     TrafficDirection; https://docs.cilium.io/en/stable/observability/hubble/). The two
     records share the 5-tuple (addresses, protocol, ports: the initiator's port is
     ephemeral, so it tells connections apart) and `is_reply`.
   Within a pair group (Calico: the key and the interval; Hubble: the 5-tuple and
   is_reply) the k-th record of one end, by time, file and line, pairs with the k-th of
   the other. Pairs are looked for across all the files of one import (the Hubble
   exporter and Calico write one file per node, and the two ends of a connection are
   usually on two nodes), never against what earlier imports stored. A pair is one observation: the first end's row keeps it with the pair's verdict
   (Calico: deny when either end denied; Hubble: dropped, error or audit when either end
   says so, in that order, else the destination's verdict, since it saw where the packet
   went), the larger count, the union of the intervals and both ends' details (each end
   names the policies it applied), named as the first end named it.
3. `aggregate`: GROUP BY the key (source endpoint, destination endpoint, protocol,
   destination port, verdict): request records count, replies count apart, first/last
   seen, and the longest detail (deterministic, so both engines agree).
"""

from __future__ import annotations

from microseg.ingest.flows.formats import INVALID, NORMAL, TRUNCATED, FlowFormat

__all__ = ["KEY", "OBS", "aggregate", "finish", "fold", "folds"]

KEY = (
    "src_ns",
    "src_pod",
    "src_workload",
    "src_ip",
    "dst_ns",
    "dst_pod",
    "dst_workload",
    "dst_ip",
    "protocol",
    "port",
    "verdict",
)
OBS = (*(c for c in NORMAL if c not in ("skip", "cut")), "dup")
"""The columns of an observation after `finish` and `fold`."""


def finish(norm: str, last_line: str) -> str:
    """`norm` has every NORMAL column with `line` filled in; `last_line` is an expression
    for the file's last line number (a literal, or a column of `norm`)."""
    cols = [
        f"CASE WHEN reason = '{INVALID}' AND cut AND line = {last_line} "
        f"THEN '{TRUNCATED}' ELSE reason END AS reason"
        if c == "reason"
        else c
        for c in NORMAL
        if c not in ("skip", "cut")
    ]
    return f"SELECT {', '.join(cols)}, false AS dup FROM {norm} WHERE NOT skip"


# Per format: the pair group, the column telling the two ends apart, its two values (the
# first one's row names the observation), and the pair's verdict from the group's rows.
_PAIRS = {
    FlowFormat.CALICO: (
        (*KEY[:-1], "t_first", "t_last", "reply"),
        "reporter",
        ("src", "dst"),
        "CASE WHEN bool_or(verdict = 'deny') THEN 'deny' ELSE {second} END",
    ),
    FlowFormat.HUBBLE: (
        ("src_ip", "sport", "dst_ip", "port", "protocol", "reply"),
        "direction",
        ("EGRESS", "INGRESS"),
        "CASE WHEN bool_or(verdict = 'dropped') THEN 'dropped' "
        "WHEN bool_or(verdict = 'error') THEN 'error' "
        "WHEN bool_or(verdict = 'audit') THEN 'audit' ELSE {second} END",
    ),
}


def folds(fmt: FlowFormat) -> tuple[str, str] | None:
    """(column, value) whose presence in a file means `fold` has work to do."""
    pair = _PAIRS.get(fmt)
    return None if pair is None else (pair[1], pair[2][1])


def fold(obs: str, fmt: FlowFormat) -> str:
    """The observations of `obs`'s stored rows: one per row, or per pair of rows. One
    window (the rank within the pair group and end) and one GROUP BY (group, rank); a row
    that cannot pair is a group of its own (its file and line)."""
    pair = _PAIRS.get(fmt)
    if pair is None:
        return f"SELECT * FROM {obs} AS ob WHERE reason IS NULL"
    group, side, (one, two), verdict = pair
    part = ", ".join(group)
    pairs = f"{side} IN ('{one}', '{two}')"
    first = f"CASE WHEN {side} = '{one}' THEN 1 ELSE 0 END"
    lo, hi = "min(nullif(detail, ''))", "max(nullif(detail, ''))"
    cols = []
    for c in OBS:
        if c in group:
            cols.append(c)
        elif c == "verdict":
            second = f"max(CASE WHEN {side} = '{two}' THEN verdict END)"
            pair_verdict = verdict.format(second=second)
            cols.append(
                f"CASE WHEN count(*) = 2 THEN {pair_verdict} ELSE min(verdict) END AS verdict"
            )
        elif c in ("t_first", "t_last", "n", "line"):
            agg = {"t_first": "min", "t_last": "max", "n": "max", "line": "min"}[c]
            cols.append(f"{agg}({c}) AS {c}")
        elif c == "detail":
            cols.append(f"concat_ws(' ', {lo}, nullif({hi}, {lo})) AS detail")
        elif c == "dup":
            cols.append("false AS dup")
        else:
            cols.append(f"max_by({c}, {first}) AS {c}")
    alone = f"CASE WHEN {pairs} THEN NULL ELSE {{0}} END"
    return f"""
    SELECT {", ".join(cols)}
    FROM (
      SELECT *, CASE WHEN {pairs} THEN row_number() OVER (
                  PARTITION BY {part}, {pairs}, {side} ORDER BY t_first, file, line) END AS k
      FROM {obs} AS ob WHERE reason IS NULL
    ) AS ranked
    GROUP BY {part}, k, {alone.format("file")}, {alone.format("line")}
    """


# The longest non-empty detail (ties: the greatest), the same on both engines: the record
# that said the most (recommend reads DNS names out of it).
_LONGEST = (
    "substr(max(CASE WHEN detail <> '' THEN lpad(CAST(length(detail) AS STRING), 8, '0') "
    "|| detail END), 9)"
)


def aggregate(obs: str, extra: tuple[str, ...] = ()) -> str:
    """The flow keys of `obs` (grouped also by `extra`, e.g. the file)."""
    key = ", ".join((*extra, *KEY))
    return f"""
    SELECT {key}, sum(CASE WHEN reply THEN 0 ELSE n END) AS count,
           sum(CASE WHEN reply THEN n ELSE 0 END) AS replies,
           min(t_first) AS first_seen, max(t_last) AS last_seen,
           {_LONGEST} AS detail
    FROM {obs} AS o WHERE reason IS NULL AND NOT dup GROUP BY {key}
    """
