"""netpol-analyzer's connlist outputs made with focus options (`_focus_workload_`,
`_<direction>`, `_with_<peers>`, `_<proto>-<port>`), every format, compared by meaning
with microseg's connectivity list narrowed as those options narrow it (options.py).

Where microseg's own option exists (one `--focus-workload`, no other option) the case is
also run with it and must give the same rows. `nad_test_*` cases are compared on their
primary network only, as in test_netpol_analyzer_vm_nad.py (json carries no network column
there and is not compared); `udn_test_2_tcp-90` is compared by test_netpol_analyzer_udn.py.
Host-network pods are ordinary pods (`--host-network pod`), as in netpol-analyzer.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conformance.canonical import canonical, differences
from tests.conformance.exposure_canonical import parse
from tests.conformance.options import Case, cases, focused, resolve
from tests.conformance.test_netpol_analyzer_udn import _unmark
from tests.conformance.test_netpol_analyzer_vm_nad import _secondary_names, primary_rows
from tests.conftest import conformance_root

ALL = cases(conformance_root(), "connlist_output")
CASES = [
    c
    for c in ALL
    if (c.focus or c.conn)
    and not c.folder.startswith("udn_")
    and not (c.folder.startswith("nad_") and c.fmt == "json")
]


def _run(folder: Path, fmt: str, *extra: str) -> str:
    args = ["connectivity", str(folder), "-o", fmt, "-q", "--host-network", "pod", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _lines(rows: list[tuple[str, str, str, str | None]]) -> list[str]:
    return [f"{a} => {b} : {c}" for s, a, b, c in rows if s == "connlist"]


def _nad_rows(text: str, fmt: str, secondary: set[str], conn: str | None) -> list[str]:
    """The primary network's rows of a nad_test output, any focus (a focus connection drops
    the conn column)."""
    if fmt == "txt":
        if conn is not None:
            text = "\n".join(
                f"{x} : {conn}" if " => " in x and " : " not in x else x for x in text.splitlines()
            )
        return primary_rows(text, fmt, secondary)
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO(text)))
    else:
        lines = [x for x in text.splitlines() if x.startswith("|")]
        header = [c.strip() for c in lines[0].strip().strip("|").split(" | ")]
        cells = [[c.strip() for c in x.strip().strip("|").split(" | ")] for x in lines[2:]]
        table = [dict(zip(header, row, strict=False)) for row in cells]
    return [
        f"{r['src']} => {r['dst']} : {r.get('conn') or conn}"
        for r in table
        if r["network"] not in secondary
    ]


def _expected(case: Case) -> list[str]:
    text = case.expected.read_text()
    if not case.folder.startswith("nad_"):
        return _lines(parse(text, case.fmt, case.conn))
    txt = case.expected.with_suffix(".txt")
    secondary = _secondary_names(txt.read_text() if txt.is_file() else text)
    return _unmark(_nad_rows(text, case.fmt, secondary, case.conn))


@pytest.mark.parametrize(
    "case",
    CASES or [pytest.param(None, marks=pytest.mark.skip(reason="conformance corpus not found"))],
    ids=[c.id for c in CASES] or None,
)
def test_focused_connlist_agrees_in_meaning(corpus: Path, case: Case) -> None:
    base = corpus / "netpol-analyzer"
    folder = base / "tests" / case.folder
    ours = focused(parse(_run(folder, case.fmt), case.fmt), case)
    diffs = differences(canonical(_expected(case)), canonical(_lines(ours)))
    assert not diffs, f"{case.id} differs:\n" + "\n".join(diffs)
    if len(case.focus) in (1, 2) and not (case.direction or case.conn or case.peers):
        nodes = {x for _, a, b, _ in parse(_run(folder, "txt"), "txt") for x in (a, b)}
        names = {n.split("[", 1)[0] for n in resolve(case.focus, nodes)}
        if len(names) != 1 or next(iter(names)).startswith("{"):
            return  # not one workload microseg's option can name
        (name,) = names
        own = parse(_run(folder, case.fmt, "--focus-workload", name), case.fmt)
        assert canonical(_lines(own)) == canonical(_lines(ours)), case.id


def test_every_focused_case_is_read(corpus: Path) -> None:
    """Every focused connlist output is compared here or by the UDN test."""
    focused_files = [c for c in ALL if c.focus or c.conn]
    assert len(focused_files) == 53
    udn = [c for c in focused_files if c.folder.startswith("udn_")]
    nad_json = [c for c in focused_files if c.folder.startswith("nad_") and c.fmt == "json"]
    assert (len(udn), len(nad_json)) == (4, 4)
    assert len(CASES) == len(focused_files) - len(udn) - len(nad_json) == 45
