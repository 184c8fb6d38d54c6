"""Observed traffic: flow records (Hubble, Calico, Envoy/Istio, CSV) read by DuckDB into a
store of aggregated flow keys. Called only by adapters (the CLI), like the rest of ingest."""

from typing import TYPE_CHECKING, Any

from microseg.ingest.flows.detect import UnknownFormatError, detect_format
from microseg.ingest.flows.formats import CSV_HEADER, FlowFormat

if TYPE_CHECKING:
    from microseg.ingest.flows.store import (
        FlowStore,
        ImportFailure,
        ImportResult,
        StoreError,
        show,
        stats,
    )

_STORE = frozenset({"FlowStore", "ImportFailure", "ImportResult", "StoreError", "show", "stats"})


def __getattr__(name: str) -> Any:
    # The store needs DuckDB, whose import costs every command ~40 ms at start-up: it is
    # loaded when a flow command first asks for it (PEP 562), not when the CLI starts.
    if name in _STORE:
        from microseg.ingest.flows import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CSV_HEADER",
    "FlowFormat",
    "FlowStore",
    "ImportFailure",
    "ImportResult",
    "StoreError",
    "UnknownFormatError",
    "detect_format",
    "show",
    "stats",
]
