"""`make fuzz`: a long fuzz run over the CLI, with a report of counts.

    .venv/bin/python -m tests.fuzz.run --cases 100000 [--jobs 2] [--memory-mb 3072]
                                       [--sample 50] [--seed 1] [--out bench/results/fuzz.json]

`--jobs` workers each run drivers (tests/fuzz/driver.py) one after another, a batch of
cases each, with distinct hypothesis seeds. A worker watches its driver: when the driver
writes nothing for `--hang-s` seconds it is killed and the case it was running is a hang;
when it dies (the kernel's out-of-memory kill, an address-space limit hit inside C code, a
crash of the interpreter) the case it was running is a memory kill or a crash. The next
driver continues with the next seed. The report (bench/results/fuzz.json) counts runs,
clean runs, clean rejections, crashes, hangs and memory kills, per command and per
outcome, with the slowest case and every defect's command line and mutations; the
defects' files are kept under bench/out/fuzz/ to reproduce them.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fuzz.seeds import CORPUS

ROOT = Path(__file__).resolve().parents[2]
BATCH = 1000
DEFECTS = ("crash", "hang", "memory")
HARNESS_ERROR = 3  # tests/fuzz/driver.py's exit code when the generator itself failed


@dataclass
class Worker:
    index: int
    work: Path
    seeds: list[int]
    total: int
    done: int = 0
    proc: subprocess.Popen[bytes] | None = None
    harness: list[tuple[int, str]] = field(default_factory=list)
    """Generator failures (seed, traceback): harness bugs, reported apart from defects."""
    extra: list[dict[str, Any]] = field(default_factory=list)
    """Cases recorded by the worker itself: the ones that took their driver down."""


def _corpus_cases() -> int:
    """How many peer corpus cases can seed the run (0: the demo alone)."""
    return sum(1 for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else 0


def _load_average() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def _run_worker(w: Worker, args: argparse.Namespace) -> None:
    results = w.work / "results.jsonl"
    while w.done < w.total:
        seed = args.seed * 1000 + w.index * 100_000 + len(w.seeds)
        w.seeds.append(seed)
        count = min(BATCH, w.total - w.done)
        before = _lines(results)
        cmd = [
            sys.executable,
            "-m",
            "tests.fuzz.driver",
            "--work",
            str(w.work),
            "--seed",
            str(seed),
            "--count",
            str(count),
            "--memory-mb",
            str(args.memory_mb),
            "--sample",
            str(args.sample),
            "--timeout",
            str(args.timeout),
        ]
        log = (w.work / "driver.log").open("ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
        w.proc = proc
        current = w.work / "current.json"
        hung = False
        while proc.poll() is None:
            time.sleep(1.0)
            try:
                idle = time.time() - max(current.stat().st_mtime, results.stat().st_mtime)
            except OSError:
                idle = 0.0
            if idle > args.hang_s:
                hung = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        made = _lines(results) - before
        w.done += made
        if proc.returncode == HARNESS_ERROR and not hung:
            # The generator failed between cases (tests/fuzz/driver.py); no case is blamed.
            w.harness.append((seed, (w.work / "harness-error.txt").read_text("utf-8")[-2000:]))
            w.done += 1  # a batch that keeps failing must still end
        elif proc.returncode != 0 or hung:
            # The case in progress took the driver down.
            try:
                info = json.loads(current.read_text("utf-8"))
            except (OSError, ValueError):
                info = {}
            code = proc.returncode
            kind = "hang" if hung else "memory" if code in (-9, -6, -11) else "crash"
            record = {
                "n": info.get("n"),
                "seed": seed,
                "kind": kind,
                "exit": code,
                "seconds": float(args.hang_s) if hung else None,
                "command": (info.get("args") or [""])[0],
                "format": info.get("fmt"),
                "notes": info.get("notes"),
                "args": info.get("args"),
                "detail": f"driver {'killed after ' + str(args.hang_s) + ' s idle' if hung else f'exited {code}'}",
            }
            w.extra.append(record)
            w.done += 1
            found = w.work / "found" / f"driver-{seed}"
            if (w.work / "case").exists():
                shutil.copytree(w.work / "case", found, symlinks=True, dirs_exist_ok=True)
                (found / "case.json").write_text(json.dumps(info, indent=2), "utf-8")
        current.unlink(missing_ok=True)


def _report(
    workers: list[Worker], args: argparse.Namespace, started: float, finished: bool = False
) -> dict[str, Any]:
    """The counts so far; `finished` is false in the reports written while the run goes on
    and in one that was interrupted, so that a partial report is never read as a whole run."""
    records: list[dict[str, Any]] = []
    for w in workers:
        path = w.work / "results.jsonl"
        if path.exists():
            for line in path.read_text("utf-8").splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        records += w.extra
    kinds = collections.Counter(r["kind"] for r in records)
    by_command: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in records:
        by_command[r.get("command") or "?"][r["kind"]] += 1
    timed = [r for r in records if r.get("seconds") is not None]
    slowest = sorted(timed, key=lambda r: -r["seconds"])[:5]
    rejections = collections.Counter(
        (r.get("detail") or "").split("error", 1)[-1][:60]
        for r in records
        if r["kind"] == "rejected"
    )
    sampled = [r for r in records if "subprocess" in r]
    seconds = [r["seconds"] for r in timed]
    return {
        "apiVersion": "microseg.dev/v1alpha1",
        "kind": "FuzzReport",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cases_asked": args.cases,
        "finished": finished,
        "runs": len(records),
        "clean_runs": kinds.get("ok", 0),
        "clean_rejections": kinds.get("rejected", 0),
        "crashes": kinds.get("crash", 0),
        "hangs": kinds.get("hang", 0),
        "memory_kills": kinds.get("memory", 0),
        "subprocess_samples": len(sampled),
        "harness_errors": [
            {"seed": seed, "traceback": tb} for w in workers for seed, tb in w.harness
        ],
        "slowest": [
            {k: r.get(k) for k in ("seconds", "command", "args", "notes", "kind")} for r in slowest
        ],
        "median_seconds": sorted(seconds)[len(seconds) // 2] if seconds else None,
        "by_command": {k: dict(v) for k, v in sorted(by_command.items())},
        "frequent_rejections": [{"count": n, "message": m} for m, n in rejections.most_common(15)],
        "defects": [r for r in records if r["kind"] in DEFECTS][:200],
        "settings": {
            "jobs": args.jobs,
            "memory_mb": args.memory_mb,
            "timeout_s": args.timeout,
            "hang_s": args.hang_s,
            "sample_every": args.sample,
            "seeds": [s for w in workers for s in w.seeds],
            "corpus": str(CORPUS) if CORPUS.is_dir() else None,
            "corpus_cases": _corpus_cases(),
            "graphviz": shutil.which("dot") is not None,
        },
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": _load_average(),
        },
        "wall_seconds": round(time.time() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--memory-mb", type=int, default=3072)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--hang-s", type=int, default=180)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "fuzz")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fuzz.json")
    parser.add_argument(
        "--demo-only",
        action="store_true",
        help="run without the peer corpus (the demo alone seeds every case: a far weaker run)",
    )
    args = parser.parse_args(argv)
    if not CORPUS.is_dir() and not args.demo_only:
        print(
            f"error: the peer corpus is not at {CORPUS}: set MICROSEG_CONFORMANCE (or place "
            "../shared/conformance), or pass --demo-only for a run seeded by the demo alone",
            file=sys.stderr,
        )
        return 2
    if shutil.which("dot") is None:
        print(
            "notice: Graphviz `dot` is not installed: DOT outputs are not laid out", file=sys.stderr
        )
    shutil.rmtree(args.work, ignore_errors=True)
    started = time.time()
    per = [args.cases // args.jobs + (i < args.cases % args.jobs) for i in range(args.jobs)]
    workers = [Worker(i, args.work / f"w{i}", [], n) for i, n in enumerate(per)]
    for w in workers:
        w.work.mkdir(parents=True, exist_ok=True)
    threads = [threading.Thread(target=_run_worker, args=(w, args), daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(30)
            report = _report(workers, args, started)
            args.out.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
            print(
                f"{report['runs']} runs: {report['clean_runs']} clean, "
                f"{report['clean_rejections']} rejected, {report['crashes']} crashes, "
                f"{report['hangs']} hangs, {report['memory_kills']} memory",
                flush=True,
            )
        finished = True
    except KeyboardInterrupt:
        finished = False
        print("interrupted: the report covers the cases run so far", flush=True)
        for w in workers:
            if w.proc is not None and w.proc.poll() is None:
                os.killpg(w.proc.pid, signal.SIGKILL)
    report = _report(workers, args, started, finished)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "runs",
                    "clean_runs",
                    "clean_rejections",
                    "crashes",
                    "hangs",
                    "memory_kills",
                )
            }
        )
    )
    return 1 if any(report[k] for k in ("crashes", "hangs", "memory_kills")) else 0


if __name__ == "__main__":
    sys.exit(main())
