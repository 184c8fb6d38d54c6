"""Flow keys for `recommend` on a generated cluster (the `recommend-B2` scenario of run.py).

    .venv/bin/python bench/recommend.py DIR DB --keys 1000000 --seed 1

Writes a flow store (DuckDB, through microseg's CSV import) holding about `keys` flow keys
between the pods of the cluster in DIR, with the fan-out of real services rather than of
random pairs: each workload calls about a dozen others (its tier's callees first, half of
them in its own namespace), every replica of the caller reaching every replica of the
callee on one or two of the callee's container ports; every pod resolves names through
the coredns pods (UDP 53, some TCP 53); one workload in five calls a few external
addresses on 443. One key in twenty is recorded as dropped. The store is the input, not
what is timed: run.py times `microseg recommend DIR --flows DB --out OUT` as a process.
A `.flows.json` marker beside the store lets run.py reuse it while parameters and this
file are unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import microseg
from microseg.ingest.flows import FlowStore
from microseg.ingest.flows.formats import CSV_HEADER, FlowFormat

VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
EXTERNAL = ("93.184.216.34", "151.101.1.69", "140.82.112.3", "52.95.110.1", "34.117.59.81")
CALLEES = {
    "web": ("api",),
    "api": ("db", "cache", "api"),
    "worker": ("db", "cache"),
    "gateway": ("web", "api"),
}


def marker(db: Path) -> Path:
    return db.with_name(db.name + ".flows.json")


def reusable(db: Path, cluster: Path, keys: int, seed: int) -> bool:
    try:
        got = json.loads(marker(db).read_text())
    except (OSError, ValueError):
        return False
    want = {"version": VERSION, "cluster": str(cluster), "keys": keys, "seed": seed}
    return db.exists() and {k: got.get(k) for k in want} == want


def make(cluster_dir: Path, db: Path, keys: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    cluster = microseg.load([str(cluster_dir)])
    pods: dict[microseg.model.WorkloadKey, list[microseg.model.Pod]] = defaultdict(list)
    for p in cluster.pods:
        if not p.host_network and p.ips:
            pods[p.workload].append(p)
    by_ns: dict[str, list[microseg.model.WorkloadKey]] = defaultdict(list)
    for w in pods:
        by_ns[w.namespace].append(w)
    everyone = sorted(pods)
    dns = [w for w in everyone if w.namespace == "kube-system"]
    dns_pods = [p for w in dns for p in pods[w]]

    def tier(w: microseg.model.WorkloadKey) -> str:
        return pods[w][0].labels.get("tier", "")

    lines: dict[tuple[str, str, str, int], str] = {}

    def add(src: str, dst: str, proto: str, port: int) -> None:
        """One line per key, so the store holds as many keys as lines."""
        if (src, dst, proto, port) in lines:
            return
        verdict = "dropped" if rng.random() < 0.05 else "forwarded"
        count = rng.randint(1, 400)
        start = 1_700_000_000 + rng.randint(0, 3000)
        end = start + rng.randint(1, 600)
        lines[(src, dst, proto, port)] = (
            f"{src},{dst},{proto},{port},{count},{start},{end},{verdict}"
        )

    # Endpoints by pod IP, as Hubble and Calico see them (the CSV's `ns/name` names a
    # workload or a pod; addresses resolve through status.podIPs like any record's).
    for w in everyone:
        for p in pods[w]:
            for d in dns_pods:
                add(p.ips[0], d.ips[0], "UDP", 53)
    callers = [w for w in everyone if w not in dns]
    rng.shuffle(callers)
    rounds = 0
    while len(lines) < keys and rounds < 50:
        rounds += 1
        for w in callers:
            if len(lines) >= keys:
                break
            wanted = CALLEES.get(tier(w), ())
            local = [x for x in by_ns[w.namespace] if x != w]
            pool = [x for x in local if tier(x) in wanted] or local
            callee = rng.choice(pool) if pool and rng.random() < 0.5 else rng.choice(callers)
            ports = [cp for cp in pods[callee][0].ports] or []
            if not ports:
                continue
            chosen = rng.sample(ports, min(len(ports), rng.choice((1, 1, 2))))
            for a in pods[w]:
                for b in pods[callee]:
                    for cp in chosen:
                        add(a.ips[0], b.ips[0], cp.protocol.value, cp.port)
            if rounds == 1 and rng.random() < 0.2:
                for ip in rng.sample(EXTERNAL, rng.randint(1, 3)):
                    for a in pods[w]:
                        add(a.ips[0], ip, "TCP", 443)
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        db.unlink()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "flows.csv"
        csv.write_text(CSV_HEADER + "\n" + "\n".join(sorted(lines.values())) + "\n")
        with FlowStore(str(db)) as store:
            got = store.import_file(csv, "flows.csv", FlowFormat.CSV)
            stored = store.query("SELECT count(*) FROM flows")[0][0]
    summary = {
        "version": VERSION,
        "cluster": str(cluster_dir),
        "keys": keys,
        "seed": seed,
        "records": got.read,
        "stored_keys": int(stored),
        "import_seconds": round(time.perf_counter() - t0, 2),
    }
    marker(db).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("cluster", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if reusable(args.db, args.cluster, args.keys, args.seed):
        print(f"{args.db}: reused", file=sys.stderr)
        return
    json.dump(make(args.cluster, args.db, args.keys, args.seed), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
