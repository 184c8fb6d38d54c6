"""Label selectors compiled once into boolean vectors over classes or namespaces.

A column index per label key (value ids per row) turns every requirement into one numpy
comparison, so evaluating a selector costs O(rows/word) rather than a Python loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from microseg.model.selectors import LabelSelector, Operator, Requirement

__all__ = ["LabelIndex"]

Mask = npt.NDArray[np.bool_]


class LabelIndex:
    """Evaluates selectors over a fixed sequence of label maps, memoised per selector."""

    def __init__(self, rows: Sequence[Mapping[str, str]]) -> None:
        self.size = len(rows)
        self._values: dict[str, dict[str, int]] = {}
        self._columns: dict[str, npt.NDArray[np.int32]] = {}
        for i, labels in enumerate(rows):
            for key, value in labels.items():
                ids = self._values.setdefault(key, {})
                vid = ids.setdefault(value, len(ids))
                col = self._columns.get(key)
                if col is None:
                    col = self._columns[key] = np.full(self.size, -1, dtype=np.int32)
                col[i] = vid
        self._memo: dict[LabelSelector, Mask] = {}

    def _requirement(self, req: Requirement) -> Mask:
        col = self._columns.get(req.key)
        if col is None:
            absent = req.operator in (Operator.NOT_IN, Operator.DOES_NOT_EXIST)
            return np.full(self.size, absent, dtype=np.bool_)
        if req.operator is Operator.EXISTS:
            return col >= 0
        if req.operator is Operator.DOES_NOT_EXIST:
            return col < 0
        ids = [self._values[req.key][v] for v in req.values if v in self._values[req.key]]
        if len(ids) == 1:  # the common case, and one comparison is far cheaper than isin
            hit = np.asarray(col == ids[0], dtype=np.bool_)
        elif ids:
            hit = np.isin(col, np.array(ids, dtype=np.int32))
        else:
            hit = np.zeros(self.size, np.bool_)
        return hit if req.operator is Operator.IN else ~hit

    def match(self, selector: LabelSelector) -> Mask:
        cached = self._memo.get(selector)
        if cached is not None:
            return cached
        out = np.ones(self.size, dtype=np.bool_)
        for req in selector.requirements:
            out &= self._requirement(req)
        out.setflags(write=False)
        self._memo[selector] = out
        return out
