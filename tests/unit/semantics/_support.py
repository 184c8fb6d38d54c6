"""Helpers for the meaning-level tests: real YAML through `microseg.load`, answers through
`Connectivity.reach`.

Why a fixture over both ingest paths: NetworkPolicies are read by a memoized fast path and,
when it does not vouch for a document, by the pydantic schema. Each path applies the API's
defaults itself, so every rule is asserted through both (the `ingest_path` fixture forces
the schema path by making the fast one decline)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import microseg
from microseg.engine.query import Layer
from microseg.ingest import netpols
from microseg.model import ConnSet, Protocol

__all__ = ["ALL", "NONE", "World", "ingest_path", "tcp", "udp", "written_text"]

ALL = ConnSet.all()
NONE = ConnSet.none()


def tcp(lo: int, hi: int | None = None) -> ConnSet:
    return ConnSet.single(Protocol.TCP, lo, hi)


def udp(lo: int, hi: int | None = None) -> ConnSet:
    return ConnSet.single(Protocol.UDP, lo, hi)


class World:
    """A cluster written as YAML: `base` (namespaces and pods) plus the policies of a test."""

    def __init__(self, tmp_path: Path, base: str, layer: Layer = Layer.NETWORK) -> None:
        self.tmp_path, self.base, self.layer = tmp_path, base, layer
        self._n = 0

    def build(self, *docs: str) -> microseg.Connectivity:
        self._n += 1
        path = self.tmp_path / f"cluster{self._n}.yaml"
        parts = [textwrap.dedent(self.base).strip()]
        parts += [textwrap.dedent(d).strip() for d in docs]
        path.write_text("\n---\n".join(parts) + "\n", encoding="utf-8")
        cluster = microseg.load([str(path)])
        conn = microseg.Connectivity.build(cluster).with_layer(self.layer)
        _WRITTEN[id(conn)] = (conn, path.read_text(encoding="utf-8"))
        return conn


# The YAML each answer was built from, so that a test can put the same text to the
# reference evaluators (engine/spec), which read raw documents, not the model. The
# Connectivity is held beside its text so that its id is not reused within a test run.
_WRITTEN: dict[int, tuple[microseg.Connectivity, str]] = {}


def written_text(conn: microseg.Connectivity) -> str:
    """The YAML `World.build` wrote for `conn`."""
    return _WRITTEN[id(conn)][1]


@pytest.fixture(params=["fast", "schema"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which NetworkPolicy ingest path reads the documents of the test."""
    if request.param == "schema":
        monkeypatch.setattr(netpols, "fast_network_policy", lambda doc, memo: None)
    return str(request.param)
