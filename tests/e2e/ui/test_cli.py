"""`microseg ui` refuses bad input before serving: exit 2, one located line, no traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.e2e.ui.conftest import DEMO, MICROSEG, REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MICROSEG, "ui", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_missing_input(tmp_path: Path) -> None:
    r = run(str(tmp_path / "nope"), "--port", "0")
    assert r.returncode == 2
    assert "MS001" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_flow_store(tmp_path: Path) -> None:
    r = run(str(DEMO), "--flows", str(tmp_path / "none.duckdb"), "--port", "0")
    assert r.returncode == 2
    assert "no such flow store" in r.stderr


def test_bad_intent_file_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "intents.yaml"
    bad.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: x}\n"
        "spec:\n  deny:\n    - {from: nowhere, to: internet}\n"
    )
    r = run(str(DEMO), "--intents", str(bad), "--port", "0")
    assert r.returncode == 2
    assert "intents.yaml:6: error[MS401]" in r.stderr
    assert "Traceback" not in r.stderr


def test_port_in_use() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = run(str(DEMO), "--port", str(port))
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
