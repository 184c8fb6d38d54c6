"""The diff in netpol-analyzer's grammar (txt, csv, md) and as a JSON envelope."""

from __future__ import annotations

import csv
import io
import json

import pytest

from microseg.analyses.diff import ConnectivityDiff, DiffRow, DiffType
from microseg.engine.views.workload import INGRESS_CONTROLLER_NAME
from microseg.model.sets import ConnSet, IntervalSet, IPSet, Protocol
from microseg.render.diff import DIFF_FORMATS, render_diff, workloads_info

WEB = "frontend/webapp[Deployment]"
API = "shop/api[Deployment]"
NEW = "shop/new[Deployment]"
GONE = "shop/gone[StatefulSet]"
TCP80 = ConnSet.single(Protocol.TCP, 80)
WIDE = TCP80 | ConnSet.single(Protocol.TCP, 8000, 8100) | ConnSet.single(Protocol.UDP, 53)
NONE = ConnSet.none()
LOW = IPSet(v4=IntervalSet.span(0, 167772159))  # 0.0.0.0-9.255.255.255

DIFF = ConnectivityDiff(
    rows=(
        DiffRow(DiffType.CHANGED, WEB, API, TCP80, WIDE),
        DiffRow(DiffType.ADDED, WEB, NEW, NONE, TCP80, (NEW,)),
        DiffRow(DiffType.ADDED, NEW, GONE, NONE, ConnSet.all(), (NEW,)),
        DiffRow(DiffType.REMOVED, LOW, API, ConnSet.all(), NONE),
        DiffRow(DiffType.REMOVED, GONE, API, TCP80, NONE, (GONE,)),
        DiffRow(DiffType.ADDED, INGRESS_CONTROLLER_NAME, NEW, NONE, TCP80, (NEW,)),
        DiffRow(DiffType.CHANGED, INGRESS_CONTROLLER_NAME, API, TCP80, WIDE),
    ),
    added_workloads=(NEW,),
    removed_workloads=(GONE,),
)

TXT = """\
Connectivity diff:
diff-type: changed, source: frontend/webapp[Deployment], destination: shop/api[Deployment], ref1: TCP 80, ref2: TCP 80,8000-8100,UDP 53
diff-type: added, source: frontend/webapp[Deployment], destination: shop/new[Deployment], ref1: No Connections, ref2: TCP 80, workloads-diff-info: workload shop/new[Deployment] added
diff-type: added, source: shop/new[Deployment], destination: shop/gone[StatefulSet], ref1: No Connections, ref2: All Connections, workloads-diff-info: workload shop/new[Deployment] added
diff-type: removed, source: 0.0.0.0-9.255.255.255[External], destination: shop/api[Deployment], ref1: All Connections, ref2: No Connections
diff-type: removed, source: shop/gone[StatefulSet], destination: shop/api[Deployment], ref1: TCP 80, ref2: No Connections, workloads-diff-info: workload shop/gone[StatefulSet] removed
diff-type: changed, source: {ingress-controller}, destination: shop/api[Deployment], ref1: TCP 80, ref2: TCP 80,8000-8100,UDP 53
diff-type: added, source: {ingress-controller}, destination: shop/new[Deployment], ref1: No Connections, ref2: TCP 80, workloads-diff-info: workload shop/new[Deployment] added
"""


def test_txt_is_netpol_analyzer_grammar_in_its_order() -> None:
    # changed, added, removed; then the ingress controller's rows in the same category order
    assert render_diff(DIFF, "txt") == TXT


def test_renamed_columns() -> None:
    out = render_diff(DIFF, "txt", ("old", "new"))
    assert ", old: TCP 80, new: TCP 80,8000-8100,UDP 53" in out
    assert "ref1" not in out
    assert "ref2" not in out
    assert render_diff(DIFF, "csv", ("old", "new")).splitlines()[0] == (
        "diff-type,source,destination,old,new,workloads-diff-info"
    )


def test_csv_quotes_connection_lists_and_leaves_info_empty() -> None:
    out = render_diff(DIFF, "csv")
    lines = out.splitlines()
    assert lines[0] == "diff-type,source,destination,ref1,ref2,workloads-diff-info"
    assert lines[1] == (
        'changed,frontend/webapp[Deployment],shop/api[Deployment],TCP 80,"TCP 80,8000-8100,UDP 53",'
    )
    rows = list(csv.reader(io.StringIO(out)))
    assert all(len(r) == 6 for r in rows)
    assert [r[1] for r in rows[1:]] == [
        line.split(", ")[1][len("source: ") :] for line in TXT.splitlines()[1:]
    ]


def test_md_table() -> None:
    lines = render_diff(DIFF, "md").splitlines()
    assert lines[0] == "| diff-type | source | destination | ref1 | ref2 | workloads-diff-info |"
    assert lines[1] == "|-----------|--------|-------------|------|------|---------------------|"
    assert lines[2] == (
        "| changed | frontend/webapp[Deployment] | shop/api[Deployment] | TCP 80 | TCP 80,8000-8100,UDP 53 |  |"
    )
    assert len(lines) == 2 + len(DIFF.rows)


def test_json_envelope() -> None:
    doc = json.loads(render_diff(DIFF, "json", sources=("old/", "new/")))
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "ConnectivityDiff"
    assert doc["refs"] == {
        "ref1": {"name": "ref1", "path": "old/"},
        "ref2": {"name": "ref2", "path": "new/"},
    }
    assert doc["summary"] == {
        "changed": 2,
        "added": 3,
        "removed": 2,
        "addedWorkloads": [NEW],
        "removedWorkloads": [GONE],
    }
    first, second = doc["diffs"][:2]
    assert first == {
        "diffType": "changed",
        "src": WEB,
        "dst": API,
        "ref1": "TCP 80",
        "ref2": "TCP 80,8000-8100,UDP 53",
    }
    assert second["workloadsDiffInfo"] == f"workload {NEW} added"
    assert second["workloadsAdded"] == [NEW]
    assert [d["src"] for d in doc["diffs"]][-2:] == [INGRESS_CONTROLLER_NAME] * 2


@pytest.mark.parametrize("fmt", ["txt", "csv", "md"])
def test_no_difference_prints_nothing(fmt: str) -> None:
    assert render_diff(ConnectivityDiff((), (), ()), fmt) == ""


def test_no_difference_json_is_still_an_envelope() -> None:
    doc = json.loads(render_diff(ConnectivityDiff((), (), ()), "json"))
    assert doc["diffs"] == []
    assert doc["summary"]["changed"] == 0


def test_workloads_info_names_both_ends() -> None:
    row = DiffRow(DiffType.REMOVED, GONE, API, TCP80, NONE, (GONE, API))
    assert workloads_info(row) == f"workload {GONE} and {API} removed"


def test_unknown_format() -> None:
    assert "dot" not in DIFF_FORMATS
    with pytest.raises(ValueError, match="unknown format"):
        render_diff(DIFF, "dot")
