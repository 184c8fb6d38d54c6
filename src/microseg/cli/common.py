"""What every command shares: loading with diagnostics, exit codes, progress, consoles."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

from microseg.errors import Diagnostic, InputError, Severity
from microseg.ingest.limits import MAX_INPUT_BYTES
from microseg.render.diagnostics import render_diagnostics
from microseg.render.escape import terminal_safe

# The engine (numpy), the parsers (PyYAML, pydantic) and rich are imported where they are
# first used, not here: every command module imports this one, and `microseg --help` or a
# mistyped option should not pay for them (tests/unit/cli/test_startup.py holds to it).
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from microseg.engine import Connectivity, EngineOptions
    from microseg.ingest.cluster import ClusterConfig, ClusterRead
    from microseg.model import Cluster

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_VIOLATION",
    "FILES",
    "FOOTPRINT",
    "Inputs",
    "Session",
    "check_output",
    "emit",
    "fail",
    "footprint_text",
]

EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2
T = TypeVar("T")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


FOOTPRINT: dict[str, int] = {}
"""What the running command has read and built so far (pods, policies, classes, atoms...),
so that running out of memory can say at what size it happened (cli/app.py)."""


def record_cluster(cluster: Cluster) -> None:
    FOOTPRINT.update(
        pods=len(cluster.pods),
        workloads=len(cluster.workloads),
        namespaces=len(cluster.namespaces),
        policies=len(cluster.policies) + len(cluster.admin_policies),
        rules=sum(len(p.ingress) + len(p.egress) for p in cluster.policies)
        + sum(len(p.ingress) + len(p.egress) for p in cluster.admin_policies),
    )


def record_connectivity(conn: Connectivity) -> None:
    FOOTPRINT.update(classes=conn.n_classes, port_atoms=len(conn.ports), ip_atoms=len(conn.ips))


def footprint_text() -> str:
    """`12,001 pods, 0 policies, 12,001 classes, 3 port atoms, ...`, or "" before loading."""
    names = {
        "pods": "pods",
        "workloads": "workloads",
        "policies": "policies",
        "rules": "rules",
        "classes": "classes",
        "port_atoms": "port atoms",
        "ip_atoms": "IP atoms",
    }
    return ", ".join(f"{FOOTPRINT[k]:,} {v}" for k, v in names.items() if k in FOOTPRINT)


def fail(message: str) -> NoReturn:
    sys.stderr.write(terminal_safe(f"error: {message}\n"))
    raise typer.Exit(EXIT_BAD_INPUT)


def say(line: str) -> None:
    """One line on stderr (a notice, a warning, an error): such lines quote the input (a
    group's workload, a record's reason, a name on the command line), so they are made
    safe for a terminal like every other output."""
    sys.stderr.write(terminal_safe(line if line.endswith("\n") else line + "\n"))


def emit(text: str, escaped: bool = False) -> None:
    """A command's result on stdout. Text quotes the input, so it is made safe for a
    terminal; `escaped`: the renderer already escaped every name for its format (the
    connectivity list, JSON), which spares a scan of tens of megabytes."""
    sys.stdout.write(text if escaped else terminal_safe(text))


def check_output(output: str, choices: tuple[str, ...]) -> None:
    """For a list of formats the CLI does not own (diff's, from render/diff.py); options
    with the CLI's own enums are refused by typer before the command runs."""
    if output not in choices:
        fail(f"--output {output!r}: expected {', '.join(choices[:-1])} or {choices[-1]}")


@dataclass(frozen=True, slots=True)
class Inputs:
    """Where a command reads its input from (files, or the live API with `--cluster`), and
    whether warnings are errors (`--strict`): the options cli/options.py `reads_inputs`
    adds to every command that reads manifests."""

    cluster: bool = False
    context: str | None = None
    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()
    strict: bool = False
    max_input_bytes: int = MAX_INPUT_BYTES
    """`--max-input-size`: the largest file or stdin read (ingest/documents.py)."""

    def checked(self) -> Inputs:
        """Refuse what cannot mean anything: cluster options without `--cluster`, a
        namespace that is not a namespace name."""
        if not self.cluster:
            for flag, value in (
                ("--context", self.context),
                ("--kubeconfig", self.kubeconfig),
                ("--cluster-namespace", self.namespaces),
            ):
                if value:
                    fail(f"{flag} reads the live cluster: add --cluster")
        for ns in self.namespaces:
            if not _DNS_LABEL.fullmatch(ns):
                fail(f"--cluster-namespace {ns!r}: expected a namespace name (a DNS label)")
        return self

    def config(self) -> ClusterConfig:
        from microseg.ingest.cluster import ClusterConfig

        return ClusterConfig(self.kubeconfig, self.context, self.namespaces)


FILES = Inputs()


class Session:
    """One command's run: options shared by all commands, and the stages it goes through."""

    def __init__(
        self,
        quiet: bool = False,
        no_color: bool = False,
        host_network: str = "node",
        *,
        namespace: str = "default",
        assume_system_pods: bool = False,
        assume_mesh: bool = False,
        inputs: Inputs = FILES,
    ) -> None:
        self.quiet = quiet
        self.inputs = inputs.checked()
        self._read: ClusterRead | None = None
        self._shown: set[Diagnostic] = set()  # printed once, however often loaded (diff)
        if not _DNS_LABEL.fullmatch(namespace):
            fail(f"--namespace {namespace!r}: expected a namespace name (a DNS label, e.g. shop)")
        self.namespace = namespace
        self.assume_system_pods = assume_system_pods
        self.assume_mesh = assume_mesh
        from microseg.engine import EngineOptions, HostNetwork

        try:
            self.options: EngineOptions = EngineOptions(HostNetwork(host_network))
        except ValueError:
            fail(f"--host-network {host_network!r}: expected node or pod")
        self.color = not no_color and "NO_COLOR" not in os.environ
        self._err: Console | None = None
        self._out: Console | None = None
        self._progress: Progress | None = None
        self._active = False  # inside a progress() block (shown or not)
        self._timer: threading.Timer | None = None
        self._stage = ""
        self.timings: dict[str, float] = {}
        self.rbac = False  # `--cluster` also lists RBAC objects (microseg audit)

    @property
    def err(self) -> Console:
        """rich's console on stderr, made (and rich imported) on first use."""
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, no_color=not self.color, highlight=False)
        return self._err

    @property
    def out(self) -> Console:
        """The console of a text result: a fixed width off a terminal, tables wrapped
        between words (render/text.py); made on first use."""
        if self._out is None:
            from microseg.render.text import text_console

            self._out = text_console(no_color=not self.color)
        return self._out

    def _maybe_terminal(self) -> bool:
        """False when stderr is surely no terminal for rich (no TTY, nothing forcing one),
        decided without importing rich; True leaves the decision to rich's console."""
        forced = os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR")
        stream = sys.stderr
        return bool(forced) or (stream is not None and stream.isatty())

    @contextmanager
    def progress(self) -> Iterator[None]:
        """A spinner on stderr, shown only on a TTY, without --quiet, for work over 2 s.
        Nested blocks share the outer one (its stages rename it)."""
        if self._active:
            yield
            return
        self._active = True
        try:
            with self._progress_bar():
                yield
        finally:
            self._active = False

    @contextmanager
    def _progress_bar(self) -> Iterator[None]:
        if self.quiet or not self._maybe_terminal() or not self.err.is_terminal:
            yield
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            # The result goes to stdout while the bar runs (connectivity streams its rows):
            # rich's default proxy would pass every row through the stderr console.
            redirect_stdout=False,
        )
        task = self._progress.add_task(self._stage or "working")
        self._task = task
        self._timer = threading.Timer(2.0, self._progress.start)
        self._timer.daemon = True
        self._timer.start()
        try:
            yield
        finally:
            self._timer.cancel()
            self._progress.stop()
            self._progress = None

    def stage(self, name: str, work: Callable[[], T]) -> T:
        """`work` timed under `name`, the spinner showing `name` (a block of its own when
        the command opened none: the analyses after loading take tens of seconds at
        150,000 pods)."""
        if not self._active:
            with self.progress():
                return self.stage(name, work)
        self._stage = name
        if self._progress is not None:
            self._progress.update(self._task, description=name)
        start = time.perf_counter()
        result = work()
        self.timings[name] = time.perf_counter() - start
        return result

    def load(
        self, paths: list[str] | None, *, files: bool = False, overlay: bool = False
    ) -> Cluster:
        """The input as a Cluster: the PATHs, or the live cluster with `--cluster`
        (`files`: PATHs whatever `--cluster` says, as for a proposal; `overlay`: the live
        cluster with the PATHs' objects applied over it, as `kubectl diff -f` and `apply`
        see it). Diagnostics are printed; errors, and warnings under `--strict`, exit 2."""
        paths = list(paths or [])
        live = self.inputs.cluster and not files
        if live and paths and not overlay:
            fail("give PATHs or --cluster, not both")
        if not live and not paths:
            fail("no input: give one or more files or folders, - for stdin, or --cluster")
        from microseg.ingest import load

        try:
            cluster = self.stage(
                "reading the cluster" if live else "loading manifests",
                (lambda: self._load_live(paths if overlay else []))
                if live
                else lambda: load(
                    paths,
                    namespace=self.namespace,
                    assume_system_pods=self.assume_system_pods,
                    max_input_bytes=self.inputs.max_input_bytes,
                ),
            )
        except InputError as exc:
            sys.stderr.write(render_diagnostics(exc.diagnostics))
            n = len(exc.diagnostics)
            sys.stderr.write(f"{n} error{'s' if n != 1 else ''}; nothing was analysed\n")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        self.strict_check(cluster.diagnostics)
        if not self.quiet:
            shown = [
                d
                for d in cluster.diagnostics
                if d.severity is not Severity.ERROR and d not in self._shown
            ]
            self._shown.update(shown)
            sys.stderr.write(render_diagnostics(shown))
            if not cluster.workloads:
                # Policy-only input: every table would be empty, which reads like a bug.
                sys.stderr.write(
                    "notice: 0 workloads in the input (only policies?); add the Deployments, "
                    "StatefulSets or Pods the policies select\n"
                )
        if self.assume_mesh:
            cluster = replace(cluster, mesh=replace(cluster.mesh, assume_mesh=True))
        record_cluster(cluster)
        return cluster

    def strict_check(self, diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
        """`--strict`: every warning is an error (DESIGN.md "Errors"), nothing is analysed."""
        if not self.inputs.strict:
            return
        warnings = [d for d in diagnostics if d.severity is Severity.WARNING]
        if not warnings:
            return
        sys.stderr.write(render_diagnostics(replace(d, severity=Severity.ERROR) for d in warnings))
        n = len(warnings)
        sys.stderr.write(
            f"{n} warning{'s' if n != 1 else ''} made errors by --strict; nothing was analysed\n"
        )
        raise typer.Exit(EXIT_BAD_INPUT)

    def cluster_read(self) -> ClusterRead:
        """The live cluster's objects, read once per command (diff and apply read it for
        both sides); an MS700/MS703 error exits 2."""
        if self._read is None:
            from microseg.ingest.cluster import read_cluster
            from microseg.ingest.cluster.kinds import KINDS, RBAC_KINDS

            kinds = KINDS + RBAC_KINDS if self.rbac else KINDS
            read = read_cluster(self.inputs.config(), self._on_progress, kinds=kinds)
            fatal = [d for d in read.diagnostics if d.severity is Severity.ERROR]
            if fatal:
                raise InputError(fatal)
            self._read = read
        return self._read

    def _load_live(self, overlay: list[str]) -> Cluster:
        from microseg.ingest.cluster.overlay import overlay_documents
        from microseg.ingest.manifests import load_documents

        read = self.cluster_read()
        items = (
            overlay_documents(read, overlay, self.namespace, self.inputs.max_input_bytes)
            if overlay
            else read.items()
        )
        return load_documents(
            items, namespace=self.namespace, assume_system_pods=self.assume_system_pods
        )

    def _on_progress(self, label: str, objects: int, done: int, total: int) -> None:
        if self._progress is None:
            return
        what = f"reading the cluster: {label} ({objects:,} objects)" if label else "read"
        self._progress.update(self._task, description=what, completed=done, total=total)

    def connectivity(self, paths: list[str]) -> Connectivity:
        from microseg.engine import Connectivity

        with self.progress():
            cluster = self.load(paths)
            conn = self.stage(
                "computing connectivity", lambda: Connectivity.build(cluster, self.options)
            )
        record_connectivity(conn)
        return conn
