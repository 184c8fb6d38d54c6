"""Choice options and --port: typer refuses a bad value before the command runs, with the
project's one-line `error: ...` (exit 2, nothing on stdout, no traceback), and --help lists
each command's own choices."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from microseg.cli.app import COMMANDS, app
from microseg.cli.commands.blast_radius import BlastFormat
from microseg.cli.commands.connectivity import ConnectivityFormat
from microseg.cli.commands.diff import DiffFormat
from microseg.cli.commands.exposure import ExposureFormat
from microseg.cli.commands.identity import IdentityFormat
from microseg.cli.commands.lint import LintFormat
from microseg.cli.commands.reach import ReachFormat
from microseg.cli.commands.stats import StatsFormat
from microseg.cli.commands.verify import VerifyFormat
from microseg.engine.options import HostNetwork
from microseg.engine.query import Layer
from microseg.render.diff import DIFF_FORMATS

runner = CliRunner()

# Each command with the arguments it needs to get past its required ones.
REACH = ["reach", "x", "--from", "a/b", "--to", "c/d"]
FORMATS: list[tuple[list[str], tuple[str, ...]]] = [
    (["connectivity", "x"], ("txt", "json", "csv", "md", "dot")),
    (REACH, ("text", "json")),
    (["stats", "x"], ("text", "json")),
    (["exposure", "x"], ("text", "json")),
    (["identity", "x"], ("text", "json")),
    (["lint", "x"], ("text", "json", "sarif")),
    (["verify", "x", "--intents", "i.yaml"], ("text", "json", "sarif", "junit")),
    (["blast-radius", "x", "--from", "a/b"], ("text", "json", "dot")),
    (["diff", "old", "new"], ("txt", "json", "csv", "md")),
]


def _usage_error(result: Result) -> str:
    """The stderr of a refused command line, after the checks every refusal shares."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    stderr = result.stderr
    assert stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr
    assert "╭" not in stderr  # no boxed panel
    assert len(stderr.splitlines()) == 1, stderr
    return stderr


@pytest.mark.parametrize(("args", "choices"), FORMATS)
def test_help_lists_the_output_choices(args: list[str], choices: tuple[str, ...]) -> None:
    result = runner.invoke(app, [args[0], "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert f"<{'|'.join(choices)}>" in result.stdout


@pytest.mark.parametrize(("args", "choices"), FORMATS)
def test_bad_output_exits_2(args: list[str], choices: tuple[str, ...]) -> None:
    stderr = _usage_error(runner.invoke(app, [*args, "-o", "yaml"]))
    expected = f"{', '.join(choices[:-1])} or {choices[-1]}"
    assert stderr == f"error: --output 'yaml': expected {expected}\n"


def test_the_output_enums_are_the_accepted_formats() -> None:
    assert [f.value for f in ConnectivityFormat] == ["txt", "json", "csv", "md", "dot"]
    for kind in (ReachFormat, StatsFormat, ExposureFormat, IdentityFormat):
        assert [f.value for f in kind] == ["text", "json"]
    assert [f.value for f in LintFormat] == ["text", "json", "sarif"]
    assert [f.value for f in VerifyFormat] == ["text", "json", "sarif", "junit"]
    assert [f.value for f in BlastFormat] == ["text", "json", "dot"]
    # diff's formats belong to the renderer; the CLI's enum must not drift from them
    assert tuple(f.value for f in DiffFormat) == DIFF_FORMATS


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("GRE/8", "protocol must be TCP, UDP or SCTP"),
        ("TCP/0", "ports must be 1-65535"),
        ("TCP/80/90", "expected PROTO/PORT"),
    ],
)
@pytest.mark.parametrize("args", [REACH, ["blast-radius", "x", "--from", "a/b"]])
def test_bad_port_exits_2(args: list[str], port: str, message: str) -> None:
    stderr = _usage_error(runner.invoke(app, [*args, "--port", port]))
    assert stderr.startswith("error: --port ")
    assert message in stderr


@pytest.mark.parametrize(
    "args",
    [REACH, ["connectivity", "x"], ["exposure", "x"], ["blast-radius", "x", "--from", "a/b"]],
)
def test_bad_layer_exits_2(args: list[str]) -> None:
    stderr = _usage_error(runner.invoke(app, [*args, "--layer", "l7"]))
    assert stderr == "error: --layer 'l7': expected network, mesh or both\n"


@pytest.mark.parametrize("args", [REACH, ["lint", "x"], ["diff", "old", "new"], ["identity", "x"]])
def test_bad_host_network_exits_2(args: list[str]) -> None:
    stderr = _usage_error(runner.invoke(app, [*args, "--host-network", "NODE"]))
    assert stderr == "error: --host-network 'NODE': expected node or pod\n"


def test_cli_choices_are_the_engine_values() -> None:
    """The CLI spells its own enums, but each value must be one the engine accepts."""
    from microseg.cli.options import HostNetworkChoice, LayerChoice

    assert {c.value for c in HostNetworkChoice} == {h.value for h in HostNetwork}
    assert {c.value for c in LayerChoice} == {layer.value for layer in Layer}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["reach", "x", "--to", "c/d"], "missing option '--from'"),
        (["blast-radius", "x", "--from", "a/b", "--hops", "0"], "'--hops'"),
        (["reach", "x", "--bogus"], "no such option: --bogus"),
        (["nope"], "no such command 'nope'"),
    ],
)
def test_framework_usage_errors_are_one_error_line(args: list[str], fragment: str) -> None:
    stderr = _usage_error(runner.invoke(app, args))
    assert fragment in stderr
    assert "--help'" in stderr  # points to the command's help


def test_flags_show_no_type_in_help() -> None:
    for name, _ in COMMANDS:
        result = runner.invoke(app, [name, "--help"], terminal_width=200)
        assert result.exit_code == 0, name
        assert "<bool>" not in result.stdout, name


def test_every_command_is_registered_once() -> None:
    names = [name for name, _ in COMMANDS]
    assert len(names) == len(set(names))
    result = runner.invoke(app, ["--help"], terminal_width=200)
    for name in names:
        assert name in result.stdout
