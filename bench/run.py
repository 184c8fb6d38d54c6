"""`make bench`: time the microseg CLI on generated clusters against the issue-tracker targets.

Each scenario runs `microseg` as its own process, as a user would, so the figures include
interpreter start-up, imports, parsing and rendering, not just the engine. A missed target or
a timeout is recorded, never raised: the point is to see how far off we are. Only a run that
exits non-zero (microseg rejected the input or crashed) makes this script exit 1.

    .venv/bin/python bench/run.py              startup, small-200, small-500, B1, B1-tiers,
                                               B2, B2-calico, blast-B2, audit, B5, B5-100k, webhook,
                                               recommend, watch, B3, B4, nca-200, nca-500,
                                               nca-1000, nca-calico-200 (`make bench`; about
                                               7 minutes once the clusters are generated, 9
                                               the first time, plus B5-100k's ~10 and
                                               nca-1000's ~5 on a quiet machine)
    .venv/bin/python bench/run.py --quick      small-200, small-500, B1, B1-tiers, nca-200
    .venv/bin/python bench/run.py --only startup  `microseg --help` and `reach` on the demo:
                                               import, wall and CPU ms (bench/startup.py)
    .venv/bin/python bench/run.py --only parsers  YAML and JSON parsers on B5-100k's files
                                               (bench/parsers.py; not in the default set)
    .venv/bin/python bench/run.py --without-b3 the default set less B3 and B4 (150,000 pods)
    .venv/bin/python bench/run.py --b3-commands
                                               the default set plus every command at B3
                                               (B3-connectivity, B3-blast, B3-verify,
                                               B3-exposure, B3-lint, B3-diff: 60 s and 4 GB
                                               each; about 10 minutes more on a quiet machine)
    .venv/bin/python bench/run.py --only B2    one scenario (any, B3 included; repeatable)
    .venv/bin/python bench/run.py --only hostile-scale
                                               bench/hostile.py's cases (in the default set
                                               too): inputs sized to attack, before and after
    .venv/bin/python bench/run.py --only flows observed traffic on B2's cluster (bench/flows.py:
                                               2,000,000 Hubble lines, DuckDB and Spark
                                               import, simulate; in the default set too)

B1-tiers is B1's cluster plus 50 AdminNetworkPolicies and the BaselineAdminNetworkPolicy;
its target is relative: at most 1.5x B1's time measured in the same run (`--only B1-tiers`
runs B1 too), so the ratio prices the guardrail tiers on whatever machine this is.
B2-calico is likewise B2's cluster plus five Calico tiers, 2,000 Calico policies
(GlobalNetworkPolicies and projectcalico.org NetworkPolicies with Allow, Deny, Pass and Log
rules, notSelector, nets and notNets, ICMP, notProtocol), GlobalNetworkSets and NetworkSets
(bench/generate.py make_calico): at most 2x B2's time.

webhook is bench/webhook.py on B2's cluster (the admission webhook under wrk; its figures
hold each of its targets).

`recommend` times `microseg recommend` on B2's cluster from a flow store of about
1,000,000 keys that bench/recommend.py makes once (reused while unchanged; not timed).

The B3-* scenarios (issue 22) run every other command on B3's cluster, each held to 60 s and
4 GB: `connectivity -o json` to /dev/null (61 million rows, written as computed, so the peak
is the engine's and not the output's), `blast-radius` from coredns and payments-prod-0,
`verify` with bench/b3-intents.yaml, `exposure`, `lint`, and `diff` against a copy of B3
with three policies changed (b3_changes: links to B3's files but for those three, in
bench/out/B3-diff/changed). Exit 1 (an intent violated, a finding, a difference) is no
failure there. Not in the default set: `--b3-commands` or `--only B3-lint` runs them.

B4, B5 and B5-100k are library figures (bench/library.py, run as its own process like the CLI, so
its wall time and peak RSS are the whole process's): B4 times 10,000 `reach` queries on B3's
index, B5 applies changes to B2's index and re-answers `stats` after each (StatsTracker),
B5-100k the same on a cluster of 100,000 pods. Their targets are
on a figure the script prints (median milliseconds per query or per change), not on the
process's seconds; they reuse B3's and B2's generated clusters.

nca-200, nca-500 and nca-1000 compare microseg with network-config-analyzer 2.1.0 (NCA) on
clusters of 200, 500 and 1,000 workloads: NCA is installed into bench/out/nca-venv (never into the
project), the two tools run alternately on the same cluster, and the table gives both
medians, the median of the per-round ratios NCA/microseg, and whether the two connectivity
lists agree in meaning (bench/compare.py; the first differences go to the result JSON). If
NCA cannot be installed, the comparison is recorded as skipped with the reason; NCA failing
or disagreeing never fails the bench. nca-calico-200 is the same comparison on small-200's
workloads and NetworkPolicies plus 100 Calico policies in the subset NCA reads (no tiers:
every policy in the default tier, with its own order), every protocol compared (ICMP by
type and code, UDPLite, other protocols by number).

Clusters go to bench/out/<scenario>/cluster (gitignored) and are reused while their
parameters and the generator's source are unchanged; results go to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import compare
import hostile
import nca
import recommend as flow_keys
from generate import GENERATOR_VERSION, MARKER, generate

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
RESULTS = BENCH / "results"
PYCACHE = OUT / "pycache"
SEED = 1
DEFAULT_TIMEOUT_S = 600.0
CONNECTIVITY = ("connectivity", "{dir}", "-o", "txt", "-q")
NCA_VENV = OUT / "nca-venv"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One cluster shape, the command run on it, and the target it is held to (if any)."""

    name: str
    workloads: int
    replicas: int
    policies: int
    pods_list: bool
    args: tuple[str, ...]
    runs: int
    target_s: float | None = None
    target_mb: float | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    note: str = ""
    guardrails: int = 0  # AdminNetworkPolicies, plus the BaselineAdminNetworkPolicy if > 0
    baseline: str | None = None  # the scenario target_ratio is relative to
    target_ratio: float | None = None  # at most this many times the baseline's seconds
    versus: str | None = None  # "nca": runs against NCA, alternately, s.runs rounds each
    library: bool = False  # args are bench/library.py's, run by this interpreter
    cluster_of: str | None = None  # reuse this scenario's generated cluster
    metric: str | None = None  # a figure of the library's JSON held to target_metric
    target_metric: float | None = None
    script: str = "library.py"  # the script a library scenario runs (bench/<script>)
    flows: int = 0  # flow keys of a store made for the cluster (bench/recommend.py): {db}
    calico: int = 0  # Calico policies (bench/generate.py make_calico), with tiers and sets
    calico_nca: bool = False  # ... in the subset NCA 2.1.0 reads
    discard_output: bool = False  # stdout to /dev/null (outputs of gigabytes: B3-connectivity)
    changed_copy: bool = False  # {new}: the cluster with a few policies changed (b3_changes)
    ok_exits: tuple[int, ...] = (0,)  # verify, lint and diff exit 1 on a finding

    @property
    def pods(self) -> int:
        return self.workloads * self.replicas


