"""Text output through a pipe (no terminal): a fixed width, and no word ever broken.

Each command runs as a process with stdout a pipe, once as users run it (the fixed width
of render/text.py, whatever COLUMNS says) and once with that width made huge, where
nothing can wrap. A word broken
across lines, or a header squeezed to a few letters, shows as a token of the first run
that the second never prints.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO, REPO

DEMO_ARG = "examples/demo"
GAP = ["--from", "frontend/webapp", "--to", "shop/postgres", "--port", "TCP/5432"]
BOX = re.compile(r"[\u2500-\u257f]+")
TIMING = re.compile(r"^\d+\.\d+$")

CASES: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("connectivity", ["connectivity", DEMO_ARG], ()),
    ("reach", ["reach", DEMO_ARG, *GAP], ()),
    ("stats", ["stats", DEMO_ARG], ("equivalence classes", "port atoms")),
    ("verify", ["verify", DEMO_ARG, "--intents", f"{DEMO_ARG}/intents.yaml"], ()),
    ("blast-radius", ["blast-radius", DEMO_ARG, "--from", "frontend/webapp"], ()),
    ("exposure", ["exposure", DEMO_ARG], ("Entry -> workload", "Routed ports", "Addresses")),
    ("lint", ["lint", DEMO_ARG], ()),
    ("identity", ["identity", DEMO_ARG], ("service account", "SPIFFE ID", "allowed callers")),
    ("demo", ["demo"], ("workload", "connections")),
]


MAIN = "from microseg.cli.app import main; main()"
UNWRAPPED = "import microseg.render.text as t; t.TEXT_WIDTH = 100_000; " + MAIN


def run(args: list[str], code: str = MAIN) -> str:
    # COLUMNS=80, as CI runners export it: the fixed width must not follow it.
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,  # stdout is a pipe, not a terminal
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def tokens(text: str) -> set[str]:
    return {t for t in BOX.sub(" ", text).split() if not TIMING.match(t)}


def check(args: list[str], headers: tuple[str, ...]) -> None:
    piped = run(args)
    wide = run(args, UNWRAPPED)
    broken = tokens(piped) - tokens(wide)
    assert not broken, f"words broken across lines: {sorted(broken)[:20]}"
    for header in headers:
        assert any(header in line for line in piped.splitlines()), f"header {header!r} squeezed"
    table_lines = [line for line in piped.splitlines() if BOX.search(line)]
    assert all(len(line) <= 200 for line in table_lines), max(map(len, table_lines))


@pytest.mark.parametrize(("name", "args", "headers"), CASES, ids=[c[0] for c in CASES])
def test_text_output_through_a_pipe(name: str, args: list[str], headers: tuple[str, ...]) -> None:
    check(args, headers)


def test_diff_through_a_pipe(tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(DEMO, new)
    (new / "policies" / "shop.yaml").unlink()
    check(["diff", DEMO_ARG, str(new)], ())
