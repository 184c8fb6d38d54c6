"""Incremental updates of the connectivity index (work in progress: rebuilds for now)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from microseg.model.changes import Change, apply_change

if TYPE_CHECKING:
    from microseg.engine.connectivity import Connectivity

__all__ = ["apply_incrementally"]


def apply_incrementally(conn: Connectivity, change: Change) -> Connectivity:
    from microseg.engine.connectivity import Connectivity

    return Connectivity.build(apply_change(conn.cluster, change), conn.options)
