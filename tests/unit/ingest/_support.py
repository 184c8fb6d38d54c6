"""Helpers for the bad-input tests: write a manifest, load it, find its diagnostics and lines."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from microseg.errors import Diagnostic, InputError, Severity
from microseg.ingest import load

NETPOL_HEAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
  namespace: ns
spec:
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write `text` (dedented, without a leading newline) to `tmp_path/name`."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def netpol(spec_body: str) -> str:
    """A NetworkPolicy ns/np whose `spec:` holds `spec_body` (indented by two spaces)."""
    return NETPOL_HEAD + textwrap.indent(textwrap.dedent(spec_body).lstrip("\n"), "  ")


def line_containing(path: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line of `path` that contains `needle`."""
    hits = [
        i
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if needle in line
    ]
    assert len(hits) >= occurrence, f"{needle!r} occurs {len(hits)} times in {path}"
    return hits[occurrence - 1]


def load_errors(paths: Iterable[Path | str]) -> tuple[Diagnostic, ...]:
    """Load `paths`, expecting InputError; its diagnostics, all checked to be errors."""
    with pytest.raises(InputError) as info:
        load([str(p) for p in paths])
    diags = info.value.diagnostics
    assert diags, "InputError without diagnostics"
    assert all(d.severity is Severity.ERROR for d in diags), [d.render() for d in diags]
    return diags


def only(diags: Iterable[Diagnostic], code: str) -> Diagnostic:
    """The one diagnostic with `code` (fails, listing all of them, if there is not exactly one)."""
    diags = tuple(diags)
    matching = [d for d in diags if d.code == code]
    assert len(matching) == 1, f"expected one {code}, got: {[d.render() for d in diags]}"
    return matching[0]
