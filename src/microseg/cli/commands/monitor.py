"""`microseg monitor`: verify the intents continuously, and print every violation opened or
closed with the change that caused it.

With `--cluster` the live API is listed then watched (live/monitor.py); with PATHs the
files are read again whenever one changes (live/files.py). Runs until interrupted (SIGINT,
SIGTERM) or `--duration` seconds; exit 0 when every intent holds at the end, 1 when some
violation is open, 2 on bad input.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from microseg.cli.common import EXIT_BAD_INPUT, EXIT_VIOLATION, FILES, Inputs, fail, say
from microseg.cli.intent_files import load_intent_files
from microseg.cli.mesh_session import parse_layer, reading_session
from microseg.cli.options import (
    HostNet,
    HostNetworkChoice,
    LayerOpt,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    output_option,
    reads_inputs,
)

__all__ = ["MonitorFormat", "monitor"]


class MonitorFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()  # one line per verdict, as it happens, even into a pipe


@reads_inputs
def monitor(
    paths: Paths,
    intents: Annotated[
        list[str],
        typer.Option(
            "--intents",
            help="SegmentationIntent file or folder (repeatable).",
            show_default=False,
        ),
    ],
    output: Annotated[
        MonitorFormat,
        output_option(MonitorFormat, "text, or json: one JSON object per line (JSON Lines)."),
    ] = MonitorFormat.TEXT,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            help="Serve Prometheus metrics on this port (/metrics; 0: any free port).",
            min=0,
            max=65535,
            show_default=False,
        ),
    ] = None,
    metrics_address: Annotated[
        str, typer.Option("--metrics-address", help="Address the metrics server listens on.")
    ] = "0.0.0.0",
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            help="Stop after this many seconds (default: run until interrupted).",
            min=0,
            show_default=False,
        ),
    ] = None,
    poll: Annotated[
        float,
        typer.Option("--poll", help="With PATHs: seconds between looks at the files.", min=0.05),
    ] = 1.0,
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    layer: LayerOpt = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Verify the intents continuously: every violation opened or closed, with the change
    behind it. Exit 0 when all hold at the end, 1 when a violation is open."""
    from microseg.errors import Diagnostic, InputError
    from microseg.live.metrics import Metrics
    from microseg.render.diagnostics import render_diagnostics
    from microseg.render.monitor import change_json, change_text

    intent_set = load_intent_files(intents, quiet)
    session = reading_session(inputs, quiet, no_color, host_network, namespace, False, False)
    if not inputs.cluster and not paths:
        fail("no input: give files or folders to watch, or --cluster")
    if inputs.cluster and paths:
        fail("give PATHs or --cluster, not both")
    render = change_json if output is MonitorFormat.JSON else change_text

    def on_change(change: Any) -> None:
        _write(render(change))

    def on_diagnostic(d: Diagnostic) -> None:
        if not quiet or d.severity.value == "error":
            sys.stderr.write(render_diagnostics([d]))

    metrics = Metrics()
    if metrics_port is not None:
        try:
            port = metrics.serve(metrics_port, metrics_address)
        except OSError as exc:
            fail(f"--metrics-port {metrics_port}: cannot listen ({exc.strerror or exc})")
        if not quiet:
            sys.stderr.write(f"metrics on http://{metrics_address}:{port}/metrics\n")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + duration if duration is not None else None

    def done() -> bool:
        return stop.is_set() or (deadline is not None and time.monotonic() >= deadline)

    layer_choice = parse_layer(layer)
    try:
        if inputs.cluster:
            from microseg.ingest.cluster import ConfigError, connect
            from microseg.live.monitor import Monitor, MonitorOptions

            try:
                api = connect(inputs.config())
            except ConfigError as exc:
                say(f"cluster: error[MS700]: {exc}\n")
                raise typer.Exit(EXIT_BAD_INPUT) from None
            live = Monitor(
                api,
                inputs.config(),
                intent_set,
                on_change,
                on_diagnostic,
                MonitorOptions(session.options, layer_choice),
                metrics,
            )
            report = live.start()
            if inputs.strict:
                session.strict_check(live.started_diagnostics)
            if not quiet:
                sys.stderr.write(
                    f"monitoring {api.context}: {len(live.state.docs):,} objects, "
                    f"{len(report.violations)} of {len(report.findings)} intents violated\n"
                )
            live.run(done)
            live.close()
            final = live.report
        else:
            from microseg.live.files import FileMonitor

            files = FileMonitor(
                list(paths or []),
                intent_set,
                on_change,
                on_diagnostic,
                session.options,
                layer_choice,
                namespace,
                metrics,
            )
            files.start()
            if inputs.strict:
                session.strict_check(files.started_diagnostics)
            files.run(done, poll)
            final = files.report
    except InputError as exc:
        sys.stderr.write(render_diagnostics(exc.diagnostics))
        sys.stderr.write("the input cannot be read; nothing is monitored\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    raise typer.Exit(EXIT_VIOLATION if final is not None and not final.ok else 0)
