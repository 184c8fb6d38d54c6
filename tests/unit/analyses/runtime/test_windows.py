"""The sliding window against a brute-force count at every event."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from microseg.analyses.runtime.windows import Window


def brute_firings(
    rows: list[tuple[int, int, int]], parts: list[list[int]], threshold: int, span: int
) -> dict[int, int]:
    """Batch by batch: each new event's count is the distinct values of its key within
    [t - span, t] among every event received so far (its batch included: events of one
    batch are read together). A key fires once, at its earliest such event; of events of
    that same time, the last one."""
    fired: dict[int, int] = {}
    received: list[int] = []
    for part in parts:
        received += part
        candidates: dict[int, list[int]] = {}
        for i in part:
            k, _, t = rows[i]
            if k in fired:
                continue
            seen = {rows[j][1] for j in received if rows[j][0] == k and t - span <= rows[j][2] <= t}
            if len(seen) >= threshold:
                candidates.setdefault(k, []).append(i)
        for k, idx in candidates.items():
            first = min(rows[i][2] for i in idx)
            fired[k] = max(i for i in idx if rows[i][2] == first)
    return fired


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 6), st.integers(0, 5000)),
        min_size=1,
        max_size=40,
    ),
    st.integers(2, 5),
    st.integers(1, 4),
)
def test_first_firing_matches_brute_force(
    rows: list[tuple[int, int, int]], threshold: int, cut: int
) -> None:
    rows = sorted(rows, key=lambda r: r[2])
    parts = [p.tolist() for p in np.array_split(np.arange(len(rows)), cut) if len(p)]
    expected = brute_firings(rows, parts, threshold, 1000)
    keys, values, times = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True))
    w = Window(1.0, threshold, 3600.0)
    got: dict[int, int] = {}
    for part in parts:
        fired = w.feed(keys[part], values[part], times[part])
        for k, r in zip(fired.keys.tolist(), fired.rows.tolist(), strict=True):
            got.setdefault(k, part[r])
        w.forget(fired.keys)  # as the detectors do: an alerted key goes to its alert
    assert got == expected


def test_a_late_event_completes_a_window_it_belongs_to() -> None:
    w = Window(60, 3, 300)
    assert not len(
        w.feed(np.array([1, 1, 1]), np.array([1, 2, 3]), np.array([0, 10_000, 70_000])).keys
    )
    # value 1 again at 65 s: at 70 s the window [10 s, 70 s] now holds 1, 2 and 3.
    fired = w.feed(np.array([1]), np.array([1]), np.array([65_000]))
    assert fired.keys.tolist() == [1]
    assert fired.counts.tolist() == [3]


def test_late_events_refused_and_counted() -> None:
    w = Window(60, 2, 10)
    w.feed(np.array([1]), np.array([1]), np.array([100_000]))
    assert w.late(np.array([50_000, 95_000])).tolist() == [True, False]
