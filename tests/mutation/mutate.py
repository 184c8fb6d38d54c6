"""Hand-written one-line mutants of microseg's central rules, and whether the suite kills them.

Why: a suite can pass while the engine gives wrong answers, when a rule is wrong the same
way in the fast engine and the reference evaluator, or in a helper both import. Each mutant
here is such a wrong rule; the suite should fail on every one. The real tree is never
touched: src/, tests/, examples/, pyproject.toml and README.md are copied into a temporary
folder, each mutant is applied there (and undone) and the tests run against that copy with
its src/ first on PYTHONPATH (the venv's editable install points at the real src/).

    .venv/bin/python tests/mutation/mutate.py                  # every mutant
    .venv/bin/python tests/mutation/mutate.py tier-order-reversed pass-as-allow
    .venv/bin/python tests/mutation/mutate.py --list
    .venv/bin/python tests/mutation/mutate.py --semantics-only   # first stage only, seconds each
    .venv/bin/python tests/mutation/mutate.py --skip-semantics   # do the other stages see it too?

Each mutant runs in three stages, each only if the one before passed: the meaning-level
tests (tests/unit/semantics, seconds); the reference property tests and the unit tests of the
engine, Istio ingest and the exposure analysis (a minute); then the fast subset `pytest -q -x
-m "not slow" tests/unit tests/golden tests/property` (with `-n 2` when pytest-xdist is
installed) and tests/conformance when MICROSEG_CONFORMANCE is set. The last line reads `N mutants, K killed, S survived`.
Exit 0 when every mutant is killed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):  # run as a script: make `tests` importable
    sys.path.insert(0, str(REPO))

from tests.mutation.mutants import MUTANTS, Mutant  # noqa: E402

COPIED = ("src", "tests", "examples")
COPIED_FILES = ("pyproject.toml", "README.md")


def _has_xdist() -> bool:
    return importlib.util.find_spec("xdist") is not None


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    for name in COPIED_FILES:
        shutil.copy2(REPO / name, dest / name)


def _apply(root: Path, mutant: Mutant) -> dict[Path, str]:
    """Apply the edits; return the files' original texts, to undo them."""
    saved: dict[Path, str] = {}
    for edit in mutant.edits:
        path = root / edit.file
        text = saved.get(path) or path.read_text(encoding="utf-8")
        saved.setdefault(path, text)
        current = path.read_text(encoding="utf-8")
        count = current.count(edit.original)
        if count != 1:
            raise SystemExit(
                f"{mutant.name}: {edit.original!r} occurs {count} times in {edit.file}"
            )
        path.write_text(current.replace(edit.original, edit.replacement), encoding="utf-8")
    return saved


def _stages(
    root: Path, semantics_only: bool = False, skip_semantics: bool = False
) -> list[list[str]]:
    fast = ["-q", "-x", "-p", "no:cacheprovider", "-m", "not slow"]
    semantics = [sys.executable, "-m", "pytest", *fast, "tests/unit/semantics"]
    # The references and the analyses' unit tests: a minute, and most mutants die here.
    oracles = [
        sys.executable,
        "-m",
        "pytest",
        *fast,
        "tests/property/test_engine_vs_reference.py",
        "tests/property/test_mesh_reference.py",
        "tests/property/test_tiers.py",
        "tests/unit/analyses/test_potential.py",
        "tests/unit/engine",
        "tests/unit/ingest/test_istio.py",
    ]
    suite = [sys.executable, "-m", "pytest", *fast]
    if _has_xdist():
        suite += ["-n", "2"]
    suite += ["tests/unit", "tests/golden", "tests/property"]
    if os.environ.get("MICROSEG_CONFORMANCE"):
        suite.append("tests/conformance")
    if semantics_only:
        return [semantics]
    if skip_semantics:
        return [oracles, suite]
    return [semantics, oracles, suite] if (root / "tests/unit/semantics").is_dir() else [suite]


_FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.MULTILINE)


def _run(
    root: Path, mutant: Mutant, semantics_only: bool = False, skip_semantics: bool = False
) -> tuple[bool, str, float]:
    """(killed, by what, seconds)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "MICROSEG_MUTATION": "1",  # no shrinking (tests/conftest.py)
    }
    start = time.monotonic()
    saved = _apply(root, mutant)
    try:
        for stage in _stages(root, semantics_only, skip_semantics):
            proc = subprocess.run(stage, cwd=root, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                failed = _FAILED.findall(proc.stdout)
                if failed:
                    return True, failed[0], time.monotonic() - start
                tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
                return True, f"exit {proc.returncode}: {' '.join(tail)}", time.monotonic() - start
        return False, "", time.monotonic() - start
    finally:
        for path, text in saved.items():
            path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument(
        "--control", action="store_true", help="first run the stages on the unmutated copy"
    )
    parser.add_argument(
        "--semantics-only",
        action="store_true",
        help="run only the first stage (tests/unit/semantics): a quick look while writing tests",
    )
    parser.add_argument(
        "--skip-semantics",
        action="store_true",
        help="start at the reference property tests: which mutants would they kill alone?",
    )
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:50} {m.why}")
        return 0
    known = {m.name for m in MUTANTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutants: {', '.join(unknown)}")
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    survived: list[str] = []
    with tempfile.TemporaryDirectory(prefix="microseg-mutants-") as tmp:
        root = Path(tmp)
        _copy_tree(root)
        if args.control:
            control = Mutant("control", "no change", ())
            broken, by, seconds = _run(root, control, args.semantics_only)
            print(f"control  {'FAILED ' + by if broken else 'passes'} {seconds:.1f}s", flush=True)
            if broken:
                return 2
        for m in chosen:
            killed, by, seconds = _run(root, m, args.semantics_only, args.skip_semantics)
            status = "killed" if killed else "SURVIVED"
            print(f"{status:8} {m.name:50} {seconds:6.1f}s {by}", flush=True)
            if not killed:
                survived.append(m.name)
    n = len(chosen)
    print(f"{n} mutants, {n - len(survived)} killed, {len(survived)} survived")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
