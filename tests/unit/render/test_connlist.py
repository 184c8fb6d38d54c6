"""The connectivity list: rows from a WorkloadGraph, then txt, json, csv and md."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from microseg.engine.views.workload import ExternalEdge, WorkloadGraph
from microseg.model.sets import ConnSet, IPSet, Protocol
from microseg.render.connlist import connlist_rows, render_connlist

WEB = "frontend/webapp[Deployment]"
API = "shop/api[Deployment]"
DB = "shop/db[StatefulSet]"
PUBLIC = IPSet.all_v4() - IPSet.from_cidr("169.254.169.254/32")
CARD = IPSet.from_cidr("198.51.100.0/24")


def graph(ingress: tuple[tuple[int, int], ...] = ()) -> WorkloadGraph:
    conns = (
        ConnSet.single(Protocol.TCP, 8080),
        ConnSet.single(Protocol.TCP, 5432),
        ConnSet.single(Protocol.TCP, 443) | ConnSet.single(Protocol.TCP, 8000, 8100),
        ConnSet.all(),
    )
    return WorkloadGraph(
        nodes=(WEB, API, DB),
        node_workload=(WEB, API, DB),
        node_class=np.array([0, 1, 2], dtype=np.int64),
        split=(),
        src=np.array([1, 0, 0], dtype=np.int64),
        dst=np.array([2, 1, 2], dtype=np.int64),
        conn_id=np.array([1, 0, 1], dtype=np.int64),
        external=(
            ExternalEdge(0, PUBLIC, 0, outbound=False),
            ExternalEdge(1, CARD, 2, outbound=True),
            ExternalEdge(2, IPSet.all_v4(), 3, outbound=True),
        ),
        conns=conns,
        ingress=ingress,
    )


EXPECTED_ROWS = [
    ("0.0.0.0-169.254.169.253[External]", WEB, "TCP 8080"),
    ("169.254.169.255-255.255.255.255[External]", WEB, "TCP 8080"),
    (WEB, API, "TCP 8080"),
    (WEB, DB, "TCP 5432"),
    (API, "198.51.100.0-198.51.100.255[External]", "TCP 443,8000-8100"),
    (API, DB, "TCP 5432"),
    (DB, "0.0.0.0-255.255.255.255[External]", "All Connections"),
]


def test_rows_are_sorted_and_external_ranges_split() -> None:
    rows = connlist_rows(graph())
    assert rows == EXPECTED_ROWS
    assert rows == sorted(rows)


def test_focus_keeps_rows_touching_the_focused_nodes() -> None:
    rows = connlist_rows(graph(), focus={2})
    assert rows == [
        (WEB, DB, "TCP 5432"),
        (API, DB, "TCP 5432"),
        (DB, "0.0.0.0-255.255.255.255[External]", "All Connections"),
    ]
    assert connlist_rows(graph(), focus=set()) == []


def test_txt() -> None:
    text = render_connlist(EXPECTED_ROWS, "txt")
    lines = text.splitlines()
    assert text.endswith("\n")
    assert len(lines) == len(EXPECTED_ROWS)
    assert lines[2] == "frontend/webapp[Deployment] => shop/api[Deployment] : TCP 8080"
    assert lines[4] == (
        "shop/api[Deployment] => 198.51.100.0-198.51.100.255[External] : TCP 443,8000-8100"
    )
    assert all(" => " in line and " : " in line for line in lines)


def test_json() -> None:
    envelope = json.loads(render_connlist(EXPECTED_ROWS, "json"))
    assert envelope["apiVersion"] == "microseg.dev/v1alpha1"
    assert envelope["kind"] == "ConnectivityList"
    doc = envelope["connections"]
    assert isinstance(doc, list)
    assert doc[0] == {
        "src": "0.0.0.0-169.254.169.253[External]",
        "dst": WEB,
        "conn": "TCP 8080",
    }
    assert [(d["src"], d["dst"], d["conn"]) for d in doc] == EXPECTED_ROWS
    assert all(set(d) == {"src", "dst", "conn"} for d in doc)


def test_csv_quotes_commas_and_round_trips() -> None:
    text = render_connlist(EXPECTED_ROWS, "csv")
    assert text.splitlines()[0] == "src,dst,conn"
    assert '"TCP 443,8000-8100"' in text
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["src", "dst", "conn"]
    assert [tuple(r) for r in parsed[1:]] == EXPECTED_ROWS


def test_md_table() -> None:
    lines = render_connlist(EXPECTED_ROWS, "md").splitlines()
    assert lines[0] == "| src | dst | conn |"
    assert lines[1] == "|-----|-----|------|"
    assert lines[4] == "| frontend/webapp[Deployment] | shop/api[Deployment] | TCP 8080 |"
    assert len(lines) == 2 + len(EXPECTED_ROWS)
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[2:])
    assert all(line.count("|") == 4 for line in lines)


@pytest.mark.parametrize("fmt", ["txt", "json", "csv", "md"])
def test_empty_list(fmt: str) -> None:
    text = render_connlist([], fmt)
    expected = {"txt": "", "csv": "src,dst,conn\n"}
    if fmt == "json":
        assert json.loads(text)["connections"] == []
    elif fmt == "md":
        assert text.splitlines() == ["| src | dst | conn |", "|-----|-----|------|"]
    else:
        assert text == expected[fmt]


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        render_connlist(EXPECTED_ROWS, "yaml")


def test_ingress_controller_rows_come_last_and_follow_focus() -> None:
    g = graph(ingress=((0, 0), (2, 1)))
    rows = connlist_rows(g)
    assert rows[-2:] == [
        ("{ingress-controller}", WEB, "TCP 8080"),
        ("{ingress-controller}", DB, "TCP 5432"),
    ]
    assert rows[:-2] == EXPECTED_ROWS
    focused = connlist_rows(g, focus={0})
    assert ("{ingress-controller}", WEB, "TCP 8080") in focused
    assert all(r[1] != DB or r[0] == WEB for r in focused)
