"""`microseg lint` end to end: files and lines, formats, exit codes, and the whole
netpol-analyzer corpus (no crash; exit 0 or 1, 2 only for inputs that are invalid)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conftest import conformance_root

runner = CliRunner()

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  containers:
  - name: c
    image: x
    ports:
    - {containerPort: 8080, name: http}
---
apiVersion: v1
kind: Pod
metadata:
  name: api
  namespace: shop
  labels: {app: api}
spec:
  containers:
  - {name: c, image: x}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-in
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - podSelector:
        matchLabels: {app: api}
    ports:
    - {port: 8080}
  - from:
    - podSelector:
        matchLabels: {app: api}
    ports:
    - {port: 8000, endPort: 8090}
  - from:
    - podSelector:
        matchLabels: {app: ghost}
  - ports:
    - {port: metrics}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: nobody
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: nobody}
"""

CLEAN = (
    MANIFEST.split("---\napiVersion: networking.k8s.io/v1")[0]
    + """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-web
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: web}
"""
)


def _invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["lint", *args], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(MANIFEST)
    return path


def test_text_leads_with_the_count_and_names_file_and_line(policies: Path) -> None:
    code, out, err = _invoke(str(policies))
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith("4 findings in 1 file (2 warnings, 2 notices; 2 policies, 4 rules")
    assert lines[2] == str(policies)
    body = "\n".join(lines[3:])
    # rule 0 (port 8080) is covered by rule 1 (8000-8090); lines are the rules' own lines
    assert "   33  warning[ML001]   NP shop/web-in spec.ingress[0]" in body
    assert "   43  notice[ML004]    NP shop/web-in spec.ingress[2].from[0]" in body
    assert "   46  warning[ML006]   NP shop/web-in spec.ingress[3].ports" in body
    assert "   49  notice[ML003]    NP shop/nobody spec.podSelector" in body


def test_json_envelope(policies: Path) -> None:
    code, out, _ = _invoke(str(policies), "-o", "json")
    assert code == 1
    doc = json.loads(out)
    assert (doc["apiVersion"], doc["kind"]) == ("microseg.dev/v1alpha1", "LintReport")
    assert doc["summary"]["findings"] == 4
    assert [(f["code"], f["line"], f["rule"]) for f in doc["findings"]] == [
        ("ML001", 33, 0),
        ("ML004", 43, 2),
        ("ML006", 46, 3),
        ("ML003", 49, None),
    ]
    assert doc["findings"][0]["file"] == str(policies)


def test_sarif(policies: Path) -> None:
    code, out, _ = _invoke(str(policies), "-o", "sarif")
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    ids = [f"ML00{i}" for i in range(1, 7)] + [f"ML01{i}" for i in range(4)]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ids
    first = run["results"][0]
    assert first["ruleId"] == "ML001"
    assert first["level"] == "warning"
    location = first["locations"][0]["physicalLocation"]
    assert location["region"] == {"startLine": 33}
    assert location["artifactLocation"]["uri"] == str(policies)


def test_ignore_by_code_or_name(policies: Path) -> None:
    code, out, _ = _invoke(str(policies), "--ignore", "ML001,peer-matches-nothing", "-o", "json")
    assert code == 1
    assert [f["code"] for f in json.loads(out)["findings"]] == ["ML006", "ML003"]
    code, out, _ = _invoke(str(policies), "--ignore", "ML001,ML003,ML004,ML006")
    assert code == 0
    assert out.startswith("No findings (2 policies, 4 rules checked)")


def test_clean_input_exits_0_and_stdin_works() -> None:
    code, out, err = _invoke("-", stdin=CLEAN)
    assert (code, out) == (0, "No findings (1 policy, 0 rules checked).\n"), err


@pytest.mark.parametrize(
    "args",
    [["/no/such/dir"], ["-o", "xml", "."], ["--ignore", "ML999", "."]],
    ids=["missing-path", "bad-output", "bad-ignore"],
)
def test_bad_input_exits_2_without_traceback(args: list[str]) -> None:
    code, out, err = _invoke(*args)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err


