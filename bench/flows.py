"""Observed-traffic figures: Hubble lines for a generated cluster, `flows import`
throughput (DuckDB, and Spark local), and `simulate` on the keys it stores. `make bench`
runs `bench` on B2's cluster (bench/run.py, results in bench/results/flows.json):

    .venv/bin/python bench/flows.py bench bench/out/B2/cluster --lines 2000000

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
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import microseg
from microseg.analyses.simulate import expand, key_allowed, lookup, simulate
from microseg.engine import Connectivity
from microseg.ingest.flows import FlowStore
from microseg.ingest.flows.store import ImportFailure
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
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    # Each endpoint's JSON once: the lines are assembled as text (this writes about 30,000
    # lines a second; json.dumps of a dict per line wrote a third of that).
    endpoint = {id(p): dumps(_ep(p, p.ips[0])) for p in pods}
    world = dumps(_ep(None, ""))
    written = 0
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
            a_ep = world if (dst is None and reply) else endpoint[id(dst if reply else src)]
            b_ep = world if (dst is None and not reply) else endpoint[id(src if reply else dst)]
            a_ip, b_ip = (dst_ip, src.ips[0]) if reply else (src.ips[0], dst_ip)
            p_src, p_dst = (port, sport) if reply else (sport, port)
            dropped = rng.random() < 0.1
            stamp = start + i * 0.001
            ends = [("EGRESS", "DROPPED" if dropped else "FORWARDED", stamp, "node-1")]
            # Between two Cilium endpoints the destination reports the packet too
            # (INGRESS), unless the source dropped it; four in five such reports exported.
            if dst is not None and not dropped and rng.random() < 0.8:
                verdict = "DROPPED" if rng.random() < 0.05 else "FORWARDED"
                ends.append(("INGRESS", verdict, stamp + 0.0002, "node-2"))
            for direction, verdict, when, node in ends:
                if written >= lines:
                    break
                text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))
                t = f"{text}.{int(when * 1e6) % 1_000_000:06d}000Z"
                f.write(
                    f'{{"flow":{{"time":"{t}","verdict":"{verdict}",'
                    f'"IP":{{"source":"{a_ip}","destination":"{b_ip}","ipVersion":"IPv4"}},'
                    f'"l4":{{"TCP":{{"source_port":{p_src},"destination_port":{p_dst}}}}},'
                    f'"source":{a_ep},"destination":{b_ep},"Type":"L3_L4",'
                    f'"traffic_direction":"{direction}","is_reply":{"true" if reply else "false"}}},'
                    f'"node_name":"{node}","time":"{t}"}}\n'
                )
                written += 1


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


# ---------------------------------------------------------------- make bench (bench/run.py)

TARGET_RATE = 500_000
TARGET_MB = 1536
TARGET_SIMULATE_S = 5.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """This process's CPU seconds (every thread's, DuckDB's included): on a machine shared
    with other work the wall time says little, the CPU time what the work costs."""
    got = resource.getrusage(resource.RUSAGE_SELF)
    return got.ru_utime + got.ru_stime


def child_import(flows: str, db: str) -> dict[str, object]:
    """One DuckDB import in this (fresh) process: its time and the process's peak RSS."""
    store = FlowStore(db)
    t0, c0 = time.perf_counter(), _cpu_s()
    got = store.import_file(Path(flows), flows)
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
    keys = store.query("SELECT count(*) FROM flows")[0][0]
    store.close()
    cores = os.cpu_count() or 1
    return {
        "cpu_seconds": round(cpu, 1),
        "records_per_cpu_s": round(got.read / cpu),
        # What the same work takes when the machine's cores are free for it.
        "records_per_s_if_idle_at_most": round(got.read / (cpu / cores)),
        "records": got.read,
        "stored": got.stored,
        "rejected": got.rejected,
        "keys": int(keys),
        "seconds": round(seconds, 2),
        "records_per_s": round(got.read / seconds),
        "peak_mb": round(_peak_mb()),
    }


def child_simulate(cluster_dir: str, db: str) -> dict[str, object]:
    store = FlowStore(db)
    t0 = time.perf_counter()
    keys = store.key_arrays()
    t_keys = time.perf_counter() - t0
    store.close()
    t0 = time.perf_counter()
    cluster = microseg.load([cluster_dir])
    conn = Connectivity.build(cluster)
    t_build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu_s()
    report = simulate(conn, keys, None, EndpointResolver(cluster))
    t_sim, c_sim = time.perf_counter() - t0, _cpu_s() - c0
    return {
        "simulate_cpu_s": round(c_sim, 2),
        "keys": len(keys),
        "read_keys_s": round(t_keys, 2),
        "load_and_build_s": round(t_build, 2),
        "simulate_s": round(t_sim, 2),
        "seconds": round(t_keys + t_sim, 2),
        "denied_keys": report.denied_total,
        "peak_mb": round(_peak_mb()),
    }


