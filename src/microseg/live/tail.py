"""Tailing sources that grow: files, folders of files, and stdin, as `tail -F` does.

- Complete lines only: a line is handed over once its newline arrives; the part after the
  last newline waits. When the source ends (stdin closed) or is replaced (rotated,
  truncated) with a partial line pending, that line is handed over marked `cut`, and the
  parsers refuse it as truncated.
- Rotation: a file is followed by its descriptor, so a renamed file (logrotate's `create`)
  is read to its end before the new file at the path is opened from its start. A file
  truncated in place (`copytruncate`) is read again from its start.
- A path that disappears is said once (`missing`), and followed again when it comes back.
- Offsets: what was consumed, per path with its device and inode, so that a restart goes
  on where it stopped (`state()` / the `offsets` argument); a different file at the path
  since (another inode, or shorter than the offset) is read from its start, said once.
- A folder: every regular, non-hidden file in it (not recursively), each tailed as above;
  files that appear later are picked up at the next poll, from their start.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from microseg.ingest.events import Line

__all__ = ["MAX_LINE", "Notice", "Tailer"]

MAX_LINE = 16 << 20
"""A line longer than this is cut there (handed over `cut`, the rest skipped)."""
_CHUNK = 4 << 20


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a source did: `kind` is missing, back, rotated, truncated, restarted,
    ended, unreadable."""

    path: str
    kind: str
    detail: str = ""


@dataclass(slots=True)
class _File:
    path: str
    handle: BinaryIO | None = None
    dev: int = 0
    ino: int = 0
    offset: int = 0
    """Bytes consumed: the end of the last complete line handed over."""
    line: int = 0
    pending: bytes = b""
    skipping: bool = False
    missing: bool = False
    said: set[str] = field(default_factory=set)


