"""The sliding window against a brute-force count at every event."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from microseg.analyses.runtime.windows import Window


def brute(keys: list[int], values: list[int], times: list[int], span: int) -> list[int]:
    """Distinct values of the key within [t - span, t] at each event; events of one
    millisecond are simultaneous (counted together)."""
    out = []
    for k, t in zip(keys, times, strict=True):
        seen = {
            values[j] for j in range(len(keys)) if keys[j] == k and t - span <= times[j] <= t
        }
        out.append(len(seen))
    return out


@settings(max_examples=60, deadline=None)
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
    rows = sorted(rows, key=lambda r: r[2])  # in order: evaluation at every event is exact
    keys, values, times = (list(x) for x in zip(*rows, strict=True))
    counts = brute(keys, values, times, 1000)
    # The first time a key reaches the threshold; of simultaneous events, the last one.
    first: dict[int, int] = {}
    for k, c, t in zip(keys, counts, times, strict=True):
        if c >= threshold and k not in first:
            first[k] = t
    expected = {
        k: max(i for i in range(len(keys)) if keys[i] == k and times[i] == t)
        for k, t in first.items()
    }
    w = Window(1.0, threshold, 3600.0)
    got: dict[int, int] = {}
    start = 0
    for part in np.array_split(np.arange(len(rows)), cut):
        if not len(part):
            continue
        fired = w.feed(
            np.array(keys)[part], np.array(values)[part], np.array(times, dtype=np.int64)[part]
        )
        for k, r in zip(fired.keys.tolist(), fired.rows.tolist(), strict=True):
            got.setdefault(k, start + r)
        w.forget(fired.keys)
        start += len(part)
    # A key fires once, at its first crossing (forgotten afterwards, as the detectors do).
    assert got == expected


def test_late_events_refused_and_counted() -> None:
    w = Window(60, 2, 10)
    w.feed(np.array([1]), np.array([1]), np.array([100_000]))
    assert w.late(np.array([50_000, 95_000])).tolist() == [True, False]
