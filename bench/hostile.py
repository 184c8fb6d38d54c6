"""`make bench` (hostile-scale): inputs whose size is the attack, timed with peak RSS.

    .venv/bin/python bench/hostile.py            every case; results in bench/results/hostile-scale.json
    .venv/bin/python bench/hostile.py --only lint-rules-10k      one case (repeatable)
    .venv/bin/python bench/run.py --only hostile-scale           the same, from the bench

Each case is an input issue 23 found to exhaust memory or time, generated here (seeded,
reused while this file is unchanged, under bench/out/hostile/), and a command run on it as a
process of its own; stdout goes to /dev/null (the full listings are hundreds of megabytes)
and its line count is taken from a pipe. Wall time and the child's peak RSS (wait4) are
recorded next to the figures measured before the fix (`--before SRC` runs an export of
commit eef217f's src/ the same way, under `--memory-mb`, into the JSON's `before`), so the
JSON says what changed:

- open clusters (no policies): 12,000 Deployments (`stats`, `exposure`, `lint`,
  `connectivity --focus-workload`, `diff` with itself), and 86,442 bare pods, each its own workload node, in
  1,000 label classes (`stats`, `blast-radius`, `connectivity --focus-workload`); all 4
  million rows of 2,000 open workloads streamed;
- 20,000 pod files with a policy per namespace, listed whole;
- one NetworkPolicy of 2,000 and of 10,000 ipBlock rules, each with its own port, linted;
- a 57 MB YAML v1 List of 60,024 pods, counted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import run as bench
from generate import generate, yaml_lines

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "hostile"
RESULT = HERE / "results" / "hostile-scale.json"
VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    input: str
    args: tuple[str, ...]
    note: str
    before: str = ""
    """What issue 23 reported for this input, if anything (the measured figures of the code
    before the fix are the JSON's `before`)."""
    timeout_s: float = 900.0


CASES = (
    Case(
        "open-12k-stats",
        "open-12k",
        ("stats", "{in}", "-q", "-o", "json"),
        "12,001 Deployments (one pod each), no policy",
        "",
    ),
    Case(
        "open-12k-exposure",
        "open-12k",
        ("exposure", "{in}", "-q", "-o", "json"),
        "the workload view without pairs",
        "issue 23: numpy asked for 2.15 GiB of node pairs",
    ),
    Case(
        "open-12k-lint",
        "open-12k",
        ("lint", "{in}", "-q", "-o", "json"),
        "relevance read as blocks of the other direction",
        "",
    ),
    Case(
        "open-12k-focus",
        "open-12k",
        ("connectivity", "{in}", "-q", "--focus-workload", "payments-prod-0/api-1"),
        "one workload's rows among 144 million allowed pairs",
        "issue 23: numpy asked for 2.15 GiB of node pairs",
    ),
    Case(
        "open-12k-diff",
        "open-12k",
        ("diff", "{in}", "{in}", "-q"),
        "the open cluster compared with itself: 144 million equal pairs on each side",
        "",
    ),
    Case(
        "open-2k-list",
        "open-2k",
        ("connectivity", "{in}", "-q"),
        "2,002 open workloads: all 4,006,002 rows streamed",
        "",
    ),
    Case(
        "pods-86k-stats",
        "pods-86k",
        ("stats", "{in}", "-q", "-o", "json"),
        "86,442 bare pods, each its own workload node, 1,000 label classes, no policy",
        "issue 23: numpy asked for 55.7 GiB of node pairs",
    ),
    Case(
        "pods-86k-blast",
        "pods-86k",
        ("blast-radius", "{in}", "--from", "ns-0/pod-0", "--hops", "1", "-q", "-o", "json"),
        "one pod reaches 86,441 others in one hop, each hop explained",
        "issue 23: numpy asked for 55.7 GiB of node pairs",
    ),
    Case(
        "pods-86k-focus",
        "pods-86k",
        ("connectivity", "{in}", "-q", "--focus-workload", "ns-0/pod-0"),
        "one pod's 172,882 rows among 7.5 billion pairs",
        "issue 23: numpy asked for 55.7 GiB of node pairs",
    ),
    Case(
        "files-20k",
        "files-20k",
        ("connectivity", "{in}", "-q"),
        "20,000 files of one pod each, 20 namespaces with an ingress policy: 4,016,000 rows",
        "issue 23: a MemoryError traceback",
    ),
    Case(
        "lint-rules-2k",
        "rules-2k",
        ("lint", "{in}", "-q", "-o", "json"),
        "one NetworkPolicy, 2,000 rules, each a /32 ipBlock and its own port",
        "issue 23: 1.2 GB",
    ),
    Case(
        "lint-rules-10k",
        "rules-10k",
        ("lint", "{in}", "-q", "-o", "json"),
        "the same with 10,000 rules (10,003 port atoms, 10,003 IP atoms)",
        "issue 23: 24 GB, killed",
    ),
    Case(
        "list-57mb-stats",
        "list-57mb",
        ("stats", "{in}", "-q", "-o", "json"),
        "a 57 MB YAML v1 List of 60,024 pods",
        "issue 23: 27.7 s and 1.5 GB for 50 MB",
    ),
)


# -- inputs ------------------------------------------------------------------------------


def _open(path: Path, workloads: int) -> None:
    generate(path, workloads, 1, 0, 1, pods_list=workloads <= 5000)


def _pods(path: Path, count: int = 86_442) -> None:
    path.mkdir(parents=True, exist_ok=True)
    with (path / "pods.json").open("w", encoding="utf-8") as f:
        f.write('{"apiVersion": "v1", "kind": "List", "items": [\n')
        f.write(
            ",\n".join(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {
                            "name": f"pod-{i}",
                            "namespace": f"ns-{i % 100}",
                            "labels": {"app": f"a{(i // 100) % 10}"},
                        },
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                        "status": {"podIP": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"},
                    }
                )
                for i in range(count)
            )
        )
        f.write("\n]}\n")


