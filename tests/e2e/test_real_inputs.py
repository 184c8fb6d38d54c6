"""What users met running microseg on public manifests: Helm templates, manifests without
namespaces, policy-only inputs, DNS rules for pods the manifests do not carry, mesh dumps,
and one output vocabulary. Each input is a minimal public-style example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conftest import REPO

runner = CliRunner()


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the commands below name examples/demo relative to it


APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, ports: [{containerPort: 8080}]}]
"""
DNS_EGRESS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-egress
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
"""
HELM_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
"""
MESH_DUMP = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels: {app: web}
  annotations: {sidecar.istio.io/status: '{"containers":["istio-proxy"]}'}
spec:
  containers: [{name: web}]
---
apiVersion: v1
kind: Pod
metadata: {name: tmpl-0, namespace: shop, labels: {app: tmpl}, annotations: {inject.istio.io/templates: sidecar}}
spec:
  containers: [{name: tmpl}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: shop, labels: {app: api}}
spec:
  containers: [{name: api}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.22.0}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db, istio.io/rev: canary}}
spec:
  containers: [{name: db}]
---
apiVersion: v1
kind: Pod
metadata: {name: job-0, namespace: shop, labels: {app: job}}
spec:
  containers: [{name: job}]
"""
JOB_DENY = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: job-deny, namespace: shop}
spec:
  selector: {matchLabels: {app: job}}
  action: DENY
  rules: [{}]
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def invoke(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# -- one output vocabulary ---------------------------------------------------------------
COMMANDS = [
    ["connectivity", "examples/demo"],
    ["reach", "examples/demo", "--from", "frontend/webapp", "--to", "shop/postgres"],
    ["stats", "examples/demo"],
    ["verify", "examples/demo", "--intents", "examples/demo/intents.yaml"],
    ["blast-radius", "examples/demo", "--from", "frontend/webapp"],
    ["exposure", "examples/demo"],
    ["diff", "examples/demo", "examples/demo"],
    ["lint", "examples/demo"],
    ["identity", "examples/demo"],
]
MESH_COMMANDS = list(COMMANDS)  # every command that reads manifests has a mesh layer


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_text_and_txt_are_one_format(args: list[str]) -> None:
    code_text, text, _ = invoke([*args, "-o", "text"])
    code_txt, txt, _ = invoke([*args, "-o", "txt"])
    assert code_text in (0, 1)
    assert (code_text, text) == (code_txt, txt) or args[0] == "stats"  # stats: timings


@pytest.mark.parametrize("args", MESH_COMMANDS, ids=[c[0] for c in MESH_COMMANDS])
def test_every_mesh_command_takes_the_mesh_options(args: list[str]) -> None:
    flags = ["--layer", "network", "--trust-domain", "example.org", "--assume-mesh"]
    code, _, stderr = invoke([*args, *flags, "-n", "apps", "--assume-system-pods"])
    assert code in (0, 1), stderr


# -- inputs that need a hint or a flag ---------------------------------------------------
def test_an_unrendered_helm_chart_says_render_it_first_once_per_file(tmp_path: Path) -> None:
    write(tmp_path, "chart/templates/deployment.yaml", HELM_TEMPLATE)
    write(tmp_path, "chart/templates/service.yaml", HELM_TEMPLATE)
    code, stdout, stderr = invoke(["connectivity", str(tmp_path / "chart")])
    assert code == 2
    assert stdout == ""
    lines = [line for line in stderr.splitlines() if "error[" in line]
    assert len(lines) == 2
    assert all(":4: error[MS006]: " in line for line in lines)
    assert "render it first: helm template" in lines[0]
    assert "MS002" not in stderr
    assert "Traceback" not in stderr


def test_namespace_flag_is_the_default_namespace(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", APP + "---\n" + DNS_EGRESS)
    _, stdout, _ = invoke(["connectivity", path, "-n", "shop", "-o", "json"])
    assert "shop/web[Deployment]" in stdout
    assert "default/web" not in stdout
    code, _, stderr = invoke(["connectivity", path, "-n", "Not_A_Namespace"])
    assert code == 2
    assert stderr.startswith("error: --namespace 'Not_A_Namespace'")


def test_policy_only_input_says_there_are_no_workloads(tmp_path: Path) -> None:
    path = write(tmp_path, "np.yaml", DNS_EGRESS)
    code, stdout, stderr = invoke(["connectivity", path])
    assert code == 0
    assert stdout == ""
    assert "notice: 0 workloads in the input" in stderr


def test_assume_system_pods_gives_dns_rules_something_to_match(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", APP + "---\n" + DNS_EGRESS)
    _, before, _ = invoke(["connectivity", path, "-n", "shop"])
    assert "kube-system" not in before
    _, after, stderr = invoke(["connectivity", path, "-n", "shop", "--assume-system-pods"])
    assert "shop/web[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53" in after
    assert "MS012" in stderr
    _, lint_text, _ = invoke(["lint", path, "-n", "shop"])
    assert "--assume-system-pods" in lint_text
    _, lint_after, _ = invoke(["lint", path, "-n", "shop", "--assume-system-pods"])
    assert "ML004" not in lint_after


def test_assume_system_pods_keeps_a_dns_the_input_has() -> None:
    _, stdout, stderr = invoke(["connectivity", "examples/demo", "--assume-system-pods"])
    _, plain, _ = invoke(["connectivity", "examples/demo"])
    assert stdout == plain
    assert "MS012" not in stderr


# -- mesh membership -----------------------------------------------------------------------
def test_injected_pods_and_revision_labels_are_in_the_mesh(tmp_path: Path) -> None:
    path = write(tmp_path, "dump.yaml", MESH_DUMP + "---\n" + JOB_DENY)
    _, stdout, stderr = invoke(["identity", path, "-o", "json"])
    modes = {w["workload"]: w["mesh"] for w in json.loads(stdout)["workloads"]}
    assert modes == {
        "shop/api-0[Pod]": "sidecar",  # an istio-proxy container
        "shop/db-0[Pod]": "sidecar",  # istio.io/rev on the pod
        "shop/job-0[Pod]": "none",
        "shop/tmpl-0[Pod]": "sidecar",  # inject.istio.io/templates
        "shop/web-0[Pod]": "sidecar",  # sidecar.istio.io/status
    }
    assert stderr.count("warning: 1 AuthorizationPolicy has no effect") == 1
    assert "--assume-mesh" in stderr


def test_assume_mesh_puts_every_pod_in_the_mesh(tmp_path: Path) -> None:
    path = write(tmp_path, "dump.yaml", MESH_DUMP + "---\n" + JOB_DENY)
    _, stdout, stderr = invoke(["identity", path, "-o", "json", "--assume-mesh"])
    assert {w["mesh"] for w in json.loads(stdout)["workloads"]} == {"sidecar"}
    assert "no effect" not in stderr
    # The DENY policy now applies: nothing reaches the job over TCP.
    code, _, _ = invoke(
        [
            "reach",
            path,
            "--from",
            "shop/web-0",
            "--to",
            "shop/job-0",
            "--port",
            "TCP/80",
            "--assume-mesh",
        ]
    )
    assert code == 1


# -- smaller -----------------------------------------------------------------------------
def test_ml002_names_the_admin_tier_only_when_there_is_one(tmp_path: Path) -> None:
    deny = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: NAME, namespace: shop}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]
"""
    app = APP.replace("name: web\n", "name: web\n  namespace: shop\n", 1)
    path = write(
        tmp_path,
        "np.yaml",
        app + "---\n" + deny.replace("NAME", "a") + "---\n" + deny.replace("NAME", "b"),
    )
    _, stdout, _ = invoke(["lint", path])
    assert "ML002" in stdout
    assert "admin tier" not in stdout


