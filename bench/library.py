"""Library figures for `make bench`: B4 (`reach` queries) and B5 (incremental `apply` + `stats`).

The CLI scenarios of bench/run.py time whole processes; these two figures are about the
library once its index is built, so this script loads and builds, then times each query or
change on its own with `perf_counter`, and prints one JSON document of figures on stdout.
bench/run.py runs it as a subprocess, like any other scenario, so that the wall time and
peak RSS of the whole process are measured the same way.

    python bench/library.py reach DIR [--queries 10000] [--seed 1]
    python bench/library.py apply DIR [--changes 200] [--seed 1] [--budget 300] [--recount]

reach (B4): random workload pairs, seeded; one query in five asks for TCP 8080 (the port
resolved on the destination, as the CLI does), one in ten has an external address on one
side. Each timed query is the whole `conn.reach(...)` call: names resolved, the verdict, the
allowed set and both explanations built.

apply (B5): a seeded mix of realistic changes (policies modified, added, deleted; pods
relabelled; new port numbers), each timed as `StatsTracker.apply(change)`: the index's
`conn.apply(change)` plus the stats re-answered over the cells the change touched
(analyses/stats_tracker.py), or with `--recount` as `conn.apply(change)` plus
`compute_stats(conn)` from scratch (the figure before the tracker). `--budget` bounds the seconds spent on changes: the figure is the
median of those done, and how many were planned and done is in the JSON. After the last
change the stats are compared with a rebuild from scratch (classes, port and IP atoms
excepted: an incremental index may keep atoms a rebuild would merge); a mismatch is
reported, never raised.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import microseg
from microseg.analyses.stats import Stats, compute_stats
from microseg.analyses.stats_tracker import StatsTracker
from microseg.model.changes import (
    Change,
    DeletePolicy,
    PutPolicy,
    RelabelPod,
)
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import NetworkPolicy, PodPeer, PortSpec, Rule
from microseg.model.selectors import LabelSelector
from microseg.model.sets import Protocol

EXTERNAL = ("8.8.8.8", "203.0.113.7", "10.0.0.1", "192.168.1.20")
WARMUP_QUERIES = 50
STATS_EXEMPT = ("classes", "port_atoms", "ip_atoms")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the value below which a fraction q of the sorted values lie."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))
    return ordered[k]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {}
    return {
        "median_ms": round(statistics.median(ms), 4),
        "p90_ms": round(percentile(ms, 0.90), 4),
        "p99_ms": round(percentile(ms, 0.99), 4),
        "max_ms": round(max(ms), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


def peak_rss_mb() -> float:
    """This process's peak RSS so far (ru_maxrss is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_and_build(path: Path) -> tuple[microseg.Connectivity, dict[str, float]]:
    start = time.perf_counter()
    cluster = microseg.load([str(path)])
    loaded = time.perf_counter()
    conn = microseg.Connectivity.build(cluster)
    built = time.perf_counter()
    return conn, {
        "load_seconds": round(loaded - start, 3),
        "build_seconds": round(built - loaded, 3),
        "rss_after_build_mb": peak_rss_mb(),
    }


# ---------------------------------------------------------------- B4: reach


Query = Callable[[], microseg.Decision]


def make_queries(
    conn: microseg.Connectivity, n: int, rng: random.Random
) -> list[tuple[str, Query]]:
    """`n` seeded queries: (kind, a closure making the whole library call)."""
    names = [str(w.key) for w in conn.cluster.workloads]
    out: list[tuple[str, Query]] = []
    for _ in range(n):
        a, b = rng.choice(names), rng.choice(names)
        roll = rng.random()
        if roll < 0.05:
            out.append(("from-external", _plain(conn, rng.choice(EXTERNAL), b)))
        elif roll < 0.10:
            out.append(("to-external", _plain(conn, a, rng.choice(EXTERNAL))))
        elif roll < 0.30:
            out.append(("port", _with_port(conn, a, b)))
        else:
            out.append(("pair", _plain(conn, a, b)))
    return out


def _plain(conn: microseg.Connectivity, a: str, b: str) -> Query:
    return lambda: conn.reach(a, b)


def _with_port(conn: microseg.Connectivity, a: str, b: str) -> Query:
    return lambda: conn.reach(a, b, conn.port_conns(conn.resolve(b), Protocol.TCP, 8080, 8080))