SCENARIOS = (
    Scenario("small-200", 200, 1, 100, False, CONNECTIVITY, 3, note="for tool comparison"),
    Scenario("small-500", 500, 1, 250, False, CONNECTIVITY, 3, note="for tool comparison"),
    Scenario("B1", 1000, 1, 500, False, CONNECTIVITY, 3, target_s=1.0),
    Scenario(
        "B1-tiers",
        1000,
        1,
        500,
        False,
        CONNECTIVITY,
        3,
        guardrails=50,
        baseline="B1",
        target_ratio=1.5,
        note="B1 plus 50 AdminNetworkPolicies and the BaselineAdminNetworkPolicy",
    ),
    Scenario("B2", 2000, 5, 5000, True, CONNECTIVITY, 1, target_s=5.0, target_mb=1536),
    Scenario(
        "B2-calico",
        2000,
        5,
        5000,
        True,
        CONNECTIVITY,
        1,
        calico=2000,
        baseline="B2",
        target_ratio=2.0,
        target_mb=1536,
        note="B2 plus 2,000 Calico policies over 5 tiers, GlobalNetworkSets and NetworkSets; "
        "target: at most 2x B2's time in the same run",
    ),
    Scenario(
        "blast-B2",
        2000,
        5,
        5000,
        True,
        # Namespace names do not depend on the seed (generate.make_namespaces): coredns, and
        # the ~20 workloads of the first payments namespace, all hops, explained, as JSON.
        (
            "blast-radius",
            "{dir}",
            "--from",
            "kube-system/*",
            "--from",
            "payments-prod-0/*",
            "-o",
            "json",
            "-q",
        ),
        1,
        target_s=10.0,
        target_mb=1536,
        baseline="B2",
        note="B2's cluster; target: B2's 5 s build target plus the issue's 5 s for the blast "
        "radius (compare with B2 measured in the same run)",
    ),
    Scenario(
        "B3",
        30000,
        5,
        50000,
        True,
        ("stats", "{dir}", "-q"),
        1,
        target_s=60.0,
        target_mb=8192,
        timeout_s=1800.0,
        note="in the default set (--without-b3 skips it and B4)",
    ),
    Scenario(
        "nca-200",
        200,
        1,
        100,
        False,
        CONNECTIVITY,
        3,
        versus="nca",
        note="small-200's cluster, against network-config-analyzer " + nca.NCA_VERSION,
    ),
    Scenario(
        "nca-500",
        500,
        1,
        250,
        False,
        CONNECTIVITY,
        1,
        versus="nca",
        note="small-500's cluster, against network-config-analyzer " + nca.NCA_VERSION,
    ),
    Scenario(
        "nca-1000",
        1000,
        1,
        500,
        False,
        CONNECTIVITY,
        1,
        versus="nca",
        timeout_s=1800.0,
        note="B1's cluster shape (1,000 workloads, 500 NPs), against network-config-analyzer "
        + nca.NCA_VERSION
        + " (issue 22: >= 500x)",
    ),
    Scenario(
        "nca-calico-200",
        200,
        1,
        100,
        False,
        CONNECTIVITY,
        3,
        versus="nca",
        calico=100,
        calico_nca=True,
        note="small-200's cluster plus 100 Calico policies (NCA's subset: default tier), "
        "against network-config-analyzer " + nca.NCA_VERSION + ", every protocol compared",
    ),
)
B4 = Scenario(
    "B4",
    30000,
    5,
    50000,
    True,
    ("reach", "{dir}", "--queries", "10000"),
    1,
    timeout_s=900.0,
    note="library: 10,000 seeded conn.reach() queries on B3's index (pairs, TCP 8080, "
    "external addresses); target: median per query",
    library=True,
    cluster_of="B3",
    metric="median_ms",
    target_metric=1.0,
)
B5 = Scenario(
    "B5",
    2000,
    5,
    5000,
    True,
    # While Connectivity.apply rebuilds (about 0.4 s a change with stats, here) 200 changes
    # take about 80 s; the budget stops a slower machine after 300 s of changes.
    ("apply", "{dir}", "--changes", "200", "--budget", "300"),
    1,
    timeout_s=900.0,
    note="library: seeded policy and pod changes on B2's index, each conn.apply() plus "
    "compute_stats(); target: median per change; stats checked against a rebuild",
    library=True,
    cluster_of="B2",
    metric="median_ms",
    target_metric=100.0,
)
B5_100K = Scenario(
    "B5-100k",
    20000,
    5,
    33000,
    True,
    ("apply", "{dir}", "--changes", "100", "--budget", "300"),
    1,
    timeout_s=1200.0,
    note="library: B5's change mix (bench/library.py apply) on a 100,000-pod cluster with "
    "B3's policy density (20,000 workloads x 5 replicas, 33,000 NetworkPolicies); target: "
    "median per change (apply plus stats) <= 100 ms",
    library=True,
    metric="median_ms",
    target_metric=100.0,
)
WEBHOOK = Scenario(
    "webhook",
    2000,
    5,
    5000,
    True,
    ("{dir}", "--duration", "30", "--connections", "32", "--np-reviews", "200"),
    1,
    timeout_s=900.0,
    note="bench/webhook.py: the admission webhook over TLS on loopback with B2 as its snapshot; "
    "wrk sends a compliant Deployment's AdmissionReview on 32 connections for 30 s (targets "
    ">= 2,000 reviews/s, p99 <= 10 ms, 0 errors), then 200 NetworkPolicy reviews through the "
    "engine (target p99 <= 100 ms); the figures hold every target and the server's CPU per review",
    library=True,
    cluster_of="B2",
    metric="p99_ms",
    target_metric=10.0,
    script="webhook.py",
)
RECOMMEND_B2 = Scenario(
    "recommend",
    2000,
    5,
    5000,
    True,
    ("recommend", "{dir}", "--flows", "{db}", "--out", "{out}", "-q"),
    1,
    target_s=10.0,
    timeout_s=900.0,
    note="B2's cluster and about 1,000,000 flow keys (bench/recommend.py: a dozen callees "
    "per workload, replica to replica, DNS, external 443); the whole `recommend` process: "
    "loading, reading the keys, learning, writing the policies and the engine's proof",
    cluster_of="B2",
    flows=1_000_000,
)
AUDIT_B2 = Scenario(
    "audit",
    2000,
    5,
    5000,
    True,
    ("audit", "{dir}", "--framework", "all", "-o", "json", "-q"),
    1,
    target_s=10.0,
    target_mb=2048,
    note="microseg audit on B2's cluster: every finding, every framework (CIS 1.12), JSON",
    cluster_of="B2",
)
# Every command at B3 (issue 22): B3's cluster, 60 s and 4 GB each; `--b3-commands` runs
# them (not in the default set: about 12 minutes together on a quiet machine).
B3_LIMITS: dict[str, Any] = {
    "target_s": 60.0,
    "target_mb": 4096,
    "timeout_s": 900.0,
    "cluster_of": "B3",
    "ok_exits": (0, 1),
}
B3_COMMANDS = (
    Scenario(
        "B3-connectivity",
        30000,
        5,
        50000,
        True,
        ("connectivity", "{dir}", "-o", "json", "-q"),
        1,
        discard_output=True,
        note="B3's cluster: every allowed connection as JSON, written as computed (to "
        "/dev/null: about 61 million pairs), so the peak memory is the model's and the "
        "engine's, not the output's",
        **B3_LIMITS,
    ),
    Scenario(
        "B3-blast",
        30000,
        5,
        50000,
        True,
        (
            "blast-radius",
            "{dir}",
            "--from",
            "kube-system/*",
            "--from",
            "payments-prod-0/*",
            "-o",
            "json",
            "-q",
        ),
        1,
        note="B3's cluster: the blast radius of coredns and the ~20 workloads of "
        "payments-prod-0, all hops, explained, as JSON (blast-B2's question at B3)",
        **B3_LIMITS,
    ),
    Scenario(
        "B3-verify",
        30000,
        5,
        50000,
        True,
        ("verify", "{dir}", "--intents", str(BENCH / "b3-intents.yaml"), "-o", "json", "-q"),
        1,
        note="B3's cluster and bench/b3-intents.yaml: allow, deny, a strict domain, "
        "defaultDeny, noInternetEgress and maxBlastRadius over B3's teams and tiers, as JSON "
        "(exit 1 when an intent is violated is not a failure here)",
        **B3_LIMITS,
    ),
    Scenario(
        "B3-exposure",
        30000,
        5,
        50000,
        True,
        ("exposure", "{dir}", "-o", "json", "-q"),
        1,
        note="B3's cluster: what is exposed to the internet and the cluster, as JSON",
        **B3_LIMITS,
    ),
    Scenario(
        "B3-lint",
        30000,
        5,
        50000,
        True,
        ("lint", "{dir}", "-o", "json", "-q"),
        1,
        note="B3's cluster: every lint rule, as JSON",
        **B3_LIMITS,
    ),
    Scenario(
        "B3-diff",
        30000,
        5,
        50000,
        True,
        ("diff", "{dir}", "{new}", "-o", "json", "-q"),
        1,
        changed_copy=True,
        note="B3's cluster against a copy with a few policies changed (bench/run.py "
        "b3_changes: one removed, one port changed, one added; the rest links to B3's files), "
        "as JSON (exit 1, the inputs differ, is not a failure here)",
        **B3_LIMITS,
    ),
)
PARSERS = Scenario(
    "parsers",
    20000,
    5,
    33000,
    True,
    ("{dir}", "--repeat", "3"),
    1,
    timeout_s=1800.0,
    note="bench/parsers.py: YAML and JSON parsers (PyYAML's C loader and events, rapidyaml, "
    "yaml-rs, ryaml, py-yaml12; json, orjson) in a venv of their own, checked on YAML 1.1 "
    "booleans and octals, merge keys, multi-document streams and bad input, and timed in CPU "
    "seconds on B5-100k's policy files (16 MB of YAML) and pods List (89 MB of JSON)",
    library=True,
    cluster_of="B5-100k",
    script="parsers.py",
)
STARTUP = Scenario(
    "startup",
    20,
    2,
    10,
    True,
    ("--runs", "7"),
    1,
    timeout_s=600.0,
    note="bench/startup.py: `microseg --help` and `microseg reach` on the demo, 7 processes "
    "each under -X importtime (median total import ms; target <= 150 ms each) and 7 without "
    "(median wall and CPU ms), with `import numpy` timed alongside as a yardstick of the load",
    library=True,
    cluster_of="warmup",
    metric="reach_import_ms",
    target_metric=150.0,
    script="startup.py",
)
WATCH = Scenario(
    "watch",
    20,
    2,
    10,
    True,
    ("--events", "300000", "--samples", "50"),
    1,
    timeout_s=900.0,
    note="bench/watch.py: 300,000 seeded mixed events (Hubble flows, audit, Falco) through the "
    "watch loop on the demo cluster (target: 100,000 events per CPU-second), then 50 Falco "
    "shells isolated through the fake API server by `microseg watch --cluster --respond "
    "isolate` (target: p99 <= 2 s from the line written to the label applied)",
    library=True,
    cluster_of="warmup",
    metric="p99_ms",
    target_metric=2000.0,
    script="watch.py",
)
SCENARIOS = (
    *SCENARIOS,
    B4,
    B5,
    B5_100K,
    WEBHOOK,
    RECOMMEND_B2,
    AUDIT_B2,
    WATCH,
    STARTUP,
    PARSERS,
    *B3_COMMANDS,
)
# Not reported: run once first so no measured run pays for compiling bytecode.
WARMUP = Scenario("warmup", 20, 2, 10, True, CONNECTIVITY, 1, timeout_s=120.0)
# Not reported either: NCA's first run on a small cluster, so no measured run pays for a
# cold page cache of its venv.
NCA_WARMUP = Scenario("nca-warmup", 20, 1, 10, False, CONNECTIVITY, 1, timeout_s=120.0)
QUICK = ("small-200", "small-500", "B1", "B1-tiers", "nca-200")
DEFAULT = (
    "startup",
    "small-200",
    "small-500",
    "B1",
    "B1-tiers",
    "B2",
    "B2-calico",
    "blast-B2",
    "audit",
    "B5",
    "B5-100k",
    "webhook",
    "recommend",
    "watch",
    "B3",
    "B4",
    "nca-200",
    "nca-500",
    "nca-1000",
    "nca-calico-200",
)


