"""Text and JSON renderings of a VerificationReport."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from microseg.analyses.verify import Finding, VerificationReport, verify
from microseg.analyses.verify_flows import FlowRow
from microseg.engine import Connectivity
from microseg.errors import Origin
from microseg.ingest import load
from microseg.ingest.intents import load_intents
from microseg.model.sets import ConnSet, IPSet, Protocol
from microseg.render.verify import report_json, report_text, summary_line


@pytest.fixture(scope="module")
def demo_report(demo_dir: Path) -> VerificationReport:
    conn = Connectivity.build(load([str(demo_dir)]))
    return verify(conn, load_intents([str(demo_dir / "intents.yaml")])[0])


def test_text_leads_with_the_answer_then_the_why(demo_report: VerificationReport) -> None:
    text = report_text(demo_report)
    lines = text.splitlines()
    assert lines[0] == "FAIL 1 of 18 intents violated"
    assert lines[2].startswith("VIOLATED shop/deny[0]: web must not reach database on any port")
    assert "    frontend/webapp[Deployment] -> shop/postgres[StatefulSet]  TCP 5432" in lines
    assert "  why (the first flow):" in lines
    assert any(line.startswith("  responsible: NP frontend/webapp-egress (") for line in lines)
    assert sum(line.startswith("ok       ") for line in lines) == 17


def test_json_envelope(demo_report: VerificationReport) -> None:
    doc = json.loads(report_json(demo_report))
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "VerificationReport"
    assert doc["summary"] == {"intents": 18, "violated": 1, "holds": 17}
    bad = [f for f in doc["findings"] if f["status"] == "violated"]
    assert len(bad) == 1
    assert bad[0]["flows"] == [
        {
            "src": "frontend/webapp[Deployment]",
            "dst": "shop/postgres[StatefulSet]",
            "conn": "TCP 5432",
        }
    ]
    assert bad[0]["explanation"]["verdict"] == "Allow"
    assert {r["policy"] for r in bad[0]["related"]} == {
        "NP frontend/webapp-egress",
        "NP shop/postgres-allow-shop-tenant",
    }
    ok = [f for f in doc["findings"] if f["status"] == "holds"]
    assert all("flows" not in f for f in ok)


def test_rows_beyond_the_text_limit_are_counted() -> None:
    rows = tuple(
        FlowRow(
            f"ns/w{i}[Deployment]",
            IPSet.from_cidr(f"8.8.{i}.0/24"),
            ConnSet.single(Protocol.TCP, 80),
        )
        for i in range(25)
    )
    finding = Finding(
        "x/deny[0]",
        "deny",
        "a must not reach b",
        Origin("i.yaml", line=3),
        False,
        "open",
        rows,
        300,
    )
    text = report_text(VerificationReport((finding,)))
    assert "    ns/w0[Deployment] -> 8.8.0.0-8.8.0.255[External]  TCP 80" in text
    assert "... and 280 more" in text
    assert summary_line(VerificationReport(())) == "PASS all 0 intents hold"
