"""The admission webhook over HTTPS on loopback, with a real client (httpx), end to end:
AdmissionReviews of every kind as the API server sends them, verdicts and their
explanations, warn and audit modes, dry runs, and the snapshot following admitted changes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ._server import Running, example_state, running, tls_context

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KINDS = sorted(p.stem for p in FIXTURES.glob("*.json"))


def fixture(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{kind}.json").read_text())
    return data


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(example_state(), tmp_path_factory.mktemp("tls")) as r:
        yield r


@pytest.fixture
def client(hook: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hook.url, verify=tls_context(hook.ca), timeout=30) as c:
        yield c


def post(client: httpx.Client, review: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/validate", json=review)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == review["request"]["uid"]
    return body["response"]


def compliant(review: dict[str, Any]) -> dict[str, Any]:
    """The fixture's pod template made to pass every enforced rule of the example."""
    out = copy.deepcopy(review)
    obj = out["request"]["object"]
    holder = obj
    for step in {"Pod": (), "CronJob": ("spec", "jobTemplate", "spec", "template")}.get(
        obj["kind"], ("spec", "template")
    ):
        holder = holder[step]
    spec = holder["spec"]
    holder.setdefault("metadata", {}).setdefault("labels", {})["app"] = "web"
    spec["automountServiceAccountToken"] = False
    spec["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    for c in spec["containers"]:
        c["image"] = "ghcr.io/example-shop/" + c["image"].split("/")[-1]
        c["resources"] = {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"memory": "32Mi"},
        }
        c["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
    return out


def test_health_ready_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").text == "ok\n"
    ready = client.get("/readyz").json()
    assert ready["ready"] is True
    assert ready["rules"] == 9
    assert ready["snapshot"].endswith("cluster")
    post(client, fixture("ConfigMap"))
    text = client.get("/metrics").text
    assert (
        'microseg_admission_reviews_total{allowed="true",kind="ConfigMap",operation="CREATE"}'
        in text
    )
    assert "microseg_admission_review_seconds_bucket" in text


@pytest.mark.parametrize(
    "kind",
    [
        "CronJob",
        "DaemonSet",
        "Deployment",
        "Job",
        "Pod",
        "ReplicaSet",
        "ReplicationController",
        "StatefulSet",
    ],
)
def test_pod_kinds_as_kubectl_makes_them(client: httpx.Client, kind: str) -> None:
    """kubectl's objects use nginx:1.27 from Docker Hub, no limits, a root-capable pod:
    denied by the enforced rules, with the restricted level as warnings."""
    response = post(client, fixture(kind))
    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 403
    assert status["reason"] == "Forbidden"
    assert "[approved-registries/registry]" in status["message"]
    assert "[memory-limits/limits]" in status["message"]
    assert "containers[0].image" in status["message"]
    assert any(w.startswith("[pod-security-restricted/") for w in response["warnings"])
    assert all(len(w) <= 256 for w in response["warnings"])
    assert "no-token" in response["auditAnnotations"]


@pytest.mark.parametrize(
    "kind",
    [
        "CronJob",
        "DaemonSet",
        "Deployment",
        "Job",
        "Pod",
        "ReplicaSet",
        "ReplicationController",
        "StatefulSet",
    ],
)
def test_pod_kinds_compliant_are_admitted(client: httpx.Client, kind: str) -> None:
    response = post(client, compliant(fixture(kind)))
    assert response["allowed"] is True, response
    assert "status" not in response


def test_privileged_deployment_denied_with_field(client: httpx.Client) -> None:
    review = compliant(fixture("Deployment"))
    c = review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]
    c["securityContext"]["privileged"] = True
    response = post(client, review)
    assert response["allowed"] is False
    assert (
        "[pod-security-baseline/privileged] spec.template.spec.containers[0].securityContext.privileged"
        in response["status"]["message"]
    )


def test_unjudged_kinds_are_allowed(client: httpx.Client) -> None:
    response = post(client, fixture("ConfigMap"))
    assert response == {"uid": fixture("ConfigMap")["request"]["uid"], "allowed": True}


def test_new_namespace_admitted(client: httpx.Client) -> None:
    assert post(client, fixture("Namespace"))["allowed"] is True


def test_workload_outside_isolation_denied(client: httpx.Client) -> None:
    """A namespace without a default deny: the new workload would not be isolated."""
    review = compliant(fixture("Deployment"))
    review["request"]["namespace"] = "reports"
    review["request"]["object"]["metadata"]["namespace"] = "reports"
    response = post(client, review)
    assert response["allowed"] is False
    assert "[isolated-for-ingress/notIsolated]" in response["status"]["message"]


def test_policy_opening_frontend_to_database_denied(client: httpx.Client) -> None:
    """The issue's case: a NetworkPolicy that opens frontend -> database, denied with the
    intent, the flow and the rule."""
    response = post(client, fixture("NetworkPolicy"))
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert "[segmentation-intents/denyBroken]" in message
    assert "shop-guardrails/deny[0]" in message
    assert "web must not reach database" in message


def test_admin_policy_opening_database_denied(client: httpx.Client) -> None:
    response = post(client, fixture("AdminNetworkPolicy"))
    assert response["allowed"] is False
    assert "shop-guardrails/deny[0]" in response["status"]["message"]


def test_harmless_policy_admitted(client: httpx.Client) -> None:
    review = fixture("NetworkPolicy")
    review["request"]["uid"] = "harmless"
    review["request"]["dryRun"] = True
    policy = review["request"]["object"]
    policy["metadata"]["name"] = "postgres-from-gateway-again"
    policy["spec"]["ingress"] = [
        {"from": [{"podSelector": {"matchLabels": {"app": "api-gateway"}}}]}
    ]
    assert post(client, review)["allowed"] is True


