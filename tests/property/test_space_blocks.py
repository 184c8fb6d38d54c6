"""verify's Space reads address columns of the direction tables through the engine's
blocks (analyses/space.py `_table_block`), never through the whole table, which is 7 GB
at 30,000 classes: on random clusters, any rows and columns (unsorted, repeated) give
what indexing the whole table gives, and the table stays unmaterialised."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.analyses.space import _table_block
from microseg.engine import Connectivity
from microseg.model import Cluster
from tests.property.clusters import clusters


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=clusters(max_pods=7), data=st.data())
def test_blocks_equal_the_whole_table(cluster: Cluster, data: st.DataObject) -> None:
    conn = Connectivity.build(cluster)
    for table in (conn.egress, conn.ingress):
        assert not table.materialised
        every_row = np.arange(table.n_rows, dtype=np.intp)
        every_col = np.arange(table.n_cols, dtype=np.intp)
        whole = table.block(every_row, every_col)
        pick = st.lists(st.integers(0, max(0, table.n_rows - 1)), max_size=6)
        rows = np.array(data.draw(pick) if table.n_rows else [], dtype=np.int64)
        cols_pick = st.lists(st.integers(0, table.n_cols - 1), min_size=1, max_size=8)
        cols = np.array(data.draw(cols_pick), dtype=np.int64)
        got = _table_block(table, rows, cols)
        assert not table.materialised
        assert np.array_equal(got, whole[np.ix_(rows, cols)])
