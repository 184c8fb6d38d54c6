"""`microseg webhook serve|install`: the guardrails as a validating admission webhook.

`serve` runs the HTTPS server until SIGINT/SIGTERM (exit 0), or exits 2 on bad input
(guardrail files, snapshot manifests, certificate or key). `install` writes the Kubernetes
objects that run it (stdout, or one file per object with --out) and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from microseg.cli.common import EXIT_BAD_INPUT, Session, emit, fail, say
from microseg.cli.guardrail_files import load_guardrail_files
from microseg.cli.options import Quiet
from microseg.cli.usage import MicrosegCommand, MicrosegGroup

__all__ = ["app", "install", "serve"]

app = typer.Typer(
    name="webhook",
    cls=MicrosegGroup,
    rich_markup_mode="markdown",
    help="The guardrails as a validating admission webhook: serve it, or render its install.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Guardrails = Annotated[
    list[str],
    typer.Option(
        "--guardrails",
        help="Guardrails file (repeatable); `microseg schema guardrails` prints its JSON Schema.",
        show_default=False,
    ),
]


@app.command("serve", cls=MicrosegCommand)
def serve(
    guardrails: Guardrails,
    tls_cert: Annotated[
        str, typer.Option("--tls-cert", help="PEM serving certificate.", show_default=False)
    ],
    tls_key: Annotated[str, typer.Option("--tls-key", help="PEM private key.", show_default=False)],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTPS port.")] = 8443,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
    snapshot: Annotated[
        list[str] | None,
        typer.Option(
            "--snapshot",
            help="Manifests or a `kubectl get -o yaml` dump of the cluster (repeatable): what "
            "segmentation rules judge changes against.",
            show_default=False,
        ),
    ] = None,
    max_body: Annotated[
        int, typer.Option("--max-body", min=1024, help="Largest request body, bytes.")
    ] = 4 * 1024 * 1024,
    read_timeout: Annotated[
        float,
        typer.Option("--read-timeout", min=0.1, help="Seconds a client has to send its body."),
    ] = 5.0,
    quiet: Quiet = False,
) -> None:
    """Serve the guardrails as a validating admission webhook over HTTPS (POST /validate)."""
    from microseg.webhook import ServerOptions, TLSError, WebhookState, check_tls, server

    rules = load_guardrail_files(guardrails, quiet)
    try:
        check_tls(tls_cert, tls_key)
    except TLSError as exc:
        fail(f"--tls-cert/--tls-key: {exc}")
    conn = None
    if snapshot:
        session = Session(quiet)
        conn = session.connectivity(snapshot)
    elif rules.needs_snapshot and not quiet:
        sys.stderr.write(
            "warning: no --snapshot: segmentation rules will answer 'no cluster snapshot' "
            "instead of judging changes\n"
        )
    state = WebhookState(rules, conn, ", ".join(snapshot or ()))
    if not quiet:
        sys.stderr.write(
            f"microseg webhook: {len(rules.rules)} rules, https://{host}:{port}/validate\n"
        )
    server(state, ServerOptions(tls_cert, tls_key, host, port, max_body, read_timeout)).run()


def _files(guardrails: list[str], quiet: bool) -> tuple[dict[str, str], tuple[str, ...]]:
    """The guardrail files and the intent files their rules name, by file name: they are
    mounted side by side, so each must have a name of its own and intents rules must name
    files beside their guardrail file."""
    from microseg.model.guardrails import IntentsRule

    rules = load_guardrail_files(guardrails, quiet)
    out: dict[str, str] = {}
    names = []
    for f in guardrails:
        p = Path(f)
        if not p.is_file():
            fail(f"--guardrails {f}: give files (each is mounted into the webhook by name)")
        out[p.name] = p.read_text(encoding="utf-8")
        names.append(p.name)
    for rule in rules.rules:
        if isinstance(rule.check, IntentsRule):
            for f in rule.check.files:
                p = Path(f)
                if p.parent.resolve() not in {Path(g).parent.resolve() for g in guardrails}:
                    fail(
                        f"rule {rule.name}: intent file {f} must sit beside its guardrail file to be mounted"
                    )
                if not p.is_file():
                    fail(f"rule {rule.name}: intent file {f}: give files, not folders, to install")
                out[p.name] = p.read_text(encoding="utf-8")
    if len(set(names)) != len(names):
        fail("--guardrails: two files with one name; rename one")
    return out, tuple(names)


@app.command("install", cls=MicrosegCommand)
def install(
    guardrails: Guardrails,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace of the webhook.")
    ] = "microseg",
    fail_closed: Annotated[
        bool,
        typer.Option(
            "--fail-closed",
            help="failurePolicy Fail: nothing is admitted while the webhook is unreachable "
            "(default Ignore: admission goes on without guardrails).",
        ),
    ] = False,
    cert_manager: Annotated[
        bool,
        typer.Option(
            "--cert-manager",
            help="cert-manager Issuers and Certificates instead of a generated CA.",
        ),
    ] = False,
    image: Annotated[
        str, typer.Option("--image", help="The microseg container image.")
    ] = "ghcr.io/microseg/microseg:0.1.0",
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="Webhook replicas.")] = 3,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Folder to write one YAML file per object into.", show_default=False
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Render the webhook's Deployment, PDB, Service, TLS and ValidatingWebhookConfiguration."""
    from microseg.render.webhook_install import InstallOptions, install_objects, install_yaml
    from microseg.webhook.certs import make_tls, service_names

    session = Session(quiet, namespace=namespace)
    files, names = _files(guardrails, quiet)
    ca = cert = key = ""
    if not cert_manager:
        bundle = make_tls(service_names("microseg-webhook", session.namespace))
        ca, cert, key = bundle.ca_cert, bundle.cert, bundle.key
    options = InstallOptions(
        session.namespace, image, replicas, fail_closed, cert_manager, ca, cert, key, files, names
    )
    objects = install_objects(options)
    if out is None:
        emit(install_yaml(objects))
        return
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for i, obj in enumerate(objects):
            name = f"{i:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            (folder / name).write_text(install_yaml([obj]), encoding="utf-8")
    except OSError as exc:
        say(f"error: --out {out}: {exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not quiet:
        sys.stderr.write(f"wrote {len(objects)} objects to {folder}/ (kubectl apply -f {folder})\n")
