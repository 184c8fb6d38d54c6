"""`microseg apply --cluster`: the semantic diff, then server-side apply (field manager
microseg, dryRun=All for --dry-run=server) against the fake API server; kubectl's own
server-side apply against the same server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.live.fakeapi import FakeApi
from tests.live.test_cluster_read import run

POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "postgres-allow-shop-tenant", "namespace": "shop"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "postgres"}},
        "policyTypes": ["Ingress"],
        "ingress": [],
    },
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "generated"
    out.mkdir()
    (out / "postgres.yaml").write_text(yaml.safe_dump(POLICY))
    return out


def _policy(api: FakeApi) -> dict:
    return api.objects[api.res("NetworkPolicy")][("shop", "postgres-allow-shop-tenant")]


def test_server_dry_run_shows_the_diff_and_persists_nothing(
    fake_api: FakeApi, kubeconfig: Path, folder: Path
) -> None:
    before = _policy(fake_api)
    out = run(
        "apply", str(folder), "--cluster", "--kubeconfig", str(kubeconfig), "--dry-run=server"
    )
    assert out.returncode == 0, out.stderr
    # The semantic diff first: tightening postgres's ingress removes the webapp's access.
    assert "diff-type: removed" in out.stdout
    assert "shop/postgres[StatefulSet]" in out.stdout
    assert (
        "networkpolicy.networking.k8s.io/postgres-allow-shop-tenant serverside-applied "
        "(server dry run)" in out.stdout
    )
    patches = [r for r in fake_api.requests if r.startswith("PATCH")]
    assert len(patches) == 1
    assert "fieldManager=microseg" in patches[0]
    assert "dryRun=All" in patches[0]
    assert _policy(fake_api) == before


def test_apply_asks_then_applies_and_diff_is_then_empty(
    fake_api: FakeApi, kubeconfig: Path, folder: Path
) -> None:
    refused = run("apply", str(folder), "--cluster", "--kubeconfig", str(kubeconfig))
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    declined = run("apply", str(folder), "--cluster", "--kubeconfig", str(kubeconfig), stdin="n\n")
    assert "nothing applied" in declined.stderr or "--yes" in declined.stderr
    assert not any(r.startswith("PATCH") for r in fake_api.requests)
    done = run("apply", str(folder), "--cluster", "--kubeconfig", str(kubeconfig), "--yes")
    assert done.returncode == 0, done.stderr
    stored = _policy(fake_api)
    assert stored["spec"]["ingress"] == []
    assert stored["metadata"]["managedFields"][0]["manager"] == "microseg"
    again = run("diff", "--cluster", "--kubeconfig", str(kubeconfig), str(folder))
    assert again.returncode == 0, again.stdout
    client = run(
        "apply", str(folder), "--cluster", "--kubeconfig", str(kubeconfig), "--dry-run=client"
    )
    assert client.returncode == 0
    assert "not sent" in client.stderr


def test_an_object_the_server_refuses_is_a_located_error(
    fake_api: FakeApi, kubeconfig: Path, folder: Path
) -> None:
    fake_api.validate = lambda obj: "spec.podSelector: Invalid value: refused by a test webhook"
    out = run("apply", str(folder), "--cluster", "--kubeconfig", str(kubeconfig), "--yes")
    assert out.returncode == 2
    assert "error[MS711]" in out.stderr
    assert "refused by a test webhook" in out.stderr
    assert str(folder / "postgres.yaml") in out.stderr
    missing = run("apply", str(folder), "--kubeconfig", str(kubeconfig))
    assert missing.returncode == 2
    assert "add --cluster" in missing.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_server_side_apply_against_the_same_server(
    fake_api: FakeApi, kubeconfig: Path, folder: Path
) -> None:
    out = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "apply",
            "--server-side",
            "--validate=false",
            "-f",
            str(folder / "postgres.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # A real apply: Debian's kubectl 1.20 asks the OpenAPI document whether a kind
    # supports dry run, and the fake server's is empty (microseg's own dry run is above).
    assert out.returncode == 0, out.stderr
    assert "serverside-applied" in out.stdout
    patch = next(r for r in fake_api.requests if r.startswith("PATCH"))
    assert "fieldManager=kubectl" in patch
    assert _policy(fake_api)["spec"]["ingress"] == []
