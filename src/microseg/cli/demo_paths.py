"""Where the bundled demo is: beside the working directory or above this package."""

from __future__ import annotations

import os
from pathlib import Path

from microseg.cli.common import fail

__all__ = ["find_demo"]


def find_demo(path: Path | None) -> Path:
    if path is not None:
        return path
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / "examples" / "demo"
        if candidate.is_dir():
            # Relative to the working directory when possible: shorter origins in explanations.
            return (
                Path(os.path.relpath(candidate))
                if candidate.is_relative_to(Path.cwd())
                else candidate
            )
    fail("cannot find examples/demo; run from the repository or pass --path")
