"""netpol-analyzer's KubeVirt and NetworkAttachmentDefinition connlist cases, by meaning.

`virtual_machines_example` (VirtualMachines selected by their template labels, one of them
stopped) is compared whole, in every format. The VM cases on user-defined networks run in
test_netpol_analyzer_udn.py; `vm_example` has explain outputs only.

`nad_test_N`: netpol-analyzer also lists connectivity per secondary network
("Permitted connectivity analyzed in secondary NAD <name>:"), an extra interface attached
through a NetworkAttachmentDefinition and governed by MultiNetworkPolicy objects. microseg
does not model secondary networks (the kinds are skipped with MS010), so each case is
compared on its primary network only: the "Pod network" and "primary UDN" sections of the
txt output, and in csv/md the rows whose `network` column names no secondary NAD of that
case. The json outputs carry no network column, so primary and secondary rows cannot be
told apart there and they are not compared. The focus/port variants are not wired.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conformance.canonical import canonical, differences
from tests.conformance.test_netpol_analyzer_udn import _lines, _unmark
from tests.conftest import conformance_root

_VM_CASES = ("virtual_machines_example",)
_NAD_FILE = re.compile(r"^(?P<case>nad_test_\d+)_connlist_output\.(?P<fmt>txt|csv|md)$")
_SECTION = re.compile(r"^Permitted connectivity analyzed in (?P<what>.+):$")
_SECONDARY = re.compile(r"^secondary NAD (?P<name>\S+)$")

# Known, reasoned exclusions (strict: they must keep failing until the reason is gone).
# nad_test_12-14 label their namespaces `k8s.v1.cni.cncf.io/default-network: ns-udn-a/udn-a`;
# a label value may not hold "/" (Kubernetes "Labels and Selectors", syntax and character
# set), so microseg rejects the input (MS201, exit 2) as the API server would.
_BAD_LABEL = "namespace label value 'ns-udn-a/udn-a' is invalid (MS201); the API server rejects it"
NAD_XFAIL: dict[str, str] = {f"nad_test_{n}": _BAD_LABEL for n in (12, 13, 14)}


def _root() -> Path | None:
    root = conformance_root()
    return None if root is None else root / "netpol-analyzer"


def _nad_cases() -> list[tuple[str, str]]:
    root = _root()
    if root is None:
        return []
    out = []
    for f in sorted((root / "expected" / "connlist").iterdir()):
        m = _NAD_FILE.match(f.name)
        if m:
            out.append((m["case"], m["fmt"]))
    return out


def _secondary_names(txt: str) -> set[str]:
    """The secondary NADs a txt output has sections for."""
    out = set()
    for line in txt.splitlines():
        section = _SECTION.match(line)
        secondary = _SECONDARY.match(section["what"]) if section else None
        if secondary:
            out.add(secondary["name"])
    return out


def primary_rows(text: str, fmt: str, secondary: set[str]) -> list[str]:
    """The `src => dst : conn` lines of the primary network(s) in one expected output."""
    if fmt == "txt":
        keep, out = True, []
        for line in text.splitlines():
            section = _SECTION.match(line)
            if section:
                keep = not _SECONDARY.match(section["what"])
            elif line.startswith("Workload-to-Networks Mapping"):
                keep = False
            elif keep and " => " in line:
                out.append(line)
        return out
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        return [
            f"{r['src']} => {r['dst']} : {r['conn']}" for r in rows if r["network"] not in secondary
        ]
    body = [line for line in text.splitlines() if line.startswith("|")][2:]
    out = []
    for line in body:
        src, dst, conn, network = [c.strip() for c in line.strip().strip("|").split(" | ")][:4]
        if network not in secondary:
            out.append(f"{src} => {dst} : {conn}")
    return out


def _run(folder: Path, fmt: str) -> list[str]:
    result = CliRunner().invoke(app, ["connectivity", str(folder), "-q", "-o", fmt])
    assert result.exit_code == 0, result.output
    return _lines(result.stdout, fmt)


@pytest.mark.parametrize(
    ("case", "fmt"),
    [(c, f) for c in _VM_CASES for f in ("txt", "csv", "md", "json")],
)
def test_vm_connlist_agrees_in_meaning(corpus: Path, case: str, fmt: str) -> None:
    base = corpus / "netpol-analyzer"
    expected = (base / "expected" / "connlist" / f"{case}_connlist_output.{fmt}").read_text()
    actual = _run(base / "tests" / case, fmt)
    diffs = differences(canonical(_lines(expected, fmt)), canonical(actual))
    assert not diffs, f"{case}.{fmt} differs:\n" + "\n".join(diffs)


def _nad_params() -> list[object]:
    cases = _nad_cases()
    if not cases:
        return [pytest.param("none", "txt", marks=pytest.mark.skip(reason="corpus not found"))]
    return [
        pytest.param(
            case,
            fmt,
            id=f"{case}.{fmt}",
            marks=[pytest.mark.xfail(reason=NAD_XFAIL[case], strict=True)]
            if case in NAD_XFAIL
            else [],
        )
        for case, fmt in cases
    ]


@pytest.mark.parametrize(("case", "fmt"), _nad_params())
def test_nad_primary_network_agrees_in_meaning(corpus: Path, case: str, fmt: str) -> None:
    base = corpus / "netpol-analyzer"
    expected_dir = base / "expected" / "connlist"
    secondary = _secondary_names((expected_dir / f"{case}_connlist_output.txt").read_text())
    text = (expected_dir / f"{case}_connlist_output.{fmt}").read_text()
    expected = canonical(_unmark(primary_rows(text, fmt, secondary)))
    actual = canonical(_run(base / "tests" / case, fmt))
    diffs = differences(expected, actual)
    assert not diffs, f"{case}.{fmt} (primary network) differs:\n" + "\n".join(diffs)


def test_every_plain_nad_case_is_wired(corpus: Path) -> None:
    """Each nad_test folder with a plain connlist output is compared, in txt at least."""
    tests = corpus / "netpol-analyzer" / "tests"
    wired = {case for case, _ in _nad_cases()}
    plain = {
        p.name
        for p in tests.iterdir()
        if p.name.startswith("nad_test_")
        and (
            corpus / "netpol-analyzer" / "expected" / "connlist" / f"{p.name}_connlist_output.txt"
        ).is_file()
    }
    assert wired == plain
    assert len(wired) == 13


def test_primary_rows_drop_secondary_sections_and_the_mapping() -> None:
    txt = "\n".join(
        [
            "Permitted connectivity analyzed in Pod network:",
            "a/x[Pod] => a/y[Pod] : All Connections",
            "",
            "Permitted connectivity analyzed in secondary NAD net1:",
            "a/y[Pod] => a/x[Pod] : TCP 80",
            "",
            "Workload-to-Networks Mapping:",
            "a/x[Pod]: ",
        ]
    )
    assert _secondary_names(txt) == {"net1"}
    assert primary_rows(txt, "txt", {"net1"}) == ["a/x[Pod] => a/y[Pod] : All Connections"]
    rows = "src,dst,conn,network\na/x[Pod],a/y[Pod],All Connections,pod-network\n"
    rows += "a/y[Pod],a/x[Pod],TCP 80,net1\n"
    assert primary_rows(rows, "csv", {"net1"}) == ["a/x[Pod] => a/y[Pod] : All Connections"]
