"""Running a fuzz case through the CLI and judging what came out.

`run_case` writes the case's files into a folder, runs `microseg` with them in this process
(`microseg.cli.app.main`, with fresh standard streams, argv and a per-case timer), and
`judge` sorts the result: a clean run (exit 0 or 1, every output well-formed), a clean
rejection (exit 2 with an error line), or a defect: a crash (a traceback, another exit
code, an output that does not parse, a raw control character in any output), a hang
(the timer fired) or memory exhaustion (the out-of-memory line: no small fuzz input may
need that). `run_subprocess` runs the same case as a real process under a time and
address-space limit, which is how the driver samples that the in-process run tells the
truth.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fuzz.cases import Case

# A CSV cell holds whatever a name holds: the fuzzer's huge names (hundreds of kB) are
# valid CSV that Python's reader refuses past its default 128 kB field limit, which
# ended two batches of a long run as harness errors.
csv.field_size_limit(sys.maxsize)

__all__ = ["Outcome", "judge", "materialise", "run_case", "run_subprocess"]

# What no output may carry raw: C0 controls but newline and tab, DEL, C1 controls, line and
# paragraph separators, bidi overrides and isolates (render/escape.py escapes all of them).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
DIAGNOSTIC = re.compile(r"^(error: |\S.*: error\[MS\d{3}\]: |\S.*: error: )", re.MULTILINE)
OUT_OF_MEMORY = "error: out of memory"
TIMEOUT_S = 30.0
DOT = shutil.which("dot")


class CaseTimeout(BaseException):
    """Raised by the per-case timer; a BaseException so that no `except Exception` in the
    code under test swallows it."""


@dataclass
class Outcome:
    kind: str  # ok | rejected | crash | hang | memory
    exit_code: int | None
    seconds: float
    detail: str = ""


def materialise(case: Case, root: Path) -> dict[str, str]:
    """The case's files under `root` (emptied first); the paths its `{...}` stand for."""
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    inp = root / "in"
    inp.mkdir(parents=True)
    for name, raw in case.files.items():
        target = inp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
    for oddity in case.oddities:
        with contextlib.suppress(OSError):
            if oddity == "fifo":
                os.mkfifo(inp / "pipe.yaml")
            elif oddity == "dangling":
                (inp / "gone.yaml").symlink_to(root / "nowhere.yaml")
            elif oddity == "loop":
                (inp / "loop").symlink_to(inp, target_is_directory=True)
            elif oddity == "dir.yaml":
                (inp / "dir.yaml").mkdir()
    paths = {"{in}": str(inp)}
    if case.old_files is not None:
        old = root / "old"
        old.mkdir()
        for name, raw in case.old_files.items():
            (old / name).parent.mkdir(parents=True, exist_ok=True)
            (old / name).write_bytes(raw)
        paths["{old}"] = str(old)
    if case.intents is not None:
        (root / "intents.yaml").write_bytes(case.intents)
        paths["{intents}"] = str(root / "intents.yaml")
    return paths


def argv(case: Case, paths: dict[str, str]) -> list[str]:
    return [paths.get(a, a) for a in case.args]


def executable(case: Case) -> bool:
    """Whether the case's arguments can be a real process's argv: the kernel takes them as
    C strings, so an argument with a NUL byte reaches no program (the shell cannot pass one
    either); such a case is judged in process only."""
    return not any("\0" in a for a in case.args)


@contextlib.contextmanager
def _streams(stdin: bytes | None, closed: bool) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """Fresh stdin/stdout/stderr as a real process has them (UTF-8 text over bytes, strict
    errors: the CLI sets its own handler, as its `main` does)."""
    out, err = io.BytesIO(), io.BytesIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    wrappers = [
        io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", errors="strict", write_through=True),
    ]
    sys.stdout, sys.stderr = wrappers
    sys.stdin = (
        None  # type: ignore[assignment]
        if closed
        else io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    )
    try:
        yield out, err
    finally:
        for w in wrappers:  # detached: a dropped wrapper would close the buffer under it
            with contextlib.suppress(Exception):
                w.flush()
            with contextlib.suppress(Exception):
                w.detach()
        sys.stdin, sys.stdout, sys.stderr = saved


