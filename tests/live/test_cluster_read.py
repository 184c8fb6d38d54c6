"""`--cluster`: the official client against the fake API server, and the same answers as a
folder dump of the same objects (every command's JSON output, origins aside)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from microseg.errors import Severity
from microseg.ingest.cluster import ClusterConfig, list_resource, load_cluster, read_cluster
from microseg.ingest.cluster.api import connect
from microseg.ingest.cluster.kinds import discover
from tests.live.fakeapi import FakeApi

REPO = Path(__file__).resolve().parents[2]
INTENTS = str(REPO / "examples" / "demo" / "intents.yaml")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command in this process (CliRunner): the same code as the installed script, less
    a second of start-up per run; test_bad_configuration runs the real script."""
    result = CliRunner().invoke(app, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "microseg"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_the_client_reads_every_object_with_its_kind_and_origin(
    fake_api: FakeApi, kubeconfig: Path
) -> None:
    read = read_cluster(ClusterConfig(str(kubeconfig)))
    assert read.context == "fake"
    assert len(read.documents) == len(fake_api.all_objects())
    doc = next(d for d in read.documents if d.data["kind"] == "NetworkPolicy")
    # The list's items carry no kind/apiVersion; the reader gives them their resource's.
    assert doc.data["apiVersion"] == "networking.k8s.io/v1"
    assert doc.origin().file.startswith("cluster:fake/NetworkPolicy/")
    assert "managedFields" in doc.data["metadata"]
    # The CRDs the server does not serve: one notice, naming them.
    notices = [d for d in read.diagnostics if d.code == "MS701"]
    assert len(notices) == 1
    assert notices[0].severity is Severity.NOTICE
    assert "Route.route.openshift.io" in notices[0].message
    assert "AdminNetworkPolicy" not in notices[0].message
    cluster = load_cluster(ClusterConfig(str(kubeconfig)))
    assert len(cluster.admin_policies) == 2
    assert len(cluster.policies) == 13


def test_lists_are_paginated_and_an_expired_token_restarts(
    fake_api: FakeApi, kubeconfig: Path
) -> None:
    api = connect(ClusterConfig(str(kubeconfig)))
    found, _ = discover(api)
    policies = next(r for r in found if r.kind == "NetworkPolicy")
    pages: list[int] = []
    listing = list_resource(api, policies, page=3, on_page=pages.append)
    assert len(listing.items) == 13
    assert pages == [3, 6, 9, 12, 13]
    assert sum("continue=" in r for r in fake_api.requests) == 4
    fake_api.faults.expire_continue = 1
    again = list_resource(api, policies, page=5)
    assert [i["metadata"]["name"] for i in again.items] == [
        i["metadata"]["name"] for i in listing.items
    ]
    assert listing.resource_version


def test_a_forbidden_kind_is_a_warning_and_the_rest_is_read(
    fake_api: FakeApi, kubeconfig: Path
) -> None:
    fake_api.faults.forbidden.add("serviceaccounts")
    out = run("stats", "--cluster", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert out.returncode == 0, out.stderr
    assert "warning[MS702]: cannot list ServiceAccount" in out.stderr
    assert json.loads(out.stdout)["workloads"] == 11
    strict = run("stats", "--cluster", "--kubeconfig", str(kubeconfig), "--strict")
    assert strict.returncode == 2
    assert "error[MS702]" in strict.stderr
    assert "made errors by --strict" in strict.stderr


def test_cluster_namespace_reads_one_namespace(fake_api: FakeApi, kubeconfig: Path) -> None:
    cluster = load_cluster(ClusterConfig(str(kubeconfig), namespaces=("shop",)))
    assert {p.namespace for p in cluster.pods} == {"shop"}
    assert {p.namespace for p in cluster.policies} == {"shop"}
    assert [n.name for n in cluster.namespaces if n.declared] == ["shop"]
    out = run("stats", "--cluster", "--kubeconfig", str(kubeconfig), "--cluster-namespace", "nope")
    assert "warning[MS704]: --cluster-namespace nope: no such namespace" in out.stderr


def test_bad_configuration_is_one_error_line(tmp_path: Path, kubeconfig: Path) -> None:
    missing = run_script("stats", "--cluster", "--kubeconfig", str(tmp_path / "none"))
    assert missing.returncode == 2
    assert "error[MS700]: kubeconfig" in missing.stderr
    assert "no such file" in missing.stderr
    context = run("stats", "--cluster", "--kubeconfig", str(kubeconfig), "--context", "prod")
    assert context.returncode == 2
    assert "--context prod: no such context (known: fake)" in context.stderr
    usage = run("stats", "examples/demo", "--context", "prod")
    assert usage.returncode == 2
    assert "add --cluster" in usage.stderr
    both = run("stats", "examples/demo", "--cluster", "--kubeconfig", str(kubeconfig))
    assert both.returncode == 2
    assert "not both" in both.stderr
    assert "Traceback" not in missing.stderr + context.stderr + usage.stderr + both.stderr


def test_a_server_that_is_not_there_is_one_error_line(tmp_path: Path) -> None:
    api = FakeApi().start()
    config = api.kubeconfig(tmp_path / "kc")
    api.stop()
    out = run("stats", "--cluster", "--kubeconfig", str(config))
    assert out.returncode == 2
    assert "error[MS700]: cannot read the API's discovery documents" in out.stderr
    assert "Traceback" not in out.stderr


def _normalised(text: str, dump: Path) -> Any:
    """The JSON with every origin (a dump's file:line or the API's cluster:ctx/...) replaced
    by one token: the two inputs hold the same objects under different names."""
    text = re.sub(r"cluster:fake/[A-Za-z]+/[^\"\s),]+", "<origin>", text)
    text = re.sub(re.escape(str(dump)) + r"/[a-z]+\.yaml(:\d+)?", "<origin>", text)
    data = json.loads(text)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("file") == "<origin>":
                node = {k: v for k, v in node.items() if k not in ("line", "document")}
            return {k: walk(v) for k, v in node.items() if k not in ("timings", "seconds")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(data)


COMMANDS = {
    "connectivity": ["connectivity", "-o", "json"],
    "reach": ["reach", "--from", "frontend/webapp", "--to", "shop/postgres", "-o", "json"],
    "verify": ["verify", "--intents", INTENTS, "-o", "json"],
    "blast-radius": ["blast-radius", "--from", "frontend/webapp", "-o", "json"],
    "exposure": ["exposure", "-o", "json"],
    "lint": ["lint", "-o", "json"],
    "identity": ["identity", "-o", "json"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_dump_and_the_live_api_give_the_same_answer(
    command: str, fake_api: FakeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    fake_api.dump(dump)
    args = COMMANDS[command]
    live = run(*args, "--cluster", "--kubeconfig", str(kubeconfig), "-q")
    files = run(*args[:1], str(dump), *args[1:], "-q")
    assert live.returncode == files.returncode, live.stderr + files.stderr
    assert live.stdout
    assert files.stdout
    assert _normalised(live.stdout, dump) == _normalised(files.stdout, dump)


def test_stats_and_diff_agree_with_the_dump(
    fake_api: FakeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    fake_api.dump(dump)
    live = json.loads(
        run("stats", "--cluster", "--kubeconfig", str(kubeconfig), "-o", "json", "-q").stdout
    )
    files = json.loads(run("stats", str(dump), "-o", "json", "-q").stdout)
    for key in ("timings", "seconds"):
        live.pop(key, None)
        files.pop(key, None)
    assert live == files
    # diff --cluster DIR applies DIR over the cluster: the dump itself changes nothing.
    same = run("diff", "--cluster", "--kubeconfig", str(kubeconfig), str(dump), "-q")
    assert same.returncode == 0, same.stdout + same.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_reads_the_same_server(fake_api: FakeApi, kubeconfig: Path, tmp_path: Path) -> None:
    """Debian's kubectl against the fake server: its dump, read from stdin, verifies as the
    live read does."""
    got = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "namespaces,pods,services,serviceaccounts,deployments,statefulsets,networkpolicies,"
            "adminnetworkpolicies,baselineadminnetworkpolicies,peerauthentications,"
            "authorizationpolicies",
            "-A",
            "-o",
            "yaml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert got.returncode == 0, got.stderr
    assert "kind: List" in got.stdout
    from_kubectl = run("verify", "-", "--intents", INTENTS, "-o", "json", "-q", stdin=got.stdout)
    live = run(
        "verify",
        "--cluster",
        "--kubeconfig",
        str(kubeconfig),
        "--intents",
        INTENTS,
        "-o",
        "json",
        "-q",
    )
    assert from_kubectl.returncode == live.returncode == 1  # the demo's known gap
    a = json.loads(from_kubectl.stdout)
    b = json.loads(live.stdout)
    assert [(f["id"], f["status"]) for f in a["findings"]] == [
        (f["id"], f["status"]) for f in b["findings"]
    ]


def test_check_reviews_the_running_clusters_objects_as_their_manifests(
    fake_api: FakeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    guardrails = str(REPO / "examples" / "guardrails" / "guardrails.yaml")
    dump = tmp_path / "dump"
    fake_api.dump(dump)
    live = run(
        "check",
        "--cluster",
        "--kubeconfig",
        str(kubeconfig),
        "--guardrails",
        guardrails,
        "-o",
        "json",
        "-q",
    )
    files = run("check", str(dump), "--guardrails", guardrails, "-o", "json", "-q")
    assert live.returncode == files.returncode, live.stderr + files.stderr
    a, b = _normalised(live.stdout, dump), _normalised(files.stdout, dump)
    # The same objects, in the order each source lists them (by kind, or by file).
    for doc in (a, b):
        for key, value in doc.items():
            if isinstance(value, list):
                doc[key] = sorted(value, key=lambda x: json.dumps(x, sort_keys=True))
    assert a == b