class Tailer:
    """One source: a file, a folder or `-` (stdin). `poll()` returns the new complete lines
    (with when they were read) and what happened to the source."""

    def __init__(
        self, spec: str, offsets: dict[str, Any] | None = None, start_at_end: bool = False
    ) -> None:
        self.spec = spec
        self.offsets = offsets or {}
        self.start_at_end = start_at_end
        self.files: dict[str, _File] = {}
        self.ended = False
        self._stdin: _File | None = None
        if spec == "-":
            self._stdin = _File("-")
            self._stdin.handle = sys.stdin.buffer
            self._fd = sys.stdin.fileno()
            # A regular file or a stream that cannot be made non-blocking is read as it is.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.set_blocking(sys.stdin.fileno(), False)

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            p: {"dev": f.dev, "ino": f.ino, "offset": f.offset, "line": f.line}
            for p, f in self.files.items()
            if f.handle is not None or f.offset
        }

    def close(self) -> None:
        for f in self.files.values():
            if f.handle is not None:
                f.handle.close()
                f.handle = None

    # -- polling -------------------------------------------------------------------------
    def poll(self, budget: int = _CHUNK) -> tuple[list[Line], list[Notice]]:
        lines: list[Line] = []
        notices: list[Notice] = []
        if self._stdin is not None:
            if not self.ended:
                self._read_stdin(lines, notices, budget)
            return lines, notices
        path = Path(self.spec)
        if path.is_dir():
            paths = sorted(
                str(p) for p in path.iterdir() if not p.name.startswith(".") and p.is_file()
            )
        else:
            paths = [self.spec]
        for p in paths:
            f = self.files.get(p)
            if f is None:
                f = self.files[p] = _File(p)
            self._follow(f, lines, notices, budget)
        if path.is_dir():
            for p, f in list(self.files.items()):
                if p not in paths and f.handle is not None:
                    self._drain(f, lines, budget)  # removed or renamed away: read what is left
                    self._flush_cut(f, lines)
                    f.handle.close()
                    f.handle = None
                    del self.files[p]
        return lines, notices

    def _say(self, f: _File, notices: list[Notice], kind: str, detail: str = "") -> None:
        if kind not in f.said:
            f.said.add(kind)
            notices.append(Notice(f.path, kind, detail))

    def _open(self, f: _File, notices: list[Notice]) -> bool:
        try:
            handle = open(f.path, "rb")  # noqa: SIM115 (held open across polls)
        except FileNotFoundError:
            if not f.missing:
                f.missing = True
                self._say(f, notices, "missing")
            return False
        except OSError as exc:
            self._say(f, notices, "unreadable", exc.strerror or str(exc))
            return False
        st = os.fstat(handle.fileno())
        saved = self.offsets.pop(f.path, None)
        f.handle, f.dev, f.ino, f.pending, f.skipping = handle, st.st_dev, st.st_ino, b"", False
        if f.missing:
            f.missing = False
            f.said.discard("missing")
            notices.append(Notice(f.path, "back"))
        if saved is not None:
            same = saved.get("dev") == st.st_dev and saved.get("ino") == st.st_ino
            if same and int(saved.get("offset", 0)) <= st.st_size:
                f.offset, f.line = int(saved["offset"]), int(saved.get("line", 0))
                handle.seek(f.offset)
            else:
                f.offset = f.line = 0
                notices.append(Notice(f.path, "restarted", "another file than the one recorded"))
        elif self.start_at_end:
            f.offset = st.st_size
            handle.seek(f.offset)
        else:
            f.offset = f.line = 0
        return True

    def _follow(self, f: _File, lines: list[Line], notices: list[Notice], budget: int) -> None:
        if f.handle is None and not self._open(f, notices):
            return
        assert f.handle is not None
        self._drain(f, lines, budget)
        try:
            st = os.stat(f.path)
        except FileNotFoundError:
            # Gone: what the descriptor still holds was read; wait for the path to return.
            self._flush_cut(f, lines)
            f.handle.close()
            f.handle = None
            f.missing = True
            self._say(f, notices, "missing")
            f.offset = f.line = 0
            return
        except OSError:
            return
        if (st.st_dev, st.st_ino) != (f.dev, f.ino):
            self._flush_cut(f, lines)
            f.handle.close()
            f.handle = None
            notices.append(Notice(f.path, "rotated"))
            f.said.clear()
            f.offset = f.line = 0
            if self._open(f, notices):
                self._drain(f, lines, budget)
        elif st.st_size < f.offset + len(f.pending):
            self._flush_cut(f, lines)
            notices.append(Notice(f.path, "truncated", "read again from its start"))
            f.handle.seek(0)
            f.offset = f.line = 0
            f.pending = b""
            self._drain(f, lines, budget)

    def _drain(self, f: _File, lines: list[Line], budget: int) -> None:
        assert f.handle is not None
        read = 0
        while read < budget:
            chunk = f.handle.read(min(_CHUNK, budget - read))
            if not chunk:
                return
            read += len(chunk)
            self._split(f, chunk, lines)

    def _split(self, f: _File, chunk: bytes, lines: list[Line]) -> None:
        data = f.pending + chunk
        parts = data.split(b"\n")
        f.pending = parts.pop()
        if parts and not f.skipping and max(map(len, parts)) <= MAX_LINE:
            # The common case, without a Python step per line for the bookkeeping.
            base, path = f.line + 1, f.path
            f.offset += len(data) - len(f.pending)
            f.line += len(parts)
            lines.extend(Line(path, n, part.rstrip(b"\r")) for n, part in enumerate(parts, base))
            parts = []
        for part in parts:
            f.offset += len(part) + 1
            f.line += 1
            if f.skipping:
                f.skipping = False  # the end of an over-long line
                continue
            if len(part) > MAX_LINE:
                lines.append(Line(f.path, f.line, part[:4096], cut=True))
                continue
            lines.append(Line(f.path, f.line, part.rstrip(b"\r")))
        if len(f.pending) > MAX_LINE:
            f.line += 1
            lines.append(Line(f.path, f.line, f.pending[:4096], cut=True))
            f.offset += len(f.pending)
            f.pending = b""
            f.skipping = True

    def _flush_cut(self, f: _File, lines: list[Line]) -> None:
        if f.pending and not f.skipping:
            f.line += 1
            lines.append(Line(f.path, f.line, f.pending, cut=True))
        f.offset += len(f.pending)
        f.pending = b""

    def _read_stdin(self, lines: list[Line], notices: list[Notice], budget: int) -> None:
        f = self._stdin
        assert f is not None
        assert f.handle is not None
        read = 0
        while read < budget:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                return
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                self._flush_cut(f, lines)
                self.ended = True
                notices.append(Notice("-", "ended"))
                return
            read += len(chunk)
            self._split(f, chunk, lines)
