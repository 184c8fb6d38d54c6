"""`microseg webhook install` and the Helm chart: the rendered objects validated against the
Kubernetes API's schemas (kubernetes-validate, offline, strict), their settings as the issue
asks, the serving certificate verified by the caBundle, and the chart (`helm template`)
rendering the same objects."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from microseg.analyses.guardrails import Level, evaluate_pod_security
from microseg.cli.app import app
from microseg.errors import Origin
from microseg.ingest.podspec import parse_workload

REPO = Path(__file__).resolve().parents[3]
GUARDRAILS = REPO / "examples" / "guardrails" / "guardrails.yaml"
CHART = REPO / "deploy" / "helm" / "microseg"
K8S = "1.36.0"
NO_SCHEMA = {"Issuer", "Certificate"}  # cert-manager CRDs: not in the API's schemas

runner = CliRunner()


def install(*args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["webhook", "install", "--guardrails", str(GUARDRAILS), *args])
    assert result.exit_code == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind)


def validate(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] in NO_SCHEMA:
            assert obj["apiVersion"] == "cert-manager.io/v1"
            continue
        kubernetes_validate.validate(obj, K8S, strict=True)


@pytest.mark.parametrize("flags", [(), ("--fail-closed",), ("--cert-manager",), ("-n", "guard")])
def test_rendered_objects_validate(flags: tuple[str, ...]) -> None:
    validate(install(*flags))


def test_deployment_is_available_and_restricted() -> None:
    objects = install()
    deployment = by_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    spec = deployment["spec"]["template"]["spec"]
    anti = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pod = parse_workload(deployment, Origin()).pod
    assert evaluate_pod_security(pod, Level.RESTRICTED) == ()
    assert by_kind(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    args = spec["containers"][0]["args"]
    assert args[:2] == ["webhook", "serve"]
    assert "/etc/microseg/guardrails/guardrails.yaml" in args
    config = by_kind(objects, "ConfigMap")["data"]
    assert set(config) == {"guardrails.yaml", "intents.yaml"}


@pytest.mark.parametrize("fail_closed", [False, True])
def test_webhook_configuration(fail_closed: bool) -> None:
    objects = install(*(["--fail-closed"] if fail_closed else []))
    hook = by_kind(objects, "ValidatingWebhookConfiguration")["webhooks"][0]
    assert hook["failurePolicy"] == ("Fail" if fail_closed else "Ignore")
    assert hook["sideEffects"] == "None"
    assert hook["timeoutSeconds"] == 5
    assert hook["admissionReviewVersions"] == ["v1"]
    excluded = hook["namespaceSelector"]["matchExpressions"][0]
    assert excluded == {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system", "microseg"],
    }
    assert {c["name"] for c in hook["matchConditions"]} == {
        "not-the-webhook-itself",
        "not-namespace-cleanup",
    }
    resources = {r for rule in hook["rules"] for r in rule["resources"]}
    assert {
        "pods",
        "deployments",
        "cronjobs",
        "networkpolicies",
        "adminnetworkpolicies",
        "namespaces",
    } <= resources
    assert hook["clientConfig"]["service"] == {
        "namespace": "microseg",
        "name": "microseg-webhook",
        "path": "/validate",
        "port": 443,
    }


def test_serving_certificate_is_signed_by_the_ca_bundle() -> None:
    objects = install()
    hook = by_kind(objects, "ValidatingWebhookConfiguration")["webhooks"][0]
    ca = x509.load_pem_x509_certificate(base64.b64decode(hook["clientConfig"]["caBundle"]))
    secret = by_kind(objects, "Secret")
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert cert.issuer == ca.subject
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))  # type: ignore[arg-type]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "microseg-webhook.microseg.svc" in names.get_values_for_type(x509.DNSName)


def test_cert_manager_instead_of_a_secret() -> None:
    objects = install("--cert-manager")
    kinds = [o["kind"] for o in objects]
    assert "Secret" not in kinds
    assert kinds.count("Certificate") == 2
    vwc = by_kind(objects, "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "microseg/microseg-webhook-tls"
    }
    assert "caBundle" not in vwc["webhooks"][0]["clientConfig"]


def test_out_writes_one_file_per_object(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["webhook", "install", "--guardrails", str(GUARDRAILS), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0
    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) == len(install())
    assert files[-1].name == "07-validatingwebhookconfiguration-microseg-guardrails.yaml"


def test_bad_guardrails_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: Guardrails\nmetadata: {name: x}\nspec: {rules: [{name: a, mode: block, labels: {required: [app]}}]}\n"
    )
    result = runner.invoke(app, ["webhook", "install", "--guardrails", str(bad)])
    assert result.exit_code == 2
    assert "error[MS600]: spec.rules[0].mode" in result.stderr


def helm() -> str:
    """MICROSEG_HELM (set by .ci/run, so a fresh clone finds it too), .tools/bin/helm
    (where .ci/helm installs it), or helm on the PATH."""
    found = REPO / ".tools" / "bin" / "helm"
    path = os.environ.get("MICROSEG_HELM") or (
        str(found) if found.exists() else shutil.which("helm")
    )
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("helm not installed: .ci/run installs it with .ci/helm")
        pytest.skip("helm not installed (bash .ci/helm installs it from npm)")
    return path


def helm_template(*sets: str) -> list[dict[str, Any]]:
    args = [helm(), "template", "microseg", str(CHART), "-n", "microseg"]
    for s in sets:
        args += ["--set", s]
    args += ["--set-file", f"guardrails.files.guardrails\\.yaml={GUARDRAILS}"]
    args += ["--set-file", f"guardrails.files.intents\\.yaml={GUARDRAILS.parent / 'intents.yaml'}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _shape(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """What must agree between the chart and the CLI: each object's kind and name, and the
    settings that decide behaviour (certificates and labels aside)."""
    out: dict[tuple[str, str], Any] = {}
    for o in objects:
        key = (o["kind"], o["metadata"]["name"])
        if o["kind"] == "Deployment":
            out[key] = o["spec"]
        elif o["kind"] == "ValidatingWebhookConfiguration":
            hooks = [{k: v for k, v in h.items() if k != "clientConfig"} for h in o["webhooks"]]
            out[key] = (
                hooks,
                o["webhooks"][0]["clientConfig"]["service"],
                o["metadata"].get("annotations"),
            )
        elif o["kind"] in ("Service", "PodDisruptionBudget", "ConfigMap"):
            out[key] = o.get("spec", o.get("data"))
        else:
            out[key] = None
    return out


@pytest.mark.parametrize(
    ("sets", "flags"),
    [
        ((), ()),
        (("failClosed=true",), ("--fail-closed",)),
        (("certManager=true",), ("--cert-manager",)),
    ],
)
def test_helm_chart_renders_the_same_objects(sets: tuple[str, ...], flags: tuple[str, ...]) -> None:
    charted = helm_template(*sets)
    validate(charted)
    cli = [
        o for o in install(*flags) if o["kind"] != "Namespace"
    ]  # helm install --create-namespace
    assert _shape(charted) == _shape(cli)
