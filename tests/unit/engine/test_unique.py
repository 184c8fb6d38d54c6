"""engine/index/unique.py: `sorted_unique` is `np.unique` for integer arrays."""

from __future__ import annotations

import numpy as np
import pytest

from microseg.engine.index.unique import sorted_unique


@pytest.mark.parametrize("seed", range(20))
def test_equals_numpy_unique(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 300))
    values = rng.integers(-5, int(rng.integers(1, 400)), size).astype(
        [np.intp, np.int32, np.uint8, np.int64][seed % 4]
    )
    got = sorted_unique(values)
    want = np.unique(values)
    assert got.dtype == want.dtype
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize(
    "values",
    [
        np.zeros(0, dtype=np.intp),
        np.array([7], dtype=np.intp),
        np.array([3, 3, 3], dtype=np.intp),
        np.array([[4, 1], [1, 9]], dtype=np.intp),  # flattened, as np.unique does
    ],
    ids=["empty", "one", "all-equal", "two-dimensional"],
)
def test_edge_cases(values: np.ndarray) -> None:
    assert sorted_unique(values).tolist() == np.unique(values).tolist()
    assert sorted_unique(values).ndim == 1
