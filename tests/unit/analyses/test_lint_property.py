"""`lint`'s redundancy findings against the definition, on random clusters.

The definition: a rule or policy is redundant when removing it (alone) changes no
connectivity. The oracle here rebuilds Connectivity from scratch without the rule or
policy (new atoms, new tables) and compares what every pair of distinct pods, and every
pod and external address, may use. Both directions are checked: each reported rule or
policy leaves connectivity unchanged when removed, and each one not reported changes it.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.analyses.lint import Finding, lint
from microseg.analyses.lint_redundancy import (
    Effects,
    _Groups,
    _Run,
    analyse,
    relevant_cells,
    representatives,
)
from microseg.analyses.lint_tables import DirectionContext, View
from microseg.engine import Connectivity, unpack
from microseg.model import AdminPolicy, Cluster, Direction, NetworkPolicy
from tests.property.clusters import clusters

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same_connectivity(before: Cluster, after: Cluster) -> bool:
    a, b = Connectivity.build(before), Connectivity.build(after)
    ca, cb = a.classes.pod_class, b.classes.pod_class
    pa, pb = a.pod_to_pod(), b.pod_to_pod()
    n = len(before.pods)
    for i in range(n):
        for j in range(n):
            if i != j and a.ports.to_connset(pa[ca[i], ca[j]]) != b.ports.to_connset(
                pb[cb[i], cb[j]]
            ):
                return False
    # External addresses: compare at every atom boundary of either build.
    for family, base_a, base_b in (("v4", 0, 0), ("v6", len(a.ips.v4), len(b.ips.v4))):
        sa = [lo for lo, _ in getattr(a.ips, family)]
        sb = [lo for lo, _ in getattr(b.ips, family)]
        for point in sorted(set(sa) | set(sb)):
            ka = base_a + bisect.bisect_right(sa, point) - 1
            kb = base_b + bisect.bisect_right(sb, point) - 1
            for i in range(n):
                for ta, tb in (
                    (a.to_external(), b.to_external()),
                    (a.from_external(), b.from_external()),
                ):
                    if a.ports.to_connset(ta[ca[i], ka]) != b.ports.to_connset(tb[cb[i], kb]):
                        return False
    return True


def _drop_rule(
    p: NetworkPolicy | AdminPolicy, d: Direction, pos: int
) -> NetworkPolicy | AdminPolicy:
    rules = p.rules(d)
    field = "ingress" if d is Direction.INGRESS else "egress"
    return replace(p, **{field: rules[:pos] + rules[pos + 1 :]})


def _label(p: NetworkPolicy | AdminPolicy) -> str:
    return f"NP {p.ref}" if isinstance(p, NetworkPolicy) else f"{p.short_kind} {p.name}"


def _claims(
    findings: tuple[Finding, ...], p: NetworkPolicy | AdminPolicy
) -> tuple[bool, dict[tuple[Direction, int], bool]]:
    """Whether lint says removing the policy, and each of its rules, changes nothing."""
    mine = [f for f in findings if f.policy == _label(p)]
    whole = any(f.code in ("ML002", "ML003") for f in mine)
    rules = {}
    for d in Direction:
        for rule in p.rules(d):
            on = [f for f in mine if f.rule == rule.index and f.direction is d]
            dead_peers = sum(f.code == "ML004" for f in on)
            named = [s for s in rule.ports or () if s.name]
            keys = {s.name if isinstance(p, AdminPolicy) else (s.protocol, s.name) for s in named}
            unresolved = sum(f.code == "ML006" for f in on)
            rules[(d, rule.index)] = (
                any(f.code in ("ML001", "ML005") for f in on)
                or (bool(rule.peers) and dead_peers == len(rule.peers or ()))
                or (
                    bool(rule.ports)
                    and len(named) == len(rule.ports or ())
                    and unresolved == len(keys)
                )
            )
    return whole, rules


@FAST
@given(clusters())
def test_redundancy_findings_are_the_definition(cluster: Cluster) -> None:
    report = lint(Connectivity.build(cluster))
    groups: list[tuple[str, tuple[NetworkPolicy | AdminPolicy, ...]]] = [
        ("policies", cluster.policies),
        ("admin_policies", cluster.admin_policies),
    ]
    for attr, policies in groups:
        for i, p in enumerate(policies):
            whole, rules = _claims(report.findings, p)
            gone = replace(cluster, **{attr: policies[:i] + policies[i + 1 :]})
            assert whole == _same_connectivity(cluster, gone), (_label(p), whole)
            if whole:
                continue  # its rules are not examined again
            for d in Direction:
                for pos, rule in enumerate(p.rules(d)):
                    changed = replace(
                        cluster,
                        **{attr: (*policies[:i], _drop_rule(p, d, pos), *policies[i + 1 :])},
                    )
                    claim = rules[(d, rule.index)]
                    assert claim == _same_connectivity(cluster, changed), (_label(p), d, pos, claim)


@FAST
@given(clusters())
def test_views_rebuild_the_engine_tables(cluster: Cluster) -> None:
    """The counting view, over any block of rows and columns, equals the engine's table."""
    conn = Connectivity.build(cluster)
    for d, table in ((Direction.INGRESS, conn.ingress), (Direction.EGRESS, conn.egress)):
        ctx = DirectionContext(conn, d)
        rows = np.arange(conn.n_classes)
        cols = np.arange(conn.rules.n_peers)
        assert np.array_equal(View(ctx, rows, cols).final, table.allow)
        half_r, half_c = rows[::2], cols[1::2]
        block = View(ctx, half_r, half_c).final
        assert np.array_equal(block, table.allow[np.ix_(half_r, half_c)])


