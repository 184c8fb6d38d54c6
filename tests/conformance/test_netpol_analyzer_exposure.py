"""netpol-analyzer's exposure-analysis outputs (`expected/connlist/*_exposure_output.*`, all
four formats) against `microseg connectivity --exposure`, compared by meaning
(exposure_canonical.py): the connectivity list, each workload's exposure to the entire
cluster and to potential peers, the workloads no policy protects, and the external lines
of the exposure section.

File names carry netpol-analyzer's options after the test folder's name:
`_focus_workload_<w>[_<w>...]` (a workload as `name` or `ns_name`), `_egress`/`_ingress`
(focus direction), `_<proto>-<port>` (focus connection). microseg's `--focus-workload`
takes one workload; the other options are applied to microseg's whole output by this test,
as netpol-analyzer defines them (connlist.go includePairOfWorkloads, exposure_map.go): a
focus keeps the rows touching a focus workload (in the focus direction) and the exposure
of focus workloads; a focus connection keeps the rows whose connection holds it, written
as it, and drops potential peers the entire-cluster connection already covers.

Host-network pods are ordinary pods here, as in netpol-analyzer (`--host-network pod`).
The `_explain_exposure_` files are read by test_netpol_analyzer_explain.py; the file-name
options by options.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conformance.canonical import _external, _merge
from tests.conformance.exposure_canonical import Row, canonical, parse, parse_ports
from tests.conformance.options import Case, cases, focused
from tests.conftest import conformance_root

FORMATS = ("txt", "json", "csv", "md")

# Deliberate differences, each checked to be exactly what the reason says.
#
# A potential peer that a real pod (and its namespace) matches is dropped: that pod's
# connectivity is in the list already. netpol-analyzer drops it only when the rule wrote
# its selectors as matchLabels, and keeps it when the same requirement is written as
# `matchExpressions: [{key: app, operator: In, values: [x]}]`. The Kubernetes API reads the
# two alike (LabelSelector: "a single {key,value} in the matchLabels map is equivalent to an
# element of matchExpressions, whose key field is key, the operator is In, and the values
# array contains only value"), and so does microseg: the peers these cases keep are missing
# from microseg's output, and nothing else differs.
STOOD_IN_FOR = {
    "exposure_test_with_different_rules_2_with_matching_pod",
    "exposure_test_with_different_rules_6_with_matching_pods",
}
CASES = cases(conformance_root(), "exposure_output")


def run(folder: Path, fmt: str, *extra: str) -> str:
    args = ["connectivity", str(folder), "--exposure", "-o", fmt, "-q", "--host-network", "pod"]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def _members(rows: list[Row]) -> set[str]:
    return {
        a
        for s, a, b, _ in rows
        if s == "unprotected" or (s in ("egress", "ingress") and "[External]" not in b)
    }


def _external_from_connlist(rows: list[Row], members: set[str]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], list[Any]] = {}
    for s, a, b, c in rows:
        if s != "connlist" or c is None:
            continue
        for workload, peer, direction in ((a, b, "egress"), (b, a, "ingress")):
            ext = _external(peer)
            if ext is not None and workload in members:
                out.setdefault((workload, direction), []).append((*ext, parse_ports(c)[0]))
    return {k: _merge(v) for k, v in out.items()}


@pytest.mark.parametrize(
    "case",
    CASES or [pytest.param(None, marks=pytest.mark.skip(reason="conformance corpus not found"))],
    ids=[c.id for c in CASES] or None,
)
def test_exposure_agrees_in_meaning(corpus: Path, case: Case) -> None:
    base = corpus / "netpol-analyzer"
    theirs = parse(case.expected.read_text(), case.fmt, case.conn)
    ours = focused(parse(run(base / "tests" / case.folder, case.fmt), case.fmt), case)
    expected, actual = canonical(theirs), canonical(ours)
    if case.folder in STOOD_IN_FOR:
        _drop_stood_in_for(expected["potential"], actual["potential"], case)
    assert actual["connlist"] == expected["connlist"], case.id
    assert actual["potential"] == expected["potential"], case.id
    if case.fmt == "txt" and case.conn is None:
        assert actual["unprotected"] == expected["unprotected"], case.id
    # The exposure section repeats the external lines of the workloads it lists.
    assert expected["external"] == _external_from_connlist(ours, _members(ours)), case.id


def _drop_stood_in_for(expected: dict[Any, Any], actual: dict[Any, Any], case: Case) -> None:
    """Remove from `expected` the peers only netpol-analyzer keeps (STOOD_IN_FOR), after
    checking each has label-equality requirements only (In with one value)."""
    extra = [k for k in expected if k not in actual]
    assert extra, f"{case.id}: the listed difference no longer shows; remove it from STOOD_IN_FOR"
    for key in extra:
        _, _, (_, ns, pods) = key
        reqs = set(ns or ()) | set(pods or ())
        assert reqs, key
        assert all(op == "In" and len(v) == 1 for _, op, v in reqs), key
        del expected[key]


def test_every_exposure_case_is_read(corpus: Path) -> None:
    """About ninety exposure outputs in four formats, none silently left out."""
    assert len(CASES) >= 320
    assert len({(c.folder, c.focus, c.direction, c.conn) for c in CASES}) >= 85


def test_focus_workload_option_narrows_the_exposure(corpus: Path) -> None:
    """microseg's own --focus-workload gives what the test's narrowing gives."""
    base = corpus / "netpol-analyzer"
    case = Case(Path("x"), "acs-security-demos", "txt", focus=("frontend", "webapp"))
    whole = focused(parse(run(base / "tests" / case.folder, "txt"), "txt"), case)
    narrowed = parse(
        run(base / "tests" / case.folder, "txt", "--focus-workload", "frontend/webapp"), "txt"
    )
    assert canonical(narrowed) == canonical(whole)
