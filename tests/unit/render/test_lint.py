"""LintReport renderers: text grouped by file with the count first, JSON envelope, SARIF."""

from __future__ import annotations

import json

from microseg.analyses.lint import CODES, Finding, LintReport
from microseg.errors import Origin
from microseg.model import Direction
from microseg.render.lint import DESCRIPTIONS, lint_json, lint_sarif, lint_text

A = Finding(
    "ML001",
    "removing the rule changes no connectivity: covered",
    "NP shop/api",
    Origin("b.yaml", 0, 12, rule=0),
    "spec.ingress[0]",
    0,
    Direction.INGRESS,
)
B = Finding("ML003", "selects no pod", "ANP guard", Origin("a.yaml", 0, 3), "spec.subject")
C = Finding("ML002", "no effect", "NP shop/old", Origin("<stdin>", 0, None))
REPORT = LintReport((A, B, C), policies=3, rules=5)


def test_text_groups_by_file_after_the_count() -> None:
    text = lint_text(REPORT)
    lines = text.splitlines()
    assert lines[0] == "3 findings in 3 files (2 warnings, 1 notice; 3 policies, 5 rules checked)"
    files = [line for line in lines if line and not line.startswith(" ")][1:-1]
    assert files == ["<stdin>", "a.yaml", "b.yaml"]
    assert "     12  warning[ML001]   NP shop/api spec.ingress[0]" in lines
    assert "         redundant-rule: removing the rule changes no connectivity: covered" in lines
    assert "      -  warning[ML002]   NP shop/old" in lines
    assert lines[-1].startswith("Each finding is about removing that one rule or policy alone")


def test_text_without_findings() -> None:
    assert lint_text(LintReport((), 1, 1)) == "No findings (1 policy, 1 rule checked).\n"


def test_json_shape() -> None:
    doc = json.loads(lint_json(REPORT))
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "LintReport"
    assert doc["summary"] == {
        "findings": 3,
        "policies": 3,
        "rules": 5,
        "bySeverity": {"error": 0, "warning": 2, "notice": 1},
    }
    assert doc["findings"][0] == {
        "code": "ML001",
        "name": "redundant-rule",
        "severity": "warning",
        "policy": "NP shop/api",
        "file": "b.yaml",
        "line": 12,
        "field": "spec.ingress[0]",
        "direction": "Ingress",
        "rule": 0,
        "message": "removing the rule changes no connectivity: covered",
    }
    assert doc["findings"][2]["line"] is None


def test_sarif_shape() -> None:
    doc = json.loads(lint_sarif(REPORT, version="1.2.3"))
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("microseg", "1.2.3")
    assert [r["id"] for r in driver["rules"]] == list(CODES)
    assert all(r["shortDescription"]["text"] == DESCRIPTIONS[r["id"]] for r in driver["rules"])
    levels = [r["level"] for r in run["results"]]
    assert levels == ["warning", "note", "warning"]
    located = run["results"][0]["locations"][0]["physicalLocation"]
    assert located == {"artifactLocation": {"uri": "b.yaml"}, "region": {"startLine": 12}}
    assert "region" not in run["results"][2]["locations"][0]["physicalLocation"]
    assert run["results"][1]["message"]["text"] == "ANP guard spec.subject: selects no pod"
