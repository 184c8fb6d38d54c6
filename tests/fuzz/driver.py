"""One fuzz worker: `count` cases drawn by hypothesis (seeded), run in this process.

    python -m tests.fuzz.driver --work DIR --seed S --count N [--memory-mb M] [--sample K]

Calling the CLI in-process costs milliseconds a case where a new interpreter costs a
second; the process itself runs under an address-space limit (`--memory-mb`), and the
orchestrator (tests/fuzz/run.py) watches it from outside for what a process cannot
report about itself (a hang inside C code, a kill). Before each case the driver writes the
case to `DIR/current.json` (its files are in `DIR/case/`), after it one JSON line to
`DIR/results.jsonl`; a case that kills the process is thereby known. Every `--sample`-th
case also runs as a real `microseg` process under the same limits, and the two runs must
agree. Defects are copied to `DIR/found/<seed>-<n>/` with their files, to reproduce by hand.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import traceback
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from tests.fuzz.cases import Case, cases
from tests.fuzz.oracle import Outcome, executable, run_case, run_subprocess

DEFECTS = ("crash", "hang", "memory")
HARNESS_ERROR = 3


def describe(case: Case) -> dict[str, Any]:
    data = asdict(case)
    data["files"] = {k: len(v) for k, v in case.files.items()}
    data["old_files"] = None if case.old_files is None else len(case.old_files)
    data["intents"] = None if case.intents is None else len(case.intents)
    data["stdin"] = None if case.stdin is None else len(case.stdin)
    return data


def save(case: Case, work: Path, seed: int, n: int, outcome: Outcome) -> None:
    """The case's files and description under `work/found/<seed>-<n>/` (a worker runs many
    seeds' batches, each counting from 1)."""
    target = work / "found" / f"{seed}-{n}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work / "case", target, symlinks=True, ignore_dangling_symlinks=True)
    if case.stdin is not None:
        (target / "stdin").write_bytes(case.stdin)
    info = {**describe(case), "outcome": asdict(outcome)}
    (target / "case.json").write_text(json.dumps(info, indent=2, default=str), "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--memory-mb", type=int, default=3072)
    parser.add_argument("--sample", type=int, default=0, help="every K-th case also as a process")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--every", type=int, default=1, help="seed from one corpus case in N")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # hypothesis on large reprs; the CLI's own are judged
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    limit = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results = (work / "results.jsonl").open("a", encoding="utf-8")
    counter = {"n": 0}

    @settings(
        max_examples=args.count,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(args.seed)
    @given(case=cases(every=args.every))
    def explore(case: Case) -> None:
        counter["n"] += 1
        n = counter["n"]
        current = {"n": n, "seed": args.seed, **describe(case)}
        (work / "current.json").write_text(json.dumps(current, default=str), "utf-8")
        outcome = run_case(case, work / "case", args.timeout)
        record: dict[str, Any] = {
            "n": n,
            "seed": args.seed,
            "kind": outcome.kind,
            "exit": outcome.exit_code,
            "seconds": round(outcome.seconds, 4),
            "command": case.args[0] if case.args else "",
            "format": case.fmt,
            "notes": case.notes,
            "args": case.args,
        }
        if outcome.kind in DEFECTS:
            record["detail"] = outcome.detail[-2000:]
            save(case, work, args.seed, n, outcome)
        elif outcome.kind == "rejected":
            record["detail"] = outcome.detail
        if args.sample and n % args.sample == 0 and executable(case):
            # Rebuilt from the same case: run_case has left the files in place.
            real = run_subprocess(case, work / "sub", args.timeout * 2, args.memory_mb)
            record["subprocess"] = real.kind
            agree = real.kind == outcome.kind and real.exit_code == outcome.exit_code
            if not agree and outcome.kind not in DEFECTS:
                record["kind"] = "crash" if real.kind in ("ok", "rejected") else real.kind
                record["detail"] = (
                    f"in-process {outcome.kind} (exit {outcome.exit_code}: "
                    f"{outcome.detail[-700:]}) but as a process {real.kind} "
                    f"(exit {real.exit_code}: {real.detail[-700:]})"
                )
                save(case, work, args.seed, n, real)
        results.write(json.dumps(record, default=str) + "\n")
        results.flush()

    try:
        explore()
    except Exception:  # the generator's own failure, not a case's: exit 3, never blamed
        (work / "harness-error.txt").write_text(traceback.format_exc(), "utf-8")
        (work / "current.json").unlink(missing_ok=True)
        return HARNESS_ERROR
    (work / "current.json").unlink(missing_ok=True)
    results.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
