"""`microseg ui`: the segmentation graph in a browser (microseg/ui). Serves until stopped;
exit 2 on bad input, a port in use, or a page that was never built (`make ui`)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from microseg.cli.common import FILES, Inputs, fail
from microseg.cli.mesh_session import mesh_connectivity, reading_session
from microseg.cli.options import (
    AssumeMesh,
    AssumeSystemPods,
    HostNet,
    HostNetworkChoice,
    IstioRoot,
    LayerOpt,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    TrustDomain,
    reads_inputs,
)

__all__ = ["ui"]


@reads_inputs
def ui(
    paths: Paths,
    diff: Annotated[
        list[str] | None,
        typer.Option(
            "--diff",
            help="A second input (file or folder, repeatable): the page shows what changes "
            "from PATH to it; with --cluster, from the cluster to the cluster with it applied.",
            show_default=False,
        ),
    ] = None,
    flows: Annotated[
        str | None,
        typer.Option(
            "--flows",
            help="A flow store (`microseg flows import`): observed and denied-but-attempted "
            "traffic on the graph.",
            show_default=False,
        ),
    ] = None,
    intents: Annotated[
        str | None,
        typer.Option(
            "--intents",
            help="Intent file to show, and where intents drawn in the page are saved "
            "(created if missing).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to listen on; other than loopback, a token is required."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8080,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default browser.")
    ] = False,
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    assume_mesh: AssumeMesh = False,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Serve the segmentation graph as a web page (and a JSON API) until stopped."""
    from microseg.cli.commands.flows import open_store
    from microseg.model.flows import EndpointResolver
    from microseg.ui.app import STATIC, create_app
    from microseg.ui.intents import DraftError, IntentBook
    from microseg.ui.server import bind, is_loopback, new_token, serve
    from microseg.ui.state import UiState

    if not (STATIC / "index.html").is_file():
        fail(f"the web page is not built ({STATIC}/index.html missing): run `make ui`")
    if intents is not None and Path(intents).is_dir():
        fail(f"--intents {intents}: a folder; give the file drawn intents are saved to")
    try:
        book = IntentBook.open(intents)
    except DraftError as exc:
        sys.stderr.write("".join(line + "\n" for line in exc.diagnostics))
        fail(f"--intents {intents}: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--intents {intents}: {exc}")
    if flows is not None and not Path(flows).exists():
        fail(f"--flows {flows}: no such flow store (create one with `microseg flows import`)")
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    shown = list(paths or []) or ["the live cluster"]
    other = None
    if diff:
        after = mesh_connectivity(
            session, diff, layer, trust_domain, istio_root_namespace, overlay=inputs.cluster
        )
        other = (diff, after)
    observed = None
    source = None
    if flows is not None:
        from microseg.ingest.flows.window import read_window
        from microseg.ui.recommend import RecommendSource

        with open_store(flows) as store:
            window = session.stage("reading flow keys", lambda: read_window(store))
        resolver = EndpointResolver(conn.cluster, host_network is HostNetworkChoice.NODE)
        observed = (flows, window.keys, resolver)
        source = RecommendSource(window, resolver)
    state = session.stage(
        "building the graph",
        lambda: UiState.build(shown, conn, book, diff=other, flows=observed),
    )
    if not quiet:
        for note in state.notes:
            sys.stderr.write(f"warning: {note}\n")
    loopback = is_loopback(host)
    token = None if loopback else new_token()
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    real_port = sock.getsockname()[1]
    where = f"[{host.strip('[]')}]" if ":" in host else host
    url = f"http://{where}:{real_port}/" + (f"?token={token}" if token else "")
    app = create_app(state, token=token, loopback=loopback, recommend=source)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn handles SIGINT itself
        serve(app, sock, url, open_browser)
    raise typer.Exit(0)
