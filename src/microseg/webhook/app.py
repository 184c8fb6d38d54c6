"""The webhook's HTTP face (FastAPI): `POST /validate`, `/healthz`, `/readyz`, `/metrics`.

Whatever it is sent, it answers:
- a body over `max_body` bytes: 413 as soon as the limit is passed (the API server never
  sends more than its own 3 MiB request limit plus the review's envelope);
- a client that does not send its body within `read_timeout` seconds: 408, and the
  connection is closed (a slow client holds one connection, never the server);
- a body that is not an AdmissionReview v1 request with a uid: 400 with the reason (MS630);
- an object that cannot be read: a denial (allowed: false, code 400) naming the field;
- a kind the guardrails do not judge: allowed, with no findings;
- anything else: the guardrails' verdict.
A failure of microseg itself is a 500, and the API server then applies the webhook's
`failurePolicy` (Fail: fail closed; Ignore: fail open): the operator's choice, made in
`microseg webhook install --fail-closed`.

Pod reviews are answered on the event loop (they take a fraction of a millisecond); policy
reviews, which run the engine, in a worker thread, one at a time, so health checks and pod
reviews are not held up behind them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from microseg.webhook.state import Answer, WebhookState

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_READ_TIMEOUT", "create_app"]

DEFAULT_MAX_BODY = 4 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 5.0
log = logging.getLogger("microseg.webhook")


class _TooLarge(Exception):
    pass


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reviews = Counter(
            "microseg_admission_reviews",
            "AdmissionReviews answered, by kind, operation and verdict.",
            ["kind", "operation", "allowed"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "microseg_admission_bad_requests",
            "Requests refused before a verdict (HTTP 4xx), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.errors = Counter(
            "microseg_admission_errors", "Reviews that failed (HTTP 500).", registry=self.registry
        )
        self.latency = Histogram(
            "microseg_admission_review_seconds",
            "Time to answer one AdmissionReview, by whether the engine ran.",
            ["engine"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.snapshot = Gauge(
            "microseg_snapshot_changes_applied",
            "Admitted changes applied to the cluster snapshot since start.",
            registry=self.registry,
        )


class _Disconnected(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class _ValidateFirst:
    """`POST /validate` answered straight on ASGI, every other request by the FastAPI app:
    the review path then costs no routing, no Request/Response objects and no extra task,
    which is most of a pod review's time (bench/webhook.py)."""

    def __init__(
        self,
        inner: ASGIApp,
        state: WebhookState,
        metrics: _Metrics,
        max_body: int,
        read_timeout: float,
    ) -> None:
        self.inner = inner
        self.state = state
        self.metrics = metrics
        self.max_body = max_body
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/validate" or scope["method"] != "POST":
            await self.inner(scope, receive, send)
            return
        status, body, close = await self._validate(scope, receive)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _validate(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bool]:
        metrics, state = self.metrics, self.state
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                metrics.rejected.labels("too-large").inc()
                return 413, self._error(f"request body over {self.max_body:,} bytes"), True
        try:
            async with asyncio.timeout(self.read_timeout):
                body = await _read_body(receive, self.max_body)
        except _TooLarge:
            metrics.rejected.labels("too-large").inc()
            return 413, self._error(f"request body over {self.max_body:,} bytes"), True
        except TimeoutError:
            metrics.rejected.labels("timeout").inc()
            return (
                408,
                self._error(f"request body not received within {self.read_timeout:g} s"),
                True,
            )
        except _Disconnected:
            return 400, self._error("the client went away"), True
        start = time.perf_counter()
        try:
            if state.needs_engine(body):
                answer: Answer = await anyio.to_thread.run_sync(state.answer, body)
            else:
                answer = state.answer(body)
        except Exception:
            metrics.errors.inc()
            log.exception("review failed")
            return (
                500,
                _json_bytes({"error": "internal error while reviewing; see the webhook's log"}),
                False,
            )
        metrics.latency.labels("yes" if answer.engine else "no").observe(
            time.perf_counter() - start
        )
        if answer.error == "bad-review":
            metrics.rejected.labels("bad-review").inc()
        else:
            metrics.reviews.labels(
                answer.kind, answer.operation, "true" if answer.allowed else "false"
            ).inc()
        return answer.status, _json_bytes(answer.body), False

    @staticmethod
    def _error(message: str) -> bytes:
        return _json_bytes({"error": message, "code": "MS630"})


def create_app(
    state: WebhookState,
    max_body: int = DEFAULT_MAX_BODY,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> ASGIApp:
    app = FastAPI(
        title="microseg admission webhook", docs_url=None, redoc_url=None, openapi_url=None
    )
    metrics = _Metrics()

    @app.post("/validate")
    async def validate() -> Response:  # pragma: no cover - answered by _ValidateFirst
        return Response(_json_bytes({"error": "unreachable"}), 500, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        rules = len(state.guardrails.rules)
        snapshot = state.snapshot or None
        return JSONResponse(
            {"ready": True, "rules": rules, "snapshot": snapshot, "changesApplied": state.applied}
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics.snapshot.set(state.applied)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return _ValidateFirst(app, state, metrics, max_body, read_timeout)
