"""`microseg audit --cluster`: the RBAC objects are listed too (only by audit), and the
findings equal those of a dump of the same objects."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.live.conftest import DEMO
from tests.live.fakeapi import FakeApi
from tests.live.test_cluster_read import run


def _findings(stdout: str) -> list[tuple[str, str, str]]:
    doc = json.loads(stdout)
    return sorted((f["id"], f["severity"], f["message"]) for f in doc["findings"])


def test_audit_reads_rbac_from_the_api_and_agrees_with_the_dump(
    fake_api: FakeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    for obj in yaml.safe_load_all((DEMO / "rbac.yaml").read_text(encoding="utf-8")):
        fake_api.put(obj)
    dump = tmp_path / "dump"
    fake_api.dump(dump)
    live = run("audit", "--cluster", "--kubeconfig", str(kubeconfig), "-o", "json", "-q")
    files = run("audit", str(dump), "-o", "json", "-q")
    assert live.returncode == files.returncode == 0, live.stderr + files.stderr
    doc = json.loads(live.stdout)
    assert doc["counts"]["roles"] == 6
    assert doc["counts"]["bindings"] == 4
    assert "rbac" in doc["inputs"]
    assert _findings(live.stdout) == _findings(files.stdout)
    # other commands do not list RBAC objects: a forbidden RBAC kind warns only in audit
    other = run("stats", "--cluster", "--kubeconfig", str(kubeconfig), "-q")
    assert other.returncode == 0