@dataclass(slots=True)
class Run:
    """One process: wall seconds, peak RSS, and how it ended (exit code None = killed)."""

    seconds: float
    peak_mb: float | None  # None: killed before its wrapper could report
    exit_code: int | None
    timed_out: bool
    # user + system CPU seconds of the process: on this shared machine a loaded minute
    # stretches wall time far more than CPU time, so both are kept
    cpu_seconds: float | None = None


@dataclass(slots=True)
class Result:
    scenario: str
    workloads: int
    replicas: int
    pods: int
    policies: int
    pods_list: bool
    command: list[str]
    target_s: float | None
    target_mb: float | None
    status: str = "ok"  # ok | timeout | failed
    met: bool | None = None  # None: no target
    seconds: float | None = None
    cpu_seconds: float | None = None  # median user + system seconds
    peak_mb: float | None = None
    runs: list[Run] = field(default_factory=list)
    output_lines: int | None = None
    cluster: dict[str, Any] = field(default_factory=dict)
    generate_seconds: float | None = None
    stderr_tail: list[str] = field(default_factory=list)
    note: str = ""
    date: str = ""
    load_before: list[float] = field(default_factory=list)
    guardrails: int = 0
    calico: int = 0
    baseline: str | None = None
    target_ratio: float | None = None
    baseline_seconds: float | None = None
    ratio: float | None = None  # seconds / baseline_seconds, both medians of this run
    metric: str | None = None  # library scenarios: the figure held to target_metric
    target_metric: float | None = None
    metric_value: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)  # the library's JSON, last run
    ok_exits: list[int] = field(default_factory=lambda: [0])  # exit codes that are no failure


