"""`microseg monitor`: list, watch and re-verify against the fake API server, faults
included; after them the monitor's model equals a fresh list."""

from __future__ import annotations

import copy
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from microseg.analyses.stats import compute_stats
from microseg.analyses.verdicts import VerdictChange
from microseg.analyses.verify import verify
from microseg.engine import Connectivity
from microseg.errors import Diagnostic
from microseg.ingest.cluster import ClusterConfig, connect, load_cluster
from microseg.ingest.intents import load_intents
from microseg.live.monitor import Monitor, MonitorOptions
from microseg.model import Cluster
from microseg.render.monitor import change_json
from tests.live.fakeapi import FakeApi

REPO = Path(__file__).resolve().parents[2]
INTENTS = REPO / "examples" / "demo" / "intents.yaml"
FAST = MonitorOptions(watch_timeout=5, backoff_base=0.05, backoff_cap=0.4)


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


class Running:
    """A Monitor on its own thread, with what it printed."""

    def __init__(self, kubeconfig: Path) -> None:
        config = ClusterConfig(str(kubeconfig))
        intents, _ = load_intents([str(INTENTS)])
        self.changes: list[VerdictChange] = []
        self.diagnostics: list[Diagnostic] = []
        self.monitor = Monitor(
            connect(config), config, intents, self.changes.append, self.diagnostics.append, FAST
        )
        self.monitor.start()
        self.thread = threading.Thread(target=self.monitor.run, daemon=True)
        self.thread.start()

    def open(self) -> set[str]:
        report = self.monitor.report
        return {f.id for f in report.violations} if report else set()

    def codes(self) -> set[str]:
        return {d.code for d in self.diagnostics}

    def close(self) -> None:
        self.monitor.close()
        self.thread.join(5)


@pytest.fixture
def running(fake_api: FakeApi, kubeconfig: Path) -> Iterator[Running]:
    r = Running(kubeconfig)
    try:
        yield r
    finally:
        r.close()


def obj(api: FakeApi, kind: str, namespace: str, name: str) -> dict[str, Any]:
    res = api.res(kind)
    return copy.deepcopy(api.objects[res][(namespace if res.namespaced else "", name)])


def model(cluster: Cluster) -> dict[str, Any]:
    """What the analyses read, independent of order and of where objects came from."""
    return {
        "namespaces": sorted((n.name, dict(n.labels)) for n in cluster.namespaces),
        "pods": sorted(
            (p.namespace, p.name, str(p.workload), sorted(p.labels.items()), p.ports)
            for p in cluster.pods
        ),
        "workloads": sorted(str(w.key) for w in cluster.workloads),
        "policies": sorted((p.namespace, p.name, repr(p)) for p in cluster.policies),
        "admin": sorted((p.kind, p.name, repr(p)) for p in cluster.admin_policies),
        "services": sorted(repr(s) for s in cluster.services),
    }


def assert_equals_fresh_list(running: Running, kubeconfig: Path) -> None:
    fresh = load_cluster(ClusterConfig(str(kubeconfig)))
    conn = running.monitor.conn
    assert conn is not None
    assert model(conn.cluster) == model(fresh)
    rebuilt = Connectivity.build(fresh)
    exempt = ("classes", "port_atoms", "ip_atoms")
    a, b = asdict(compute_stats(conn)), asdict(compute_stats(rebuilt))
    assert {k: v for k, v in a.items() if k not in exempt} == {
        k: v for k, v in b.items() if k not in exempt
    }
    intents, _ = load_intents([str(INTENTS)])
    assert [(f.id, f.holds) for f in verify(conn, intents).findings] == [
        (f.id, f.holds) for f in verify(rebuilt, intents).findings
    ]


def test_start_reports_what_is_open(running: Running) -> None:
    assert running.open() == {"shop/deny[0]"}
    [first] = running.changes
    assert first.opened
    assert first.cause.type == "LIST"
    line = json.loads(change_json(first))
    assert line["kind"] == "ViolationOpened"
    assert line["apiVersion"] == "microseg.dev/v1alpha1"
    assert line["finding"]["id"] == "shop/deny[0]"
    assert line["finding"]["explanation"]  # the engine's why, as verify -o json gives it


