"""The mesh part of `make demo` shows the connection NetworkPolicy allows and the mesh
denies, with both layers in one chain, and the identity-and-L7 allowed call."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.cli.common import Session
from microseg.cli.demo_mesh import run


def test_two_layer_explanation(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(demo_dir.parents[1])
    run(Session(quiet=True, no_color=True))
    out = capsys.readouterr().out
    assert "NetworkPolicy alone allows it" in out
    assert (
        "DENIED  monitoring/prometheus[Deployment] -> shop/api-gateway[Deployment]  TCP 9100" in out
    )
    assert (
        "chain TCP 9100: [NP shop/allow-prometheus-scrape#0 Allow] + [mTLS STRICT shop: plaintext rejected]"
        in out
    )
    assert "TCP 8080 {methods: GET|POST, paths: /api/*} unless {paths: /admin*}" in out


def test_make_demo_ends_with_the_two_layer_section(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from microseg.cli.app import app

    monkeypatch.chdir(demo_dir.parents[1])
    result = CliRunner().invoke(app, ["demo", "--no-color"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    blast_at = out.index("Blast radius: what an attacker holding frontend/webapp can reach")
    mesh_at = out.index("Two layers: NetworkPolicy allows it, the Istio mesh denies it")
    assert mesh_at > blast_at
    assert "[mTLS STRICT shop: plaintext rejected]" in out[mesh_at:]
