"""`StatsTracker.apply(change)` equals `compute_stats` on the changed index, at every step.

The same random clusters and change sequences as tests/property/test_incremental.py (policies,
guardrail policies, pods and namespaces created, replaced, relabelled and deleted), with the
tables held both ways: never materialised, and materialised before the first change. Every
step's counts must equal a count from scratch exactly (index shape included: both count
the same index), whichever way the tracker took (cells retaken, or a recount).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.analyses import stats_tracker
from microseg.analyses.stats import compute_stats
from microseg.analyses.stats_tracker import StatsTracker
from microseg.engine import Connectivity, workload_nodes
from microseg.engine.views import blocks
from microseg.model import Cluster
from microseg.model.changes import ChangeError
from tests.property.clusters import clusters
from tests.property.test_incremental import change_for

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _steps(cluster: Cluster, data: st.DataObject) -> int:
    """The number of steps the tracker answered by retaking cells, not by a recount."""
    tracker = StatsTracker(Connectivity.build(cluster))
    retaken = 0
    for serial in range(data.draw(st.integers(1, 8))):
        change = data.draw(change_for(tracker.conn.cluster, serial))
        before = tracker.full_recounts
        try:
            got = tracker.apply(change)
        except ChangeError:
            continue
        retaken += tracker.full_recounts == before
        assert got == compute_stats(tracker.conn)
        # The node grouping with remembered answers is the one asked afresh.
        assert tracker._node_class.tolist() == workload_nodes(tracker.conn)[2]
    return retaken


RETAKEN: list[int] = []


@FAST
@given(clusters(max_pods=8, max_policies=5), st.booleans(), st.data())
def test_tracked_counts_equal_a_recount(cluster: Cluster, lazy: bool, data: st.DataObject) -> None:
    with pytest.MonkeyPatch.context() as mp:
        # Small clusters would always be recounted (a change touches most of the matrix):
        # retake cells whatever their share, so that the retaking path is what is tested.
        mp.setattr(stats_tracker, "_FULL_SHARE", 10.0)
        if lazy:
            mp.setattr(blocks, "DENSE_BYTES", 0)  # never materialised, as at 100,000 pods
        RETAKEN.append(_steps(cluster, data))


def test_the_cells_path_was_taken() -> None:
    """Run after the property above (same module, in order): most examples retook cells."""
    if not RETAKEN:
        pytest.skip("the property test did not run in this process")
    assert sum(RETAKEN) >= len(RETAKEN) // 2