def test_demo(demo_dir: Path) -> None:
    code, out, _ = _invoke(str(demo_dir), "-o", "json")
    assert code == 1
    found = {(f["code"], f["policy"]) for f in json.loads(out)["findings"]}
    # The ANP and the NetworkPolicy both let shop/checkout call payment-service on 8443:
    # either one alone can go, not both (lint speaks of removing one at a time).
    assert ("ML002", "ANP protect-payments") in found
    assert ("ML002", "NP payments/payment-service-allow-checkout") in found


# --- the netpol-analyzer corpus ---------------------------------------------------------


def _corpus_cases() -> tuple[list[str], set[str]]:
    root = conformance_root()
    if root is None:
        return [], set()
    base = root / "netpol-analyzer"
    bad_lines = (base / "bad-path-cases.tsv").read_text().splitlines()[1:]
    bad = {line.split("\t")[0] for line in bad_lines if line.strip()}
    folders = sorted(p.name for p in (base / "tests").iterdir() if p.is_dir())
    return sorted(set(folders) | bad), bad


CORPUS, BAD = _corpus_cases()


@pytest.mark.parametrize(
    "case",
    CORPUS or [pytest.param("none", marks=pytest.mark.skip(reason="conformance corpus not found"))],
)
def test_corpus_folder_lints_without_crashing(corpus: Path, case: str) -> None:
    """Every folder: no crash, the documented exit codes, and a JSON report that says what
    it counts (summary consistent with the findings, each finding a known code at a file
    of the folder and a line), with exit 1 exactly when there are findings."""
    folder = corpus / "netpol-analyzer" / "tests" / case
    code, out, err = _invoke(str(folder), "-q", "-o", "json")
    assert "Traceback" not in err
    if case in BAD or any(b.startswith(case + "/") for b in BAD):
        # Invalid for netpol-analyzer; the loader decides what microseg refuses (UDN objects,
        # for one, it does not read), and a refusal is a located error, never a crash.
        assert code in (0, 1, 2), err
        if code == 2:
            assert "error" in err, err
            assert out == "", out
        else:
            _check_report(out, code, folder)
        return
    if code == 2:
        # Only an input the loader refuses, with located errors, before lint runs (invalid
        # YAML, malformed pods, label values the API would reject).
        assert re.search(r":\d+: error\[MS\d+\]", err), err
        assert err.endswith("nothing was analysed\n"), err
        assert out == "", out
        return
    assert code in (0, 1), err
    _check_report(out, code, folder)


def _check_report(out: str, code: int, folder: Path) -> None:
    from microseg.analyses.lint import CODES

    doc = json.loads(out)
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "LintReport"
    summary, findings = doc["summary"], doc["findings"]
    assert isinstance(findings, list)
    assert code == (1 if findings else 0)
    assert summary["findings"] == len(findings)
    assert sum(summary["bySeverity"].values()) == len(findings)
    for severity, n in summary["bySeverity"].items():
        assert n == sum(1 for f in findings if f["severity"] == severity)
    assert isinstance(summary["policies"], int)
    assert isinstance(summary["rules"], int)
    assert summary["policies"] >= 0
    assert summary["rules"] >= 0
    if findings:
        assert summary["policies"] > 0
    for f in findings:
        assert f["code"] in CODES, f
        assert f["name"] == CODES[f["code"]][0], f
        assert f["severity"] == CODES[f["code"]][1].value, f
        assert isinstance(f["policy"], str), f
        assert f["policy"], f
        assert isinstance(f["message"], str), f
        assert f["message"], f
        assert Path(f["file"]).is_relative_to(folder), f
        assert Path(f["file"]).is_file(), f
        assert isinstance(f["line"], int), f
        assert f["line"] >= 1, f
