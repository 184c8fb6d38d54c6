"""`diff_graphs`: hand-made graphs for each rule of the semantics, then random clusters held
to an independent oracle (point lookups in both graphs)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings

from microseg.analyses.diff import DiffRow, DiffType, comparable, diff_graphs, refine
from microseg.engine import Connectivity, WorkloadGraph
from microseg.engine.views.workload import INGRESS_CONTROLLER_NAME, ExternalEdge
from microseg.ingest import load
from microseg.model import Cluster
from microseg.model.sets import IPV4_MAX, ConnSet, IntervalSet, IPSet, Protocol
from tests.property.clusters import clusters

A = "ns/a[Deployment]"
B = "ns/b[Deployment]"
C = "ns/c[StatefulSet]"
D = "ns/d[Pod]"
TCP80 = ConnSet.single(Protocol.TCP, 80)
TCP443 = ConnSet.single(Protocol.TCP, 443)
NONE = ConnSet.none()


def v4(first: str, last: str) -> IPSet:
    lo, hi = int(ipaddress.IPv4Address(first)), int(ipaddress.IPv4Address(last))
    return IPSet(v4=IntervalSet.span(lo, hi))


def graph(
    nodes: tuple[str, ...],
    edges: list[tuple[str, str, ConnSet]],
    external: Sequence[tuple[str, IPSet, ConnSet, bool]] = (),
    ingress: Sequence[tuple[str, ConnSet]] = (),
) -> WorkloadGraph:
    """A WorkloadGraph from readable edges (conn sets deduplicated as the engine does)."""
    sets: list[ConnSet] = []

    def sid(c: ConnSet) -> int:
        if c not in sets:
            sets.append(c)
        return sets.index(c)

    pos = {n: i for i, n in enumerate(nodes)}
    return WorkloadGraph(
        nodes=nodes,
        node_workload=nodes,
        node_class=np.arange(len(nodes), dtype=np.int64),
        split=(),
        src=np.array([pos[s] for s, _, _ in edges], dtype=np.int64),
        dst=np.array([pos[d] for _, d, _ in edges], dtype=np.int64),
        conn_id=np.array([sid(c) for _, _, c in edges], dtype=np.int64),
        external=tuple(ExternalEdge(pos[n], ips, sid(c), out) for n, ips, c, out in external),
        ingress=tuple((pos[n], sid(c)) for n, c in ingress),
        conns=tuple(sets),
    )


def test_identical_inputs_have_no_difference() -> None:
    g = graph((A, B), [(A, B, TCP80)], [(A, IPSet.all_v4(), TCP443, True)], [(B, TCP80)])
    result = diff_graphs(g, g)
    assert not result
    assert result.rows == ()
    assert result.added_workloads == () == result.removed_workloads


def test_changed_added_removed_and_their_order() -> None:
    old = graph((A, B, C), [(A, B, TCP80), (B, C, TCP80), (C, A, TCP80)])
    new = graph((A, B, C), [(A, B, TCP80 | TCP443), (C, A, TCP80), (A, C, TCP443)])
    rows = diff_graphs(old, new).rows
    assert rows == (
        DiffRow(DiffType.CHANGED, A, B, TCP80, TCP80 | TCP443),
        DiffRow(DiffType.ADDED, A, C, NONE, TCP443),
        DiffRow(DiffType.REMOVED, B, C, TCP80, NONE),
    )


def test_workloads_in_one_input_only_are_named_source_first() -> None:
    old = graph((A, B, C), [(A, C, TCP80), (C, A, TCP80)])
    new = graph((A, B, D), [(A, D, TCP80), (D, B, TCP443), (B, A, TCP80)])
    result = diff_graphs(old, new)
    assert result.added_workloads == (D,)
    assert result.removed_workloads == (C,)
    by_key = {(r.src, r.dst): r for r in result.rows}
    assert by_key[(A, D)].new_or_lost == (D,)
    assert by_key[(D, B)].new_or_lost == (D,)
    assert by_key[(B, A)].new_or_lost == ()  # both exist in OLD: a plain addition
    assert by_key[(A, C)].kind is DiffType.REMOVED
    assert by_key[(A, C)].new_or_lost == (C,)
    both_new = diff_graphs(graph((A,), []), graph((C, D), [(C, D, TCP80)])).rows
    assert both_new[0].new_or_lost == (C, D)


def test_workload_without_connections_still_counts_as_existing() -> None:
    # B exists in OLD with no connection at all: NEW's B -> A is added, B is not a new workload
    old = graph((A, B), [])
    new = graph((A, B), [(B, A, TCP80)])
    (row,) = diff_graphs(old, new).rows
    assert row.kind is DiffType.ADDED
    assert row.new_or_lost == ()


def test_external_ranges_cut_differently_but_equal_make_no_difference() -> None:
    whole = IPSet.all_v4()
    low, high = v4("0.0.0.0", "9.255.255.255"), v4("10.0.0.0", "255.255.255.255")
    old = graph((A,), [], [(A, low, TCP80, True), (A, high, TCP80, True)])
    new = graph((A,), [], [(A, whole, TCP80, True)])
    assert not diff_graphs(old, new)


def test_external_ranges_are_refined_then_merged_by_old_and_new_sets() -> None:
    old = graph((A,), [], [(A, IPSet.all_v4(), TCP80, False)])
    new = graph(
        (A,),
        [],
        [
            (A, v4("0.0.0.0", "9.255.255.255"), TCP80, False),
            (A, v4("11.0.0.0", "172.15.255.255"), TCP80 | TCP443, False),
            (A, v4("172.16.0.0", "255.255.255.255"), TCP80 | TCP443, False),
        ],
    )
    rows = diff_graphs(old, new).rows
    assert rows == (
        DiffRow(DiffType.CHANGED, v4("11.0.0.0", "255.255.255.255"), A, TCP80, TCP80 | TCP443),
        DiffRow(DiffType.REMOVED, v4("10.0.0.0", "10.255.255.255"), A, TCP80, NONE),
    )


def test_directions_and_families_never_mix() -> None:
    v6 = IPSet(v6=IntervalSet.span(0, 2**128 - 1))
    old = graph((A,), [], [(A, IPSet.all_v4(), TCP80, True)])
    new = graph((A,), [], [(A, IPSet.all_v4(), TCP80, False), (A, v6, TCP80, True)])
    rows = diff_graphs(old, new).rows
    assert {(r.kind, r.src, r.dst) for r in rows} == {
        (DiffType.ADDED, IPSet.all_v4(), A),
        (DiffType.ADDED, A, v6),
        (DiffType.REMOVED, A, IPSet.all_v4()),
    }


def test_external_rows_of_a_new_workload_name_it() -> None:
    old = graph((A,), [])
    new = graph((A, D), [], [(D, IPSet.all_v4(), ConnSet.all(), True)])
    (row,) = diff_graphs(old, new).rows
    assert (row.kind, row.src, row.dst, row.new_or_lost) == (
        DiffType.ADDED,
        D,
        IPSet.all_v4(),
        (D,),
    )


def test_ingress_controller_rows_come_last_and_never_count_as_workloads() -> None:
    old = graph((A, B), [(A, B, TCP80)], ingress=[(A, TCP80)])
    new = graph((A, B, D), [], ingress=[(A, TCP443), (D, TCP80)])
    rows = diff_graphs(old, new).rows
    assert [(r.kind, r.src, r.dst) for r in rows] == [
        (DiffType.CHANGED, INGRESS_CONTROLLER_NAME, A),
        (DiffType.ADDED, INGRESS_CONTROLLER_NAME, D),
        (DiffType.REMOVED, A, B),
    ]
    assert rows[1].new_or_lost == (D,)
    assert rows[1].from_ingress_controller
    assert not rows[2].from_ingress_controller


def test_refine_cuts_at_both_sides_boundaries() -> None:
    a = [(0, 99, TCP80)]
    b = [(0, 49, TCP80), (60, 120, TCP443)]
    assert refine(a, b) == [
        (0, 49, TCP80, TCP80),
        (50, 59, TCP80, NONE),
        (60, 99, TCP80, TCP443),
        (100, 120, NONE, TCP443),
    ]
    assert refine([], []) == []
    assert refine(a, a) == [(0, 99, TCP80, TCP80)]


# --- random clusters against point lookups -----------------------------------------------

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _lookup(g: WorkloadGraph, src: str | int, dst: str | int) -> ConnSet:
    """What `g` allows from src to dst, where an int is an IPv4 address (independent of the
    diff code: a direct scan of the graph)."""
    if isinstance(src, str) and isinstance(dst, str):
        edges: list[tuple[int, int, int]] = list(
            zip(g.src.tolist(), g.dst.tolist(), g.conn_id.tolist(), strict=True)
        )
        for s, d, k in edges:
            if (g.nodes[s], g.nodes[d]) == (src, dst):
                return g.conns[k]
        return NONE
    name, addr, outbound = (src, dst, True) if isinstance(src, str) else (dst, src, False)
    for e in g.external:
        if g.nodes[e.node] == name and e.outbound == outbound and addr in e.addresses.v4:
            return g.conns[e.conns]
    return NONE


def _row_for(rows: tuple[DiffRow, ...], src: str | int, dst: str | int) -> DiffRow | None:
    def covers(peer: str | IPSet, x: str | int) -> bool:
        return peer == x if isinstance(x, str) else isinstance(peer, IPSet) and x in peer.v4

    hits = [r for r in rows if covers(r.src, src) and covers(r.dst, dst)]
    assert len(hits) <= 1, hits  # rows never overlap
    return hits[0] if hits else None


def _probes(*graphs: WorkloadGraph) -> list[int]:
    points = {0, IPV4_MAX}
    for g in graphs:
        for e in g.external:
            for lo, hi in e.addresses.v4:
                points.update(x for x in (lo - 1, lo, hi, hi + 1) if 0 <= x <= IPV4_MAX)
    return sorted(points)


def _build(cluster: Cluster) -> WorkloadGraph:
    return WorkloadGraph.build(Connectivity.build(cluster))


@FAST
@given(clusters(max_pods=4, max_policies=3, tiers=False), clusters(max_pods=4, max_policies=3))
def test_diff_agrees_with_point_lookups_on_random_clusters(one: Cluster, two: Cluster) -> None:
    old, new = _build(one), _build(two)
    result = diff_graphs(old, new)
    names = sorted(set(old.nodes) | set(new.nodes))
    ends: list[str | int] = [*names, *_probes(old, new)]
    for s in ends:
        for d in ends:
            if s == d or not (isinstance(s, str) or isinstance(d, str)):
                continue
            before, after = _lookup(old, s, d), _lookup(new, s, d)
            row = _row_for(result.rows, s, d)
            if before == after:
                assert row is None, (s, d, row)
                continue
            assert row is not None, (s, d, before, after)
            assert (row.ref1, row.ref2) == (before, after)
            expected = (
                DiffType.CHANGED
                if before and after
                else DiffType.ADDED
                if after
                else DiffType.REMOVED
            )
            assert row.kind is expected
            other = set(new.nodes) if row.kind is DiffType.REMOVED else set(old.nodes)
            assert row.new_or_lost == tuple(
                p for p in (s, d) if isinstance(p, str) and p not in other
            )
    mirror = diff_graphs(new, old)
    swap = {DiffType.ADDED: DiffType.REMOVED, DiffType.REMOVED: DiffType.ADDED}
    assert sorted(map(repr, mirror.rows)) == sorted(
        repr(DiffRow(swap.get(r.kind, r.kind), r.src, r.dst, r.ref2, r.ref1, r.new_or_lost))
        for r in result.rows
    )
    assert not diff_graphs(old, old)


@FAST
@given(clusters(max_pods=5, max_policies=3, tiers=False), clusters(max_pods=5, max_policies=3))
def test_the_diff_in_blocks_of_one_source_is_the_whole_diff(one: Cluster, two: Cluster) -> None:
    """The comparison walks both graphs by blocks of sources (never all edges at once):
    any cut gives the same rows in the same order."""
    from unittest import mock

    from microseg.analyses import diff

    old, new = _build(one), _build(two)
    whole = diff_graphs(old, new)
    with mock.patch.object(diff, "PAIRS_PER_BLOCK", 1):
        cut = diff_graphs(_build(one), _build(two))
    assert cut == whole


V6_PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ns, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: ns, labels: {app: db}}
"""


