"""The append-only action log: every quarantine applied, planned (dry run) or released,
one JSON object per line, written with O_APPEND and fsync'd before the command goes on, so
that a crash never loses an action that reached the cluster, and `quarantine list` and
`release` know exactly what to undo.

A line cut short by a crash while it was written is skipped when the log is read, and
counted (`Log.cut`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ActionLog", "Log", "Quarantine", "read_log"]

API_VERSION = "microseg.dev/v1alpha1"


class ActionLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps({"apiVersion": API_VERSION, "kind": "QuarantineAction", **entry})
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(slots=True)
class Quarantine:
    """One quarantine as the log tells it: the action that applied (or planned) it, and
    the release, if any."""

    id: str
    applied: dict[str, Any]
    released: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        if self.released is not None:
            return "released"
        return "planned" if self.applied.get("dryRun") else "active"


@dataclass(slots=True)
class Log:
    quarantines: dict[str, Quarantine] = field(default_factory=dict)
    entries: int = 0
    cut: int = 0

    def active(self) -> list[Quarantine]:
        return [q for q in self.quarantines.values() if q.status == "active"]


def read_log(path: Path) -> Log:
    out = Log()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return out
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            out.cut += 1
            continue
        if not isinstance(entry, dict) or entry.get("kind") != "QuarantineAction":
            out.cut += 1
            continue
        out.entries += 1
        ident = str(entry.get("id", ""))
        if entry.get("action") == "release":
            if ident in out.quarantines:
                out.quarantines[ident].released = entry
        elif entry.get("action") in ("isolate", "label"):
            out.quarantines[ident] = Quarantine(ident, entry)
    return out