def _files(path: Path, count: int = 20_000) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (path / f"pod{i:05d}.yaml").write_text(
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: ns{i % 20}\n"
            f"  labels:\n    app: a{i % 50}\nspec:\n  containers:\n  - name: c\n"
            "    image: nginx\n    ports:\n    - containerPort: 80\n",
            "utf-8",
        )
    for j in range(20):
        (path / f"np{j}.yaml").write_text(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            f"metadata: {{name: allow-a{j}, namespace: ns{j}}}\n"
            "spec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n"
            f"  - from:\n    - podSelector: {{matchLabels: {{app: a{j}}}}}\n",
            "utf-8",
        )


def _rules(path: Path, count: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    ]
    for i in range(3):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p{i}", "namespace": "a", "labels": {"app": f"x{i}"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            }
        )
    rules = [
        {
            "from": [{"ipBlock": {"cidr": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32"}}],
            "ports": [{"port": 1 + i % 65535}],
        }
        for i in range(count)
    ]
    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "big", "namespace": "a"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": rules},
        }
    )
    (path / "policy.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}), "utf-8"
    )


def _list(path: Path) -> None:
    """60,024 pods (5,001 workloads' replicas, copied) as one YAML List."""
    source = OUT / "open-5k-src"
    if not (source / "pods.json").exists():
        generate(source, 5000, 1, 0, 1, pods_list=True)
    items = json.loads((source / "pods.json").read_text("utf-8"))["items"]
    out: list[Any] = []
    copy = 0
    while len(out) < 60_000:
        for p in items:
            q = json.loads(json.dumps(p))
            q["metadata"]["name"] += f"-r{copy}"
            out.append(q)
        copy += 1
    lines: list[str] = []
    yaml_lines({"apiVersion": "v1", "kind": "List", "items": out}, 0, lines)
    path.mkdir(parents=True, exist_ok=True)
    (path / "list.yaml").write_text("\n".join(lines) + "\n", "utf-8")


INPUTS = {
    "open-12k": lambda p: _open(p, 12_000),
    "open-2k": lambda p: _open(p, 2_000),
    "pods-86k": _pods,
    "files-20k": _files,
    "rules-2k": lambda p: _rules(p, 2_000),
    "rules-10k": lambda p: _rules(p, 10_000),
    "list-57mb": _list,
}


def ensure(name: str) -> Path:
    path = OUT / name
    marker = path / ".hostile.json"
    if marker.exists() and json.loads(marker.read_text())["version"] == VERSION:
        return path
    shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    INPUTS[name](path)
    marker.write_text(
        json.dumps({"version": VERSION, "seconds": round(time.perf_counter() - start, 1)})
    )
    return path


# -- runs --------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    case: str
    command: list[str]
    note: str
    before: str
    status: str = "ok"  # ok | timeout | failed
    exit_code: int | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None
    peak_mb: float | None = None
    output_lines: int | None = None
    input_bytes: int | None = None
    stderr_tail: list[str] = field(default_factory=list)
    load_before: list[float] = field(default_factory=list)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_case(case: Case, src: Path | None = None, memory_mb: int | None = None) -> Result:
    """`src`: another source tree's `microseg` (the code before the fix), run by this venv's
    interpreter; `memory_mb`: an address-space limit for the child."""
    path = ensure(case.input)
    cmd = [bench.microseg_bin(), *(a.replace("{in}", str(path)) for a in case.args)]
    env = bench.child_env()
    if src is not None:
        cmd[:1] = [sys.executable, "-c", "from microseg.cli.app import main; main()"]
        env = {**env, "PYTHONPATH": str(src)}

    def limit() -> None:
        if memory_mb is not None:
            import resource

            size = memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    r = Result(case.name, cmd, case.note, case.before, load_before=bench.load_average())
    r.input_bytes = _size(path)
    err_path = OUT / f"{case.name}.stderr"
    start = time.perf_counter()
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            start_new_session=True,
            preexec_fn=limit,
        )
        assert proc.stdout is not None
        lines = 0
        deadline = start + case.timeout_s
        timed_out = False
        while True:
            chunk = proc.stdout.read(1 << 20)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                timed_out = True
                break
        _, status, usage = os.wait4(proc.pid, 0)
    r.seconds = round(time.perf_counter() - start, 2)
    r.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 2)
    r.peak_mb = round(usage.ru_maxrss / 1024, 1)
    r.output_lines = lines
    r.exit_code = os.waitstatus_to_exitcode(status)
    if timed_out:
        r.status = "timeout"
    elif r.exit_code not in (0, 1):
        r.status = "failed"
    r.stderr_tail = err_path.read_text("utf-8", "replace").splitlines()[-10:]
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", action="append", metavar="CASE")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="SRC",
        help="run another source tree's microseg (e.g. an export of eef217f's src/) and "
        "record it as the 'before' figures",
    )
    parser.add_argument("--memory-mb", type=int, help="address-space limit of each run")
    args = parser.parse_args(argv)
    names = {c.name for c in CASES}
    unknown = [n for n in args.only or () if n not in names]
    if unknown:
        raise SystemExit(f"unknown case {unknown[0]!r}; choose from {', '.join(sorted(names))}")
    chosen = [c for c in CASES if not args.only or c.name in args.only]
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for case in chosen:
        print(f"[hostile] {case.name} ...", flush=True)
        r = run_case(case, args.before, args.memory_mb)
        results.append(r)
        print(
            f"[hostile] {case.name}: {r.status} exit {r.exit_code}, {r.seconds} s "
            f"({r.cpu_seconds} s CPU), {r.peak_mb} MB, {r.output_lines:,} lines"
            + (f"; {case.before}" if case.before else ""),
            flush=True,
        )
    try:
        doc = json.loads(RESULT.read_text())
    except (OSError, ValueError):
        doc = {}
    key = "before" if args.before is not None else "cases"
    doc = {
        "apiVersion": "microseg.dev/v1alpha1",
        "kind": "HostileScaleBench",
        "cases": doc.get("cases", {}),
        "before": doc.get("before", {}),
        **({"machine": doc["machine"]} if "machine" in doc else {}),
    }
    doc[key] = {**doc[key], **{r.case: asdict(r) for r in results}}
    for part in ("cases", "before"):  # cases since renamed or removed
        doc[part] = {k: v for k, v in doc[part].items() if k in names}
    if args.before is None:
        doc["machine"] = bench.machine_facts()
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if any(r.status != "ok" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
