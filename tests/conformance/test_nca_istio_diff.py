"""Differential oracle: network-config-analyzer 2.1.0 (in a venv of its own, as bench/nca.py
makes it) against microseg's mesh layer on random AuthorizationPolicy clusters.

Only L4 fields are generated (principals, namespaces and their negations, ports), since
NCA reads every TCP port as possibly HTTP while microseg reads a port as HTTP only when a
Service declares it. NCA puts every pod in the mesh and does not model PeerAuthentication,
so every namespace is labelled for injection and there is none (PERMISSIVE: plaintext from
outside reaches, and matches only rules without identity fields).
"""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.table import MeshTable, mesh_ip_sets, mesh_port_ranges
from microseg.ingest import load
from microseg.model import ConnSet, IntervalSet, IPSet, Protocol
from tests.conftest import REPO

pytestmark = pytest.mark.slow

NAMESPACES = ("ns-a", "ns-b")
ACCOUNTS = ("sa1", "sa2", "default")
PORTS = ("22", "80", "8080")
EXTERNAL = "0.0.0.0-255.255.255.255"


def _nca() -> Path:
    try:
        from bench.nca import ensure
    except ImportError as exc:  # pragma: no cover - the bench folder ships with the repo
        pytest.skip(f"bench/nca.py not importable: {exc}")
    nca, why = ensure(REPO / "bench" / "out" / "nca-venv")
    if nca is None:
        pytest.skip(why)
    return nca


def _cluster_docs(rng: random.Random) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}},
        }
        for ns in NAMESPACES
    ]
    for i in range(rng.randint(2, 4)):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"p{i}",
                    "namespace": rng.choice(NAMESPACES),
                    "labels": {"app": rng.choice(("x", "y"))},
                },
                "spec": {
                    "serviceAccountName": rng.choice(ACCOUNTS),
                    "containers": [{"name": "c", "image": "i"}],
                },
            }
        )

    def source() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        while not out:
            if rng.random() < 0.4:
                ns, sa = rng.choice(NAMESPACES), rng.choice(ACCOUNTS)
                out["principals"] = [rng.choice((f"cluster.local/ns/{ns}/sa/{sa}", "*"))]
            if rng.random() < 0.3:
                out["namespaces"] = [rng.choice(NAMESPACES)]
            if rng.random() < 0.2:
                out["notNamespaces"] = [rng.choice(NAMESPACES)]
            if rng.random() < 0.2:
                out["notPrincipals"] = [f"cluster.local/ns/{rng.choice(NAMESPACES)}/sa/sa1"]
        return out

    for k in range(rng.randint(1, 3)):
        rules = []
        for _ in range(rng.randint(1, 2)):
            rule: dict[str, object] = {}
            if rng.random() < 0.7:
                rule["from"] = [{"source": source()}]
            if rng.random() < 0.6:
                key = rng.choice(("ports", "notPorts"))
                rule["to"] = [{"operation": {key: rng.sample(PORTS, rng.randint(1, 2))}}]
            rules.append(rule)
        spec: dict[str, object] = {"action": rng.choice(("ALLOW", "ALLOW", "DENY")), "rules": rules}
        if rng.random() < 0.6:
            spec["selector"] = {"matchLabels": {"app": rng.choice(("x", "y"))}}
        docs.append(
            {
                "apiVersion": "security.istio.io/v1beta1",
                "kind": "AuthorizationPolicy",
                "metadata": {"name": f"ap{k}", "namespace": rng.choice(NAMESPACES)},
                "spec": spec,
            }
        )
    return docs


def _parse_ports(text: str) -> ConnSet:
    text = text.strip()
    if text == "All connections":
        return ConnSet.single(Protocol.TCP, 1, 65535)
    m = re.fullmatch(r"\{dst_ports:([0-9,\-]+)\}", text)
    assert m, f"unexpected NCA connection {text!r}"
    spans = []
    for part in m.group(1).split(","):
        lo, _, hi = part.partition("-")
        spans.append((int(lo), int(hi or lo)))
    return ConnSet.of({Protocol.TCP: IntervalSet.of(spans)})


def _nca_tcp(nca: Path, folder: Path) -> dict[tuple[str, str], ConnSet]:
    done = subprocess.run(
        [str(nca), "--connectivity", "-r", str(folder), "-o", "txt_no_fw_rules"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0 or "TCP Connections" in done.stdout, done.stderr
    out: dict[tuple[str, str], ConnSet] = {}
    section = ""
    for line in done.stdout.splitlines():
        if line.endswith("Connections:"):
            section = line
            continue
        if section.startswith("TCP") and " => " in line:
            pair, _, conn = line.partition(" : ")
            src, _, dst = pair.partition(" => ")
            out[(src.removesuffix("[Pod]"), dst.removesuffix("[Pod]"))] = _parse_ports(conn)
    return out


def _ours(path: Path) -> dict[tuple[str, str], ConnSet]:
    cluster = load([str(path)])
    classes = EndpointClasses.build(cluster)
    ports = PortAtoms.build(mesh_port_ranges(cluster))
    ips = IPAtoms.build(mesh_ip_sets(cluster))
    table = MeshTable.build(cluster, classes, ports, ips)
    tcp = IntervalSet.span(1, 65535)
    ext = ips.atom_of_address(IPSet.from_address("203.0.113.9"))
    assert ext is not None
    out: dict[tuple[str, str], ConnSet] = {}
    names = [f"{p.namespace}/{p.name}" for p in cluster.pods]
    for j, _dst in enumerate(cluster.pods):
        d = int(classes.pod_class[j])
        cols = [(n, int(classes.pod_class[i])) for i, n in enumerate(names) if i != j]
        cols.append((EXTERNAL, len(classes) + ext))
        for name, col in cols:
            conns = ports.to_connset(table.allow[d, col]) & ConnSet.of({Protocol.TCP: tcp})
            if conns:
                out[(name, names[j])] = conns
    return out


@pytest.mark.parametrize("seed", range(12))
def test_mesh_layer_agrees_with_nca(tmp_path: Path, seed: int) -> None:
    nca = _nca()
    rng = random.Random(seed)
    folder = tmp_path / "cluster"
    folder.mkdir()
    path = folder / "all.yaml"
    path.write_text(yaml.safe_dump_all(_cluster_docs(rng)), encoding="utf-8")
    theirs = {k: v for k, v in _nca_tcp(nca, folder).items() if EXTERNAL not in k[1]}
    assert _ours(path) == theirs
