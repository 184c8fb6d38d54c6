"""The fast mesh layer equals the mesh reference evaluator on random mesh clusters, for
every pod pair (so the class key is tested too), every external probe address, and every
port atom.

Two oracles: engine/spec/mesh.py reads the raw documents the test writes (through the front
door: the engine's side is `microseg.load` of the same YAML), and compares by meaning (the
engine's conditions are parsed back into attribute sets); the explanation evaluator
(engine/explain/mesh_reasons.py), which prints the reasons users read, must reach the
table's verdict exactly on model-built clusters.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from microseg.engine.explain.mesh_reasons import evaluate
from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.table import MeshTable, mesh_ip_sets, mesh_port_ranges
from microseg.engine.query import MeshVerdict
from microseg.engine.spec.mesh import Answer, Clause, MeshReference, MeshSettings
from microseg.engine.spec.world import World
from microseg.model import Cluster, IPSet, Protocol
from microseg.model.mesh import MeshSettings as ModelMeshSettings
from tests.property.mesh_clusters import PROBES as MODEL_PROBES
from tests.property.mesh_clusters import mesh_clusters
from tests.property.mesh_documents import PROBES, mesh_documents
from tests.property.test_engine_vs_reference import load_text

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every port the generated documents mention (container, Service, operation, condition and
# portLevelMtls ports), its neighbours, the ends of the range, and a UDP port.
PROBE_PORTS = [
    *((Protocol.TCP, p) for p in (1, 53, 79, 80, 81, 8079, 8080, 8081, 9089, 9090, 9091, 65535)),
    (Protocol.UDP, 53),
    (Protocol.UDP, 8080),
]

_CLAUSE = re.compile(r"^(?P<prefix>[^{]*?)\s*(?:\{(?P<body>.*)\})?$")


def _clause(text: str) -> Clause:
    """`if HTTP {methods: GET|POST, paths: /api/*}` as a Clause (the engine's grammar)."""
    m = _CLAUSE.match(text)
    assert m, text
    fields = []
    for part in (m["body"] or "").split(", ") if m["body"] else []:
        name, _, values = part.partition(": ")
        fields.append((name, tuple(values.split("|"))))
    return Clause(m["prefix"], frozenset(fields))


def meaning(v: MeshVerdict) -> Answer:
    if not v.allowed:
        return Answer(False)
    requires = frozenset(_clause(c) for c in v.requires)
    return Answer(True, requires, frozenset(_clause(c) for c in v.unless))


def _build(
    cluster: Cluster, probes: tuple[str, ...]
) -> tuple[EndpointClasses, PortAtoms, IPAtoms, MeshTable]:
    classes = EndpointClasses.build(cluster)
    ports = PortAtoms.build([*mesh_port_ranges(cluster), (Protocol.UDP, 53, 53)])
    ips = IPAtoms.build([*mesh_ip_sets(cluster), *(IPSet.from_address(p) for p in probes)])
    return classes, ports, ips, MeshTable.build(cluster, classes, ports, ips)


def check(docs: list[dict[str, object]], assume_mesh: bool = False) -> None:
    text = yaml.safe_dump_all(docs, sort_keys=False)
    cluster = load_text(text)
    cluster = replace(cluster, mesh=ModelMeshSettings(assume_mesh=assume_mesh))
    world = World.read(list(yaml.safe_load_all(text)))
    reference = MeshReference(world, MeshSettings(assume_mesh=assume_mesh))
    mine = {e.key: e for e in world.endpoints}
    assert set(mine) == {(p.namespace, p.name) for p in cluster.pods}
    classes, ports, ips, table = _build(cluster, PROBES)
    c = len(classes)
    for j, dst in enumerate(cluster.pods):
        d = int(classes.pod_class[j])
        # (column, the reference's source, the model's source)
        sources: list[tuple[int, object, object]] = [
            (int(classes.pod_class[i]), mine[(src.namespace, src.name)], src)
            for i, src in enumerate(cluster.pods)
        ]
        for probe in PROBES:
            atom = ips.atom_of_address(IPSet.from_address(probe))
            assert atom is not None
            sources.append((c + atom, probe, probe))
        for col, src, model_src in sources:
            for proto, port in PROBE_PORTS:
                want = reference.evaluate(src, mine[(dst.namespace, dst.name)], proto.value, port)  # type: ignore[arg-type]
                got = table.verdict(d, col, ports.atom_of(proto, port))
                assert meaning(got) == want, (src, dst.name, proto, port, got, want, text)
                # The explanations users read reach the table's verdict exactly.
                explained, _ = evaluate(cluster, model_src, dst, proto, port)  # type: ignore[arg-type]
                assert explained == got, (model_src, dst.name, proto, port, explained, got)


@FAST
@given(mesh_documents())
def test_fast_mesh_layer_equals_reference(docs: list[dict[str, object]]) -> None:
    check(docs)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mesh_documents())
def test_fast_mesh_layer_equals_reference_assuming_the_mesh(docs: list[dict[str, object]]) -> None:
    check(docs, assume_mesh=True)


@pytest.mark.slow
@SLOW
@given(mesh_documents())
def test_fast_mesh_layer_equals_reference_many(docs: list[dict[str, object]]) -> None:
    check(docs)


@settings(max_examples=80, deadline=None)
@given(mesh_clusters())
def test_explanations_reach_the_tables_verdict(cluster: Cluster) -> None:
    classes, ports, ips, table = _build(cluster, MODEL_PROBES)
    c = len(classes)
    for j, dst in enumerate(cluster.pods):
        d = int(classes.pod_class[j])
        sources: list[tuple[int, object]] = [
            (int(classes.pod_class[i]), src) for i, src in enumerate(cluster.pods)
        ]
        for probe in MODEL_PROBES:
            atom = ips.atom_of_address(IPSet.from_address(probe))
            assert atom is not None
            sources.append((c + atom, probe))
        for col, src in sources:
            for k, (proto, lo, _hi) in enumerate(ports.atoms):
                expected, _ = evaluate(cluster, src, dst, proto, lo)  # type: ignore[arg-type]
                assert table.verdict(d, col, k) == expected, (src, dst, proto, lo)
