"""The README's promise, kept the way a new user meets it: a new clone in a new folder runs
`make demo` and `make test` with nothing installed beforehand.

It is marked `fresh_clone` (not run by `make test`, which would recurse) and run by
`.ci/run` through `make test-fresh`. It clones HEAD, so only committed work is tested."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, conformance_root

pytestmark = pytest.mark.fresh_clone


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-6000:]}"
    return out


def test_make_demo_and_make_test_pass_in_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.fail("git and make are needed to test a fresh clone")
    clone = tmp_path / "microseg"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    assert not (clone / ".venv").exists()
    # The outer run's environment, less what would point the clone at this checkout.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))
    )
    root = conformance_root()
    if root is not None:
        env["MICROSEG_CONFORMANCE"] = str(root)
    demo = _run(["make", "demo"], clone, env, 1200)
    assert "ALLOWED" in demo or "DENIED" in demo, demo[-3000:]
    out = _run(["make", "test"], clone, env, 3000)
    assert " passed" in out, out[-3000:]
    assert " failed" not in out, out[-3000:]
    # The clone installed exactly the locked set.
    frozen = _run([str(clone / ".tools" / "bin" / "uv"), "lock", "--check"], clone, env, 120)
    assert "error" not in frozen.lower()