def child_spark(flows: str, db: str) -> dict[str, object]:
    from microseg.ingest.flows.spark import import_with_spark, session, stop

    t0 = time.perf_counter()
    spark = session()
    t_start = time.perf_counter() - t0
    store = FlowStore(db)
    t0 = time.perf_counter()
    (got,) = import_with_spark(spark, [(Path(flows), flows)], None, store)
    seconds = time.perf_counter() - t0
    keys = store.query("SELECT count(*) FROM flows")[0][0]
    store.close()
    stop()
    assert not isinstance(got, ImportFailure), got
    return {
        "master": "local[*]",
        "session_start_s": round(t_start, 2),
        "records": got.read,
        "stored": got.stored,
        "rejected": got.rejected,
        "keys": int(keys),
        "seconds": round(seconds, 2),
        "records_per_s": round(got.read / seconds),
    }


def _child(*args: str, timeout: float = 3600.0) -> dict[str, object]:
    try:
        done = subprocess.run(
            [sys.executable, __file__, "child", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "timeout_s": timeout}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        return {"status": "failed", "stderr_tail": tail}
    got: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"status": "ok", **got}


def _met(figure: object, target: float, at_most: bool = True) -> bool:
    if not isinstance(figure, int | float):
        return False
    return figure <= target if at_most else figure >= target


def run_bench(
    cluster_dir: str, lines: int, work: Path, results: Path, seed: int, spark: bool = True
) -> dict[str, object]:
    """Generate (or reuse) the lines, then import with DuckDB, simulate the stored keys and
    import again with Spark, each in a process of its own; the results file is rewritten
    after each stage, so a stage that times out leaves the others' figures."""
    work.mkdir(parents=True, exist_ok=True)
    results.parent.mkdir(parents=True, exist_ok=True)
    before = json.loads(results.read_text()) if results.exists() else {}
    flows = work / f"hubble-{lines}-seed{seed}.json"
    marker = flows.with_suffix(".done")
    out: dict[str, object] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_before": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "lines": lines,
        "generator": "bench/flows.py generate: GetFlowsResponse lines on B2's pods, about "
        "a third of them the destination's INGRESS report of a packet (folded in pairs)",
    }

    def save() -> None:
        results.write_text(json.dumps(out, indent=2) + "\n")

    if not marker.exists() or marker.read_text() != GENERATOR:
        t0 = time.perf_counter()
        generate(cluster_dir, str(flows), lines, seed)
        out["generate_seconds"] = round(time.perf_counter() - t0, 1)
        marker.write_text(GENERATOR)
    out["file_mb"] = round(flows.stat().st_size / 2**20)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        duck = _child("import", str(flows), str(Path(tmp) / "duck.duckdb"))
        out["duckdb_import"] = {
            **duck,
            "target_records_per_s": TARGET_RATE,
            "target_peak_mb": TARGET_MB,
            "met": _met(duck.get("records_per_s"), TARGET_RATE, at_most=False)
            and _met(duck.get("peak_mb"), TARGET_MB),
        }
        save()
        sim = _child("simulate", cluster_dir, str(Path(tmp) / "duck.duckdb"))
        out["simulate"] = {
            **sim,
            "target_s": TARGET_SIMULATE_S,
            "met": _met(sim.get("seconds"), TARGET_SIMULATE_S),
        }
        save()
        if spark:
            spark_run = _child("spark", str(flows), str(Path(tmp) / "spark.duckdb"))
        else:  # the last Spark figures of this file, kept (--no-spark)
            spark_run = dict(before.get("spark_import", {"status": "not run"}))
            if before.get("lines") != lines:
                spark_run = {"status": "not run"}
            elif "date" in before:
                spark_run.setdefault("date", before["date"])
        out["spark_import"] = spark_run
    a, b = spark_run.get("seconds"), duck.get("seconds")
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        out["spark_to_duckdb_ratio"] = round(a / b, 1)
    save()
    return out


GENERATOR = "flows-gen-3"  # bump when generate() changes what it writes


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
    b = sub.add_parser("bench")
    b.add_argument("cluster")
    b.add_argument("--lines", type=int, default=2_000_000)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--work", type=Path, default=Path(__file__).parent / "out" / "flows")
    b.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "flows.json")
    b.add_argument(
        "--no-spark", action="store_true", help="keep the Spark figures of the results file"
    )
    c = sub.add_parser("child")
    c.add_argument("what", choices=("import", "simulate", "spark"))
    c.add_argument("args", nargs=2)
    args = parser.parse_args(argv)
    if args.cmd == "gen":
        generate(args.cluster, args.out, args.lines, args.seed)
    elif args.cmd == "time":
        json.dump(measure(args.cluster, args.flows), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.cmd == "bench":
        got = run_bench(
            args.cluster, args.lines, args.work, args.results, args.seed, not args.no_spark
        )
        json.dump(got, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        work = {"import": child_import, "simulate": child_simulate, "spark": child_spark}
        sys.stdout.write(json.dumps(work[args.what](*args.args)) + "\n")


if __name__ == "__main__":
    main()
