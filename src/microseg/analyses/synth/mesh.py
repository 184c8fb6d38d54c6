"""`--format adminnetworkpolicy` (filled in below)."""

from __future__ import annotations

from typing import Any


def generate(*args: Any) -> tuple[list[Any], list[tuple[str, str, str, str]]]:
    return [], []