def _alarm(_signum: int, _frame: object) -> None:
    raise CaseTimeout


def _reuse_commands() -> None:
    """Typer builds its click command tree again on every `app()` call (about 40 ms, a
    third of a small case); in-process runs build it once per command. `main` builds an app
    with the named command alone (microseg.cli.app.build_app), so the apps are kept per
    command, and the trees per app, each held so that its id is never reused: a tree
    cached by the id of an app since collected once answered `blast-radius` with
    another command's tree ("no such command"). Click commands hold no state between
    invocations (each gets a fresh Context)."""
    import typer.main

    from microseg.cli import app as cli_app

    if not getattr(cli_app.build_app, "_cached", False):
        original_app = cli_app.build_app
        apps: dict[str | None, Any] = {}

        def build_app(only: str | None = None) -> Any:
            if only not in apps:
                apps[only] = original_app(only)
            return apps[only]

        build_app._cached = True  # type: ignore[attr-defined]
        cli_app.build_app = build_app  # type: ignore[assignment]

    original = typer.main.get_command
    if getattr(original, "_cached", False):
        return
    built: dict[int, tuple[Any, Any]] = {}

    def get_command(typer_instance: Any) -> Any:
        key = id(typer_instance)
        if key not in built or built[key][0] is not typer_instance:
            built[key] = (typer_instance, original(typer_instance))
        return built[key][1]

    get_command._cached = True  # type: ignore[attr-defined]
    typer.main.get_command = get_command


