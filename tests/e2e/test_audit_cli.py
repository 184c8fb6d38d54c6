"""`microseg audit` end to end: formats, exit codes, the trend against a previous report,
bad input, and SARIF validated against its schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.unit.render.test_sarif import multitool  # noqa: F401 - the schema fixture

runner = CliRunner()


@pytest.fixture
def demo(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    repo = demo_dir.parents[1]
    monkeypatch.chdir(repo)
    return str(demo_dir.relative_to(repo))


@pytest.fixture(scope="module")
def demo_json(demo_dir: Path) -> dict[str, object]:
    result = runner.invoke(
        app, ["audit", str(demo_dir), "-o", "json", "--intents", str(demo_dir / "intents.yaml")]
    )
    assert result.exit_code == 0, result.output
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


def test_json_shape(demo_json: dict[str, object]) -> None:
    doc = demo_json
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "AuditReport"
    assert set(doc["inputs"]) >= {"workloads", "rbac", "intents", "mesh", "tenants"}  # type: ignore[arg-type]
    findings = doc["findings"]
    assert isinstance(findings, list)
    codes = {f["code"] for f in findings}
    # every area has findings on the demo
    assert {"AUD-NET-009", "AUD-IDN-002", "AUD-POD-017", "AUD-RBAC-001", "AUD-RBAC-003"} <= codes
    f = next(f for f in findings if f["code"] == "AUD-RBAC-003")
    assert f["evidence"][0]["file"].endswith("rbac.yaml")
    assert f["evidence"][0]["line"]
    frameworks = {fw["id"]: fw for fw in doc["frameworks"]}  # type: ignore[attr-defined]
    assert set(frameworks) == {
        "nist-800-207",
        "nist-800-190",
        "nist-800-53",
        "pci-dss-4",
        "soc2",
        "iso-27001-2022",
        "cis-1.12",
    }
    pci = {c["id"]: c for c in frameworks["pci-dss-4"]["controls"]}
    assert pci["11.4.5"]["status"] == "fail"
    assert pci["11.4.5"]["findings"]
    assert pci["10.2.1"]["status"] == "not-assessable"
    assert all(
        fw["summary"]["pass"] + fw["summary"]["fail"] + fw["summary"]["notAssessable"]
        == len(fw["controls"])
        for fw in frameworks.values()
    )
    assert isinstance(doc["score"]["overall"], float)  # type: ignore[index]
    assert doc["rbac"]["powerful"][0]["subject"] == "Group oncall"  # type: ignore[index]
    # effective permissions, per subject, for the access review
    subjects = {s["subject"]: s for s in doc["rbac"]["subjects"]}  # type: ignore[index]
    oncall = subjects["Group oncall"]["grants"]
    assert [(g["scope"], g["role"], g["verbs"], g["resources"]) for g in oncall] == [
        ("cluster", "ClusterRole cluster-admin", ["*"], ["*"]),
        ("cluster", "ClusterRole cluster-admin", ["*"], []),
    ]
    assert oncall[1]["nonResourceURLs"] == ["*"]
    assert oncall[0]["binding"] == "ClusterRoleBinding oncall-admin"
    assert oncall[0]["file"].endswith("rbac.yaml")
    assert oncall[0]["line"] == 78


def test_fail_on_and_framework_choice(demo: str) -> None:
    result = runner.invoke(
        app,
        [
            "audit",
            demo,
            "--framework",
            "cis",
            "--cis-version",
            "1.9",
            "-o",
            "json",
            "--fail-on",
            "critical",
        ],
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [fw["id"] for fw in doc["frameworks"]] == ["cis-1.9"]
    quiet = runner.invoke(app, ["audit", demo, "--framework", "soc2", "-o", "json"])
    assert quiet.exit_code == 0


def test_trend_against_a_baseline(demo: str, tmp_path: Path) -> None:
    first = runner.invoke(app, ["audit", demo, "-o", "json", "--framework", "soc2"])
    previous = json.loads(first.stdout)
    # pretend the previous run had one finding more and one less, and a lower score
    previous["findings"] = [
        *previous["findings"][1:],
        {"id": "AUD-NET-003:gone/x[Deployment]", "severity": "high"},
    ]
    previous["score"]["overall"] -= 5.0
    base = tmp_path / "previous.json"
    base.write_text(json.dumps(previous), encoding="utf-8")
    result = runner.invoke(
        app, ["audit", demo, "-o", "json", "--framework", "soc2", "--baseline", str(base)]
    )
    assert result.exit_code == 0, result.output
    trend = json.loads(result.stdout)["trend"]
    assert trend["overallDelta"] == 5.0
    assert trend["resolved"] == ["AUD-NET-003:gone/x[Deployment]"]
    assert trend["new"] == [json.loads(first.stdout)["findings"][0]["id"]]
    text = runner.invoke(app, ["audit", demo, "--framework", "soc2", "--baseline", str(base)])
    assert "+5.0 since" in text.stdout


def test_bad_input_exits_2(demo: str, tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text('{"kind": "Something"}', encoding="utf-8")
    result = runner.invoke(app, ["audit", demo, "--baseline", str(bad)])
    assert result.exit_code == 2
    assert "MS920" in result.output
    assert runner.invoke(app, ["audit", demo, "--framework", "hipaa"]).exit_code == 2
    assert runner.invoke(app, ["audit", demo, "--cis-version", "1.5"]).exit_code == 2
    assert runner.invoke(app, ["audit", demo, "-o", "pdf"]).exit_code == 2  # needs --out
    for out in (tmp_path / "missing" / "r.html", tmp_path):
        result = runner.invoke(app, ["audit", demo, "-o", "html", "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert "--out" in result.output
        assert "Traceback" not in result.output
    log = tmp_path / "audit.log"
    log.write_text("garbage\n", encoding="utf-8")
    result = runner.invoke(app, ["audit", demo, "--audit-log", str(log)])
    assert result.exit_code == 2
    assert "MS910" in result.output
    role = tmp_path / "role.yaml"
    role.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: a}\nrules:\n  - {resources: [pods]}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["audit", str(role)])
    assert result.exit_code == 2
    assert "role.yaml:5: error[MS900]: rules[0].verbs" in result.output


def test_sarif_validates(demo: str, multitool: Path) -> None:  # noqa: F811
    import jsonschema

    result = runner.invoke(app, ["audit", demo, "-o", "sarif"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    schema = json.loads((multitool / "sarif-2.1.0.json").read_text(encoding="utf-8-sig"))
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    results = doc["runs"][0]["results"]
    assert results
    assert all(r["ruleId"].startswith("AUD-") for r in results)
