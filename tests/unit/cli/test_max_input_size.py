"""--max-input-size: every command that reads manifests takes it, sizes read as Kubernetes
quantities (decimal k, M, G, binary Ki, Mi, Gi), a bad size is a one-line usage error, and a
file or stdin over the limit is a located MS001 error (exit 2) whose message names the
option; at the limit it is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from microseg.cli.args import parse_size
from microseg.ingest import MAX_INPUT_BYTES

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
COMMANDS = [
    ["connectivity"],
    ["reach", "--from", "a/b", "--to", "a/c"],
    ["stats"],
    ["exposure"],
    ["identity"],
    ["lint"],
    ["blast-radius", "--from", "a/b"],
    ["verify", "--intents", str(EXAMPLES / "demo" / "intents.yaml")],
    ["check", "--guardrails", str(EXAMPLES / "guardrails" / "guardrails.yaml")],
]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1048576),
        ("200M", 200_000_000),
        ("200MB", 200_000_000),
        ("1Gi", 1 << 30),
        ("1GiB", 1 << 30),
        ("512Ki", 512 * 1024),
        ("5k", 5000),
        ("5K", 5000),
        ("2T", 2 * 10**12),
        (" 3Mi ", 3 << 20),
    ],
)
def test_sizes_read_as_kubernetes_quantities(text: str, size: int) -> None:
    assert parse_size("--max-input-size", text) == size


@pytest.mark.parametrize("text", ["0", "-1", "1.5G", "1Q", "", "G", "1 G B", "1e9"])
def test_a_bad_size_is_refused_with_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"--max-input-size .*expected a positive size"):
        parse_size("--max-input-size", text)


def test_the_default_is_one_gibibyte() -> None:
    assert MAX_INPUT_BYTES == 1 << 30


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_reading_command_takes_the_option(command: list[str], tmp_path: Path) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text(NAMESPACE, encoding="utf-8")
    size = len(NAMESPACE.encode())
    over = runner.invoke(app, [command[0], str(path), *command[1:], "--max-input-size", "20"])
    assert over.exit_code == 2, over.output
    assert "error[MS001]: larger than the input size limit (20 bytes" in over.stderr
    assert "--max-input-size" in over.stderr
    at = runner.invoke(app, [command[0], str(path), *command[1:], "--max-input-size", str(size)])
    assert "MS001" not in at.stderr


def test_stdin_over_the_limit_is_refused() -> None:
    result = runner.invoke(app, ["stats", "-", "--max-input-size", "10"], input=NAMESPACE)
    assert result.exit_code == 2
    assert "<stdin>: error[MS001]: larger than the input size limit (10 bytes" in result.stderr


def test_a_bad_size_is_a_usage_error() -> None:
    result = runner.invoke(app, ["stats", "x", "--max-input-size", "lots"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: --max-input-size 'lots': expected a positive size")
    assert len(result.stderr.splitlines()) == 1
