"""The CLI shell: argument errors exit 2 with one clear line on stderr and nothing on stdout."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

runner = CliRunner()


@pytest.fixture
def demo(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo as the relative path `examples/demo`, with the repository as cwd."""
    repo = demo_dir.parents[1]
    monkeypatch.chdir(repo)
    return str(demo_dir.relative_to(repo))


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "connectivity" in result.output
    assert "reach" in result.output


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("GRE/1", "protocol must be TCP, UDP or SCTP"),
        ("ICMP/8/256", "the ICMP code must be a number 0-255"),
        ("TCP/0", "ports must be 1-65535"),
        ("TCP/80/90", "expected PROTO/PORT"),
    ],
)
def test_reach_bad_port_exits_2(demo: str, port: str, message: str) -> None:
    args = ["reach", demo, "--from", "frontend/webapp", "--to", "shop/postgres", "--port", port]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: --port")
    assert message in result.stderr


def test_reach_bad_output_exits_2(demo: str) -> None:
    args = ["reach", demo, "--from", "frontend/webapp", "--to", "shop/postgres", "-o", "yaml"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--output 'yaml': expected text or json" in result.stderr


def test_connectivity_bad_output_exits_2(demo: str) -> None:
    result = runner.invoke(app, ["connectivity", demo, "-o", "yaml"])
    assert result.exit_code == 2
    assert "--output 'yaml': expected txt, json, csv, md or dot" in result.stderr
    assert result.stdout == ""


def test_unknown_endpoint_exits_2(demo: str) -> None:
    args = ["reach", demo, "--from", "frontend/nope", "--to", "shop/postgres"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "frontend/nope" in result.stderr
    assert result.stdout == ""


def test_focus_on_an_address_exits_2(demo: str) -> None:
    result = runner.invoke(app, ["connectivity", demo, "--focus-workload", "10.0.0.1"])
    assert result.exit_code == 2
    assert "expected a workload" in result.stderr


def test_bad_host_network_exits_2(demo: str) -> None:
    result = runner.invoke(app, ["connectivity", demo, "--host-network", "maybe"])
    assert result.exit_code == 2
    assert "--host-network 'maybe': expected node or pod" in result.stderr


def test_missing_path_exits_2_with_a_diagnostic(demo: str) -> None:
    result = runner.invoke(app, ["connectivity", "does/not/exist"])
    assert result.exit_code == 2
    assert "MS001" in result.stderr
    assert "does/not/exist" in result.stderr
    assert "Traceback" not in result.output


def test_reach_protocol_outside_networkpolicy_is_refused(demo: str) -> None:
    """ICMP parses (Calico rules name it), but the demo has no Calico object: the answer
    would be a guess, so it is an error rather than DENIED."""
    args = ["reach", demo, "--from", "frontend/webapp", "--to", "shop/postgres", "--port", "ICMP/8"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "NetworkPolicy names only SCTP, TCP and UDP" in result.stderr
