"""The fake API server (tests/live/fakeapi.py) on loopback, loaded with the demo shop, and
a kubeconfig pointing the official client and kubectl at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.live.fakeapi import ADMIN, BUILTIN, ISTIO, FakeApi

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"


def demo_objects() -> list[dict[str, Any]]:
    out = []
    for f in sorted(DEMO.rglob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if (
                isinstance(doc, dict)
                and doc.get("kind")
                and doc.get("apiVersion") != "microseg.dev/v1alpha1"
            ):
                out.append(doc)
    return out


def load(api: FakeApi, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        api.put(obj)


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi(BUILTIN + ADMIN + ISTIO).start()
    load(api, demo_objects())
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def kubeconfig(fake_api: FakeApi, tmp_path: Path) -> Path:
    return fake_api.kubeconfig(tmp_path / "kubeconfig")