def _egress(*cidrs: str) -> str:
    peers = ", ".join(f'{{ipBlock: {{cidr: "{c}"}}}}' for c in cidrs)
    return (
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: web, namespace: ns}\nspec:\n"
        "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n"
        f"  egress: [{{to: [{peers}]}}, {{to: [{{podSelector: {{}}}}]}}]\n"
    )


def _conn(tmp_path: Path, name: str, text: str) -> Connectivity:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return Connectivity.build(load([str(path)]))


def _diff(old: Connectivity, new: Connectivity) -> tuple[DiffRow, ...]:
    a, b = comparable(old, new)
    return diff_graphs(WorkloadGraph.build(a), WorkloadGraph.build(b)).rows


def test_ipv6_shown_on_one_side_is_compared_with_the_other_sides_real_ipv6(
    tmp_path: Path,
) -> None:
    plain = _conn(tmp_path, "plain", V6_PODS)
    named = _conn(tmp_path, "named", V6_PODS + _egress("::/0", "0.0.0.0/0"))
    assert not plain.ips.show_v6
    assert named.ips.show_v6
    # Same connectivity, one side merely names ::/0: no difference in either direction.
    assert _diff(plain, named) == ()
    assert _diff(named, plain) == ()
    # Only the display flag changes; the Connectivity is otherwise the same object's data.
    a, b = comparable(plain, named)
    assert a.ips.show_v6
    assert b is named
    assert a.egress is plain.egress
    # Neither shows IPv6: nothing changes.
    assert comparable(plain, plain) == (plain, plain)


def test_a_real_ipv6_change_is_reported_against_the_hidden_side(tmp_path: Path) -> None:
    # OLD: web egress to 0.0.0.0/0 only (IPv6 hidden but denied); NEW adds 2001:db8::/32.
    old = _conn(tmp_path, "old", V6_PODS + _egress("0.0.0.0/0"))
    new = _conn(tmp_path, "new", V6_PODS + _egress("0.0.0.0/0", "2001:db8::/32"))
    (row,) = _diff(old, new)
    assert row.kind is DiffType.ADDED
    assert row.src == "ns/web[Pod]"
    assert row.dst == IPSet.from_cidr("2001:db8::/32")
    assert (row.ref1, row.ref2) == (NONE, ConnSet.all())
