"""Start-up figures for `make bench` (issue 22, item 1): how long `microseg --help` and
`microseg reach` on the demo spend importing, with wall and CPU seconds of each process.

    python bench/startup.py [--runs 7]

Each run is its own interpreter, under `python -X importtime`; a run's import time is the
sum of the cumulative microseconds of its top-level imports (every import the process made,
counted once), which is what the issue's <= 150 ms target is about. The median over the runs
is reported, with the median wall and CPU (user + system) seconds of the same processes run
without -X importtime, and `python -c "import numpy"`'s import time measured alongside, as a
yardstick: on this shared 2-core machine a loaded minute can double every figure, and the
yardstick moves with them. Each run times numpy, `--help` and `reach` one after the other,
so `numpy_ratio` (the median of each run's import time over that run's numpy) compares
figures taken under different loads; `modules` and `microseg_modules` (what the command
leaves in `sys.modules`) do not depend on the load at all. bench/run.py runs this script as a library scenario (`--only
startup`), in its environment: bytecode cached, as an installed wheel has it.

The engine's and the parsers' imports are lazy (microseg/__init__.py, microseg.engine and
microseg.ingest resolve names on first use; command modules import their work inside the
command), and tests/unit/cli/test_startup.py keeps the heavy libraries out of `--help`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
DEMO = BENCH.parent / "examples" / "demo"
TARGET_MS = 150.0
COMMANDS = {
    "help": ["--help"],
    "reach": [
        "reach",
        str(DEMO),
        "--from",
        "frontend/webapp",
        "--to",
        "shop/postgres",
        "--port",
        "TCP/5432",
    ],
}
# The CLI as its console script runs it, in this interpreter.
CLI = "import sys; from microseg.cli.app import main; sys.argv[0] = 'microseg'; main()"
# The same, then how many modules it left loaded (all, and microseg's own), on stderr.
COUNT = (
    "import contextlib, io, sys\n"
    "sys.argv[0] = 'microseg'\n"
    "from microseg.cli.app import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    try:\n"
    "        main()\n"
    "    except SystemExit:\n"
    "        pass\n"
    "own = sum(m == 'microseg' or m.startswith('microseg.') for m in sys.modules)\n"
    "sys.stderr.write(f'\\n{len(sys.modules)} {own}\\n')\n"
)


def import_ms(stderr: str) -> float:
    """Total import time of one process: the top-level lines of -X importtime."""
    total = 0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if not name.startswith("  "):  # nested imports are inside their parent's figure
            total += int(cumulative)
    return total / 1000


def run(args: list[str], importtime: bool) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stderr of one process."""
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), *args]
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    if done.returncode not in (0, 1):  # reach exits 1 on a denial; both are answers
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, cpu, done.stderr


def figures(
    cli_args: list[str],
    imports: list[float],
    numpy_ms: list[float],
    timed: list[tuple[float, float]],
) -> dict[str, Any]:
    modules, own = (int(n) for n in run(["-c", COUNT, *cli_args], False)[2].split()[-2:])
    return {
        "command": ["microseg", *cli_args],
        "import_ms": round(statistics.median(imports), 1),
        "import_ms_min": round(min(imports), 1),
        "numpy_ratio": round(
            statistics.median(i / n for i, n in zip(imports, numpy_ms, strict=True)), 2
        ),
        "modules": modules,
        "microseg_modules": own,
        "wall_ms": round(statistics.median(t[0] for t in timed) * 1000, 1),
        "cpu_ms": round(statistics.median(t[1] for t in timed) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    load_before = list(os.getloadavg())
    argvs = {name: ["-c", CLI, *cli_args] for name, cli_args in COMMANDS.items()}
    for cmd in argvs.values():
        run(cmd, False)  # the first run compiles and caches bytecode: not counted
    numpy_ms: list[float] = []
    imports: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):  # interleaved: each run's figures share one load
        numpy_ms.append(import_ms(run(["-c", "import numpy"], True)[2]))
        for name, cmd in argvs.items():
            imports[name].append(import_ms(run(cmd, True)[2]))
    timed = {name: [run(cmd, False)[:2] for _ in range(args.runs)] for name, cmd in argvs.items()}
    out: dict[str, Any] = {"load_before": load_before}
    targets: dict[str, Any] = {}
    for name, cli_args in COMMANDS.items():
        f = out[name] = figures(cli_args, imports[name], numpy_ms, timed[name])
        targets[f"{name}_import_ms"] = {
            "value": f["import_ms"],
            "target": TARGET_MS,
            "met": f["import_ms"] <= TARGET_MS,
        }
    out["numpy_import_ms"] = round(statistics.median(numpy_ms), 1)
    out["reach_import_ms"] = out["reach"]["import_ms"]
    out["help_import_ms"] = out["help"]["import_ms"]
    out["load_after"] = list(os.getloadavg())
    out["targets"] = targets
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
