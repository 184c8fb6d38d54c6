"""network-config-analyzer's Istio cases (istio_testcases/example_policies/testcase1-3) as
an oracle for AuthorizationPolicy: the configurations NCA rejects are located MS140 errors,
and the ones it accepts load. Every query of those cases is held to NCA itself by
test_nca_istio_queries.py.

Adaptations, each stated: NCA's pod list writes `ports: {}` for containers without ports,
which Kubernetes would reject, so the test rewrites it to `[]`; NCA treats every pod as
running a sidecar, so the test labels every namespace `istio-injection=enabled`. NCA does
not model PeerAuthentication, so the cases have none and mTLS is PERMISSIVE throughout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from microseg.errors import InputError
from microseg.ingest import load

CASES = ("testcase1", "testcase2", "testcase3")
PROBE_PORTS = (1, 30, 80, 443, 8080, 9080, 26257, 50000)
PROBE_ADDRESS = "203.0.113.9"


def _root(corpus: Path) -> Path:
    root = corpus / "network-config-analyzer" / "istio_testcases" / "example_policies"
    if not root.is_dir():
        pytest.skip(f"no NCA Istio cases under {root}")
    return root


@dataclass(frozen=True)
class Config:
    case: str
    name: str
    files: tuple[Path, ...]
    expected_error: int


def _topology(root: Path, scheme: dict[str, Any], base: Path, out: Path) -> list[Path]:
    ns_doc = json.loads((base / scheme["namespaceList"]).resolve().read_text())
    for item in ns_doc["items"]:
        item["metadata"].setdefault("labels", {})["istio-injection"] = "enabled"
    pods_doc = json.loads((base / scheme["podList"]).resolve().read_text())
    for pod in pods_doc["items"]:
        for c in pod.get("spec", {}).get("containers", []):
            if c.get("ports") == {}:
                c["ports"] = []
    out.mkdir(parents=True, exist_ok=True)
    (out / "ns.json").write_text(json.dumps(ns_doc))
    (out / "pods.json").write_text(json.dumps(pods_doc))
    return [out / "ns.json", out / "pods.json"]


def _schemes(root: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    out = []
    for case in CASES:
        for path in sorted((root / case).glob("*-scheme.yaml")):
            out.append((case, path, yaml.safe_load(path.read_text())))
    return out


def _configs(root: Path) -> list[tuple[Config, dict[str, Any], Path]]:
    out = []
    for case, path, scheme in _schemes(root):
        for cfg in scheme["networkConfigList"]:
            files = tuple((path.parent / f).resolve() for f in cfg["networkPolicyList"])
            config = Config(case, cfg["name"], files, int(cfg.get("expectedError", 0)))
            out.append((config, scheme, path.parent))
    return out


def test_configs_load_or_fail_as_nca_says(corpus: Path, tmp_path: Path) -> None:
    root = _root(corpus)
    checked = 0
    for config, scheme, base in _configs(root):
        topo = _topology(root, scheme, base, tmp_path / config.case)
        paths = [str(p) for p in (*topo, *config.files)]
        if config.expected_error:
            with pytest.raises(InputError) as info:
                load(paths)
            ours = [d for d in info.value.diagnostics if d.code == "MS140"]
            assert ours, (config, [d.render() for d in info.value.diagnostics])
            assert all(d.origin is not None and d.origin.line is not None for d in ours)
        else:
            cluster = load(paths)
            assert cluster.authorization_policies, config
        checked += 1
    assert checked == 38  # every configuration of testcase1-3
