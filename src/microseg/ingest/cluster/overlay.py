"""The live cluster with a folder's objects applied over it: what `kubectl diff -f DIR`
compares the cluster with, and what `microseg apply` is about to make of it.

An object of the folder replaces the cluster's object of the same API group, kind,
namespace and name (as an apply replaces the fields it owns; a generated policy owns its
whole spec), and is added when the cluster has none. Objects without `metadata.namespace`
go where `-n` says, as `kubectl apply -n` puts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from microseg.errors import Diagnostic
from microseg.ingest.assumed import with_namespace
from microseg.ingest.cluster.reading import ClusterRead
from microseg.ingest.documents import MAX_INPUT_BYTES, Document, read_paths

__all__ = ["object_key", "overlay_documents"]

ObjectKey = tuple[str, str, str, str]


def object_key(data: dict[str, Any]) -> ObjectKey:
    """(API group, kind, namespace, name): what identifies an object to the API."""
    group = str(data.get("apiVersion") or "").rpartition("/")[0]
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return group, str(data.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def overlay_documents(
    read: ClusterRead,
    paths: list[str],
    namespace: str = "default",
    max_input_bytes: int = MAX_INPUT_BYTES,
) -> Iterator[Document | Diagnostic]:
    extra: dict[ObjectKey, Document] = {}
    notes: list[Diagnostic] = []
    for item in read_paths(paths, max_input_bytes):
        if isinstance(item, Diagnostic):
            notes.append(item)
            continue
        with_namespace(item, namespace)
        extra[object_key(item.data)] = item
    yield from read.diagnostics
    yield from notes
    for doc in read.documents:
        if object_key(doc.data) not in extra:
            yield doc
    yield from extra.values()
