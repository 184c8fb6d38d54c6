"""Pods grouped by workload, remembered for the last pods tuple.

Grouping 150,000 pods is a pass over Python objects; the workload views ask for it on
every count, and incremental updates keep or hand on the pods tuple, so the answer is
memoised here, below both of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.model.objects import Pod, WorkloadKey

__all__ = ["Grouping", "carry_grouping", "pods_by_workload"]


@dataclass(frozen=True, slots=True)
class Grouping:
    """Pods per workload, in workload order: `keys[w]`, its display name `names[w]`, its
    pods `pods[w]`, and `workload_of[i]` for pod i."""

    keys: list[WorkloadKey]
    names: list[str]
    pods: list[list[int]]
    workload_of: npt.NDArray[np.int64]


_LAST_GROUPING: list[tuple[tuple[Pod, ...], Grouping]] = []


def pods_by_workload(pods: tuple[Pod, ...]) -> Grouping:
    """Remembered for the last pods tuple: an incremental update that changes no pod (a
    policy change) keeps the very same tuple, and one that changes a pod's labels only
    hands the grouping on (`carry_grouping`), so re-answering counts skips this pass."""
    if _LAST_GROUPING and _LAST_GROUPING[0][0] is pods:
        return _LAST_GROUPING[0][1]
    by_workload: dict[WorkloadKey, list[int]] = defaultdict(list)
    for i, pod in enumerate(pods):
        by_workload[pod.workload].append(i)
    # Sorted by the key's fields as a plain tuple: the dataclass's own ordering costs a
    # Python call per comparison, which 10,000 workloads notice.
    order = sorted(by_workload, key=lambda k: (k.namespace, k.name, k.kind))
    workload_of = np.empty(len(pods), dtype=np.int64)
    for w, key in enumerate(order):
        workload_of[by_workload[key]] = w
    out = Grouping(order, [str(k) for k in order], [by_workload[k] for k in order], workload_of)
    _LAST_GROUPING[:] = [(pods, out)]
    return out


def carry_grouping(old: tuple[Pod, ...], new: tuple[Pod, ...]) -> None:
    """`new` has the same pods as `old`, in the same places and workloads (labels may
    differ): its grouping is `old`'s."""
    if _LAST_GROUPING and _LAST_GROUPING[0][0] is old:
        _LAST_GROUPING[:] = [(new, _LAST_GROUPING[0][1])]
