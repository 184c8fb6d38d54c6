"""What every part of an incremental update shares: index arrays, port ranges, the type
that comes in and goes out (the facade or the bare index), and the signal to rebuild."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from microseg.engine.assembly import Index as BuiltIndex
from microseg.model.sets import Protocol

__all__ = ["EMPTY", "Index", "IndexT", "Range", "Rebuild"]

Index = npt.NDArray[np.intp]
Range = tuple[Protocol, int, int]
EMPTY = np.zeros(0, dtype=np.intp)
IndexT = TypeVar("IndexT", bound=BuiltIndex)  # the facade or the bare index: what comes in goes out


class Rebuild(Exception):
    """The change needs a rebuild (the reason is the message)."""
