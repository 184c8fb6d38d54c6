"""Reading a flow store for `flows show` and `flows stats`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from microseg.model.flows import FlowStats, ShownFlow

if TYPE_CHECKING:
    from microseg.ingest.flows.store import FlowStore

__all__ = ["show", "stats"]


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
