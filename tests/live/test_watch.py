"""`microseg watch --cluster --respond isolate` against the fake API server: a Falco
"Terminal shell in container" alert for a webapp pod, the quarantine applied through the
API, the engine's verdicts before and after it on what the server then holds, the latency
from the event to the applied change, and `quarantine release` undoing it exactly."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import microseg
from microseg.engine import Connectivity
from tests.live.conftest import DEMO
from tests.live.fakeapi import FakeApi
from tests.unit.analyses.runtime.streams import falco

POD = "webapp-7d9f8b6c5-x7k2p"
BIN = Path(sys.executable).parent / "microseg"


def webapp_pod() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((DEMO / "frontend.yaml").read_text()) if d]
    deploy = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "webapp"
    )
    template = copy.deepcopy(deploy["spec"]["template"])
    labels = {**template["metadata"]["labels"], "pod-template-hash": "7d9f8b6c5"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "frontend", "labels": labels},
        "spec": template["spec"],
        "status": {"phase": "Running", "podIP": "10.244.1.17", "podIPs": [{"ip": "10.244.1.17"}]},
    }


def wait_for(condition: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def served(api: FakeApi, tmp: Path) -> Connectivity:
    """The engine on exactly what the server holds now (a `kubectl get -o yaml` dump)."""
    folder = tmp / f"dump-{time.monotonic_ns()}"
    api.dump(folder)
    return Connectivity.build(microseg.load([str(folder)]))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.mark.parametrize("anp", [True, False], ids=["with-anp", "networkpolicy-only"])
def test_shell_in_webapp_is_quarantined_then_released(
    fake_api: FakeApi, kubeconfig: Path, tmp_path: Path, anp: bool
) -> None:
    if not anp:
        # A cluster that does not serve AdminNetworkPolicy: drop the resources and the demo's.
        fake_api.resources = tuple(
            r for r in fake_api.resources if r.group != "policy.networking.k8s.io"
        )
    before_labels = webapp_pod()["metadata"]["labels"]
    fake_api.put(webapp_pod())
    me = f"frontend/{POD}"
    before = served(fake_api, tmp_path)
    assert before.reach(me, "shop/postgres").allowed  # the demo's gap: webapp reaches the db
    events = tmp_path / "falco.json"
    events.write_text("")
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            str(BIN),
            "watch",
            "--cluster",
            "--kubeconfig",
            str(kubeconfig),
            "--falco",
            str(events),
            "--respond",
            "isolate",
            "--state",
            str(state),
            "--duration",
            "90",
            "--poll",
            "0.02",
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The watcher has read the cluster once it watches pods; then the event comes.
        wait_for(lambda: any("watch=" in r and "/pods" in r for r in fake_api.requests))
        written = time.perf_counter()
        with events.open("a") as f:
            f.write(falco(0, pod=POD) + "\n")
        assert proc.stdout is not None
        line = proc.stdout.readline()
        alert = json.loads(line)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert alert["kind"] == "Alert", err
    assert alert["rule"] == "Terminal shell in container"
    assert alert["technique"]["id"] == "T1059.004"
    assert alert["pod"] == POD
    # What it could reach when the alert fired: the database among them.
    direct = {d["workload"] for d in alert["reach"]["direct"]}
    assert "shop/postgres[StatefulSet]" in direct
    response = alert["response"]
    assert response["applied"] is True, response
    assert response["plan"]["proof"]["holds"] is True
    if anp:
        assert response["plan"]["adminNetworkPolicy"]["priority"] == 0  # the demo's ANP is at 10
    else:
        assert response["plan"]["adminNetworkPolicy"] is None
    # From the event's line written to the label applied by the server: under 2 s (a sanity
    # bound; bench/watch.py measures the distribution).
    label_at = next(
        t for t, r in fake_api.timed if r.startswith("PATCH /api/v1/namespaces/frontend/pods/")
    )
    assert label_at - written < 2.0
    ident = alert["id"]
    pod = fake_api.objects[fake_api.res("Pod")][("frontend", POD)]
    assert pod["metadata"]["labels"] == {"microseg.dev/quarantine": ident}  # detached
    nps = fake_api.objects[fake_api.res("NetworkPolicy")]
    assert ("frontend", f"microseg-quarantine-{ident}") in nps
    # The engine on what the server now holds: nothing but DNS, both directions.
    after = served(fake_api, tmp_path)
    assert not after.reach(me, "shop/postgres").allowed
    assert not after.reach(me, "shop/api-gateway").allowed
    assert not after.reach("203.0.113.7", me).allowed
    assert not after.reach("shop/api-gateway", me).allowed
    assert (
        after.reach(me, "kube-system/coredns").allowed
        == before.reach(me, "kube-system/coredns").allowed
    )
    # The action log holds it, fsync'd JSON lines with before and after.
    log = [json.loads(x) for x in (state / "actions.jsonl").read_text().splitlines()]
    assert log[-1]["id"] == ident
    assert log[-1]["before"]["labels"] == before_labels
    listed = run("quarantine", "list", "--state", str(state), "-o", "json")
    assert [i["id"] for i in json.loads(listed.stdout)["items"]] == [ident]
    # Release: labels back exactly, policies gone.
    released = run(
        "quarantine", "release", ident, "--kubeconfig", str(kubeconfig), "--state", str(state)
    )
    assert released.returncode == 0, released.stderr
    pod = fake_api.objects[fake_api.res("Pod")][("frontend", POD)]
    assert pod["metadata"]["labels"] == before_labels
    assert ("frontend", f"microseg-quarantine-{ident}") not in fake_api.objects[
        fake_api.res("NetworkPolicy")
    ]
    if anp:
        anps = fake_api.objects[fake_api.res("AdminNetworkPolicy")]
        assert ("", f"microseg-quarantine-{ident}") not in anps
    assert served(fake_api, tmp_path).reach(me, "shop/postgres").allowed
    again = run(
        "quarantine", "release", ident, "--kubeconfig", str(kubeconfig), "--state", str(state)
    )
    assert again.returncode == 2
    assert "released already" in again.stderr
    assert (
        json.loads(run("quarantine", "list", "--state", str(state), "-o", "json").stdout)["items"]
        == []
    )


def test_release_refuses_a_pod_relabelled_since(
    fake_api: FakeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    fake_api.put(webapp_pod())
    events = tmp_path / "falco.json"
    events.write_text(falco(0, pod=POD) + "\n")
    state = tmp_path / "state"
    got = run(
        "watch",
        "--cluster",
        "--kubeconfig",
        str(kubeconfig),
        "--falco",
        str(events),
        "--respond",
        "label",
        "--state",
        str(state),
        "--duration",
        "8",
        "-o",
        "json",
        "--poll",
        "0.05",
    )
    alert = json.loads(got.stdout.splitlines()[0])
    ident = alert["id"]
    obj = copy.deepcopy(fake_api.objects[fake_api.res("Pod")][("frontend", POD)])
    obj["metadata"]["labels"]["microseg.dev/quarantine"] = "someone-else"
    fake_api.put(obj)
    released = run(
        "quarantine", "release", ident, "--kubeconfig", str(kubeconfig), "--state", str(state)
    )
    assert released.returncode == 1
    assert "no longer carries" in released.stderr
    labels = fake_api.objects[fake_api.res("Pod")][("frontend", POD)]["metadata"]["labels"]
    assert labels["microseg.dev/quarantine"] == "someone-else"


def test_isolate_needs_a_cluster_or_a_dry_run(tmp_path: Path) -> None:
    got = run("watch", str(DEMO), "--falco", str(tmp_path / "x"), "--respond", "isolate")
    assert got.returncode == 2
    assert "MS810" in got.stderr
