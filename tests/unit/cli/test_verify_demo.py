"""`microseg demo` shows the intents' verdict and the blast radius of the frontend."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app


def test_demo_shows_verify_and_blast_radius(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_dir.parents[1])
    result = CliRunner().invoke(app, ["demo", "--no-color"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    verify_at = out.index("Verify: the segmentation intents in examples/demo/intents.yaml")
    assert out.index("FAIL 1 of 18 intents violated", verify_at) > verify_at
    assert "VIOLATED shop/deny[0]: web must not reach database on any port" in out
    blast_at = out.index("Blast radius: what an attacker holding frontend/webapp can reach")
    assert blast_at > verify_at
    assert "frontend/webapp[Deployment] compromised: " in out[blast_at:]
    assert "frontend/webapp[Deployment] -> shop/postgres[StatefulSet]" in out[blast_at:]
