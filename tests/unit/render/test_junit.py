"""JUnit XML: parses, and has the testsuites/testsuite/testcase/failure shape CI reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microseg.analyses.verify import VerificationReport, verify
from microseg.engine import Connectivity
from microseg.ingest import load
from microseg.ingest.intents import load_intents
from microseg.render.junit import report_junit

SECOND = """
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: team-b}
spec:
  groups: {shop: {namespace: shop}}
  deny:
    - {from: shop, to: internet, ports: ["TCP/443"]}
  expect:
    defaultDeny: [database]
"""


@pytest.fixture(scope="module")
def report(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> VerificationReport:
    extra = tmp_path_factory.mktemp("junit") / "b.yaml"
    extra.write_text(SECOND)
    conn = Connectivity.build(load([str(demo_dir)]))
    return verify(conn, load_intents([str(demo_dir / "intents.yaml"), str(extra)])[0])


def test_structure(report: VerificationReport) -> None:
    root = ET.fromstring(report_junit(report))
    assert root.tag == "testsuites"
    assert int(root.get("tests", "")) == len(report.findings) == 20
    assert int(root.get("failures", "")) == len(report.violations) == 3
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["shop", "team-b"]
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == sum(c.find("failure") is not None for c in cases)
        for case in cases:
            assert case.get("classname", "").startswith(f"microseg.verify.{suite.get('name')}.")
            assert case.get("name")
            assert case.get("file", "").endswith(".yaml")
            assert int(case.get("line", "0")) > 0
    failures = root.findall(".//failure")
    assert len(failures) == 3
    for failure in failures:
        assert failure.get("message")
        assert failure.get("type") in ("deny", "defaultDeny")
        assert (failure.text or "").startswith("VIOLATED ")


def test_the_gap_fails_with_its_explanation(report: VerificationReport) -> None:
    root = ET.fromstring(report_junit(report))
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("shop/deny[0]"))
    failure = case.find("failure")
    assert failure is not None
    text = failure.text or ""
    assert "frontend/webapp[Deployment] -> shop/postgres[StatefulSet]  TCP 5432" in text
    assert "NP shop/postgres-allow-shop-tenant (" in text
    assert report_junit(report).startswith('<?xml version="1.0" encoding="UTF-8"?>\n')


def test_hostile_names_leave_well_formed_xml(demo_dir: Path, tmp_path: Path) -> None:
    # XML 1.0 has no place for ESC or BEL even as character references: a name carrying
    # them must reach the report shown as text, or CI's parser rejects the whole file.
    hostile = tmp_path / "c.yaml"
    text = SECOND.replace("name: team-b", 'name: "team\\e[2J\\ab"')
    hostile.write_text(text.replace("defaultDeny: [database]", "defaultDeny: [shop]"))
    conn = Connectivity.build(load([str(demo_dir)]))
    report = verify(conn, load_intents([str(hostile)])[0])
    body = report_junit(report)
    assert "\x1b" not in body
    assert "\x07" not in body
    root = ET.fromstring(body)
    assert [s.get("name") for s in root.findall("testsuite")] == ["team\\x1b[2J\\x07b"]
