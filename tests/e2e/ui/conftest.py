"""Servers for the UI tests: the real `microseg ui` command, started on a free loopback
port by the tests and stopped by them, on the demo and on a fixed copy of it.

The fixed copy relabels namespace `frontend` from `tenant: shop` to `tenant: web` (the fix
examples/demo/README.md describes), so that frontend/webapp -> shop/postgres is closed; a
flow store records the webapp trying TCP 5432 to postgres (dropped), which the page then
draws as denied but attempted, and `--diff examples/demo` shows what the fix changes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DEMO, REPO

MICROSEG = [str(Path(sys.executable).parent / "microseg")]
STATIC = REPO / "src" / "microseg" / "ui" / "static" / "index.html"
FLOWS_CSV = """\
src,dst,protocol,port,count,first_seen,last_seen,verdict
frontend/webapp,shop/api-gateway,TCP,8080,120,,,forwarded
frontend/webapp,shop/postgres,TCP,5432,3,,,dropped
shop/api-gateway,shop/catalog,TCP,9090,40,,,forwarded
frontend/webapp,kube-system/coredns,UDP,53,55,,,forwarded
"""


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    intents: Path
    inputs: Path


def _start(args: list[str], intents: Path, inputs: Path) -> Iterator[Server]:
    if not STATIC.is_file():
        pytest.fail("the page is not built: run `make ui` (make test does)")
    proc = subprocess.Popen(
        [*MICROSEG, "ui", *args, "--port", "0", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://\S+", line)
    if match is None:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"microseg ui did not start: {line!r} {err}")
    try:
        yield Server(match.group(0), proc, intents, inputs)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def fixed_demo(root: Path) -> Path:
    target = root / "fixed"
    shutil.copytree(DEMO, target)
    ns = target / "namespaces.yaml"
    text = ns.read_text()
    start = text.index("name: frontend")
    end = text.index("---", start) if "---" in text[start:] else len(text)
    block = text[start:end].replace("tenant: shop", "tenant: web")
    ns.write_text(text[:start] + block + text[end:])
    (target / "intents.yaml").unlink()
    return target


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo as shipped, with a copy of its intents as the file saves go to."""
    root = tmp_path_factory.mktemp("ui-demo")
    intents = root / "intents.yaml"
    shutil.copy(DEMO / "intents.yaml", intents)
    yield from _start([str(DEMO), "--intents", str(intents)], intents, DEMO)


@pytest.fixture(scope="session")
def fixed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The fixed shop, with observed flows, a new intent file and the demo to diff with."""
    root = tmp_path_factory.mktemp("ui-fixed")
    fixed = fixed_demo(root)
    csv = root / "flows.csv"
    csv.write_text(FLOWS_CSV)
    db = root / "flows.duckdb"
    done = subprocess.run(
        [
            *MICROSEG,
            "flows",
            "import",
            str(csv),
            "--db",
            str(db),
            "--cluster-snapshot",
            str(fixed),
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    intents = root / "drawn.yaml"
    args = [str(fixed), "--flows", str(db), "--intents", str(intents), "--diff", str(DEMO)]
    yield from _start(args, intents, fixed)
