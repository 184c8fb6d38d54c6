"""SARIF output validates against the SARIF 2.1.0 schema, with the SARIF multitool too.

The schema and the validator come from npm's `@microsoft/sarif-multitool-linux`, installed
once into a cache outside the repository ($XDG_CACHE_HOME or ~/.cache); the tests skip with
the reason when npm or the package cannot be had.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from microseg.analyses.verify import Finding, VerificationReport, verify
from microseg.engine import Connectivity
from microseg.errors import Origin
from microseg.ingest import load
from microseg.ingest.intents import load_intents
from microseg.render.sarif import RULES, report_sarif

PACKAGE = "@microsoft/sarif-multitool-linux"
FAILING = """
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: broken}
spec:
  groups:  # web and payments come from the demo's intents.yaml
    ghost: {workload: shop/ghost}
    shop: {namespace: shop}
  allow:
    - {from: web, to: payments, ports: [TCP/8443]}
    - {from: ghost, to: shop}
  deny:
    - {from: shop, to: internet}
  domains:
    - {name: shop-only, members: [shop]}
  expect:
    defaultDeny: [shop]
    noInternetEgress: [shop]
    maxBlastRadius: {from: web, hops: 3, atMost: 1}
"""


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "microseg" / "sarif-multitool"


@pytest.fixture(scope="session")
def multitool() -> Path:
    """The installed package folder (holds sarif-2.1.0.json and Sarif.Multitool)."""
    folder = _cache() / "node_modules" / "@microsoft" / "sarif-multitool-linux"
    _cache().mkdir(parents=True, exist_ok=True)
    # xdist's workers each hold this session fixture: the first installs, the other waits
    # (two npm installs into one prefix leave each other half-written packages).
    with (_cache() / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _install(folder)
    if not (folder / "sarif-2.1.0.json").is_file():
        pytest.skip(f"{PACKAGE} has no sarif-2.1.0.json")
    return folder


def _install(folder: Path) -> None:
    if not (folder / "sarif-2.1.0.json").is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot fetch the SARIF schema and multitool")
        _cache().mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(_cache()), PACKAGE],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"npm install {PACKAGE} failed: {exc}")


@pytest.fixture(scope="module")
def report(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> VerificationReport:
    extra = tmp_path_factory.mktemp("intents") / "broken.yaml"
    extra.write_text(FAILING)
    conn = Connectivity.build(load([str(demo_dir)]))
    intents, _ = load_intents([str(demo_dir / "intents.yaml"), str(extra)])
    return verify(conn, intents)


def test_report_has_every_kind_of_violation(report: VerificationReport) -> None:
    assert {f.kind for f in report.violations} == {kind for kind, _, _ in RULES}


def test_one_result_per_violation_at_the_intent_with_related_policies(
    report: VerificationReport,
) -> None:
    doc = json.loads(report_sarif(report, "1.2.3"))
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert run["tool"]["driver"]["version"] == "1.2.3"
    results = run["results"]
    assert len(results) == len(report.violations)
    for result, finding in zip(results, report.violations, strict=True):
        location = result["locations"][0]["physicalLocation"]
        assert location["region"]["startLine"] == finding.origin.line
        assert result["ruleId"] == f"intent/{finding.kind}"
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        related = result.get("relatedLocations", [])
        assert [r["physicalLocation"]["region"]["startLine"] for r in related] == [
            o.line for o in finding.related
        ]
    gap = next(r for r in results if "web must not reach database" in r["message"]["text"])
    texts = {r["message"]["text"] for r in gap["relatedLocations"]}
    assert texts == {"NP frontend/webapp-egress", "NP shop/postgres-allow-shop-tenant"}


def test_validates_against_the_sarif_schema(report: VerificationReport, multitool: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((multitool / "sarif-2.1.0.json").read_text(encoding="utf-8-sig"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = list(validator.iter_errors(json.loads(report_sarif(report, "0.1.0"))))
    assert not errors, [e.message for e in errors[:5]]


def test_the_sarif_multitool_accepts_it(
    report: VerificationReport, multitool: Path, tmp_path: Path
) -> None:
    tool = multitool / "Sarif.Multitool"
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the multitool package ships a linux-x64 binary")
    if not os.access(tool, os.X_OK):
        tool.chmod(0o755)
    log = tmp_path / "verify.sarif"
    log.write_text(report_sarif(report, "0.1.0"))
    out = tmp_path / "validation.sarif"
    proc = subprocess.run(
        [str(tool), "validate", str(log), "-o", str(out), "--log", "ForceOverwrite"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    findings = json.loads(out.read_text(encoding="utf-8-sig"))["runs"][0]["results"]
    errors = [r for r in findings if r.get("level", "warning") == "error"]
    assert not errors, [r["message"] for r in errors]


@pytest.fixture(scope="module")
def odd_paths() -> VerificationReport:
    """Intents in a relative path with spaces and `%`, a policy read from stdin."""
    policy = Origin("<stdin>", 0, 7, "NetworkPolicy", "shop", "deny-all")
    absolute = Origin("/tmp/sp ace/np.yaml", 0, 3, "NetworkPolicy", "shop", "other")
    finding = Finding(
        "t/allow[0]",
        "allow",
        "web must reach db",
        Origin("sp ace/in tents 100%.yaml", 0, 9, "SegmentationIntent"),
        False,
        "blocked",
        related=(policy, absolute),
    )
    stdin = Finding(
        "s/deny[0]", "deny", "a must not reach b", Origin("<stdin>", 0, 4), False, "open"
    )
    return VerificationReport((finding, stdin))


def test_uris_are_rfc3986_and_stdin_has_no_physical_location(
    odd_paths: VerificationReport,
) -> None:
    results = json.loads(report_sarif(odd_paths, "0.1.0"))["runs"][0]["results"]
    at = results[0]["locations"][0]["physicalLocation"]
    assert at["artifactLocation"]["uri"] == "sp%20ace/in%20tents%20100%25.yaml"
    assert at["region"]["startLine"] == 9
    stdin_policy, absolute = results[0]["relatedLocations"]
    assert "physicalLocation" not in stdin_policy
    assert stdin_policy["message"]["text"] == "NP shop/deny-all (<stdin>:7)"
    assert absolute["physicalLocation"]["artifactLocation"]["uri"] == "file:///tmp/sp%20ace/np.yaml"
    assert "physicalLocation" not in results[1]["locations"][0]
    assert results[1]["locations"][0]["logicalLocations"] == [
        {"name": "s/deny[0]", "kind": "object"}
    ]
    assert "(<stdin>:4)" in results[1]["message"]["text"]


def test_odd_paths_validate_against_the_schema(
    odd_paths: VerificationReport, multitool: Path
) -> None:
    test_validates_against_the_sarif_schema(odd_paths, multitool)


def test_the_sarif_multitool_accepts_odd_paths(
    odd_paths: VerificationReport, multitool: Path, tmp_path: Path
) -> None:
    test_the_sarif_multitool_accepts_it(odd_paths, multitool, tmp_path)
