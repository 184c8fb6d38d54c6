"""Any block of an allow table, and any single cell, equals the same part of the whole
table: counts on large clusters walk tables in blocks and queries read single cells, while
small clusters materialise them, and both must give the same answers."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.engine import Connectivity
from microseg.engine.index.tables import DirectionTable
from microseg.model import Cluster
from tests.property.clusters import clusters

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _subset(draw: st.DrawFn, n: int) -> np.ndarray | None:
    kind = draw(st.sampled_from(("all", "range", "any")))
    if kind == "all":
        return None
    if kind == "range":
        lo = draw(st.integers(0, n - 1))
        hi = draw(st.integers(lo + 1, n))
        return np.arange(lo, hi)
    picked = draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=n, unique=True))
    return np.array(sorted(picked), dtype=np.intp)


def _fresh(cluster: Cluster) -> tuple[DirectionTable, DirectionTable]:
    conn = Connectivity.build(cluster)
    return conn.ingress, conn.egress


@FAST
@given(clusters(), st.data())
def test_blocks_and_cells_equal_the_whole_table(cluster: Cluster, data: st.DataObject) -> None:
    lazy = _fresh(cluster)
    whole = _fresh(cluster)
    for table, full in zip(lazy, whole, strict=True):
        n_rows, n_cols = full.bits.shape[:2]
        rows = data.draw(_subset(n_rows))
        cols = data.draw(_subset(n_cols))
        want = full.bits
        if rows is not None:
            want = want[rows]
        if cols is not None:
            want = want[:, cols]
        assert np.array_equal(table.block(rows, cols), want)
        assert np.array_equal(table.block(rows, cols, transposed=True), want.transpose(1, 0, 2))
        assert not table.materialised
        for t in range(n_rows):
            for q in range(n_cols):
                assert np.array_equal(table.cell(t, q), full.allow[t, q]), (t, q)
        for t in range(n_rows):
            want_policies = [
                i
                for i, p in enumerate(cluster.policies)
                if p.affects(table.direction) and full.rc.policy_targets(p)[t]
            ]
            assert table.policies_of(t) == want_policies
