"""The `ingest_path` fixture for every semantics test module."""

from tests.unit.semantics._support import ingest_path

__all__ = ["ingest_path"]