@dataclass(slots=True)
class ToolRuns:
    """One tool's side of a comparison."""

    tool: str
    command: list[str]
    status: str = "ok"  # ok | timeout | failed | not run
    seconds: float | None = None  # median
    peak_mb: float | None = None
    runs: list[Run] = field(default_factory=list)
    cpu_seconds: float | None = None  # median
    output_lines: int | None = None
    stderr_tail: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Comparison:
    """microseg against another tool on one cluster: times, ratio, and agreement."""

    scenario: str
    versus: str
    versus_version: str
    workloads: int
    replicas: int
    pods: int
    policies: int
    rounds: int
    status: str = (
        "ok"  # ok | skipped | failed | timeout (microseg) | versus-failed | versus-timeout
    )
    reason: str = ""
    install: str = ""
    ratio: float | None = None  # median over the rounds of versus seconds / microseg seconds
    round_ratios: list[float] = field(default_factory=list)
    cpu_ratio: float | None = None  # the same over CPU seconds (user + system)
    round_cpu_ratios: list[float] = field(default_factory=list)
    agree: bool | None = None  # None: not compared (a side failed, or its output did not parse)
    agreement: dict[str, Any] = field(default_factory=dict)
    versus_runs: ToolRuns | None = None
    microseg_runs: ToolRuns | None = None
    cluster: dict[str, Any] = field(default_factory=dict)
    generate_seconds: float | None = None
    note: str = ""
    date: str = ""
    load_before: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- facts and clusters


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_average() -> list[float]:
    """Other work on the machine skews timings; recorded so a noisy run can be spotted."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def meminfo_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_facts() -> dict[str, Any]:
    """What a reader needs to compare figures across machines. Python and numpy are this
    interpreter's, which is the venv microseg runs in."""
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu_model(),
        "mem_total_gib": meminfo_total_gib(),
        "python": platform.python_version(),
        "numpy": version_of("numpy"),
        "pyyaml": version_of("PyYAML"),
        "microseg": version_of("microseg"),
        "platform": platform.platform(),
        "date": now(),
        "rss_method": rss_method(),
        "bytecode_cache": str(PYCACHE),
        "load_average": load_average(),
    }


def cluster_dir(s: Scenario) -> Path:
    return OUT / (s.cluster_of or s.name) / "cluster"


def command_of(s: Scenario) -> list[str]:
    """The process a scenario runs: the microseg CLI, or bench/library.py in this venv."""
    args = [
        a.replace("{dir}", str(cluster_dir(s)))
        .replace("{db}", str(OUT / s.name / "flows.duckdb"))
        .replace("{out}", str(OUT / s.name / "policies"))
        .replace("{new}", str(OUT / s.name / "changed"))
        for a in s.args
    ]
    if s.library:
        return [sys.executable, str(BENCH / s.script), *args]
    return [microseg_bin(), *args]


def reusable(path: Path, s: Scenario, seed: int) -> dict[str, Any] | None:
    """The generator's summary if `path` holds exactly this cluster, made by this code."""
    try:
        summary: dict[str, Any] = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    wanted = {
        "workloads": s.workloads,
        "replicas": s.replicas,
        "policies": s.policies,
        "seed": seed,
        "pods_list": s.pods_list,
        "guardrails": s.guardrails,
        **({"calico": s.calico} if s.calico else {}),
        **({"calico_nca": True} if s.calico and s.calico_nca else {}),
    }
    ok = summary.get("complete") and summary.get("generator") == GENERATOR_VERSION
    return summary if ok and summary.get("params") == wanted else None


def ensure_cluster(s: Scenario, seed: int, regenerate: bool) -> tuple[dict[str, Any], float | None]:
    """Generate the scenario's cluster unless an identical one is there; seconds if made."""
    path = cluster_dir(s)
    summary = None if regenerate else reusable(path, s, seed)
    if summary is not None:
        return summary, None
    start = time.perf_counter()
    summary = generate(
        path,
        s.workloads,
        s.replicas,
        s.policies,
        seed,
        s.pods_list,
        guardrails=s.guardrails,
        calico=s.calico,
        calico_nca=s.calico_nca,
    )
    return summary, time.perf_counter() - start


# ---------------------------------------------------------------- measuring


def microseg_bin() -> str:
    """The microseg next to this interpreter (the venv's), else whatever PATH has."""
    here = Path(sys.executable).parent / "microseg"
    if here.exists():
        return str(here)
    found = shutil.which("microseg")
    if found is None:
        raise SystemExit("microseg not found: run `make install` first")
    return found


# The fallback when GNU time is missing: a bare interpreter (-S -I: no site, ~10 MB) that
# spawns the command, reaps it with wait4 and writes "<maxrss KiB> <seconds> <user> <sys>"
# to argv[1].
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {seconds:.4f} {usage.ru_utime:.3f} {usage.ru_stime:.3f}\\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""
GNU_TIME = "/usr/bin/time"


