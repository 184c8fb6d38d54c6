"""The envelope every JSON output carries, so scripts can rely on its shape (see UX.md)."""

from __future__ import annotations

from typing import Any

__all__ = ["API_VERSION", "envelope"]

API_VERSION = "microseg.dev/v1alpha1"


def envelope(kind: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, **fields}