def test_a_change_opens_and_closes_violations_with_its_cause(
    running: Running, fake_api: FakeApi
) -> None:
    policy = obj(fake_api, "NetworkPolicy", "payments", "default-deny-all")
    fake_api.delete("NetworkPolicy", "payments", "default-deny-all")
    wait_for(lambda: "shop/expect/defaultDeny/payments" in running.open())
    opened = [c for c in running.changes if c.opened and c.cause.type == "DELETED"]
    assert {c.finding.id for c in opened} == {
        "shop/expect/defaultDeny/payments",
        "shop/domain/pci",
    }
    cause = opened[0].cause
    assert (cause.kind, cause.namespace, cause.name) == (
        "NetworkPolicy",
        "payments",
        "default-deny-all",
    )
    assert int(cause.resource_version) == fake_api.rv
    assert all(c.latency < 5 for c in opened)
    fake_api.put(policy)
    wait_for(lambda: running.open() == {"shop/deny[0]"})
    closed = [c for c in running.changes if not c.opened]
    assert {c.finding.id for c in closed} == {"shop/expect/defaultDeny/payments", "shop/domain/pci"}
    assert closed[0].cause.type == "ADDED"


def test_pods_and_namespaces_are_followed(
    running: Running, fake_api: FakeApi, kubeconfig: Path
) -> None:
    # A bare pod in shop labelled like the web frontend, a relabelled namespace, a deleted
    # deployment (its template pod goes), a Service changed (no incremental form).
    fake_api.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "debug", "namespace": "shop", "labels": {"app": "debug"}},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 9999}]}]},
            "status": {"podIP": "10.1.2.3"},
        }
    )
    ns = obj(fake_api, "Namespace", "", "monitoring")
    ns["metadata"]["labels"]["team"] = "sre"
    fake_api.put(ns)
    deployment = next(o for o in fake_api.all_objects() if o["kind"] == "Deployment")
    fake_api.delete(
        "Deployment", deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    )
    service = next(o for o in fake_api.all_objects() if o["kind"] == "Service")
    service["spec"]["ports"][0]["port"] = 8443
    fake_api.put(service)
    wait_for(lambda: running.monitor.queue.empty() and running.monitor.processed >= 4)
    time.sleep(0.3)
    assert_equals_fresh_list(running, kubeconfig)
    metrics = running.monitor.metrics.registry
    assert metrics.get_sample_value("microseg_monitor_changes_total", {"how": "incremental"}) >= 2
    assert metrics.get_sample_value("microseg_monitor_rebuilds_total", {"reason": "Service"}) == 1


