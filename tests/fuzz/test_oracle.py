"""The fuzz oracle finds what it is there to find: a raw escape in any output, a Markdown
row with a cell too many, CSV rows of unequal width, JSON that does not parse, DOT or
JUnit that is not well-formed, a traceback, an exit code outside 0-2, an exit 2 without
an error line, the out-of-memory line."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tests.fuzz.cases import Case
from tests.fuzz.oracle import DOT, judge, run_case


def _case(fmt: str) -> Case:
    return Case("t", ["connectivity", "{in}", "-o", fmt], {}, fmt, [])


@pytest.mark.parametrize(
    ("fmt", "code", "out", "err", "kind"),
    [
        ("txt", 0, "a => b : All Connections\n", "", "ok"),
        ("txt", 0, "a\x1b[2J => b : x\n", "", "crash"),
        ("txt", 0, "a => b : x\n", "warning: \u202eevil\n", "crash"),
        ("txt", 0, "a => b : x\n", "Traceback (most recent call last):\n", "crash"),
        ("txt", 3, "", "", "crash"),
        ("txt", 2, "", "nothing useful\n", "crash"),
        ("txt", 2, "", "f.yaml:3: error[MS102]: spec: bad\n", "rejected"),
        ("txt", 2, "", "error: out of memory: the input is too large\n", "memory"),
        ("md", 0, "| src | dst | conn |\n|-----|-----|------|\n| a | b\\|c | x |\n", "", "ok"),
        ("md", 0, "| src | dst | conn |\n|-----|-----|------|\n| a | b|c | x |\n", "", "crash"),
        ("csv", 0, "src,dst,conn\na,b,c\n", "", "ok"),
        ("csv", 0, "src,dst,conn\na,b\n", "", "crash"),
        ("json", 0, '{"kind": "X"}', "", "ok"),
        ("json", 0, '{"kind": "X"', "", "crash"),
        ("junit", 1, "<testsuites><testsuite/></testsuites>", "", "ok"),
        ("junit", 1, "<testsuites><testsuite></testsuites>", "", "crash"),
        ("sarif", 1, '{"version": "2.1.0", "runs": []}', "", "ok"),
    ],
)
def test_judged_as(fmt: str, code: int, out: str, err: str, kind: str) -> None:
    outcome = judge(_case(fmt), code, out.encode(), err.encode(), 0.1)
    assert outcome.kind == kind, outcome.detail


def test_output_that_is_not_utf8_is_a_crash() -> None:
    assert judge(_case("txt"), 0, b"\xff\n", b"", 0.1).kind == "crash"


@pytest.mark.skipif(DOT is None, reason="Graphviz is not installed")
def test_dot_goes_through_graphviz() -> None:
    good = 'digraph microseg {\n  "a" -> "b" [label="x"];\n}\n'
    bad = 'digraph microseg {\n  "a" -> "b [label="x"];\n}\n'
    assert judge(_case("dot"), 0, good.encode(), b"", 0.1).kind == "ok"
    assert judge(_case("dot"), 0, bad.encode(), b"", 0.1).kind == "crash"


def test_in_process_runs_of_different_commands_each_find_their_command(tmp_path: Path) -> None:
    """Runs in one process build an app per command (the CLI builds one with the named
    command alone): each must find its own command however apps come and go. A cache of
    click trees by the id of collected apps once answered one command with another's
    tree ("no such command 'blast-radius'"), a clean rejection that tested nothing."""
    pod = b"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {app: p}}\n"
    files = {"pods.yaml": pod + b"spec: {containers: [{name: c, image: i}]}\n"}
    commands = [["stats", "{in}"], ["lint", "{in}"], ["blast-radius", "{in}", "--from", "a/p"]]
    for turn in range(6):
        args = commands[turn % len(commands)]
        outcome = run_case(Case("t", args, files, "text", []), tmp_path / "case")
        gc.collect()  # collected apps free their ids for the next ones
        assert outcome.kind in ("ok", "rejected"), outcome.detail
        assert "no such command" not in outcome.detail, (args[0], outcome.detail)
        assert outcome.exit_code in (0, 1), (args[0], outcome.detail)


def test_reused_apps_are_kept_per_command_so_no_tree_answers_for_another() -> None:
    """The mechanism behind the test above, without relying on the allocator: apps are
    kept per command (an id is never freed for another app to take), and the tree given
    for an app is that app's."""
    import typer.main

    from microseg.cli import app as cli_app
    from tests.fuzz.oracle import _reuse_commands

    _reuse_commands()
    stats, lint = cli_app.build_app("stats"), cli_app.build_app("lint")
    assert cli_app.build_app("stats") is stats
    assert set(typer.main.get_command(stats).commands) == {"stats"}  # type: ignore[attr-defined]
    assert set(typer.main.get_command(lint).commands) == {"lint"}  # type: ignore[attr-defined]


def test_a_csv_cell_larger_than_pythons_default_field_limit_is_judged() -> None:
    big = "n" * 300_000
    out = f"src,dst,conn\n{big},b,c\n".encode()
    assert judge(_case("csv"), 0, out, b"", 0.1).kind == "ok"
