"""`microseg watch`: detect attacks at runtime from Falco alerts, the Kubernetes audit log and
flows; say what the workload can reach right now; optionally quarantine the pod.

The loop is live/watch.py. Runs until SIGINT or SIGTERM, `--duration` seconds, or the end
of stdin when stdin is the only source; exit 0 when no alert was raised, 1 when one was,
2 on bad input.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, FILES, Inputs, fail, say
from microseg.cli.options import (
    HostNet,
    HostNetworkChoice,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    output_option,
    reads_inputs,
)
from microseg.cli.usage import choice

__all__ = ["WatchFormat", "default_state", "watch"]


class WatchFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class Respond(StrEnum):
    OFF = "off"
    LABEL = "label"
    ISOLATE = "isolate"


class Level(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AnpChoice(StrEnum):
    AUTO = "auto"
    YES = "yes"
    NO = "no"


class DetachChoice(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class FlowFormatChoice(StrEnum):
    HUBBLE = "hubble"
    CALICO = "calico"
    ENVOY = "envoy"
    CSV = "csv"


def default_state() -> Path:
    """`MICROSEG_STATE`, else `$XDG_STATE_HOME/microseg`, else `~/.local/state/microseg`."""
    env = os.environ.get("MICROSEG_STATE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(base) / "microseg"


StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="Folder of the action log, the offsets and dry-run plans (default: MICROSEG_STATE, "
        "else $XDG_STATE_HOME/microseg, else ~/.local/state/microseg).",
        show_default=False,
    ),
]


def _sources(option: str) -> Any:
    return typer.Option(
        option,
        help=f"{option[2:].capitalize()} events: a file that grows, a folder of them, or - for "
        "stdin (repeatable)."
        + (
            " Also a flow store (flows import --db), followed by its keys' last_seen."
            if option == "--flows"
            else ""
        ),
        show_default=False,
    )


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@reads_inputs
def watch(
    paths: Paths,
    falco: Annotated[list[str] | None, _sources("--falco")] = None,
    audit: Annotated[list[str] | None, _sources("--audit")] = None,
    flows: Annotated[list[str] | None, _sources("--flows")] = None,
    flows_format: Annotated[
        FlowFormatChoice | None,
        typer.Option(
            "--flows-format",
            parser=choice("--flows-format", FlowFormatChoice),
            help="The flow records' format (default: told from the first records).",
            show_default=False,
        ),
    ] = None,
    intents: Annotated[
        list[str] | None,
        typer.Option(
            "--intents",
            help="SegmentationIntent file or folder (repeatable): flows a deny or "
            "noInternetEgress intent forbids are alerts.",
            show_default=False,
        ),
    ] = None,
    respond: Annotated[
        Respond,
        typer.Option(
            "--respond",
            parser=choice("--respond", Respond),
            help="off: alerts only; label: label the pod microseg.dev/quarantine=<alert id>; "
            "isolate: label it and apply the quarantine policies, proven by the engine.",
        ),
    ] = Respond.OFF,
    respond_severity: Annotated[
        Level,
        typer.Option(
            "--respond-severity",
            parser=choice("--respond-severity", Level),
            help="Respond to alerts of this severity or above.",
        ),
    ] = Level.HIGH,
    min_severity: Annotated[
        Level,
        typer.Option(
            "--min-severity",
            parser=choice("--min-severity", Level),
            help="Alerts below this severity are counted as ignored, not printed.",
        ),
    ] = Level.LOW,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Write the YAML a response would apply (under --state plans/), apply nothing.",
        ),
    ] = False,
    forensics_namespace: Annotated[
        str,
        typer.Option(
            "--forensics-namespace",
            help="A quarantined pod keeps all traffic with this namespace, both ways.",
        ),
    ] = "",
    no_dns: Annotated[
        bool, typer.Option("--no-dns", help="A quarantined pod does not keep DNS either.")
    ] = False,
    anp: Annotated[
        AnpChoice,
        typer.Option(
            "--anp",
            parser=choice("--anp", AnpChoice),
            help="Add an AdminNetworkPolicy to the quarantine: auto (when the cluster serves "
            "them; with files, when the input has some), yes or no.",
        ),
    ] = AnpChoice.AUTO,
    detach: Annotated[
        DetachChoice,
        typer.Option(
            "--detach",
            parser=choice("--detach", DetachChoice),
            help="Take the pod's other labels away during the quarantine: auto (when the "
            "engine shows the policies selecting them would keep it open), always or never.",
        ),
    ] = DetachChoice.AUTO,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            help="NAME=VALUE (repeatable): window, scan.ports, scan.sensitive, sweep.hosts, "
            "denied.count, audit.forbidden, dedupe, rate.alerts, rate.subject, evidence, lateness.",
            show_default=False,
        ),
    ] = None,
    state: StateOpt = None,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start", help="Read the sources from their start, not from the saved offsets."
        ),
    ] = False,
    output: Annotated[
        WatchFormat,
        output_option(WatchFormat, "text, or json: one JSON object per alert (JSON Lines)."),
    ] = WatchFormat.TEXT,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0, help="Stop after this many seconds.", show_default=False),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", min=0.01, help="Seconds between looks at idle sources.")
    ] = 0.1,
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Detect attacks from Falco, audit and flow events; say what the workload can reach;
    quarantine it (--respond). Exit 0 without alerts, 1 with."""
    from microseg.analyses.runtime.config import Thresholds
    from microseg.analyses.runtime.quarantine import Detach, Keep
    from microseg.cli.common import Session
    from microseg.cli.intent_files import load_intent_files
    from microseg.errors import Diagnostic, InputError
    from microseg.ingest.flows import FlowFormat
    from microseg.live.watch import WatchLoop, WatchOptions, settle_memory
    from microseg.model.events import Severity as AlertSeverity
    from microseg.render.diagnostics import render_diagnostics
    from microseg.render.watch import alert_json, alert_text, summary_json, summary_text

    sources = [
        *(("falco", s) for s in falco or []),
        *(("audit", s) for s in audit or []),
        *(("flows", s) for s in flows or []),
    ]
    if not sources:
        fail("no events to watch: give --falco, --audit or --flows (a file, a folder or -)")
    if sum(spec == "-" for _, spec in sources) > 1:
        fail("only one source can be stdin (-)")
    for kind, spec in sources:
        if kind != "flows" and spec != "-" and spec.endswith((".duckdb", ".db")):
            fail(f"--{kind} {spec}: a flow store holds flows; give it to --flows")
    if respond is not Respond.OFF and not inputs.cluster and not dry_run:
        sys.stderr.write(
            f"error[MS810]: --respond {respond.value} acts on the cluster: add --cluster, or "
            "--dry-run to write the plans instead\n"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    thresholds = Thresholds()
    for item in threshold or []:
        try:
            thresholds = thresholds.set(item)
        except ValueError as exc:
            say(f"error[MS810]: --threshold {exc}\n")
            raise typer.Exit(EXIT_BAD_INPUT) from None
    intent_set = load_intent_files(intents, quiet) if intents else None
    session = Session(quiet, no_color, host_network.value, namespace=namespace, inputs=inputs)
    options = WatchOptions(
        state=state or default_state(),
        thresholds=thresholds,
        min_severity=AlertSeverity.parse(min_severity.value),
        respond=respond.value,
        respond_severity=AlertSeverity.parse(respond_severity.value),
        dry_run=dry_run,
        keep=Keep(dns=not no_dns, forensics=forensics_namespace),
        anp=anp.value,
        detach=Detach(detach.value),
        poll=poll,
        resume=not from_start,
        flows_format=FlowFormat(flows_format.value) if flows_format is not None else None,
        intents=intent_set,
    )

    def on_diagnostic(d: Diagnostic) -> None:
        if not quiet or d.severity.value == "error":
            sys.stderr.write(render_diagnostics([d]))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + duration if duration is not None else None

    def done() -> bool:
        return stop.is_set() or (deadline is not None and time.monotonic() >= deadline)

    snapshot = _snapshot(inputs, session, paths, on_diagnostic, quiet)
    render = alert_json if output is WatchFormat.JSON else alert_text
    try:
        loop = WatchLoop(sources, snapshot, options, lambda r: _write(render(r)), on_diagnostic)
        settle_memory()
    except OSError as exc:
        say(f"error[MS800]: --state {options.state}: {exc.strerror or exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not quiet:
        what = ", ".join(f"{k} {s}" for k, s in sources)
        sys.stderr.write(f"watching {what}; state in {options.state}\n")
    snapshot.follow(done)
    try:
        loop.run(done)
    except InputError as exc:
        sys.stderr.write(render_diagnostics(exc.diagnostics))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        loop.close()
        snapshot.close()
    extra = loop.summary()
    if output is WatchFormat.JSON:
        _write(summary_json(loop.tally, loop.alerts, extra))
    elif not quiet:
        sys.stderr.write(summary_text(loop.tally, loop.alerts, extra))
    raise typer.Exit(EXIT_VIOLATION if loop.alerts else 0)


def _snapshot(
    inputs: Inputs, session: Any, paths: list[str] | None, on_diagnostic: Any, quiet: bool
) -> Any:
    from microseg.engine import Connectivity
    from microseg.live.watch import Snapshot

    if not inputs.cluster:
        return Snapshot(session.connectivity(list(paths or [])))
    if paths:
        fail("give PATHs or --cluster, not both")
    from microseg.errors import InputError
    from microseg.ingest.cluster import ConfigError, connect
    from microseg.live.monitor import Monitor, MonitorOptions
    from microseg.model.intent import IntentSet
    from microseg.render.diagnostics import render_diagnostics

    try:
        api = connect(inputs.config())
    except ConfigError as exc:
        say(f"cluster: error[MS700]: {exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None

    class _Follow(Monitor):
        """The monitor's list and watches keep the index current; no intents to verify."""

        def _verify(self, cause: Any, started: float, batched: int) -> None:
            return None

    monitor = _Follow(
        api,
        inputs.config(),
        IntentSet(),
        lambda _c: None,
        on_diagnostic,
        MonitorOptions(session.options),
    )
    try:
        monitor.start()
    except InputError as exc:
        sys.stderr.write(render_diagnostics(exc.diagnostics))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if inputs.strict:
        session.strict_check(monitor.started_diagnostics)
    assert isinstance(monitor.conn, Connectivity)
    if not quiet:
        sys.stderr.write(f"cluster {api.context}: {len(monitor.state.docs):,} objects\n")
    return Snapshot(api=api, monitor=monitor)
