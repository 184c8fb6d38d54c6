"""network-config-analyzer's Istio cases (istio_testcases/example_policies/testcase1-3) as
an oracle for AuthorizationPolicy: the configurations NCA rejects are located MS140 errors,
the ones it accepts load, and its equivalence and vacuity verdicts hold for microseg's
mesh layer.

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

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.table import MeshTable, mesh_ip_sets, mesh_port_ranges
from microseg.engine.query import MeshVerdict
from microseg.errors import InputError
from microseg.ingest import load
from microseg.model import Cluster, IPSet, Protocol

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
    assert checked >= 30


def _signature(cluster: Cluster) -> dict[tuple[str, str, int], MeshVerdict]:
    """The mesh verdict for every pod pair (and one external address) on probe ports."""
    classes = EndpointClasses.build(cluster)
    ports = PortAtoms.build(
        [*mesh_port_ranges(cluster), *((Protocol.TCP, p, p) for p in PROBE_PORTS)]
    )
    ips = IPAtoms.build([*mesh_ip_sets(cluster), IPSet.from_address(PROBE_ADDRESS)])
    table = MeshTable.build(cluster, classes, ports, ips)
    ext = ips.atom_of_address(IPSet.from_address(PROBE_ADDRESS))
    assert ext is not None
    sources = [
        (f"{p.namespace}/{p.name}", int(classes.pod_class[i])) for i, p in enumerate(cluster.pods)
    ]
    sources.append((PROBE_ADDRESS, len(classes) + ext))
    out = {}
    for j, dst in enumerate(cluster.pods):
        d = int(classes.pod_class[j])
        for name, col in sources:
            for port in PROBE_PORTS:
                out[(name, dst.name, port)] = table.verdict(
                    d, col, ports.atom_of(Protocol.TCP, port)
                )
    return out


def _load_named(root: Path, tmp_path: Path) -> dict[tuple[str, str], Cluster]:
    out = {}
    for config, scheme, base in _configs(root):
        if config.expected_error:
            continue
        topo = _topology(root, scheme, base, tmp_path / config.case)
        out[(config.case, config.name)] = load([str(p) for p in (*topo, *config.files)])
    return out


def test_equivalence_and_vacuity_queries(corpus: Path, tmp_path: Path) -> None:
    root = _root(corpus)
    clusters = _load_named(root, tmp_path)
    checked = 0
    for case, _path, scheme in _schemes(root):
        for query in scheme.get("queries", []):
            if "equivalence" in query:
                names = query["equivalence"]
                sigs = [_signature(clusters[(case, n)]) for n in names]
                differing = sum(1 for s in sigs[1:] if s != sigs[0])
                # NCA counts the configurations not equivalent to the first.
                assert differing == query["expected"], (case, query["name"])
                checked += 1
            elif "vacuity" in query:
                (name,) = query["vacuity"]
                sig = _signature(clusters[(case, name)])
                vacuous = all(v == MeshVerdict(True) for v in sig.values())
                assert int(vacuous) == query["expected"], (case, query["name"])
                checked += 1
    assert checked >= 3
