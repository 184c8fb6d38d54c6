"""Names the API server would refuse are a warning at their line, never a silent accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import Severity
from microseg.ingest import load

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec: {{containers: [{{name: c, image: i}}]}}\n"


def _ms205(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "in.yaml"
    path.write_text(text, encoding="utf-8")
    diags = [d for d in load([str(path)]).diagnostics if d.code == "MS205"]
    assert all(d.severity is Severity.WARNING for d in diags)
    return [d.render() for d in diags]


@pytest.mark.parametrize("name", ["web", "web-1", "a.b.c", "x" * 253])
def test_valid_pod_names_say_nothing(tmp_path: Path, name: str) -> None:
    assert _ms205(tmp_path, POD.format(name=name, ns="shop")) == []


@pytest.mark.parametrize("name", ["Web", "web_1", "-web", "web-", "'a b'", "x" * 254])
def test_invalid_pod_names_warn_at_their_line(tmp_path: Path, name: str) -> None:
    (line,) = _ms205(tmp_path, POD.format(name=name, ns="shop"))
    assert ":4: warning[MS205]: metadata.name: Pod name " in line
    assert "RFC 1123 subdomain" in line


@pytest.mark.parametrize("ns", ["Shop", "a.b", "x" * 64])
def test_namespace_must_be_a_label(tmp_path: Path, ns: str) -> None:
    (line,) = _ms205(tmp_path, POD.format(name="web", ns=ns))
    assert "metadata.namespace: Pod namespace" in line
    assert "RFC 1123 label" in line


def test_service_names_are_rfc1035_labels(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: 9svc, namespace: a}\n"
        "spec: {selector: {a: b}, ports: [{port: 80}]}\n"
    )
    (line,) = _ms205(tmp_path, text)
    assert "Service name '9svc' is not an RFC 1035 label" in line


def test_the_demo_has_only_valid_names(demo_dir: Path) -> None:
    assert not [d for d in load([str(demo_dir)]).diagnostics if d.code == "MS205"]