def bench_reach(path: Path, n: int, seed: int) -> dict[str, Any]:
    conn, figures = load_and_build(path)
    rng = random.Random(seed)
    queries = make_queries(conn, n, rng)
    warm = make_queries(conn, WARMUP_QUERIES, random.Random(seed + 1))
    first = time.perf_counter()
    warm[0][1]()
    figures["first_query_ms"] = round((time.perf_counter() - first) * 1000, 3)
    for _, q in warm[1:]:
        q()
    seconds: list[float] = []
    by_kind: dict[str, list[float]] = {}
    verdicts: dict[str, int] = {}
    steps = 0
    gc.collect()
    for kind, q in queries:
        start = time.perf_counter()
        decision = q()
        took = time.perf_counter() - start
        seconds.append(took)
        by_kind.setdefault(kind, []).append(took)
        verdicts[decision.verdict.value] = verdicts.get(decision.verdict.value, 0) + 1
        steps += len(decision.egress.steps) + len(decision.ingress.steps)
    figures.update(summary_ms(seconds))
    figures.update(
        {
            "queries": len(seconds),
            "warmup_queries": WARMUP_QUERIES,
            "seed": seed,
            "queries_seconds": round(sum(seconds), 3),
            "per_kind": {k: {"queries": len(v), **summary_ms(v)} for k, v in by_kind.items()},
            "verdicts": verdicts,
            "mean_steps": round(steps / max(1, len(seconds)), 2),
            "classes": conn.n_classes,
            "port_atoms": len(conn.ports),
            "ip_atoms": len(conn.ips),
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    return figures


# ---------------------------------------------------------------- B5: apply + stats


def used_ports(policies: Sequence[NetworkPolicy]) -> list[tuple[Protocol, int, int]]:
    """Numeric port ranges the policies already mention (a modified rule takes one of them)."""
    seen = {
        (s.protocol, s.start, s.end)
        for p in policies
        for r in (*p.ingress, *p.egress)
        for s in r.ports or ()
        if not s.name
    }
    return sorted(seen, key=lambda t: (t[0].value, t[1], t[2]))


def _retarget_rule(rule: Rule, ports: tuple[PortSpec, ...] | None, peers: Any) -> Rule:
    return replace(rule, ports=ports, peers=peers)


class ChangeMaker:
    """Seeded realistic changes against the current snapshot. Each change is made from the
    snapshot it applies to, so deletes and relabels always name existing objects."""

    def __init__(self, cluster: microseg.Cluster, rng: random.Random) -> None:
        self.rng = rng
        self.ports = used_ports(cluster.policies)
        self.apps = sorted({p.labels["app"] for p in cluster.pods if "app" in p.labels})
        self.added = 0

    def make(self, cluster: microseg.Cluster) -> tuple[str, Change]:
        roll = self.rng.random()
        if roll < 0.25:
            return "modify-peer", self._modify_peer(cluster)
        if roll < 0.40:
            return "modify-port", self._modify_port(cluster, new=False)
        if roll < 0.50:
            return "new-port", self._modify_port(cluster, new=True)
        if roll < 0.65:
            return "add-policy", self._add_policy(cluster)
        if roll < 0.75:
            policy = self.rng.choice(cluster.policies)
            return "delete-policy", DeletePolicy("NetworkPolicy", policy.name, policy.namespace)
        if roll < 0.90:
            return "relabel-version", self._relabel(cluster, "version")
        return "relabel-app", self._relabel(cluster, "app")

    def _policy_with_rules(self, cluster: microseg.Cluster) -> NetworkPolicy:
        for _ in range(100):
            policy = self.rng.choice(cluster.policies)
            if policy.ingress or policy.egress:
                return policy
        return self.rng.choice(cluster.policies)

    def _app_selector(self) -> LabelSelector:
        return LabelSelector.from_labels({"app": self.rng.choice(self.apps)})

    def _modify_peer(self, cluster: microseg.Cluster) -> Change:
        """The first rule of a policy now admits another app of its namespace (a podSelector
        alone selects in the policy's namespace, which the model writes out)."""
        policy = self._policy_with_rules(cluster)
        peers = (PodPeer(self._app_selector(), namespace=policy.namespace),)
        field = "ingress" if policy.ingress else "egress"
        rules = getattr(policy, field)
        if not rules:
            return PutPolicy(policy)
        first = _retarget_rule(rules[0], rules[0].ports, peers)
        return PutPolicy(replace(policy, **{field: (first, *rules[1:])}))

    def _modify_port(self, cluster: microseg.Cluster, new: bool) -> Change:
        """A rule's ports become one the cluster already uses, or a number none uses."""
        policy = self._policy_with_rules(cluster)
        field = "ingress" if policy.ingress else "egress"
        rules = getattr(policy, field)
        if not rules:
            return PutPolicy(policy)
        if new or not self.ports:
            number = self.rng.randrange(20000, 30000)
            spec = PortSpec(Protocol.TCP, number, number)
        else:
            protocol, start, end = self.rng.choice(self.ports)
            spec = PortSpec(protocol, start, end)
        first = _retarget_rule(rules[0], (spec,), rules[0].peers)
        return PutPolicy(replace(policy, **{field: (first, *rules[1:])}))

    def _add_policy(self, cluster: microseg.Cluster) -> Change:
        """A copy of an existing policy under a new name, selecting another app."""
        policy = self._policy_with_rules(cluster)
        self.added += 1
        copy = replace(
            policy, name=f"{policy.name}-bench-{self.added}", pod_selector=self._app_selector()
        )
        return PutPolicy(copy)

    def _relabel(self, cluster: microseg.Cluster, key: str) -> Change:
        pods = cluster.pods
        pod = pods[self.rng.randrange(len(pods))]
        labels = dict(pod.labels)
        if key == "version":
            labels["version"] = f"v{self.rng.randrange(2, 9)}"
        else:
            labels["app"] = self.rng.choice(self.apps)
        return RelabelPod(pod.namespace, pod.name, FrozenLabels(labels))


def stats_fields(s: Stats) -> dict[str, Any]:
    out = dataclasses.asdict(s)
    out["pairs_per_protocol"] = [[p.value, n] for p, n in s.pairs_per_protocol]
    return out


def stats_mismatch(a: Stats, b: Stats) -> dict[str, Any]:
    """Fields (other than STATS_EXEMPT) where the incremental stats differ from a rebuild's."""
    left, right = stats_fields(a), stats_fields(b)
    return {
        k: {"incremental": left[k], "rebuild": right[k]}
        for k in left
        if k not in STATS_EXEMPT and left[k] != right[k]
    }


def bench_apply(path: Path, n: int, seed: int, budget_s: float, recount: bool) -> dict[str, Any]:
    """Each change applied and the stats re-answered: by `StatsTracker` (the cells the
    change touched retaken), or with `recount` by `compute_stats` from scratch, as before."""
    conn, figures = load_and_build(path)
    start = time.perf_counter()
    tracker = StatsTracker(conn)
    figures["stats_warm_seconds"] = round(time.perf_counter() - start, 3)
    figures["stats"] = "recount" if recount else "tracked"
    maker = ChangeMaker(conn.cluster, random.Random(seed))
    seconds: list[float] = []
    apply_s: list[float] = []
    stats_s: list[float] = []
    by_kind: dict[str, list[float]] = {}
    cpu_s: list[float] = []
    spent = 0.0
    recounts = tracker.full_recounts
    for _ in range(n):
        if spent > budget_s:
            break
        kind, change = maker.make(tracker.conn.cluster)
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        if recount:
            tracker.conn = tracker.conn.apply(change)
            t1 = time.perf_counter()
            compute_stats(tracker.conn)
        else:
            tracker.apply(change)
            t1 = t0 + tracker.last_apply_seconds
        took = time.perf_counter() - t0
        cpu_s.append(time.process_time() - c0)
        spent += took
        seconds.append(took)
        apply_s.append(t1 - t0)
        stats_s.append(took - (t1 - t0))
        by_kind.setdefault(kind, []).append(took)
    conn = tracker.conn
    figures.update(summary_ms(seconds))
    figures.update(
        {
            "changes_planned": n,
            "changes": len(seconds),
            "budget_seconds": budget_s,
            "within_budget": len(seconds) == n,
            "seed": seed,
            "changes_seconds": round(spent, 3),
            "per_kind": {k: {"changes": len(v), **summary_ms(v)} for k, v in by_kind.items()},
            "apply_only": summary_ms(apply_s),
            "stats_only": summary_ms(stats_s),
            # CPU seconds of this process per change: on a loaded machine wall time also
            # counts the minutes other processes held both cores
            "cpu": summary_ms(cpu_s),
            "load_average": list(os.getloadavg()),
            "recounted_changes": 0 if recount else tracker.full_recounts - recounts,
        }
    )
    t0 = time.perf_counter()
    incremental = compute_stats(conn) if recount else tracker.stats
    rebuilt = compute_stats(microseg.Connectivity.build(conn.cluster))
    mismatch = stats_mismatch(incremental, rebuilt)
    figures["check"] = {
        "equal_to_rebuild": not mismatch,
        "exempt": list(STATS_EXEMPT),
        "mismatch": mismatch,
        "seconds": round(time.perf_counter() - t0, 3),
        "stats": stats_fields(incremental),
    }
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Library figures B4 and B5 (bench/library.py).")
    sub = parser.add_subparsers(dest="command", required=True)
    reach = sub.add_parser("reach", help="B4: random reach queries on a built index")
    reach.add_argument("dir", type=Path)
    reach.add_argument("--queries", type=int, default=10_000)
    reach.add_argument("--seed", type=int, default=1)
    apply = sub.add_parser("apply", help="B5: changes applied, stats re-answered")
    apply.add_argument("dir", type=Path)
    apply.add_argument("--changes", type=int, default=200)
    apply.add_argument("--seed", type=int, default=1)
    apply.add_argument(
        "--budget", type=float, default=300.0, help="stop applying changes after this many seconds"
    )
    apply.add_argument(
        "--recount",
        action="store_true",
        help="re-answer stats with compute_stats from scratch (the figure before StatsTracker)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "reach":
        figures = bench_reach(args.dir, args.queries, args.seed)
    else:
        figures = bench_apply(args.dir, args.changes, args.seed, args.budget, args.recount)
    figures["command"] = args.command
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
