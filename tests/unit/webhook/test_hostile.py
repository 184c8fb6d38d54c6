"""What the webhook is sent that it must survive: not JSON, the wrong apiVersion, no uid, an
object of an unknown kind or with fields of the wrong type, 10 MB, a slow client, raw
garbage on the TLS socket. Each gets a clear 4xx or a denial with a message, and the server
keeps answering."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._server import Running, example_state, running, tls_context

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{kind}.json").read_text())
    return data


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(
        example_state(), tmp_path_factory.mktemp("tls"), max_body=1024 * 1024, read_timeout=1.0
    ) as r:
        yield r


@pytest.fixture
def client(hook: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hook.url, verify=tls_context(hook.ca), timeout=30) as c:
        yield c


def _alive(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.post("/validate", json=fixture("ConfigMap")).json()["response"]["allowed"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"not json at all", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[1, 2, 3]", "got a JSON list"),
        (b'"AdmissionReview"', "got a JSON str"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}
            ).encode(),
            "admissionReviewVersions",
        ),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}).encode(),
            "expected apiVersion",
        ),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
            "no request",
        ),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}
            ).encode(),
            "uid is missing",
        ),
        (
            json.dumps(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": 7},
                }
            ).encode(),
            "uid is missing",
        ),
        (
            json.dumps(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": "u", "operation": "PATCH"},
                }
            ).encode(),
            "request.operation",
        ),
        (
            json.dumps(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": "u", "operation": "CREATE", "object": [1]},
                }
            ).encode(),
            "request.object",
        ),
    ],
)
def test_bad_reviews_are_400(client: httpx.Client, body: bytes, reason: str) -> None:
    r = client.post("/validate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert reason in r.json()["error"]
    assert r.json()["code"] == "MS630"
    _alive(client)


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (
            ("securityContext", "privileged"),
            "yes",
            "securityContext.privileged: expected a boolean",
        ),
        (("ports",), {"a": 1}, "ports: expected a list"),
        (("image",), 42, "image: expected a string"),
        (("securityContext", "runAsUser"), True, "securityContext.runAsUser: expected an integer"),
    ],
)
def test_malformed_object_is_denied_with_the_field(
    client: httpx.Client, path: tuple[str, ...], value: Any, where: str
) -> None:
    review = fixture("Deployment")
    c = review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]
    holder = c
    for step in path[:-1]:
        holder = holder.setdefault(step, {})
    holder[path[-1]] = value
    r = client.post("/validate", json=review)
    assert r.status_code == 200
    response = r.json()["response"]
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 400
    assert f"spec.template.spec.containers[0].{where}" in response["status"]["message"]


def test_malformed_policy_is_denied(client: httpx.Client) -> None:
    review = fixture("NetworkPolicy")
    review["request"]["object"]["spec"]["ingress"][0]["ports"][0]["port"] = 70000
    response = client.post("/validate", json=review).json()["response"]
    assert response["allowed"] is False
    assert "spec.ingress[0].ports[0].port" in response["status"]["message"]


def test_unknown_kind_is_allowed(client: httpx.Client) -> None:
    review = fixture("ConfigMap")
    review["request"]["kind"] = {"group": "example.com", "version": "v1", "kind": "Widget"}
    review["request"]["object"] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"x": [1, {"y": None}]},
    }
    response = client.post("/validate", json=review).json()["response"]
    assert response["allowed"] is True


def test_ten_megabytes_refused(client: httpx.Client) -> None:
    review = fixture("ConfigMap")
    review["request"]["object"]["data"] = {"blob": "x" * (10 * 1024 * 1024)}
    r = client.post("/validate", json=review)
    assert r.status_code == 413
    assert "over 1,048,576 bytes" in r.json()["error"]
    _alive(client)


def test_huge_body_without_length_refused(hook: Running) -> None:
    """Chunked, no Content-Length: refused as the limit is passed, not after reading all."""

    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b"x" * 65536

    with httpx.Client(base_url=hook.url, verify=tls_context(hook.ca), timeout=30) as c:
        r = c.post("/validate", content=chunks())
        assert r.status_code == 413


def _tls_socket(hook: Running) -> ssl.SSLSocket:
    ctx = tls_context(hook.ca)
    raw = socket.create_connection(("127.0.0.1", hook.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_slow_client_times_out_and_others_are_served(hook: Running, client: httpx.Client) -> None:
    s = _tls_socket(hook)
    s.sendall(
        b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"apiVersion":'
    )
    answers: list[int] = []

    def others() -> None:
        for _ in range(5):
            answers.append(client.get("/healthz").status_code)

    t = threading.Thread(target=others)
    start = time.monotonic()
    t.start()
    t.join(10)
    assert answers == [200] * 5
    s.settimeout(10)
    reply = s.recv(65536)
    assert time.monotonic() - start < 8
    assert reply.startswith(b"HTTP/1.1 408")
    s.close()


def test_garbage_on_the_socket(hook: Running, client: httpx.Client) -> None:
    for junk in (
        b"\x00" * 4096,
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /validate HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ):
        s = _tls_socket(hook)
        s.sendall(junk)
        s.settimeout(5)
        with contextlib.suppress(TimeoutError, OSError):
            s.recv(4096)
        s.close()
    raw = socket.create_connection(("127.0.0.1", hook.port), timeout=5)
    raw.sendall(b"\x16\x03\x01garbage that is not a TLS hello" * 10)
    raw.close()
    _alive(client)


def test_wrong_method_and_path(client: httpx.Client) -> None:
    assert client.get("/validate").status_code == 405
    assert client.post("/nothing", content=b"{}").status_code == 404
