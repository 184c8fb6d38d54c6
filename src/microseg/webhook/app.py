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
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _json(status: int, body: dict[str, Any], close: bool = False) -> Response:
    headers = {"connection": "close"} if close else None
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def create_app(
    state: WebhookState,
    max_body: int = DEFAULT_MAX_BODY,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> FastAPI:
    app = FastAPI(
        title="microseg admission webhook", docs_url=None, redoc_url=None, openapi_url=None
    )
    metrics = _Metrics()
    app.state.webhook = state
    app.state.metrics = metrics

    @app.post("/validate")
    async def validate(request: Request) -> Response:
        try:
            body = await asyncio.wait_for(_read_body(request, max_body), read_timeout)
        except _TooLarge:
            metrics.rejected.labels("too-large").inc()
            return _json(
                413, {"error": f"request body over {max_body:,} bytes", "code": "MS630"}, close=True
            )
        except TimeoutError:
            metrics.rejected.labels("timeout").inc()
            return _json(
                408,
                {"error": f"request body not received within {read_timeout:g} s", "code": "MS630"},
                close=True,
            )
        start = time.perf_counter()
        try:
            if state.needs_engine(body):
                answer: Answer = await anyio.to_thread.run_sync(state.answer, body)
            else:
                answer = state.answer(body)
        except Exception:
            metrics.errors.inc()
            log.exception("review failed")
            return _json(500, {"error": "internal error while reviewing; see the webhook's log"})
        metrics.latency.labels("yes" if answer.engine else "no").observe(
            time.perf_counter() - start
        )
        if answer.error == "bad-review":
            metrics.rejected.labels("bad-review").inc()
        else:
            metrics.reviews.labels(answer.kind, answer.operation, str(answer.allowed).lower()).inc()
        metrics.snapshot.set(state.applied)
        return _json(answer.status, answer.body)

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
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
