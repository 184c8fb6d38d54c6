"""Observed-traffic figures (not wired into bench/run.py): Hubble lines for a generated
cluster, `flows import` throughput, and `simulate` on the keys it stores.

    .venv/bin/python bench/generate.py /tmp/b2 --workloads 2000 --replicas 5 --policies 5000 --pods-list --seed 1
    .venv/bin/python bench/flows.py gen /tmp/b2 /tmp/b2-flows.json --lines 1000000
    .venv/bin/python bench/flows.py time /tmp/b2 /tmp/b2-flows.json

`gen` writes `hubble observe -o jsonpb` lines (GetFlowsResponse: the `{"flow": ...}`
wrapper, flow.proto's field names) between random pods of the cluster: 85% pod to pod on one
of the destination's container ports or a common one, 10% to external addresses, 5%
replies, one in ten DROPPED at the source, with a fresh ephemeral source port each; four in
five pod-to-pod packets the source forwarded are also reported by the destination
(INGRESS, one in twenty of those DROPPED there), as Hubble does between two Cilium
endpoints, so the import folds about a third of the lines into their pair. `time` imports the file into a new store (records
per second of the whole import: parse, reject checks, aggregation, commit) and then runs
the simulate analysis on every stored key (reading the keys, resolving endpoints, the
vectorised lookup, explanations and hit counts), printing JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import microseg
from microseg.analyses.simulate import expand, key_allowed, lookup, simulate
from microseg.engine import Connectivity
from microseg.ingest.flows import FlowStore
from microseg.model.flows import EndpointResolver

COMMON = (80, 443, 5432, 6379, 8080, 9090)
EXTERNAL = ("203.0.113.7", "198.51.100.20", "8.8.8.8", "1.1.1.1", "93.184.216.34")


def _ep(pod: microseg.model.Pod | None, ip: str) -> dict[str, object]:
    if pod is None:
        return {"identity": 2, "labels": ["reserved:world"]}
    return {
        "namespace": pod.namespace,
        "pod_name": pod.name,
        "labels": [f"k8s:{k}={v}" for k, v in pod.labels.items()],
        "workloads": [{"name": pod.workload.name, "kind": pod.workload.kind}],
    }


def generate(cluster_dir: str, out: str, lines: int, seed: int) -> None:
    rng = random.Random(seed)
    cluster = microseg.load([cluster_dir])
    pods = [p for p in cluster.pods if p.ips and not p.host_network]
    start = time.time() - lines * 0.001
    written = 0

    def emit(f: Any, flow: dict[str, object], stamp: float, node: str) -> None:
        nonlocal written
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp))
        when = f"{text}.{int(stamp * 1e6) % 1_000_000:06d}000Z"
        flow["time"] = when
        record = {"flow": flow, "node_name": node, "time": when}
        f.write(json.dumps(record, separators=(",", ":")))
        f.write("\n")
        written += 1

    with open(out, "w") as f:
        i = 0
        while written < lines:
            i += 1
            src = rng.choice(pods)
            roll = rng.random()
            dst = None if roll < 0.10 else rng.choice(pods)
            dst_ip = rng.choice(EXTERNAL) if dst is None else dst.ips[0]
            ports = [p.port for p in dst.ports] if dst is not None else []
            port = rng.choice(ports or COMMON) if rng.random() < 0.7 else rng.choice(COMMON)
            sport = rng.randint(32768, 60999)
            reply = roll > 0.95
            a, b = (dst, src) if reply else (src, dst)
            a_ip, b_ip = (dst_ip, src.ips[0]) if reply else (src.ips[0], dst_ip)
            l4 = {
                "TCP": {
                    "source_port": port if reply else sport,
                    "destination_port": sport if reply else port,
                }
            }
            dropped = rng.random() < 0.1
            flow: dict[str, object] = {
                "verdict": "DROPPED" if dropped else "FORWARDED",
                "IP": {"source": a_ip, "destination": b_ip, "ipVersion": "IPv4"},
                "l4": l4,
                "source": _ep(a, a_ip),
                "destination": _ep(b, b_ip),
                "Type": "L3_L4",
                "traffic_direction": "EGRESS",
                "is_reply": reply,
            }
            stamp = start + i * 0.001
            emit(f, flow, stamp, "node-1")
            # Between two Cilium endpoints the destination reports the packet too (INGRESS),
            # unless the source already dropped it; four in five such reports are exported.
            if dst is not None and not dropped and rng.random() < 0.8 and written < lines:
                ingress = dict(flow, traffic_direction="INGRESS")
                ingress["verdict"] = "DROPPED" if rng.random() < 0.05 else "FORWARDED"
                emit(f, ingress, stamp + 0.0002, "node-2")


def measure(cluster_dir: str, flows: str) -> dict[str, object]:
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = FlowStore(str(Path(tmp) / "f.duckdb"))
        t0 = time.perf_counter()
        got = store.import_file(Path(flows), flows)
        t1 = time.perf_counter()
        out["import"] = {
            "records": got.read,
            "stored": got.stored,
            "rejected": got.rejected,
            "seconds": round(t1 - t0, 2),
            "records_per_s": round(got.read / (t1 - t0)),
        }
        t0 = time.perf_counter()
        keys = store.key_arrays()
        t_keys = time.perf_counter() - t0
        store.close()
    t0 = time.perf_counter()
    cluster = microseg.load([cluster_dir])
    conn = Connectivity.build(cluster)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    resolver = EndpointResolver(cluster)
    rows = expand(keys, resolver)
    t_expand = time.perf_counter() - t0
    t0 = time.perf_counter()
    lk = lookup(conn, rows)
    key_allowed(rows, lk, len(keys))
    t_lookup = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = simulate(conn, keys, None, resolver)
    t_sim = time.perf_counter() - t0
    out["simulate"] = {
        "keys": len(keys),
        "classes": conn.n_classes,
        "read_keys_s": round(t_keys, 2),
        "load_and_build_s": round(t_build, 2),
        "resolve_and_expand_s": round(t_expand, 2),
        "vectorised_lookup_s": round(t_lookup, 2),
        "whole_analysis_s": round(t_sim, 2),
        "denied_keys": report.denied_total,
        "hit_cells_explained": report.hit_cells,
    }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("cluster")
    g.add_argument("out")
    g.add_argument("--lines", type=int, default=100_000)
    g.add_argument("--seed", type=int, default=1)
    t = sub.add_parser("time")
    t.add_argument("cluster")
    t.add_argument("flows")
    args = parser.parse_args(argv)
    if args.cmd == "gen":
        generate(args.cluster, args.out, args.lines, args.seed)
    else:
        json.dump(measure(args.cluster, args.flows), sys.stdout, indent=2)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