def run_case(case: Case, root: Path, timeout: float = TIMEOUT_S) -> Outcome:
    """The case through `microseg.cli.app.main` in this process, judged."""
    from microseg.cli.app import main

    _reuse_commands()
    paths = materialise(case, root)
    args = argv(case, paths)
    saved_argv = sys.argv
    sys.argv = ["microseg", *args]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    code: int | None = 0
    crash = ""
    hung = False
    try:
        with _streams(case.stdin, case.stdin_closed) as (out, err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except CaseTimeout:
                hung = True
            except BaseException:
                crash = traceback.format_exc()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
        sys.argv = saved_argv
    seconds = time.perf_counter() - start
    if hung:
        return Outcome("hang", None, seconds, f"no answer within {timeout:.0f} s")
    if crash:
        return Outcome("crash", None, seconds, "exception escaped main:\n" + crash[-3000:])
    return judge(case, code, out.getvalue(), err.getvalue(), seconds)


def run_subprocess(
    case: Case, root: Path, timeout: float = TIMEOUT_S, memory_mb: int = 2048
) -> Outcome:
    """The case as a real `microseg` process, with a time and address-space limit."""
    paths = materialise(case, root)
    exe = Path(sys.executable).with_name("microseg")
    cmd = [str(exe) if exe.exists() else sys.executable, *argv(case, paths)]
    if not exe.exists():
        cmd[1:1] = ["-c", "from microseg.cli.app import main; main()"]

    def limits() -> None:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if case.stdin_closed:
            os.close(0)  # `<&-`: no stdin at all, as the in-process run has it

    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            input=case.stdin if not case.stdin_closed else None,
            stdin=subprocess.DEVNULL if case.stdin is None and not case.stdin_closed else None,
            capture_output=True,
            timeout=timeout,
            preexec_fn=limits,
            env={**os.environ, "COLUMNS": "100"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome("hang", None, time.perf_counter() - start, "process timed out")
    seconds = time.perf_counter() - start
    if proc.returncode < 0:
        sig = -proc.returncode
        kind = "memory" if sig in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT) else "crash"
        return Outcome(kind, proc.returncode, seconds, f"killed by signal {sig}")
    return judge(case, proc.returncode, proc.stdout, proc.stderr, seconds)


def judge(case: Case, code: int | None, out: bytes, err: bytes, seconds: float) -> Outcome:
    """Sort a finished run (see the module docstring)."""

    def bad(why: str) -> Outcome:
        return Outcome("crash", code, seconds, why)

    if code not in (0, 1, 2):
        return bad(f"exit code {code}")
    try:
        stdout, stderr = out.decode("utf-8"), err.decode("utf-8")
    except UnicodeDecodeError as exc:
        return bad(f"output is not UTF-8: {exc}")
    if "Traceback (most recent call last)" in stderr or "Traceback" in stdout[:2000]:
        return bad("traceback:\n" + stderr[-3000:])
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        m = UNSAFE.search(text)
        if m is not None:
            at = m.start()
            return bad(
                f"raw control character {m.group()!r} in {name}: {text[max(0, at - 60) : at + 20]!r}"
            )
    if OUT_OF_MEMORY in stderr:
        return Outcome("memory", code, seconds, stderr[-500:])
    if code == 2:
        if not DIAGNOSTIC.search(stderr):
            return bad(f"exit 2 without an error line: {stderr[-500:]!r}")
        if stdout.strip():
            problem = _malformed(case.fmt, stdout)
            if problem:
                return bad(f"{case.fmt} output does not parse: {problem}")
        return Outcome("rejected", code, seconds, _first_error(stderr))
    problem = _malformed(case.fmt, stdout)
    if problem:
        return bad(f"{case.fmt} output does not parse: {problem}")
    return Outcome("ok", code, seconds)


def _first_error(stderr: str) -> str:
    m = DIAGNOSTIC.search(stderr)
    if m is None:
        return ""
    line = stderr[m.start() :].split("\n", 1)[0]
    return line[:300]


def _malformed(fmt: str, text: str) -> str | None:
    """Why `text` is not a well-formed document of `fmt`, or None. Tables may be empty
    (`diff` prints nothing when nothing differs, as netpol-analyzer does)."""
    if not text and fmt in ("csv", "md", "txt", "text"):
        return None
    try:
        if fmt in ("json", "sarif"):
            doc = json.loads(text)
            if not isinstance(doc, dict):
                return "not a JSON object"
            if fmt == "sarif" and (doc.get("version") != "2.1.0" or "runs" not in doc):
                return "not SARIF 2.1.0"
            if fmt == "json" and "kind" not in doc:
                return "no kind in the JSON envelope"
        elif fmt == "csv":
            rows = list(csv.reader(io.StringIO(text)))
            if not rows or len({len(r) for r in rows}) != 1:
                return f"rows of unequal width: {sorted({len(r) for r in rows})}"
        elif fmt == "md":
            return _md_table(text)
        elif fmt == "junit":
            ET.fromstring(text)
        elif fmt == "dot":
            return _dot(text)
        elif fmt in ("txt", "text") and not text.endswith("\n") and text:
            return "text output without a final newline"
    except (ValueError, ET.ParseError) as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _md_table(text: str) -> str | None:
    """Every line of each table has its header's number of cells (an unescaped `|` or a
    newline from a name would add or cut one)."""
    width = None
    for line in text.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        cells = len(_CELL_SPLIT.split(line)) - 2
        if width is None:
            width = cells
        elif cells != width:
            return f"line with {cells} cells in a table of {width}: {line[:200]!r}"
    return None


def _dot(text: str) -> str | None:
    """Parsed by Graphviz when installed (`dot -Tsvg`), and its SVG well-formed XML."""
    if not text.startswith("digraph") or not text.rstrip().endswith("}"):
        return "not a digraph"
    if DOT is None or len(text) > 2_000_000:
        return None
    try:
        proc = subprocess.run(
            [DOT, "-Tsvg"], input=text.encode(), capture_output=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return None  # Graphviz laying out a large graph slowly is not our defect
    if proc.returncode != 0:
        return f"dot failed: {proc.stderr.decode(errors='replace')[:300]}"
    try:
        ET.fromstring(proc.stdout)
    except ET.ParseError as exc:
        return f"dot's SVG is not well-formed XML: {exc}"
    return None