def has_gnu_time() -> bool:
    """GNU time with -f/-o (busybox's has neither)."""
    if not os.access(GNU_TIME, os.X_OK):
        return False
    probe = subprocess.run(
        [GNU_TIME, "-f", "%M", "-o", os.devnull, "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


def rss_method() -> str:
    return "gnu-time" if has_gnu_time() else "wait4-launcher"


def wrap(cmd: list[str], report: Path, method: str) -> list[str]:
    """Run `cmd` under a small process that reports its peak RSS. Not os.wait4 from here:
    a child's ru_maxrss starts from its parent's RSS at fork (the kernel carries the old
    memory's high-water mark across exec), and this process has just generated the
    cluster; nor getrusage(RUSAGE_CHILDREN), a maximum over every child so far."""
    if method == "gnu-time":
        return [GNU_TIME, "-f", "%M - %U %S", "-o", str(report), *cmd]
    return [sys.executable, "-S", "-I", "-c", LAUNCHER, str(report), *cmd]


def read_report(report: Path) -> tuple[float | None, float | None, float | None]:
    """(peak MB, wall seconds or None, CPU seconds or None) from the wrapper's last line:
    `RSS WALL USER SYS`, WALL `-` from GNU time (timed here instead); all None if it was
    killed before writing. GNU time puts "Command exited with ..." on a line before."""
    try:
        fields = report.read_text().split("\n")[-2].split()
    except (OSError, IndexError):
        return None, None, None
    peak_mb = int(fields[0]) / 1024  # ru_maxrss and %M are KiB on Linux
    wall = float(fields[1]) if len(fields) > 1 and fields[1] != "-" else None
    cpu = float(fields[2]) + float(fields[3]) if len(fields) > 3 else None
    return peak_mb, wall, cpu


def child_env() -> dict[str, str]:
    """The environment microseg runs in: bytecode cached under bench/out. An editable
    install has no .pyc for microseg itself, and with PYTHONDONTWRITEBYTECODE set (as in CI
    images) every run would compile the whole package first, which a user's installed
    wheel never does. PYTHONPYCACHEPREFIX keeps those files out of the source tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def measure(
    cmd: list[str],
    stdout: Path,
    stderr: Path,
    timeout_s: float,
    method: str,
    env: dict[str, str] | None = None,
) -> Run:
    """Run `cmd` once under `wrap`, in `env` (default: `child_env()`). Wall time is taken here around the wrapper (GNU time
    adds about a millisecond) unless the launcher timed the child itself. At the timeout a
    timer kills the whole process group: wrapper and microseg."""
    report = stdout.with_name("rusage.txt")
    report.unlink(missing_ok=True)
    fired = threading.Event()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            wrap(cmd, report, method),
            stdout=out,
            stderr=err,
            env=child_env() if env is None else env,
            start_new_session=True,
        )

        def kill() -> None:
            fired.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            code = proc.wait()
        finally:
            timer.cancel()
        outer = time.perf_counter() - start
    peak_mb, inner, cpu = read_report(report)
    timed_out = fired.is_set()
    return Run(
        round(inner if inner is not None else outer, 3),
        round(peak_mb, 1) if peak_mb is not None else None,
        None if timed_out else code,
        timed_out,
        round(cpu, 3) if cpu is not None else None,
    )


def judge(r: Result) -> None:
    """Median seconds, peak MB over the runs, status, and whether the target was met."""
    done = [run for run in r.runs if not run.timed_out]
    if any(run.timed_out for run in r.runs):
        r.status = "timeout"
    elif any(run.exit_code not in r.ok_exits for run in done):
        r.status = "failed"
    if done:
        r.seconds = round(statistics.median(run.seconds for run in done), 3)
        cpu = [run.cpu_seconds for run in done if run.cpu_seconds is not None]
        r.cpu_seconds = round(statistics.median(cpu), 3) if cpu else None
    peaks = [run.peak_mb for run in r.runs if run.peak_mb is not None]
    r.peak_mb = max(peaks) if peaks else None
    if r.target_s is None and r.target_mb is None:
        return
    if r.status != "ok" or r.seconds is None or r.peak_mb is None:
        r.met = False
        return
    r.met = (r.target_s is None or r.seconds <= r.target_s) and (
        r.target_mb is None or r.peak_mb <= r.target_mb
    )


def judge_ratio(r: Result, base: Result | None) -> None:
    """A relative target: the ratio of the medians, met if at most target_ratio. Missed when
    either side has no clean median (the baseline failed, timed out or was not run)."""
    if r.target_ratio is None:
        return
    if base is not None and base.status == "ok" and base.seconds:
        r.baseline_seconds = base.seconds
    if r.status == "ok" and r.seconds is not None and r.baseline_seconds is not None:
        r.ratio = round(r.seconds / r.baseline_seconds, 3)
    r.met = r.ratio is not None and r.ratio <= r.target_ratio and r.met is not False


def tail(path: Path, lines: int = 20) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def run_scenario(
    s: Scenario, seed: int, regenerate: bool, timeout_s: float | None, method: str
) -> Result:
    """Generate (or reuse) the cluster, run the command s.runs times, stop at the first
    run that fails or times out (repeating it only costs time)."""
    # A scenario on another's cluster regenerates it only when it is missing or stale.
    summary, gen_s = ensure_cluster(s, seed, regenerate and s.cluster_of is None)
    (OUT / s.name).mkdir(parents=True, exist_ok=True)
    made = "reused" if gen_s is None else f"generated in {gen_s:.1f} s"
    tiers = f", {s.guardrails:,} ANPs + BANP" if s.guardrails else ""
    tiers += f", {s.calico:,} Calico policies" if s.calico else ""
    print(
        f"[{s.name}] cluster {made}: {summary['pods']:,} pods, {s.policies:,} NPs{tiers}",
        flush=True,
    )
    if s.flows:
        db = OUT / s.name / "flows.duckdb"
        if not flow_keys.reusable(db, cluster_dir(s), s.flows, seed):
            print(f"[{s.name}] making {s.flows:,} flow keys (not timed)", flush=True)
            made = flow_keys.make(cluster_dir(s), db, s.flows, seed)
            print(f"[{s.name}]   {made['stored_keys']:,} keys stored", flush=True)
    if s.changed_copy:
        b3_changes(cluster_dir(s), OUT / s.name / "changed")
    cmd = command_of(s)
    r = Result(
        s.name,
        s.workloads,
        s.replicas,
        s.pods,
        s.policies,
        s.pods_list,
        cmd,
        s.target_s,
        s.target_mb,
        cluster=summary,
        note=s.note,
        date=now(),
        load_before=load_average(),
        generate_seconds=None if gen_s is None else round(gen_s, 2),
        guardrails=s.guardrails,
        calico=s.calico,
        baseline=s.baseline,
        target_ratio=s.target_ratio,
        metric=s.metric,
        target_metric=s.target_metric,
        ok_exits=list(s.ok_exits),
    )
    stdout, stderr = OUT / s.name / "stdout.txt", OUT / s.name / "stderr.txt"
    if s.discard_output:
        stdout = Path(os.devnull)
    for i in range(s.runs):
        print(f"[{s.name}] run {i + 1}/{s.runs}: {' '.join(cmd)}", flush=True)
        run = measure(cmd, stdout, stderr, timeout_s or s.timeout_s, method)
        r.runs.append(run)
        print(
            f"[{s.name}]   {run.seconds:.2f} s, {mb_text(run.peak_mb)} MB, exit {run.exit_code}",
            flush=True,
        )
        if run.timed_out or run.exit_code not in s.ok_exits:
            r.stderr_tail = tail(stderr)
            break
    if r.runs and not r.runs[-1].timed_out and not s.discard_output:
        r.output_lines = count_lines(stdout)
    judge(r)
    if s.library:
        judge_figures(r, stdout)
    return r


# B3-diff's changes: (policy file, edit). The rest of the copy links to B3's own files, so
# that it costs no disk and the one read-only copy of B3 stays untouched.
B3_CHANGES = (
    ("payments-prod-0.yaml", "drop allow-all-39000"),
    ("checkout-staging-1.yaml", "port 6379 -> 6380"),
    ("search-dev-2.yaml", "add allow-monitoring"),
)
ADDED_POLICY = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-monitoring
  namespace: search-dev-2
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: identity}}
    ports:
    - {protocol: TCP, port: 9090}
"""


def b3_changes(source: Path, target: Path) -> None:
    """`target`: `source` with B3_CHANGES applied (a removed policy, a changed port, an added
    policy), every other file a link to `source`'s. Remade on every run (a few ms)."""
    if target.exists():
        shutil.rmtree(target)
    (target / "policies").mkdir(parents=True)
    for f in ("namespaces.yaml", "pods.json"):
        (target / f).symlink_to(source / f)
    changed = {name for name, _ in B3_CHANGES}
    for f in sorted((source / "policies").iterdir()):
        if f.name not in changed:
            (target / "policies" / f.name).symlink_to(f)
    for name, edit in B3_CHANGES:
        text = (source / "policies" / name).read_text()
        if edit.startswith("drop "):
            docs = text.split("\n---\n")
            kept = [d for d in docs if f"name: {edit[5:]}\n" not in d]
            assert len(kept) == len(docs) - 1, (name, edit)
            text = "\n---\n".join(kept)
        elif edit.startswith("port "):
            old, new = edit[5:].split(" -> ")
            assert f"port: {old}\n" in text, (name, edit)
            text = text.replace(f"port: {old}\n", f"port: {new}\n", 1)
        else:
            text = text.rstrip("\n") + "\n" + ADDED_POLICY
        (target / "policies" / name).write_text(text)


def judge_figures(r: Result, stdout: Path) -> None:
    """A library scenario: its figures from the JSON it printed, and the target held to the
    metric (and to target_mb when there is one) rather than to the process's seconds."""
    if r.status == "ok":
        try:
            r.figures = json.loads(stdout.read_text())
        except (OSError, ValueError) as e:
            r.figures = {"error": f"no JSON from bench/library.py: {e}"}
    value = r.figures.get(r.metric or "")
    r.metric_value = float(value) if isinstance(value, int | float) else None
    if r.target_metric is None:
        return
    r.met = (
        r.status == "ok"
        and r.metric_value is not None
        and r.metric_value <= r.target_metric
        and (r.target_mb is None or (r.peak_mb is not None and r.peak_mb <= r.target_mb))
        # a script that holds several targets (bench/webhook.py) says whether each was met
        and all(t.get("met") for t in r.figures.get("targets", {}).values())
    )


# ---------------------------------------------------------------- comparing with NCA


def judge_tool(t: ToolRuns) -> None:
    """Median seconds and peak MB of one side, and how its runs ended."""
    done = [run for run in t.runs if not run.timed_out]
    if any(run.timed_out for run in t.runs):
        t.status = "timeout"
    elif any(run.exit_code != 0 for run in done):
        t.status = "failed"
    if done:
        t.seconds = round(statistics.median(run.seconds for run in done), 3)
        cpu = [run.cpu_seconds for run in done if run.cpu_seconds is not None]
        t.cpu_seconds = round(statistics.median(cpu), 3) if cpu else None
    peaks = [run.peak_mb for run in t.runs if run.peak_mb is not None]
    t.peak_mb = max(peaks) if peaks else None


def run_once(
    label: str,
    t: ToolRuns,
    out_dir: Path,
    timeout_s: float,
    method: str,
    env: dict[str, str] | None,
) -> Run:
    """One measured run of one side, its output kept as <tool>-stdout.txt."""
    stdout, stderr = out_dir / f"{t.tool}-stdout.txt", out_dir / f"{t.tool}-stderr.txt"
    run = measure(t.command, stdout, stderr, timeout_s, method, env)
    t.runs.append(run)
    print(
        f"[{label}]   {t.tool}: {run.seconds:.2f} s, {mb_text(run.peak_mb)} MB, exit {run.exit_code}",
        flush=True,
    )
    if run.timed_out or run.exit_code != 0:
        t.stderr_tail = tail(stderr)
    else:
        t.output_lines = count_lines(stdout)
    return run


def warm_up_nca(nca_bin: Path, seed: int, regenerate: bool, method: str) -> None:
    """One unmeasured NCA run on a small cluster; a failure here shows up again later."""
    summary, _ = ensure_cluster(NCA_WARMUP, seed, regenerate)
    out_dir = OUT / NCA_WARMUP.name
    cmd = nca.command(nca_bin, cluster_dir(NCA_WARMUP))
    print(f"[{NCA_WARMUP.name}] {summary['pods']} pods: {' '.join(cmd)}", flush=True)
    measure(
        cmd,
        out_dir / "nca-stdout.txt",
        out_dir / "nca-stderr.txt",
        NCA_WARMUP.timeout_s,
        method,
        nca.env(),
    )


def check_agreement(c: Comparison, cluster: Path, out_dir: Path, wide: bool = False) -> None:
    """Canonicalise both last outputs and compare them by meaning (bench/compare.py);
    `wide`: every protocol (Calico), not just TCP, UDP and SCTP."""
    try:
        known = compare.known_workloads(cluster)
        ms_text = (out_dir / "microseg-stdout.txt").read_text()
        ms = compare.canonical_microseg(ms_text, known, wide=wide)
        other = compare.canonical_nca((out_dir / "nca-stdout.txt").read_text(), known, wide=wide)
    except (OSError, ValueError, KeyError) as e:
        c.agreement = {"error": f"could not compare the outputs: {e}"}
        return
    c.agreement = compare.compare(ms, other)
    c.agree = bool(c.agreement["agree"])
    if not c.agree:
        c.agreement["diagnosis"] = nca.explain(c.agreement)
    c.agreement["naming"] = (
        "both name workloads ns/name[Kind] (NCA with --output_endpoints deployments); "
        f"{c.agreement['names']['nca_renamed']} NCA names needed mapping by prefix, "
        f"{len(c.agreement['names']['nca_unknown'])} matched no workload of the cluster"
    )


def run_comparison(
    s: Scenario,
    nca_bin: Path | None,
    install: str,
    seed: int,
    regenerate: bool,
    timeout_s: float | None,
    method: str,
) -> Comparison:
    """Generate (or reuse) the cluster, then s.runs rounds of NCA followed by microseg; stop
    at the first run of either that fails or times out."""
    summary, gen_s = ensure_cluster(s, seed, regenerate)
    made = "reused" if gen_s is None else f"generated in {gen_s:.1f} s"
    extra = f", {s.calico:,} Calico policies" if s.calico else ""
    print(
        f"[{s.name}] cluster {made}: {summary['pods']:,} pods, {s.policies:,} NPs{extra}",
        flush=True,
    )
    c = Comparison(
        s.name,
        "nca",
        nca.NCA_VERSION,
        s.workloads,
        s.replicas,
        s.pods,
        s.policies,
        s.runs,
        install=install,
        cluster=summary,
        generate_seconds=None if gen_s is None else round(gen_s, 2),
        note=s.note,
        date=now(),
        load_before=load_average(),
    )
    if nca_bin is None:
        c.status, c.reason = "skipped", install
        print(f"[{s.name}] skipped: {install}", flush=True)
        return c
    cluster = cluster_dir(s)
    out_dir = OUT / s.name
    theirs = ToolRuns("nca", nca.command(nca_bin, cluster))
    ours = ToolRuns(
        "microseg", [microseg_bin(), *(a.replace("{dir}", str(cluster)) for a in s.args)]
    )
    c.versus_runs, c.microseg_runs = theirs, ours
    limit = timeout_s or s.timeout_s
    for i in range(s.runs):
        print(f"[{s.name}] round {i + 1}/{s.runs}", flush=True)
        a = run_once(s.name, theirs, out_dir, limit, method, nca.env())
        if a.timed_out or a.exit_code != 0:
            break
        b = run_once(s.name, ours, out_dir, limit, method, None)
        if b.timed_out or b.exit_code != 0:
            break
        c.round_ratios.append(round(a.seconds / b.seconds, 3))
        if a.cpu_seconds and b.cpu_seconds:
            c.round_cpu_ratios.append(round(a.cpu_seconds / b.cpu_seconds, 3))
    judge_tool(theirs)
    judge_tool(ours)
    if not ours.runs:
        ours.status = "not run"
    if ours.status == "failed":  # as in run_scenario: only this makes the bench exit 1
        c.status, c.reason = "failed", "microseg failed"
    elif ours.status == "timeout":
        c.status, c.reason = "timeout", "microseg timed out"
    elif theirs.status != "ok":
        c.status, c.reason = f"versus-{theirs.status}", f"NCA {theirs.status}"
    if c.round_ratios:
        c.ratio = round(statistics.median(c.round_ratios), 3)
    if c.round_cpu_ratios:
        c.cpu_ratio = round(statistics.median(c.round_cpu_ratios), 3)
    if c.status == "ok":
        check_agreement(c, cluster, out_dir, wide=s.calico > 0)
    verdict = {True: "agree", False: "DISAGREE", None: "not compared"}[c.agree]
    print(f"[{s.name}] outputs {verdict}", flush=True)
    return c


# ---------------------------------------------------------------- reporting


def mb_text(mb: float | None) -> str:
    return "-" if mb is None else f"{mb:,.0f}"


def target_text(r: Result) -> str:
    parts = []
    if r.target_s is not None:
        parts.append(f"{r.target_s:g} s")
    if r.target_mb is not None:
        parts.append(f"{r.target_mb:g} MB")
    if r.target_ratio is not None:
        parts.append(f"{r.target_ratio:g}x {r.baseline}")
    if r.target_metric is not None:
        parts.append(f"{METRIC_TEXT.get(r.metric or '', r.metric)} {r.target_metric:g} ms")
    return " / ".join(parts) or "-"


METRIC_TEXT = {"median_ms": "median"}


def met_text(r: Result) -> str:
    if r.status == "timeout":
        return "TIMEOUT (missed)"
    if r.status == "failed":
        return "FAILED (exit code)"
    if r.met is None:
        return "n/a"
    verdict = "yes" if r.met else "MISSED"
    if r.target_metric is not None:
        return f"{verdict} ({r.metric_value:g} ms)" if r.metric_value is not None else verdict
    if r.target_ratio is None:
        return verdict
    if r.ratio is None:
        return f"{verdict} (no {r.baseline} time)"
    return f"{verdict} ({r.ratio:.2f}x)"


LEFT_ALIGNED = (0, 6, 7)  # text columns; numbers align right


def format_row(row: tuple[str, ...], widths: list[int]) -> str:
    cells = zip(row, widths, strict=True)
    return "  ".join(
        c.ljust(w) if i in LEFT_ALIGNED else c.rjust(w) for i, (c, w) in enumerate(cells)
    )


def table(results: list[Result]) -> str:
    """A plain-text table: it ends up in issues and commit messages, where colour codes and
    box-drawing characters get in the way."""
    head = ("scenario", "workloads", "pods", "policies", "seconds", "peak MB", "target", "met?")
    rows = [head]
    for r in results:
        seconds = f">{r.runs[-1].seconds:.1f}" if r.status == "timeout" and r.runs else None
        rows.append(
            (
                r.scenario,
                f"{r.workloads:,}",
                f"{r.pods:,}",
                f"{r.policies:,}"
                + (f"+{r.guardrails + 1}" if r.guardrails else "")
                + (f"+{r.calico:,}c" if r.calico else ""),
                seconds or (f"{r.seconds:.2f}" if r.seconds is not None else "-"),
                mb_text(r.peak_mb),
                target_text(r),
                met_text(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [format_row(row, widths) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def seconds_text(t: ToolRuns | None) -> str:
    if t is None or not t.runs:
        return "-"
    if t.status == "timeout":
        return f">{t.runs[-1].seconds:.1f}"
    if t.seconds is None:
        return "-"
    cpu = f" ({t.cpu_seconds:.2f} CPU)" if t.cpu_seconds is not None else ""
    return f"{t.seconds:.2f}{cpu}"


def agree_text(c: Comparison) -> str:
    if c.status == "skipped":
        return "skipped (NCA not installed, see JSON)"
    if c.agree is None:
        why = c.reason or c.agreement.get("error", "")
        return f"not compared ({why})" if why else "not compared"
    if c.agree:
        return "yes"
    return f"NO ({c.agreement['differences_total']:,} differences)"


def comparison_table(comparisons: list[Comparison]) -> str:
    """scenario, rounds, each side's median seconds, the median ratio, agreement."""
    head = ("scenario", "rounds", "NCA s", "microseg s", "NCA/microseg", "CPU ratio", "agree?")
    rows = [head]
    for c in comparisons:
        rows.append(
            (
                c.scenario,
                str(c.rounds),
                seconds_text(c.versus_runs),
                seconds_text(c.microseg_runs),
                f"{c.ratio:.1f}x" if c.ratio is not None else "-",
                f"{c.cpu_ratio:.1f}x" if c.cpu_ratio is not None else "-",
                agree_text(c),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.ljust(w) if i in (0, 6) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def comparison_summary(c: Comparison) -> dict[str, Any]:
    """What summary.json keeps of a comparison: figures and verdict, not whole outputs."""
    sides = {}
    for t in (c.versus_runs, c.microseg_runs):
        if t is not None:
            sides[t.tool] = {
                k: v for k, v in asdict(t).items() if k not in ("command", "stderr_tail")
            }
    agreement = {
        k: c.agreement[k]
        for k in ("differences_total", "differences", "error", "diagnosis")
        if k in c.agreement
    }
    if "differences" in agreement:
        agreement["differences"] = agreement["differences"][:3]
    keep = ("cluster", "agreement", "versus_runs", "microseg_runs")
    return {k: v for k, v in asdict(c).items() if k not in keep} | {
        "tools": sides,
        "agreement": agreement,
    }


def write_json(path: Path, data: Any) -> None:
    """Write through a .tmp file (gitignored) so an interrupted run leaves no half file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_results(
    results: list[Result], comparisons: list[Comparison], machine: dict[str, Any]
) -> None:
    """One file per scenario, and a summary that keeps earlier scenarios' records (each with
    its own date and machine) so `--only B2` after `--quick` still shows both."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for r in results:
        write_json(RESULTS / f"{r.scenario}.json", {**asdict(r), "machine": machine})
    for c in comparisons:
        write_json(RESULTS / f"{c.scenario}.json", {**asdict(c), "machine": machine})
    summary_path = RESULTS / "summary.json"
    try:
        previous = json.loads(summary_path.read_text()).get("scenarios", {})
    except (OSError, ValueError):
        previous = {}
    fresh = {
        r.scenario: {
            k: v for k, v in asdict(r).items() if k not in ("cluster", "stderr_tail", "command")
        }
        | {"machine_date": machine["date"]}
        for r in results
    }
    fresh |= {
        c.scenario: comparison_summary(c) | {"machine_date": machine["date"]} for c in comparisons
    }
    merged = {**previous, **fresh}
    order = [s.name for s in SCENARIOS]
    scenarios = dict(
        sorted(merged.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    )
    write_json(summary_path, {"machine": machine, "scenarios": scenarios})


# ---------------------------------------------------------------- command line


def selected(args: argparse.Namespace) -> list[Scenario]:
    by_name = {s.name.lower(): s for s in SCENARIOS}
    if args.only:
        unknown = [n for n in args.only if n.lower() not in by_name]
        if unknown:
            raise SystemExit(f"unknown scenario {unknown[0]!r}; choose from {', '.join(by_name)}")
        return with_baselines([by_name[n.lower()] for n in args.only])
    names = list(QUICK if args.quick else DEFAULT)
    if args.without_b3:
        names = [n for n in names if n not in ("B3", "B4")]
    if args.b3_commands:
        names += [s.name for s in B3_COMMANDS]
    return [by_name[n.lower()] for n in names]


def with_baselines(chosen: list[Scenario]) -> list[Scenario]:
    """Each scenario once, any baseline a relative target needs measured just before it."""
    by_name = {s.name: s for s in SCENARIOS}
    out: list[Scenario] = []
    for s in chosen:
        if s.baseline is not None and by_name[s.baseline] not in out:
            out.append(by_name[s.baseline])
        if s not in out:
            out.append(s)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the microseg CLI (see bench/run.py).")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this scenario (repeatable)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only small-200, small-500, B1, B1-tiers and nca-200",
    )
    parser.add_argument(
        "--without-b3",
        action="store_true",
        help="skip B3 and B4 (150,000 pods, 50,000 NPs; about 2 minutes with generation)",
    )
    parser.add_argument(
        "--b3-commands",
        action="store_true",
        help="also every command at B3: " + ", ".join(s.name for s in B3_COMMANDS),
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--timeout", type=float, help="seconds per run (default: per scenario)")
    parser.add_argument(
        "--regenerate", action="store_true", help="regenerate clusters even if reusable"
    )
    return parser.parse_args(argv)


def run_flows(seed: int, regenerate: bool) -> int:
    """bench/flows.py on B2's cluster, as a process of its own (bench/results/flows.json)."""
    b2 = next(s for s in SCENARIOS if s.name == "B2")
    ensure_cluster(b2, seed, regenerate)
    print("[flows] 2,000,000 Hubble lines on B2: DuckDB import, simulate, Spark", flush=True)
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "flows.py"),
            "bench",
            str(cluster_dir(b2)),
            "--seed",
            str(seed),
        ],
        check=False,
    )
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # hostile-scale is bench/hostile.py's set of cases (its own inputs and result file): run
    # with the default set, or alone with --only hostile-scale.
    asked = [n for n in args.only or () if n.lower() != "hostile-scale"]
    with_hostile = (args.only is None and not args.quick) or len(asked) != len(args.only or ())
    if args.only is not None and not asked:
        return hostile.main([])
    args.only = asked or None
    code = _main(args)
    return (hostile.main([]) if with_hostile else 0) or code


def _main(args: argparse.Namespace) -> int:
    flows = (not args.only and not args.quick) or any(n.lower() == "flows" for n in args.only or [])
    if args.only:
        args.only = [n for n in args.only if n.lower() != "flows"]
        if not args.only:
            return run_flows(args.seed, args.regenerate)
    machine = machine_facts()
    method = machine["rss_method"]
    warm = run_scenario(WARMUP, args.seed, args.regenerate, None, method)
    if warm.status != "ok":
        print(f"warm-up {warm.status}:", *warm.stderr_tail, sep="\n  ")
    chosen = selected(args)
    nca_bin: Path | None = None
    install = ""
    if any(s.versus == "nca" for s in chosen):
        nca_bin, install = nca.ensure(NCA_VENV)
        print(f"[nca] {install}", flush=True)
        if nca_bin is not None:
            warm_up_nca(nca_bin, args.seed, args.regenerate, method)
    results: list[Result] = []
    comparisons: list[Comparison] = []
    for s in chosen:
        if s.versus == "nca":
            comparisons.append(
                run_comparison(
                    s, nca_bin, install, args.seed, args.regenerate, args.timeout, method
                )
            )
        else:
            results.append(run_scenario(s, args.seed, args.regenerate, args.timeout, method))
    by_name = {r.scenario: r for r in results}
    for r in results:
        judge_ratio(r, by_name.get(r.baseline or ""))
    write_results(results, comparisons, machine)
    if results:
        print()
        print(table(results))
    if comparisons:
        print()
        print(comparison_table(comparisons))
    print(
        f"\n{machine['nproc']} CPUs ({machine['cpu']}), {machine['mem_total_gib']} GiB, "
        f"Python {machine['python']}, numpy {machine['numpy']}; results in {RESULTS}"
    )
    failed = [r.scenario for r in results if r.status == "failed"]
    if flows and run_flows(args.seed, args.regenerate) != 0:
        failed.append("flows")
    failed += [c.scenario for c in comparisons if c.status == "failed"]
    for r in results:
        if r.status != "ok" and r.stderr_tail:
            print(f"\n{r.scenario} ({r.status}), last lines of stderr:")
            print("\n".join("  " + line for line in r.stderr_tail))
    for c in comparisons:
        for t in (c.versus_runs, c.microseg_runs):
            if t is not None and t.status != "ok" and t.stderr_tail:
                print(f"\n{c.scenario}: {t.tool} ({t.status}), last lines of stderr:")
                print("\n".join("  " + line for line in t.stderr_tail))
        for line in c.agreement.get("differences", [])[:5]:
            print(f"{c.scenario} differs: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