def test_widening_an_allow_denied(client: httpx.Client) -> None:
    """allow web -> gateway on TCP/8080 only: opening every port is a widening."""
    review = fixture("NetworkPolicy")
    review["request"]["uid"] = "widen"
    policy = review["request"]["object"]
    policy["metadata"]["name"] = "gateway-everything"
    policy["spec"] = {"podSelector": {"matchLabels": {"app": "api-gateway"}}, "ingress": [{}]}
    response = post(client, review)
    assert response["allowed"] is False
    assert "[segmentation-intents/allowWidened]" in response["status"]["message"]


def test_deleting_a_needed_policy_denied(client: httpx.Client) -> None:
    """Deleting the webapp's egress policy (its namespace denies egress by default) blocks
    web -> gateway, which an allow intent requires; deleting shop's default deny alone
    changes nothing, as the database keeps its own policy."""
    review = fixture("NetworkPolicy")
    request = review["request"]
    request.update(uid="delete", operation="DELETE", name="webapp-egress", namespace="frontend")
    request["oldObject"] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "webapp-egress", "namespace": "frontend"},
        "spec": {"podSelector": {"matchLabels": {"app": "webapp"}}, "policyTypes": ["Egress"]},
    }
    request["object"] = None
    request["dryRun"] = True
    response = post(client, review)
    assert response["allowed"] is False
    assert (
        "[segmentation-intents/allowBroken] shop-guardrails/allow[0]"
        in response["status"]["message"]
    )
    request.update(uid="delete-2", name="default-deny", namespace="shop")
    request["oldObject"]["metadata"] = {"name": "default-deny", "namespace": "shop"}
    request["oldObject"]["spec"] = {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert post(client, review)["allowed"] is True


def test_exempt_namespace(client: httpx.Client) -> None:
    review = fixture("Deployment")
    review["request"]["namespace"] = "kube-system"
    review["request"]["object"]["metadata"]["namespace"] = "kube-system"
    assert post(client, review)["allowed"] is True


def test_dry_run_leaves_the_snapshot(tmp_path: Path) -> None:
    """A dry run is reviewed but changes nothing; the same change for real is followed, so
    a second, harmless-looking policy is then judged on the new state."""
    with (
        running(example_state(), tmp_path) as hook,
        httpx.Client(base_url=hook.url, verify=tls_context(hook.ca), timeout=30) as client,
    ):
        review = fixture("NetworkPolicy")
        policy = review["request"]["object"]
        policy["metadata"]["name"] = "web-egress-only"
        policy["spec"] = {
            "podSelector": {"matchLabels": {"app": "postgres"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "api-gateway"}}}],
                    "ports": [{"port": 5433}],
                }
            ],
        }
        review["request"]["dryRun"] = True
        assert post(client, review)["allowed"] is True
        assert hook.state.applied == 0
        review["request"]["dryRun"] = False
        assert post(client, review)["allowed"] is True
        assert hook.state.applied == 1
        assert any(p.name == "web-egress-only" for p in hook.state.conn.cluster.policies)  # type: ignore[union-attr]


def test_without_snapshot_says_so(tmp_path: Path) -> None:
    with (
        running(example_state(snapshot=False), tmp_path) as hook,
        httpx.Client(base_url=hook.url, verify=tls_context(hook.ca), timeout=30) as client,
    ):
        response = post(client, fixture("NetworkPolicy"))
        assert response["allowed"] is True
        assert any("no cluster snapshot" in w for w in response["warnings"])
        deployment = post(client, compliant(fixture("Deployment")))
        assert any("ingress isolation not evaluated" in w for w in deployment["warnings"])


def test_tls_only(hook: Running) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{hook.port}/healthz", timeout=5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{hook.url}/healthz", timeout=5)  # a CA it does not know: refused


def _as_review(obj: dict[str, Any], uid: str) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "namespace": obj["metadata"]["namespace"],
            "name": obj["metadata"]["name"],
            "operation": "CREATE",
            "object": obj,
            "dryRun": True,
        },
    }


def test_the_webhook_and_check_agree_on_the_same_manifests(client: httpx.Client) -> None:
    """The issue's 'done when': what `check` fails in CI, the webhook denies, for the same
    reasons (the same rules and controls), over HTTPS."""
    from typer.testing import CliRunner

    from microseg.cli.app import app

    from ._server import EXAMPLE

    result = CliRunner().invoke(
        app,
        [
            "check",
            str(EXAMPLE / "cluster"),
            str(EXAMPLE / "k8s"),
            "--guardrails",
            str(EXAMPLE / "guardrails.yaml"),
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    enforced = {
        (f["rule"], f["control"])
        for o in report["objects"]
        if o["name"] == "reports"
        for f in o["findings"]
        if f["mode"] == "enforce"
    }
    deployment = yaml.safe_load((EXAMPLE / "k8s" / "deployment.yaml").read_text())
    response = post(client, _as_review(deployment, "same-deployment"))
    assert response["allowed"] is False
    denied = set(re.findall(r"\[([a-z0-9-]+)/([A-Za-z_]+)\]", response["status"]["message"]))
    assert denied == enforced
    policy = yaml.safe_load((EXAMPLE / "k8s" / "open-database.yaml").read_text())
    response = post(client, _as_review(policy, "same-policy"))
    assert response["allowed"] is False
    assert (
        "[segmentation-intents/denyBroken] shop-guardrails/deny[0]" in response["status"]["message"]
    )
    assert report["state"][0]["control"] == "denyViolated"
