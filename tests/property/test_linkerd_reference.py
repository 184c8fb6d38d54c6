"""The fast Linkerd layer equals the Linkerd reference evaluator on random Linkerd clusters,
for every pod pair (so the class key is tested too), every external probe address and every
probe port; and the explanations users read reach the table's verdict exactly.

The reference (engine/spec/linkerd.py) reads the raw documents the test writes; the engine
reads the same YAML through `microseg.load`.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from microseg.engine.explain.mesh_reasons import evaluate
from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.table import MeshTable, mesh_ip_sets, mesh_port_ranges
from microseg.engine.spec.linkerd import LinkerdAnswer, LinkerdReference
from microseg.engine.spec.world import World
from microseg.model import IPSet, Protocol
from tests.property.linkerd_documents import PORTS, PROBES, linkerd_documents
from tests.property.test_engine_vs_reference import load_text

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PROBE_PORTS = sorted({p for q in PORTS for p in (q - 1, q, q + 1)} | {1, 65535})


def check(docs: list[dict[str, object]]) -> None:
    text = yaml.safe_dump_all(docs, sort_keys=False)
    cluster = load_text(text)
    world = World.read(list(yaml.safe_load_all(text)))
    reference = LinkerdReference(world)
    mine = {e.key: e for e in world.endpoints}
    assert set(mine) == {(p.namespace, p.name) for p in cluster.pods}
    classes = EndpointClasses.build(cluster)
    ports = PortAtoms.build(mesh_port_ranges(cluster))
    ips = IPAtoms.build([*mesh_ip_sets(cluster), *(IPSet.from_address(p) for p in PROBES)])
    table = MeshTable.build(cluster, classes, ports, ips)
    c = len(classes)
    for j, dst in enumerate(cluster.pods):
        d = int(classes.pod_class[j])
        sources: list[tuple[int, object, object]] = [
            (int(classes.pod_class[i]), mine[(s.namespace, s.name)], s)
            for i, s in enumerate(cluster.pods)
        ]
        for probe in PROBES:
            atom = ips.atom_of_address(IPSet.from_address(probe))
            assert atom is not None
            sources.append((c + atom, probe, probe))
        for col, src, model_src in sources:
            for port in PROBE_PORTS:
                want = reference.evaluate(src, mine[(dst.namespace, dst.name)], port)  # type: ignore[arg-type]
                got = table.verdict(d, col, ports.atom_of(Protocol.TCP, port))
                assert (
                    LinkerdAnswer(
                        got.allowed, frozenset(got.requires) if got.allowed else frozenset()
                    )
                    == want
                ), (
                    src,
                    dst.name,
                    port,
                    got,
                    want,
                    text,
                )
                explained, _ = evaluate(cluster, model_src, dst, Protocol.TCP, port)  # type: ignore[arg-type]
                assert explained == got, (model_src, dst.name, port, explained, got)


@FAST
@given(linkerd_documents())
def test_fast_linkerd_layer_equals_reference(docs: list[dict[str, object]]) -> None:
    check(docs)


@pytest.mark.slow
@SLOW
@given(linkerd_documents())
def test_fast_linkerd_layer_equals_reference_many(docs: list[dict[str, object]]) -> None:
    check(docs)
