"""The README's library example runs as written, from the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _library_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### As a library") :]
    return section.split("```python", 1)[1].split("```", 1)[0]


def test_readme_library_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        exec(compile(_library_example(), "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert out.startswith("Verdict.ALLOW")
    assert int(out.strip().splitlines()[-1]) > 0  # allowed pairs after the changes