@FAST
@given(clusters())
def test_blocks_of_any_size_give_the_same_answer(cluster: Cluster) -> None:
    """Working in blocks of a few cells (many chunks, joint passes split) changes nothing."""
    conn = Connectivity.build(cluster)
    whole, pieces = analyse(conn), analyse(conn, cells=7)
    assert whole.changed_rules == pieces.changed_rules
    assert whole.changed_policies == pieces.changed_policies
    assert whole.reached == pieces.reached
    assert whole.nonempty == pieces.nonempty


@FAST
@given(clusters())
def test_representative_atoms_stand_for_their_runs(cluster: Cluster) -> None:
    """Over any run of columns, every array a view computes, and the other direction's
    table, are equal along each run of atoms `representatives` merges; the view over the
    representatives equals the engine's table at those atoms."""
    conn = Connectivity.build(cluster)
    for d, table, other in (
        (Direction.INGRESS, conn.ingress, conn.egress),
        (Direction.EGRESS, conn.egress, conn.ingress),
    ):
        ctx = DirectionContext(conn, d)
        n_cols = conn.rules.n_peers
        for lo, hi in ((0, n_cols), (0, max(1, n_cols // 2)), (n_cols // 3, n_cols)):
            rows = np.arange(conn.n_classes)
            cols = np.arange(lo, hi)
            atoms = representatives(ctx, rows, cols, other)
            if atoms is None:
                continue
            full = View(ctx, rows, cols)
            run = np.searchsorted(atoms, np.arange(len(conn.ports)), side="right") - 1
            rep = atoms[run]
            for name in ("final", "once_r", "twice_r", "once_p", "twice_p", "open"):
                values = getattr(full, name)
                assert np.array_equal(values, values[:, :, rep]), name
            pods = cols[cols < conn.n_classes]
            theirs = other.allow[np.ix_(pods, rows)]
            assert np.array_equal(theirs, theirs[:, :, rep])
            small = View(ctx, rows, cols, atoms)
            assert np.array_equal(small.final, table.allow[np.ix_(rows, cols)][:, :, atoms])


def _every_column(conn: Connectivity) -> Effects:
    """The redundancy effects with every view over all rows, every peer column and every
    atom, relevance read cell by cell: no column groups, no representative atoms."""
    contexts = {d: DirectionContext(conn, d) for d in Direction}
    run = _Run(conn, 2_000_000, contexts)
    c, n_peers = conn.n_classes, conn.rules.n_peers
    rows = np.arange(c)
    for d, other in ((Direction.INGRESS, conn.egress), (Direction.EGRESS, conn.ingress)):
        view = View(contexts[d], rows, np.arange(n_peers))
        rel = np.ones(view.shape, dtype=np.bool_)
        cells = relevant_cells(conn, other, rows, run.multi)  # [pod column, row, word]
        rel[:, :c, :] = unpack(cells, len(conn.ports)).transpose(1, 0, 2)
        run.netpols(view, rel)
        run.tier(view, rel, baseline=False)
        run.tier(view, rel, baseline=True)
    for key, targets in run.two_way.items():
        if key not in run.effects.changed_policies:
            run.joint(key, targets)
    return run.effects


@FAST
@given(clusters())
def test_column_groups_answer_as_every_column(cluster: Cluster) -> None:
    """`analyse` (views over groups of peer columns, relevance ORed per group, blocks of
    rows) finds exactly what views over every column and atom find."""
    conn = Connectivity.build(cluster)
    fast, reference = analyse(conn), _every_column(conn)
    assert fast.changed_rules == reference.changed_rules
    assert fast.changed_policies == reference.changed_policies
    assert fast.reached == reference.reached
    assert fast.nonempty == reference.nonempty
    assert fast.np_flags == reference.np_flags


@FAST
@given(clusters(), st.data())
def test_grouped_columns_are_alike(cluster: Cluster, data: st.DataObject) -> None:
    """Over any run of rows, the columns `_Groups` puts together are equal in every array
    a view computes over every column."""
    conn = Connectivity.build(cluster)
    c = conn.n_classes
    lo = data.draw(st.integers(0, c - 1))
    rows = np.arange(lo, data.draw(st.integers(lo + 1, c)))
    for d, other in ((Direction.INGRESS, conn.egress), (Direction.EGRESS, conn.ingress)):
        ctx = DirectionContext(conn, d)
        run = _Run(conn, 2_000_000, {d: ctx})
        groups = _Groups(run, ctx, rows, relevant_cells(conn, other, rows, run.multi))
        full = View(ctx, rows, np.arange(conn.rules.n_peers))
        rep = groups.reps[groups.group]  # each column's representative
        for name in ("final", "once_r", "twice_r", "once_p", "twice_p", "open"):
            values = getattr(full, name)
            assert np.array_equal(values, values[:, rep]), name
        on_rows = {ctx.netpols[k][0] for k in ctx.netpols_on(rows)}
        for key, t in run.two_way.items():  # inside or outside each two-way policy's targets
            if not key.admin and key.policy in on_rows:
                inside = np.isin(np.arange(conn.rules.n_peers), t)
                assert np.array_equal(inside, inside[rep])
