"""`make bench` figure for `microseg monitor`: from a watch event to the re-verified verdict.

The generated cluster (B2 by default: 2,000 workloads, 10,000 pods, 5,000 NetworkPolicies)
is loaded into the tests' fake API server (tests/live/fakeapi.py, on loopback); a Monitor
lists it through the official client, then a seeded mix of events is replayed on the
server one at a time: pods relabelled, created and deleted, NetworkPolicies changed,
created and deleted, namespaces relabelled. Each event's figure is the time from the
moment its watch line was read to the moment the intents were verified again (or the event
was found to change nothing the analysis reads). After the last event the monitor's
verdicts are compared with a fresh list, built and verified from scratch.

    python bench/monitor.py [--dir bench/out/B2/cluster] [--events 1000] [--seed 1]

Writes bench/results/monitor.json (figures, targets, machine facts) and prints it.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # tests.live.fakeapi

from tests.live.fakeapi import BUILTIN, FakeApi  # noqa: E402

from library import peak_rss_mb, percentile  # noqa: E402
from microseg.engine import Connectivity  # noqa: E402
from microseg.ingest.cluster import ClusterConfig, connect, load_cluster  # noqa: E402
from microseg.ingest.intents import load_intents  # noqa: E402
from microseg.live.monitor import Monitor, MonitorOptions  # noqa: E402

TARGET_MEDIAN_MS = 100.0
TARGET_P99_MS = 300.0

INTENTS = """\
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: bench}
spec:
  groups:
    dev: {namespaceSelector: {env: dev}}
    prod-payments: {namespaceSelector: {env: prod, team: payments}}
    prod-identity: {namespaceSelector: {env: prod, team: identity}}
    staging: {namespaceSelector: {env: staging}}
  deny:
    - {from: dev, to: prod-payments}
    - {from: staging, to: prod-identity}
    - {from: internet, to: prod-payments}
  expect:
    noInternetEgress: [prod-payments]
