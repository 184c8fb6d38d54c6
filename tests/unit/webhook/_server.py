"""A real webhook on loopback for the tests: uvicorn over TLS on an ephemeral port, with a
CA and serving certificate made for the run, and the state to serve."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import microseg
from microseg.engine import Connectivity
from microseg.ingest.guardrails import load_guardrails
from microseg.webhook import ServerOptions, WebhookState, server
from microseg.webhook.certs import make_tls

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "guardrails"


@dataclass(frozen=True)
class Running:
    url: str
    ca: str
    port: int
    state: WebhookState


def tls_context(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def example_state(snapshot: bool = True) -> WebhookState:
    guardrails, _ = load_guardrails([str(EXAMPLE / "guardrails.yaml")])
    conn = Connectivity.build(microseg.load([str(EXAMPLE / "cluster")])) if snapshot else None
    return WebhookState(guardrails, conn, str(EXAMPLE / "cluster") if snapshot else "")


def write_tls(folder: Path, names: list[str]) -> tuple[str, str, str]:
    bundle = make_tls(names)
    paths = []
    for name, text in (
        ("ca.pem", bundle.ca_cert),
        ("tls.crt", bundle.cert),
        ("tls.key", bundle.key),
    ):
        (folder / name).write_text(text)
        paths.append(str(folder / name))
    return paths[0], paths[1], paths[2]


@contextmanager
def running(
    state: WebhookState, folder: Path, *, max_body: int = 4 * 1024 * 1024, read_timeout: float = 5.0
) -> Iterator[Running]:
    ca, cert, key = write_tls(folder, ["localhost", "127.0.0.1"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = server(
        state, ServerOptions(cert, key, "127.0.0.1", port, max_body, read_timeout, "error")
    )
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the webhook did not start")
        time.sleep(0.02)
    try:
        yield Running(f"https://127.0.0.1:{port}", ca, port, state)
    finally:
        srv.should_exit = True
        thread.join(15)
        sock.close()
