"""Sliding-window counts over event streams, with numpy over whole batches.

`Window` answers, at the time of every new event: how many distinct values has this key
shown within the last `window` seconds, the window closed at both ends? (A count of events
is the same question with every event its own value.) It fires for the keys that reach the
threshold, at the first event that makes them reach it.

Exact at every event, without a loop per event: an occurrence j of (key, value) at time
t_j counts at time x exactly when t_j <= x <= t_j + window and no later occurrence of the
same (key, value) came at or before x; so it counts on [t_j, end_j) with
end_j = min(next occurrence, t_j + window + 1 ms). The number of distinct values at x is
then (starts <= x) - (ends <= x) within the key: two binary searches per event over the
sorted starts and ends of all keys at once (key and time packed into one int64).

State between batches: the latest occurrence of each (key, value) still within reach of
an event that can arrive, i.e. no older than the newest event minus `window` plus the
allowed `lateness`. Events older than the newest by more than `lateness` are refused as too
late (their window has been judged). Keys the caller has alerted on are forgotten: their
events go to the alert, not to the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Fired", "Window"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
_SHIFT = np.int64(1 << 36)  # milliseconds: two years of key time (keys below 2**27)
_MAX = np.int64((1 << 36) - 1)


@dataclass(frozen=True, slots=True)
class Fired:
    """Per firing key: the key, the row (index into the batch) of the first event at which
    it reached the threshold, and the count there."""

    keys: Ints
    rows: Ints
    counts: Ints


class Window:
    def __init__(self, window: float, threshold: int, lateness: float) -> None:
        self.span = round(window * 1000)
        self.threshold = threshold
        self.lateness = round(lateness * 1000)
        self.key = np.zeros(0, np.int64)
        self.value = np.zeros(0, np.int64)
        self.time = np.zeros(0, np.int64)
        self.newest: int | None = None
        self._serial = 0

    def __len__(self) -> int:
        return len(self.key)

    def late(self, time_ms: Ints) -> Bools:
        """The events a feed would refuse as too late."""
        if self.newest is None:
            return np.zeros(len(time_ms), np.bool_)
        return time_ms < self.newest - self.lateness

    def serial(self, n: int) -> Ints:
        """`n` values never seen before (to count events rather than distinct values)."""
        out = np.arange(self._serial, self._serial + n, dtype=np.int64)
        self._serial += n
        return out

    def forget(self, keys: Ints) -> None:
        if len(keys) and len(self.key):
            keep = ~np.isin(self.key, keys)
            self.key, self.value, self.time = self.key[keep], self.value[keep], self.time[keep]

    def feed(self, key: Ints, value: Ints, time_ms: Ints) -> Fired:
        """Add one batch (keys must be >= 0 and < 2**27, and the batch and what is held
        span less than two years); late events are left out."""
        ok = ~self.late(time_ms)
        rows = np.flatnonzero(ok)
        key, value, time_ms = key[ok], value[ok], time_ms[ok]
        n_old = len(self.key)
        k = np.concatenate([self.key, key])
        v = np.concatenate([self.value, value])
        t = np.concatenate([self.time, time_ms])
        if not len(k):
            return Fired(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        base = int(t.min()) - 1
        rel = t - base
        order = np.lexsort((rel, v, k))
        ks, vs, ts = k[order], v[order], rel[order]
        same_next = np.zeros(len(ks), np.bool_)
        same_next[:-1] = (ks[1:] == ks[:-1]) & (vs[1:] == vs[:-1])
        nxt = np.full(len(ks), _MAX, np.int64)
        nxt[:-1][same_next[:-1]] = ts[1:][same_next[:-1]]
        end = np.minimum(nxt, ts + self.span + 1)
        starts = np.sort(ks * _SHIFT + ts)
        ends = np.sort(ks * _SHIFT + np.minimum(end, _MAX))
        # Query at every new event, and at the held events of the same keys that are not
        # older than the oldest new one: an event that arrives late may complete a window
        # that closed at a held event (it then counts as the firing event).
        held = (
            np.flatnonzero(np.isin(self.key, key) & (self.time >= time_ms.min())) if n_old else None
        )
        q_key = key if held is None else np.concatenate([key, self.key[held]])
        q_time = time_ms if held is None else np.concatenate([time_ms, self.time[held]])
        q = q_key * _SHIFT + (q_time - base)
        lo = q_key * _SHIFT
        count = (np.searchsorted(starts, q, "right") - np.searchsorted(starts, lo, "left")) - (
            np.searchsorted(ends, q, "right") - np.searchsorted(ends, lo, "left")
        )
        hit = np.flatnonzero(count >= self.threshold)
        fired = Fired(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        if len(hit):
            # The first point (by time) of each key that fires, the last in position among
            # events of that same time (they are counted together); a held point is
            # attributed to the latest event of its key in this batch before it.
            held_point = hit >= len(key)
            by = hit[np.lexsort((-hit, held_point, q_time[hit], q_key[hit]))]
            keys, first = np.unique(q_key[by], return_index=True)
            pick = by[first]
            local = pick.copy()
            for i, j in enumerate(pick.tolist()):
                if j >= len(key):
                    # The latest new event at or before the held point completed it.
                    mine = np.flatnonzero((key == keys[i]) & (time_ms <= q_time[j]))
                    newest = time_ms[mine] == time_ms[mine].max()
                    local[i] = mine[newest][-1]
            fired = Fired(keys, rows[local], count[pick].astype(np.int64))
        # Keep the latest occurrence of each (key, value) that can still count.
        newest = int(t.max()) if self.newest is None else max(self.newest, int(t.max()))
        self.newest = newest
        last = ~same_next
        keep_t = ts[last] + base
        alive = keep_t >= newest - self.lateness - self.span
        self.key, self.value, self.time = ks[last][alive], vs[last][alive], keep_t[alive]
        return fired