"""


def load_objects(folder: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    files = sorted([*folder.rglob("*.yaml"), *folder.rglob("*.json")])
    for f in files:
        docs = (
            [json.loads(f.read_text())]
            if f.suffix == ".json"
            else yaml.load_all(f.read_text(), Loader=loader)
        )
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
                kind = doc["kind"][: -len("List")]
                for item in doc["items"]:
                    out.append(
                        {"apiVersion": doc.get("apiVersion", "v1"), "kind": kind, **item}
                        if "kind" not in item
                        else item
                    )
            else:
                out.append(doc)
    return [o for o in out if o.get("kind") in {r.kind for r in BUILTIN}]


def make_events(api: FakeApi, n: int, rng: random.Random) -> list[tuple[str, Any]]:
    """(what, a closure changing the server): the seeded mix, decided up front."""
    pods = [o for o in api.all_objects() if o["kind"] == "Pod"]
    policies = [o for o in api.all_objects() if o["kind"] == "NetworkPolicy"]
    namespaces = [o for o in api.all_objects() if o["kind"] == "Namespace"]
    events: list[tuple[str, Any]] = []
    created: list[tuple[str, str]] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.35:
            pod = copy.deepcopy(rng.choice(pods))
            pod["metadata"]["labels"] = {
                **pod["metadata"].get("labels", {}),
                "version": f"v{rng.randint(1, 4)}",
            }
            events.append(("pod-relabel", pod))
        elif roll < 0.50:
            pod = copy.deepcopy(rng.choice(pods))
            pod["metadata"]["name"] = f"{pod['metadata']['name']}-new{i}"
            pod["metadata"].pop("uid", None)
            created.append((pod["metadata"]["namespace"], pod["metadata"]["name"]))
            events.append(("pod-create", pod))
        elif roll < 0.60 and created:
            events.append(("pod-delete", ("Pod", *created.pop(rng.randrange(len(created))))))
        elif roll < 0.80:
            policy = copy.deepcopy(rng.choice(policies))
            for rule in policy["spec"].get("ingress") or []:
                for port in rule.get("ports") or []:
                    if isinstance(port.get("port"), int) and "endPort" not in port:
                        port["port"] = rng.choice([80, 443, 8080, 8443, 9090])
            policy["metadata"]["labels"] = {"rev": str(i)}
            events.append(("policy-update", policy))
        elif roll < 0.87:
            policy = copy.deepcopy(rng.choice(policies))
            policy["metadata"]["name"] = f"{policy['metadata']['name']}-copy{i}"
            events.append(("policy-create", policy))
        elif roll < 0.93:
            policy = rng.choice(policies)
            policies.remove(policy)
            meta = policy["metadata"]
            events.append(("policy-delete", ("NetworkPolicy", meta["namespace"], meta["name"])))
        else:
            ns = copy.deepcopy(rng.choice(namespaces))
            ns["metadata"]["labels"] = {**ns["metadata"].get("labels", {}), "audited": str(i % 2)}
            events.append(("namespace-relabel", ns))
    return events


def cpu_breakdown(
    monitor: Monitor, intents: Any, events: list[tuple[str, Any]], rng: random.Random, n: int = 50
) -> dict[str, float]:
    """CPU milliseconds per event by stage (event to changes, Connectivity.apply, verify),
    with the server stopped: the cost of the work itself, whatever else the machine runs."""
    from microseg.analyses.verify import verify

    assert monitor.conn is not None
    conn = monitor.conn
    payloads = [p for what, p in events if what in ("pod-relabel", "policy-update")]
    res = {r.kind: r for r in monitor.state_resources()}
    spent = {"event": 0.0, "apply": 0.0, "verify": 0.0}
    for payload in rng.sample(payloads, min(n, len(payloads))):
        payload = copy.deepcopy(payload)
        if payload["kind"] == "Pod":  # a version the pod does not have now
            labels = payload["metadata"]["labels"]
            labels["version"] = "v9" if labels.get("version") != "v9" else "v8"
        else:  # a port no rule had
            for rule in payload["spec"].get("ingress") or []:
                for port in rule.get("ports") or []:
                    if isinstance(port.get("port"), int) and "endPort" not in port:
                        port["port"] = rng.choice([81, 444, 8081, 8444])
        t = time.process_time()
        update = monitor.state.event(conn.cluster, "MODIFIED", res[payload["kind"]], payload)
        spent["event"] += time.process_time() - t
        t = time.process_time()
        for change in update.changes:
            conn = conn.apply(change)
        spent["apply"] += time.process_time() - t
        t = time.process_time()
        verify(conn, intents)
        spent["verify"] += time.process_time() - t
    k = max(1, min(n, len(payloads)))
    out = {stage: round(seconds / k * 1000, 1) for stage, seconds in spent.items()}
    out["total"] = round(sum(out.values()), 1)
    return out


def run(folder: Path, n: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    api = FakeApi(BUILTIN, bookmark_every=5.0).start()
    for obj in load_objects(folder):
        api.put(obj)
    loaded = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = api.kubeconfig(Path(tmp) / "kubeconfig")
        intents_file = Path(tmp) / "intents.yaml"
        intents_file.write_text(INTENTS)
        intents, _ = load_intents([str(intents_file)])
        config = ClusterConfig(str(kubeconfig))
        changes: list[Any] = []
        monitor = Monitor(
            connect(config), config, intents, changes.append, lambda d: None, MonitorOptions()
        )
        sys.stderr.write(f"server loaded in {loaded - started:.0f} s; listing and building\n")
        monitor.start()
        listed = time.perf_counter()
        sys.stderr.write(f"listed and built in {listed - loaded:.0f} s\n")
        thread = threading.Thread(target=monitor.run, daemon=True)
        thread.start()
        events = make_events(api, n, random.Random(seed))
        by_kind: dict[str, list[float]] = {}
        for k, (what, payload) in enumerate(events):
            if k % 100 == 0:
                sys.stderr.write(f"{k} events replayed, {time.perf_counter() - listed:.0f} s\n")
            done = monitor.processed
            before = len(monitor.latencies)
            if isinstance(payload, tuple):
                api.delete(*payload)
            else:
                api.put(payload)
            deadline = time.monotonic() + 60
            while (
                monitor.processed == done or not monitor.queue.empty()
            ) and time.monotonic() < deadline:
                time.sleep(0.0005)
            for latency in list(monitor.latencies)[before:]:
                by_kind.setdefault(what, []).append(latency)
        monitor.close()
        thread.join(5)
        latencies = [x for xs in by_kind.values() for x in xs]
        # The verdicts after the replay equal those of a fresh list, built from scratch.
        fresh = Connectivity.build(load_cluster(config))
        from microseg.analyses.verify import verify

        assert monitor.conn is not None
        same = [(f.id, f.holds) for f in verify(monitor.conn, intents).findings] == [
            (f.id, f.holds) for f in verify(fresh, intents).findings
        ]
        metrics = monitor.metrics.registry
        api.stop()
        cpu = cpu_breakdown(monitor, intents, events, random.Random(seed + 1))
    ms = [x * 1000 for x in latencies]
    return {
        "scenario": "monitor",
        "cluster": str(folder.relative_to(BENCH.parent))
        if folder.is_relative_to(BENCH.parent)
        else str(folder),
        "objects": len(api.all_objects()),
        "events": len(latencies),
        "seed": seed,
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(percentile(ms, 0.90), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "by_kind_median_ms": {
            k: round(statistics.median(v) * 1000, 2) for k, v in sorted(by_kind.items())
        },
        "violations_opened_or_closed": len(changes),
        "rebuilds": sum(
            s.value
            for m in metrics.collect()
            if m.name == "microseg_monitor_rebuilds"
            for s in m.samples
            if s.name.endswith("_total")
        ),
        "verdicts_equal_fresh_list": same,
        "cpu_ms_per_event": cpu,
        "target_median_ms": TARGET_MEDIAN_MS,
        "target_p99_ms": TARGET_P99_MS,
        "met": statistics.median(ms) <= TARGET_MEDIAN_MS and percentile(ms, 0.99) <= TARGET_P99_MS,
        "server_load_seconds": round(loaded - started, 2),
        "list_and_build_seconds": round(listed - loaded, 2),
        "peak_rss_mb": peak_rss_mb(),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=BENCH / "out" / "B2" / "cluster")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "monitor.json")
    args = parser.parse_args()
    if not args.dir.is_dir():
        from generate import generate

        generate(args.dir, 2000, 5, 5000, 1, pods_list=True)
    result = run(args.dir, args.events, args.seed)
    text = json.dumps(result, indent=2) + "\n"
    args.out.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
