"""`microseg check`, `microseg schema guardrails` and `microseg guardrails export` as a user runs
them: exit codes 0/1/2, every output format, located findings and errors, never a traceback."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from microseg.cli.app import app
from microseg.ingest.guardrails_schema import guardrails_json_schema
from microseg.schemas import schema_text
from tests.unit.render.test_sarif import multitool  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "guardrails"
GUARDRAILS = str(EXAMPLE / "guardrails.yaml")
CLUSTER = str(EXAMPLE / "cluster")
K8S = str(EXAMPLE / "k8s")

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_refused_manifests_fail_with_located_findings() -> None:
    code, out, _ = run("check", CLUSTER, K8S, "--guardrails", GUARDRAILS)
    assert code == 1
    assert out.startswith("FAIL 1 of 12 objects denied, and the state breaks segmentation intents")
    deployment = str(EXAMPLE / "k8s" / "deployment.yaml")
    assert f"DENIED  shop/reports[Deployment]  ({deployment}:2)" in out
    assert (
        f"error[pod-security-baseline/privileged] ({deployment}:14) "
        "spec.template.spec.containers[0].securityContext.privileged:"
    ) in out
    assert f"error[approved-registries/tag] ({deployment}:12)" in out
    assert "error[segmentation-intents/denyViolated]" in out
    assert "frontend/webapp[Deployment] -> shop/postgres[StatefulSet] TCP 5432" in out
    assert "NP shop/postgres-from-frontend" in out


def test_compliant_manifests_pass_exit_0() -> None:
    code, out, err = run("check", CLUSTER, "--guardrails", GUARDRAILS)
    assert code == 0
    assert out == "PASS 10 objects admitted (0 enforced, 0 warnings, 0 audit)\n"
    assert err == ""


def test_warnings_only_exit_0(tmp_path: Path) -> None:
    text = (EXAMPLE / "cluster" / "cluster.yaml").read_text()
    (tmp_path / "cluster.yaml").write_text(
        text.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", 1)
    )
    code, out, _ = run("check", str(tmp_path), "--guardrails", GUARDRAILS)
    assert code == 0
    assert out.startswith("PASS 10 objects admitted (0 enforced, 1 warning, 0 audit)")
    assert "WARNED  frontend/webapp[Deployment]" in out
    assert "warning[read-only-root/readOnlyRootFilesystem]" in out


def test_json_shape() -> None:
    code, out, _ = run("check", CLUSTER, K8S, "--guardrails", GUARDRAILS, "-o", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "GuardrailsCheck"
    assert doc["summary"]["denied"] == 1
    assert doc["summary"]["enforced"] == 6
    reports = next(o for o in doc["objects"] if o["name"] == "reports")
    assert reports["allowed"] is False
    first = reports["findings"][0]
    assert first == {
        "rule": "pod-security-baseline",
        "kind": "podSecurity",
        "mode": "enforce",
        "control": "privileged",
        "message": first["message"],
        "field": "spec.template.spec.containers[0].securityContext.privileged",
        "file": str(EXAMPLE / "k8s" / "deployment.yaml"),
        "document": 0,
        "line": 14,
    }
    state = doc["state"][0]
    assert state["flows"][0]["conn"] == "TCP 5432"
    assert {r["policy"] for r in state["related"]} == {
        "NP frontend/webapp-egress",
        "NP shop/postgres-from-frontend",
    }


def test_sarif_validates(multitool: Path) -> None:  # noqa: F811
    import jsonschema

    code, out, _ = run("check", CLUSTER, K8S, "--guardrails", GUARDRAILS, "-o", "sarif")
    assert code == 1
    doc = json.loads(out)
    schema = json.loads((multitool / "sarif-2.1.0.json").read_text(encoding="utf-8-sig"))
    errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))
    assert not errors, [e.message for e in errors[:5]]
    results = doc["runs"][0]["results"]
    privileged = next(r for r in results if r["ruleId"] == "guardrail/pod-security-baseline")
    assert privileged["level"] == "error"
    assert privileged["locations"][0]["physicalLocation"]["region"]["startLine"] == 14
    assert {r["level"] for r in results} == {"error", "warning", "note"}


def test_junit() -> None:
    code, out, _ = run("check", CLUSTER, K8S, "--guardrails", GUARDRAILS, "-o", "junit")
    assert code == 1
    root = ET.fromstring(out)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {
        "pod-security-baseline",
        "pod-security-restricted",
        "approved-registries",
        "team-labels",
        "memory-limits",
        "read-only-root",
        "no-token",
        "isolated-for-ingress",
        "segmentation-intents",
    }
    assert suites["pod-security-baseline"].get("failures") == "1"
    assert suites["pod-security-restricted"].get("failures") == "0"
    assert suites["segmentation-intents"].get("failures") == "1"


def test_bad_guardrails_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: Guardrails\nmetadata: {name: g}\nspec:\n"
        "  rules:\n    - name: a\n      podSecurity: {level: strict}\n"
        "    - name: b\n      images: {registries: [x/], requireDigests: true}\n"
        "    - name: c\n      podSecurity: {level: baseline, version: v1.12}\n"
        "---\napiVersion: microseg.dev/v1alpha1\nkind: Guardrails\nmetadata: {name: h}\nspec:\n"
        "  rules:\n    - name: d\n      readOnlyRootFilesystem: {}\n"
        "    - name: d\n      ingressIsolation: {}\n"
    )
    code, out, err = run("check", CLUSTER, "--guardrails", str(bad))
    assert code == 2
    assert out == ""
    assert f"{bad}:7: error[MS600]: spec.rules[0].podSecurity.level:" in err
    assert f"{bad}:9: error[MS600]: spec.rules[1].images.requireDigests:" in err
    assert "spec.rules[2].podSecurity.version: expected latest or a version v1.25 to v1.37" in err
    assert "error[MS601]: spec.rules[1].name: rule 'd' defined twice (first at" in err
    assert "Traceback" not in err


def test_bad_manifest_field_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "pod.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n"
        "  containers:\n    - name: c\n      image: x:1\n      securityContext:\n"
        "        privileged: 'yes'\n"
    )
    code, _, err = run("check", str(bad), "--guardrails", GUARDRAILS)
    assert code == 2
    assert (
        f"{bad}:9: error[MS620]: spec.containers[0].securityContext.privileged: expected a boolean"
        in err
    )


def test_bad_policy_said_once(tmp_path: Path) -> None:
    bad = tmp_path / "np.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
        "spec:\n  podSelector: {}\n  ingress: [{ports: [{port: 70000}]}]\n"
    )
    code, _, err = run("check", str(bad), "--guardrails", GUARDRAILS)
    assert code == 2
    assert err.count("error[MS102]") == 1
    assert err.endswith("1 error; nothing was checked\n")


def test_missing_paths_exit_2() -> None:
    code, _, err = run("check", "/nonexistent", "--guardrails", GUARDRAILS)
    assert code == 2
    assert "error[MS001]" in err
    code, _, err = run("check", CLUSTER, "--guardrails", "/nonexistent.yaml")
    assert code == 2
    assert "error[MS001]" in err


def test_schema_guardrails() -> None:
    code, out, _ = run("schema", "guardrails")
    assert code == 0
    assert json.loads(out) == guardrails_json_schema()
    assert json.loads(schema_text("guardrails")) == guardrails_json_schema()


def test_export_validating_admission_policy() -> None:
    code, out, err = run(
        "guardrails", "export", "--guardrails", GUARDRAILS, "--to", "validating-admission-policy"
    )
    assert code == 0
    assert "not exported" in err
    assert "isolated-for-ingress, segmentation-intents" in err
    objects = [o for o in yaml.safe_load_all(out) if o]
    kinds = [o["kind"] for o in objects]
    assert kinds.count("ValidatingAdmissionPolicy") == 7
    assert kinds.count("ValidatingAdmissionPolicyBinding") == 7
    for obj in objects:
        kubernetes_validate.validate(obj, "1.36.0", strict=True)
    actions = {
        o["metadata"]["name"]: o["spec"]["validationActions"]
        for o in objects
        if o["kind"].endswith("Binding")
    }
    assert actions["microseg-pod-security-baseline"] == ["Deny"]
    assert actions["microseg-pod-security-restricted"] == ["Warn"]
    assert actions["microseg-no-token"] == ["Audit"]


def test_export_kyverno() -> None:
    code, out, _ = run("guardrails", "export", "--guardrails", GUARDRAILS, "--to", "kyverno")
    assert code == 0
    policies = {o["metadata"]["name"]: o for o in yaml.safe_load_all(out) if o}
    pss = policies["microseg-pod-security-restricted"]["spec"]
    assert pss["rules"][0]["validate"]["podSecurity"] == {"level": "restricted", "version": "v1.36"}
    assert pss["emitWarning"] is True
    assert pss["rules"][0]["exclude"] == {
        "any": [{"resources": {"namespaces": ["kube-system", "microseg"]}}]
    }
    images = policies["microseg-approved-registries"]["spec"]["rules"][0]["validate"]
    assert images["failureAction"] == "Enforce"
    assert images["cel"]["expressions"][0]["message"].startswith("approved-registries/registry")


def test_export_to_unknown_target_exit_2() -> None:
    code, _, err = run("guardrails", "export", "--guardrails", GUARDRAILS, "--to", "gatekeeper")
    assert code == 2
    assert "--to" in err


@pytest.mark.parametrize(
    "args",
    [
        (
            "webhook",
            "serve",
            "--guardrails",
            GUARDRAILS,
            "--tls-cert",
            "/nope.crt",
            "--tls-key",
            "/nope.key",
        )
    ],
)
def test_webhook_serve_bad_tls_exit_2(args: tuple[str, ...]) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert "--tls-cert/--tls-key: /nope.crt: no such file" in err
