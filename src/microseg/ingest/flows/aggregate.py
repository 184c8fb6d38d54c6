"""From normalised observations to flow keys, in SQL that DuckDB and Spark both run.

Three steps, each a SELECT over the previous relation:

1. `finish`: drop the lines that are no records (blank, comments, the CSV header) and
   name a last line that is not JSON and does not end in `}` a truncated record.
2. `fold`: one connection reported at both of its ends counts once:
   - Calico reports a flow at the source and at the destination (`reporter` src and dst,
     the same key and interval); Calico Enterprise "Flow log data types", `reporter`.
   - Hubble reports a packet between two Cilium endpoints at both: `traffic_direction`
     EGRESS at the source endpoint, INGRESS at the destination (flow.proto,
     TrafficDirection; https://docs.cilium.io/en/stable/observability/hubble/). The two
     records share the 5-tuple (addresses, protocol, ports: the initiator's port is
     ephemeral, so it tells connections apart) and `is_reply`.
   Within a pair group (Calico: the key and the interval; Hubble: the 5-tuple and
   is_reply) the k-th record of one end, by time then line, pairs with the k-th of the
   other. A pair is one observation: the first end's row keeps it with the pair's verdict
   (Calico: deny when either end denied; Hubble: dropped, error or audit when either end
   says so, in that order, else the destination's verdict, since it saw where the packet
   went), the larger count, the union of the intervals and both ends' details (each end
   names the policies it applied); the other end's row is kept as
   a duplicate (`dup`) so that `read` still counts every line, and never makes a key.
3. `aggregate`: GROUP BY the key (source endpoint, destination endpoint, protocol,
   destination port, verdict): request records count, replies count apart, first/last
   seen, and the smallest non-empty detail (deterministic, so both engines agree).
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
    for the file's last line number (a literal, or a column joined per file)."""
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
# first one keeps the observation), and the pair's verdict.
_PAIRS = {
    FlowFormat.CALICO: (
        (*KEY[:-1], "t_first", "t_last", "reply"),
        "reporter",
        ("src", "dst"),
        "CASE WHEN bool_or(verdict = 'deny') OVER {g} THEN 'deny' ELSE {second} END",
    ),
    FlowFormat.HUBBLE: (
        ("src_ip", "sport", "dst_ip", "port", "protocol", "reply"),
        "direction",
        ("EGRESS", "INGRESS"),
        "CASE WHEN bool_or(verdict = 'dropped') OVER {g} THEN 'dropped' "
        "WHEN bool_or(verdict = 'error') OVER {g} THEN 'error' "
        "WHEN bool_or(verdict = 'audit') OVER {g} THEN 'audit' ELSE {second} END",
    ),
}


def folds(fmt: FlowFormat) -> tuple[str, str] | None:
    """(column, value) whose presence in a file means `fold` has work to do."""
    pair = _PAIRS.get(fmt)
    return None if pair is None else (pair[1], pair[2][1])


def fold(obs: str, fmt: FlowFormat) -> str:
    pair = _PAIRS.get(fmt)
    if pair is None:
        return f"SELECT * FROM {obs}"
    group, side, (one, two), verdict = pair
    part = ", ".join(group)
    g = f"(PARTITION BY {part}, k)"
    second = f"max(CASE WHEN {side} = '{two}' THEN verdict END) OVER {g}"
    paired = f"k IS NOT NULL AND count(*) OVER {g} = 2"
    cols = []
    for c in OBS:
        if c == "verdict":
            cols.append("CASE WHEN paired THEN pair_verdict ELSE verdict END AS verdict")
        elif c in ("t_first", "t_last", "n"):
            agg = {"t_first": "min", "t_last": "max", "n": "max"}[c]
            cols.append(f"CASE WHEN paired THEN {agg}({c}) OVER {g} ELSE {c} END AS {c}")
        elif c == "detail":
            lo, hi = (f"{m}(nullif(detail, '')) OVER {g}" for m in ("min", "max"))
            cols.append(
                f"CASE WHEN paired THEN concat_ws(' ', {lo}, nullif({hi}, {lo})) ELSE detail END AS detail"
            )
        elif c == "dup":
            cols.append(f"paired AND {side} = '{two}' AS dup")
        else:
            cols.append(c)
    return f"""
    WITH ranked AS (
      SELECT *, CASE WHEN reason IS NULL AND {side} IN ('{one}', '{two}')
                     THEN row_number() OVER (PARTITION BY {part}, reason IS NULL, {side} ORDER BY t_first, line)
                END AS k
      FROM {obs}
    ), marked AS (
      SELECT *, {paired} AS paired, {verdict.format(g=g, second=second)} AS pair_verdict
      FROM ranked
    )
    SELECT {", ".join(cols)} FROM marked
    """


def aggregate(obs: str, extra: tuple[str, ...] = ()) -> str:
    """The flow keys of `obs` (grouped also by `extra`, e.g. the file)."""
    key = ", ".join((*extra, *KEY))
    return f"""
    SELECT {key}, sum(CASE WHEN reply THEN 0 ELSE n END) AS count,
           sum(CASE WHEN reply THEN n ELSE 0 END) AS replies,
           min(t_first) AS first_seen, max(t_last) AS last_seen,
           min(nullif(detail, '')) AS detail
    FROM {obs} WHERE reason IS NULL AND NOT dup GROUP BY {key}
    """
