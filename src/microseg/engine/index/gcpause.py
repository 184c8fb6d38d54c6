"""Pausing Python's cyclic garbage collector around allocation-heavy stages.

Building the index allocates hundreds of thousands of small, acyclic objects (tuples, dict
entries, small arrays) while the loaded cluster, itself millions of objects, stays alive:
every automatic collection rescans that whole heap for cycles that are not there. The
stages below pause the collector and restore it afterwards, as `ingest.load` does while
parsing; reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
