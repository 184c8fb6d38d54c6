"""`make bench`: time the microseg CLI on generated clusters against the issue-tracker targets.

Each scenario runs `microseg` as its own process, as a user would, so the figures include
interpreter start-up, imports, parsing and rendering, not just the engine. A missed target or
a timeout is recorded, never raised: the point is to see how far off we are. Only a run that
exits non-zero (microseg rejected the input or crashed) makes this script exit 1.

    .venv/bin/python bench/run.py              small-200, small-500, B1, B1-tiers, B2
    .venv/bin/python bench/run.py --quick      small-200, small-500, B1, B1-tiers
    .venv/bin/python bench/run.py --with-b3    ... and B3 (150,000 pods; not reachable yet)
    .venv/bin/python bench/run.py --only B2    one scenario (any, B3 included)

B1-tiers is B1's cluster plus 50 AdminNetworkPolicies and the BaselineAdminNetworkPolicy;
its target is relative: at most 1.5x B1's time measured in the same run (`--only B1-tiers`
runs B1 too), so the ratio prices the guardrail tiers on whatever machine this is.

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

from generate import GENERATOR_VERSION, MARKER, generate

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
RESULTS = BENCH / "results"
PYCACHE = OUT / "pycache"
SEED = 1
DEFAULT_TIMEOUT_S = 600.0
CONNECTIVITY = ("connectivity", "{dir}", "-o", "txt", "-q")


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
        "B3",
        30000,
        5,
        50000,
        True,
        ("connectivity", "-q", "-o", "txt", "{dir}"),
        1,
        target_s=60.0,
        target_mb=8192,
        timeout_s=1800.0,
        note="opt-in (--with-b3): the engine cannot reach it yet",
    ),
)
# Not reported: run once first so no measured run pays for compiling bytecode.
WARMUP = Scenario("warmup", 20, 2, 10, True, CONNECTIVITY, 1, timeout_s=120.0)
QUICK = ("small-200", "small-500", "B1", "B1-tiers")
DEFAULT = (*QUICK, "B2")


@dataclass(slots=True)
class Run:
    """One process: wall seconds, peak RSS, and how it ended (exit code None = killed)."""

    seconds: float
    peak_mb: float | None  # None: killed before its wrapper could report
    exit_code: int | None
    timed_out: bool


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
    baseline: str | None = None
    target_ratio: float | None = None
    baseline_seconds: float | None = None
    ratio: float | None = None  # seconds / baseline_seconds, both medians of this run


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
    return OUT / s.name / "cluster"


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
        path, s.workloads, s.replicas, s.policies, seed, s.pods_list, guardrails=s.guardrails
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
# spawns the command, reaps it with wait4 and writes "<maxrss KiB> <seconds>" to argv[1].
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {seconds:.4f}\\n")
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
        return [GNU_TIME, "-f", "%M", "-o", str(report), *cmd]
    return [sys.executable, "-S", "-I", "-c", LAUNCHER, str(report), *cmd]


def read_report(report: Path) -> tuple[float | None, float | None]:
    """(peak MB, seconds or None) from the wrapper's last line; (None, None) if it was
    killed before writing. GNU time puts "Command exited with ..." on a line before."""
    try:
        fields = report.read_text().split("\n")[-2].split()
    except (OSError, IndexError):
        return None, None
    peak_mb = int(fields[0]) / 1024  # ru_maxrss and %M are KiB on Linux
    return peak_mb, float(fields[1]) if len(fields) > 1 else None


def child_env() -> dict[str, str]:
    """The environment microseg runs in: bytecode cached under bench/out. An editable
    install has no .pyc for microseg itself, and with PYTHONDONTWRITEBYTECODE set (as in CI
    images) every run would compile the whole package first, which a user's installed
    wheel never does. PYTHONPYCACHEPREFIX keeps those files out of the source tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def measure(cmd: list[str], stdout: Path, stderr: Path, timeout_s: float, method: str) -> Run:
    """Run `cmd` once under `wrap`. Wall time is taken here around the wrapper (GNU time
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
            env=child_env(),
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
    peak_mb, inner = read_report(report)
    timed_out = fired.is_set()
    return Run(
        round(inner if inner is not None else outer, 3),
        round(peak_mb, 1) if peak_mb is not None else None,
        None if timed_out else code,
        timed_out,
    )


def judge(r: Result) -> None:
    """Median seconds, peak MB over the runs, status, and whether the target was met."""
    done = [run for run in r.runs if not run.timed_out]
    if any(run.timed_out for run in r.runs):
        r.status = "timeout"
    elif any(run.exit_code != 0 for run in done):
        r.status = "failed"
    if done:
        r.seconds = round(statistics.median(run.seconds for run in done), 3)
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
    summary, gen_s = ensure_cluster(s, seed, regenerate)
    made = "reused" if gen_s is None else f"generated in {gen_s:.1f} s"
    tiers = f", {s.guardrails:,} ANPs + BANP" if s.guardrails else ""
    print(
        f"[{s.name}] cluster {made}: {summary['pods']:,} pods, {s.policies:,} NPs{tiers}",
        flush=True,
    )
    cmd = [microseg_bin(), *(a.replace("{dir}", str(cluster_dir(s))) for a in s.args)]
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
        baseline=s.baseline,
        target_ratio=s.target_ratio,
    )
    stdout, stderr = OUT / s.name / "stdout.txt", OUT / s.name / "stderr.txt"
    for i in range(s.runs):
        print(f"[{s.name}] run {i + 1}/{s.runs}: {' '.join(cmd)}", flush=True)
        run = measure(cmd, stdout, stderr, timeout_s or s.timeout_s, method)
        r.runs.append(run)
        print(
            f"[{s.name}]   {run.seconds:.2f} s, {mb_text(run.peak_mb)} MB, exit {run.exit_code}",
            flush=True,
        )
        if run.timed_out or run.exit_code != 0:
            r.stderr_tail = tail(stderr)
            break
    if r.runs and not r.runs[-1].timed_out:
        r.output_lines = count_lines(stdout)
    judge(r)
    return r


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
    return " / ".join(parts) or "-"


def met_text(r: Result) -> str:
    if r.status == "timeout":
        return "TIMEOUT (missed)"
    if r.status == "failed":
        return "FAILED (exit code)"
    if r.met is None:
        return "n/a"
    verdict = "yes" if r.met else "MISSED"
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
                f"{r.policies:,}" + (f"+{r.guardrails + 1}" if r.guardrails else ""),
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


def write_json(path: Path, data: Any) -> None:
    """Write through a .tmp file (gitignored) so an interrupted run leaves no half file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_results(results: list[Result], machine: dict[str, Any]) -> None:
    """One file per scenario, and a summary that keeps earlier scenarios' records (each with
    its own date and machine) so `--only B2` after `--quick` still shows both."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for r in results:
        write_json(RESULTS / f"{r.scenario}.json", {**asdict(r), "machine": machine})
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
    if args.with_b3:
        names.append("B3")
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
        "--quick", action="store_true", help="only small-200, small-500, B1 and B1-tiers"
    )
    parser.add_argument("--with-b3", action="store_true", help="also B3 (150,000 pods, 50,000 NPs)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--timeout", type=float, help="seconds per run (default: per scenario)")
    parser.add_argument(
        "--regenerate", action="store_true", help="regenerate clusters even if reusable"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_facts()
    method = machine["rss_method"]
    warm = run_scenario(WARMUP, args.seed, args.regenerate, None, method)
    if warm.status != "ok":
        print(f"warm-up {warm.status}:", *warm.stderr_tail, sep="\n  ")
    results = []
    for s in selected(args):
        results.append(run_scenario(s, args.seed, args.regenerate, args.timeout, method))
    by_name = {r.scenario: r for r in results}
    for r in results:
        judge_ratio(r, by_name.get(r.baseline or ""))
    write_results(results, machine)
    print()
    print(table(results))
    print(
        f"\n{machine['nproc']} CPUs ({machine['cpu']}), {machine['mem_total_gib']} GiB, "
        f"Python {machine['python']}, numpy {machine['numpy']}; results in {RESULTS}"
    )
    failed = [r.scenario for r in results if r.status == "failed"]
    for r in results:
        if r.status != "ok" and r.stderr_tail:
            print(f"\n{r.scenario} ({r.status}), last lines of stderr:")
            print("\n".join("  " + line for line in r.stderr_tail))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