def test_faults_lose_no_update(running: Running, fake_api: FakeApi, kubeconfig: Path) -> None:
    """Dropped connections, 410 Gone, a malformed event, a slow server and a forbidden kind:
    the monitor says what it could not read, goes on, and ends equal to a fresh list."""
    deny = obj(fake_api, "NetworkPolicy", "payments", "default-deny-all")
    # 1. The connection drops mid-watch; meanwhile a policy is deleted.
    fake_api.kill_watches()
    fake_api.delete("NetworkPolicy", "payments", "default-deny-all")
    wait_for(lambda: "shop/domain/pci" in running.open())
    # 2. History compacted and connections dropped: the watch from the old version gets
    # 410 Gone and lists again; the change made meanwhile is found by the list.
    fake_api.compact()
    fake_api.faults.gone = len(running.monitor.watchers)
    fake_api.kill_watches()
    fake_api.put(deny)
    wait_for(lambda: running.open() == {"shop/deny[0]"})
    wait_for(lambda: {"MS706", "MS707"} <= running.codes())
    # 3. A line that is not an event: the resource is listed again.
    fake_api.inject_malformed("networkpolicies")
    fake_api.delete("NetworkPolicy", "payments", "default-deny-all")
    wait_for(lambda: "MS705" in running.codes())
    wait_for(lambda: "shop/domain/pci" in running.open())
    # 4. A slow server.
    fake_api.faults.event_delay = 0.3
    fake_api.put(deny)
    wait_for(lambda: running.open() == {"shop/deny[0]"})
    fake_api.faults.event_delay = 0.0
    # 5. 403 on one kind: said, the rest goes on; when allowed again, it is listed again.
    fake_api.faults.forbidden.add("services")
    fake_api.kill_watches()
    wait_for(lambda: "MS702" in running.codes())
    service = next(o for o in fake_api.all_objects() if o["kind"] == "Service")
    service["metadata"]["labels"] = {"changed": "while-forbidden"}
    service["spec"]["ports"][0]["port"] = 9443
    fake_api.put(service)
    fake_api.delete("NetworkPolicy", "payments", "default-deny-all")
    wait_for(lambda: "shop/domain/pci" in running.open())
    fake_api.faults.forbidden.clear()
    fake_api.compact()
    fake_api.kill_watches()
    wait_for(
        lambda: any(
            repr(9443) in repr(s.ports)
            for s in running.monitor.conn.cluster.services  # type: ignore[union-attr]
        )
    )
    assert_equals_fresh_list(running, kubeconfig)
    relists = running.monitor.metrics.registry.get_sample_value(
        "microseg_monitor_relists_total", {"kind": "NetworkPolicy"}
    )
    assert relists
    assert relists >= 2
    for d in running.diagnostics:
        assert "Traceback" not in d.message


def test_the_command_prints_json_lines_and_serves_metrics(
    fake_api: FakeApi, kubeconfig: Path
) -> None:
    proc = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "microseg"),
            "monitor",
            "--cluster",
            "--kubeconfig",
            str(kubeconfig),
            "--intents",
            str(INTENTS),
            "-o",
            "json",
            "--metrics-port",
            "0",
            "--metrics-address",
            "127.0.0.1",
            "--duration",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = json.loads(proc.stdout.readline())
        assert first["kind"] == "ViolationOpened"
        assert first["cause"]["type"] == "LIST"
        port = None
        while port is None:
            line = proc.stderr.readline()
            assert line, "no metrics line"
            if line.startswith("metrics on "):
                port = int(line.rsplit(":", 1)[1].split("/")[0])
        started = time.perf_counter()
        fake_api.delete("NetworkPolicy", "payments", "default-deny-all")
        opened = json.loads(proc.stdout.readline())
        took = time.perf_counter() - started
        assert opened["kind"] == "ViolationOpened"
        assert opened["cause"] == {
            "type": "DELETED",
            "kind": "NetworkPolicy",
            "namespace": "payments",
            "name": "default-deny-all",
            "resourceVersion": str(fake_api.rv),
        }
        assert took < 5  # a fraction of a second when the machine is quiet
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'microseg_monitor_events_total{kind="NetworkPolicy",type="DELETED"} 1.0' in body
        assert "microseg_monitor_open_violations 3.0" in body
        assert "microseg_monitor_reverify_seconds_count 1.0" in body
    finally:
        proc.terminate()
        code = proc.wait(15)
    assert code == 1  # violations open when it stopped


def test_the_command_watches_files(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "demo"
    shutil.copytree(REPO / "examples" / "demo", folder)
    (folder / "intents.yaml").unlink()
    proc = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "microseg"),
            "monitor",
            str(folder),
            "--intents",
            str(INTENTS),
            "-o",
            "json",
            "--poll",
            "0.1",
            "--duration",
            "60",
            "-q",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["cause"]["type"] == "LIST"
        policies = folder / "policies" / "shop.yaml"
        text = policies.read_text()
        policies.write_text(text.replace("postgres-allow-shop-tenant", "postgres-allow-shop-x"))
        time.sleep(0.2)
        (folder / "policies" / "frontend.yaml").unlink()
        line = json.loads(proc.stdout.readline())
        assert line["cause"]["type"] == "FILE"
        assert line["kind"] in ("ViolationOpened", "ViolationClosed")
    finally:
        proc.terminate()
        proc.wait(15)