def test_stats_counts_pods_built_from_templates(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", APP)
    _, stdout, _ = invoke(["stats", path])
    assert "pods (from templates)" in stdout
    assert "pods (explicit)" not in stdout
    _, doc, _ = invoke(["stats", path, "-o", "json"])
    assert json.loads(doc)["templatePods"] == 1


PODS_OF_A_DEPLOYMENT = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-79f774bdb9-x2x7k
  namespace: shop
  labels: {app: web, pod-template-hash: 79f774bdb9}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-79f774bdb9, uid: u1, controller: true}]
spec:
  containers: [{name: web, ports: [{containerPort: 8080}]}]
"""


def test_pods_of_an_absent_replica_set_answer_to_the_deployment_name(tmp_path: Path) -> None:
    path = write(tmp_path, "pods.yaml", PODS_OF_A_DEPLOYMENT)
    for name in ("shop/web", "shop/web[Deployment]"):
        code, stdout, stderr = invoke(["reach", path, "--from", "10.0.0.1", "--to", name])
        assert code == 0, stderr
        assert "shop/web-79f774bdb9[ReplicaSet]" in stdout
        assert "notice: --to " in stderr
        assert "pod-template-hash" in stderr
    code, _, stderr = invoke(["reach", path, "--from", "shop/we", "--to", "shop/web"])
    assert code == 2
