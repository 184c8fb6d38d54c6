"""netpol-analyzer's UserDefinedNetwork / ClusterUserDefinedNetwork cases, by meaning.

Every `expected/connlist/{udn,cudn}*_connlist_output.{txt,csv,md,json}` is a case, in each
format microseg prints: both outputs are read into `src => dst : conn` lines and compared
with tests/conformance/canonical.py. netpol-analyzer groups its lists by network
("Permitted connectivity analyzed in primary UDN blue:") and marks UDN namespaces as
`blue[udn]/webserver[Pod]`; the sections and the network column carry no connection of
their own (the network follows from the namespace), so the marker is dropped before
comparing. `udn_test_2_tcp-90` is netpol-analyzer's `--focus-conn tcp-90` output of
`udn_test_2`: the full list cut to TCP 90.

The bad-path rows (udn_bad_path_test_*, cudn_bad_test_1) must be fatal with a located
diagnostic; the warning cases (no expected list) must warn and still analyse.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from microseg.cli.app import app
from microseg.model.sets import ConnSet, Protocol
from tests.conformance.canonical import Canonical, canonical, differences
from tests.conftest import conformance_root

FORMATS = ("txt", "csv", "md", "json")
_FILE = re.compile(r"^(?P<case>c?udn_.*)_connlist_output\.(?P<fmt>txt|csv|md|json)$")
_UDN_MARK = re.compile(r"^([^/\[\]]+)\[udn\]/")

# Option variants: (folder, connection filter) for expected files named after an option.
# The focused files list peers only (no conn column): each row stands for the focus.
VARIANTS = {"udn_test_2_tcp-90": ("udn_test_2", ConnSet.single(Protocol.TCP, 90), "TCP 90")}

# Known, reasoned exclusions (none left: a VM's numeric Service targetPorts are opened by
# engine/views/ingress.py `pod_ports`, since a VM declares no container ports).
XFAIL: dict[str, str] = {}


def _cases() -> list[tuple[str, str]]:
    root = conformance_root()
    if root is None:
        return []
    out = []
    for f in sorted((root / "netpol-analyzer" / "expected" / "connlist").iterdir()):
        m = _FILE.match(f.name)
        if m:
            out.append((m["case"], m["fmt"]))
    return out


CASES = _cases()


def _lines(text: str, fmt: str, focus: str = "") -> list[str]:
    """Any connlist format as `src => dst : conn` lines (txt as it is). `focus`: the file
    was written for one connection and has no conn column; each row stands for `focus`."""
    rows: list[tuple[str, str, str]] = []
    if fmt == "txt":
        lines = text.splitlines()
        if focus:
            lines = [f"{x} : {focus}" if " => " in x and " : " not in x else x for x in lines]
        return lines
    if fmt == "csv":
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        assert header[:2] == ["src", "dst"], header
        assert focus or header[2] == "conn", header
        rows = [(r[0], r[1], focus or r[2]) for r in reader if r]
    elif fmt == "md":
        body = [line for line in text.splitlines() if line.startswith("|")][2:]
        for line in body:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows.append((cells[0], cells[1], focus or cells[2]))
    else:
        doc = json.loads(text)
        items = doc["connections"] if isinstance(doc, dict) else doc
        rows = [(i["src"], i["dst"], focus or i["conn"]) for i in items]
    return [f"{s} => {d} : {c}" for s, d, c in rows]


def _unmark(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        peers, sep, conn = line.partition(" : ")
        src, arrow, dst = peers.partition(" => ")
        src, dst = _UDN_MARK.sub(r"\1/", src), _UDN_MARK.sub(r"\1/", dst)
        out.append(f"{src}{arrow}{dst}{sep}{conn}")
    return out


def _restrict(view: Canonical, keep: ConnSet) -> Canonical:
    pairs = {k: v & keep for k, v in view[0].items() if v & keep}
    ext = {k: tuple((lo, hi, c & keep) for lo, hi, c in v if c & keep) for k, v in view[1].items()}
    return pairs, {k: v for k, v in ext.items() if v}


def _params() -> list[object]:
    if not CASES:
        return [pytest.param("none", "txt", marks=pytest.mark.skip(reason="corpus not found"))]
    return [
        pytest.param(
            case,
            fmt,
            id=f"{case}.{fmt}",
            marks=[pytest.mark.xfail(reason=XFAIL[case], strict=True)] if case in XFAIL else [],
        )
        for case, fmt in CASES
    ]


@pytest.mark.parametrize(("case", "fmt"), _params())
def test_udn_connlist_agrees_in_meaning(corpus: Path, case: str, fmt: str) -> None:
    base = corpus / "netpol-analyzer"
    folder, keep, focus = VARIANTS.get(case, (case, None, ""))
    expected_text = (base / "expected" / "connlist" / f"{case}_connlist_output.{fmt}").read_text()
    result = CliRunner().invoke(
        app, ["connectivity", str(base / "tests" / folder), "-q", "-o", fmt]
    )
    assert result.exit_code == 0, result.output
    expected = canonical(_unmark(_lines(expected_text, fmt, focus)))
    actual = canonical(_lines(result.stdout, fmt))
    if keep is not None:
        actual = _restrict(actual, keep)
    diffs = differences(expected, actual)
    assert not diffs, f"{case}.{fmt} differs:\n" + "\n".join(diffs)


def test_every_udn_case_names_a_folder(corpus: Path) -> None:
    """No expected file is silently dropped: each names a folder, directly or as a variant."""
    tests = corpus / "netpol-analyzer" / "tests"
    names = {case for case, _ in CASES}
    assert len(names) == 19
    for case in names:
        assert (tests / VARIANTS.get(case, (case, None, ""))[0]).is_dir(), case


def test_udn_marker_is_dropped_only_from_namespaces() -> None:
    lines = _unmark(["blue[udn]/web[Pod] => 0.0.0.0-255.255.255.255[External] : TCP 80"])
    assert lines == ["blue/web[Pod] => 0.0.0.0-255.255.255.255[External] : TCP 80"]
    assert _unmark(["a/b[Pod] => c/d[Pod] : TCP 1"]) == ["a/b[Pod] => c/d[Pod] : TCP 1"]


# --- bad path and warnings -------------------------------------------------------------------

FATAL = {
    "udn_bad_path_test_1": ("MS150", "spec.topology: expected Layer2 or Layer3, got 'Layer4'"),
    "udn_bad_path_test_2": ("MS150", "spec.layer3: forbidden when topology is Layer2"),
    "udn_bad_path_test_3": ("MS150", "spec.layer3.role: expected Primary or Secondary"),
    "udn_bad_path_test_4": ("MS150", "metadata.name: a user-defined network may not be named"),
    "udn_bad_path_test_5": ("MS150", "may not be in namespace 'default'"),
    "udn_bad_path_test_6": ("MS150", "may not be in namespace 'openshift-oc'"),
    "udn_bad_path_test_7": ("MS151", "namespace blue has two primary networks"),
    "cudn_bad_test_1": ("MS151", "namespace red has two primary networks: CUDN"),
}
WARNINGS = {
    "udn_warning_test_1": "UDN green/namespace-scoped: a Secondary network",
    "udn_warning_test_2": "namespace blue is not declared with the label",
    "udn_warning_test_3": "namespace green lacks the label",
    "cudn_warning_test_1": "CUDN no-selection: its namespaceSelector matches no namespace",
}


def _invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_every_udn_bad_path_row_is_covered(corpus: Path) -> None:
    lines = (corpus / "netpol-analyzer" / "bad-path-cases.tsv").read_text().splitlines()[1:]
    rows = {line.split("\t", 1)[0] for line in lines if line.strip()}
    assert {r for r in rows if r.startswith(("udn_", "cudn_"))} == set(FATAL)


@pytest.mark.parametrize("case", list(FATAL))
def test_udn_bad_path_case_is_fatal(corpus: Path, case: str) -> None:
    code, fragment = FATAL[case]
    folder = corpus / "netpol-analyzer" / "tests" / case
    result = _invoke(["connectivity", str(folder)])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error[" in line]
    pattern = re.compile(rf"^{re.escape(str(folder))}/[^:]+:\d+: error\[{code}\]: ")
    assert errors, result.stderr
    assert all(pattern.match(line) for line in errors), errors
    assert any(fragment in line for line in errors), errors


@pytest.mark.parametrize("case", list(WARNINGS))
def test_udn_warning_case_warns_and_analyses(corpus: Path, case: str) -> None:
    result = _invoke(["connectivity", str(corpus / "netpol-analyzer" / "tests" / case)])
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning[MS152]" in line]
    assert any(WARNINGS[case] in line for line in warnings), result.stderr
    assert result.stdout.strip()
