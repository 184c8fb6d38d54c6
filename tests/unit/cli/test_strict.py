"""`--strict` on every command that reads manifests: warnings about the input become
errors, printed as such, and nothing is analysed (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: Web_1, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c}]}
"""


@pytest.mark.parametrize(
    "args",
    [
        ["connectivity"],
        ["stats"],
        ["exposure"],
        ["identity"],
        ["lint"],
        ["reach", "--from", "shop/Web_1", "--to", "shop/Web_1"],
        ["blast-radius", "--from", "shop/Web_1"],
    ],
)
def test_strict_turns_warnings_into_errors(args: list[str], tmp_path: Path) -> None:
    f = tmp_path / "pods.yaml"
    f.write_text(MANIFEST)
    lenient = CliRunner().invoke(app, [args[0], str(f), *args[1:]])
    assert lenient.exit_code in (0, 1)
    assert "warning[MS205]" in lenient.stderr
    strict = CliRunner().invoke(app, [args[0], str(f), *args[1:], "--strict"])
    assert strict.exit_code == 2
    assert "error[MS205]" in strict.stderr
    assert "1 warning made errors by --strict; nothing was analysed" in strict.stderr
    assert strict.stdout == ""


def test_every_reading_command_has_the_cluster_options() -> None:
    for name in (
        "connectivity",
        "reach",
        "stats",
        "verify",
        "blast-radius",
        "exposure",
        "diff",
        "lint",
        "identity",
        "simulate",
        "monitor",
        "apply",
        "recommend",
        "generate",
    ):
        out = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        for flag in ("--cluster", "--context", "--kubeconfig", "--cluster-namespace", "--strict"):
            assert flag in out.stdout, (name, flag)
