"""Observed traffic: flow records (Hubble, Calico, Envoy/Istio, CSV) read by DuckDB into a
store of aggregated flow keys. Called only by adapters (the CLI), like the rest of ingest."""

from microseg.ingest.flows.detect import UnknownFormatError, detect_format
from microseg.ingest.flows.formats import CSV_HEADER, FlowFormat
from microseg.ingest.flows.store import (
    FlowStore,
    ImportResult,
    StoreError,
    show,
    stats,
)

__all__ = [
    "CSV_HEADER",
    "FlowFormat",
    "FlowStore",
    "ImportResult",
    "StoreError",
    "UnknownFormatError",
    "detect_format",
    "show",
    "stats",
]
