"""Running the webhook: uvicorn over TLS only (uvloop and httptools where installed)."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

import uvicorn

from microseg.webhook.app import DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT, create_app
from microseg.webhook.state import WebhookState

__all__ = ["ServerOptions", "TLSError", "check_tls", "server"]


class TLSError(Exception):
    """The certificate or key cannot serve TLS; the message says why."""


@dataclass(frozen=True, slots=True)
class ServerOptions:
    cert: str
    key: str
    host: str = "0.0.0.0"
    port: int = 8443
    max_body: int = DEFAULT_MAX_BODY
    read_timeout: float = DEFAULT_READ_TIMEOUT
    log_level: str = "warning"


def check_tls(cert: str, key: str) -> None:
    """Load the pair as the server will, so that a bad file is a clear error at start-up."""
    for path in (cert, key):
        if not os.path.isfile(path):
            raise TLSError(f"{path}: no such file")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TLSError(
            f"{cert} / {key}: not a certificate and matching private key ({exc})"
        ) from None


def server(state: WebhookState, options: ServerOptions) -> uvicorn.Server:
    """A uvicorn server for the webhook; `.run()` serves until SIGINT/SIGTERM."""
    check_tls(options.cert, options.key)
    app = create_app(state, options.max_body, options.read_timeout)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        ssl_certfile=options.cert,
        ssl_keyfile=options.key,
        loop="auto",
        http="auto",
        log_level=options.log_level,
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
        server_header=False,
        proxy_headers=False,
    )
    return uvicorn.Server(config)
