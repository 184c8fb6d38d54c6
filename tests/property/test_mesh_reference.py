"""The fast mesh layer equals the one-request reference evaluator on random mesh clusters,
for every pod pair (so the class key is tested too), every external probe address, and
every port atom."""

from __future__ import annotations

from hypothesis import given, settings

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.table import MeshTable, mesh_ip_sets, mesh_port_ranges
from microseg.engine.spec.mesh import evaluate
from microseg.model import Cluster, IPSet, Protocol
from tests.property.mesh_clusters import PROBES, mesh_clusters


def _build(cluster: Cluster) -> tuple[EndpointClasses, PortAtoms, IPAtoms, MeshTable]:
    classes = EndpointClasses.build(cluster)
    ports = PortAtoms.build([*mesh_port_ranges(cluster), (Protocol.UDP, 53, 53)])
    ips = IPAtoms.build([*mesh_ip_sets(cluster), *(IPSet.from_address(p) for p in PROBES)])
    return classes, ports, ips, MeshTable.build(cluster, classes, ports, ips)


@settings(max_examples=150, deadline=None)
@given(mesh_clusters())
def test_fast_mesh_layer_equals_reference(cluster: Cluster) -> None:
    classes, ports, ips, table = _build(cluster)
    c = len(classes)
    for j, dst in enumerate(cluster.pods):
        d = int(classes.pod_class[j])
        sources: list[tuple[int, object]] = [
            (int(classes.pod_class[i]), src) for i, src in enumerate(cluster.pods)
        ]
        for probe in PROBES:
            atom = ips.atom_of_address(IPSet.from_address(probe))
            assert atom is not None
            sources.append((c + atom, probe))
        for col, src in sources:
            for k, (proto, lo, _hi) in enumerate(ports.atoms):
                expected, _ = evaluate(cluster, src, dst, proto, lo)  # type: ignore[arg-type]
                got = table.verdict(d, col, k)
                assert got == expected, (src, dst, proto, lo)
