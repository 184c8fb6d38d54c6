"""An intent group may name one pod of a workload, as verify prints the pods of a workload
split because they differ in connectivity (`ns/pod[Pod]`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microseg.analyses.groups import GroupResolver
from microseg.analyses.verify import verify
from microseg.engine import Connectivity, WorkloadGraph
from microseg.ingest import load
from microseg.ingest.intents import load_intents
from microseg.model.intent import GroupSpec

CLUSTER = """
apiVersion: v1
kind: Namespace
metadata: {name: s}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: app-rs, namespace: s}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: app-rs-1
  namespace: s
  labels: {app: app, role: leader}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: app-rs, uid: "1"}]
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata:
  name: app-rs-2
  namespace: s
  labels: {app: app, role: follower}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: app-rs, uid: "1"}]
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: s, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.1.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: follower-closed, namespace: s}
spec:
  podSelector: {matchLabels: {role: follower}}
  policyTypes: [Ingress]
"""


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Connectivity:
    path = tmp_path_factory.mktemp("cluster") / "c.yaml"
    path.write_text(CLUSTER)
    return Connectivity.build(load([str(path)]))


@pytest.mark.parametrize("text", ["s/app-rs-1[Pod]", "s/app-rs-1"])
def test_a_group_names_one_pod_of_a_split_workload(conn: Connectivity, text: str) -> None:
    graph = WorkloadGraph.build(conn)
    assert "s/app-rs-1[Pod]" in graph.nodes
    members = GroupResolver.build(conn, graph).resolve("g", GroupSpec("g", workload=text))
    assert not members.notes
    assert [graph.nodes[i] for i in np.flatnonzero(members.nodes)] == ["s/app-rs-1[Pod]"]


def test_verify_checks_the_named_pod(conn: Connectivity, tmp_path: Path) -> None:
    path = tmp_path / "i.yaml"
    path.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: p}\n"
        "spec:\n  groups:\n    leader: {workload: 's/app-rs-1[Pod]'}\n"
        "    follower: {workload: s/app-rs-2}\n    app: {workload: s/app-rs}\n"
        "    client: {workload: s/client}\n"
        "  allow:\n    - {from: client, to: leader, ports: [TCP/80]}\n"
        "    - {from: client, to: follower, ports: [TCP/80]}\n"
        "    - {from: client, to: app, ports: [TCP/80]}\n"
    )
    intents, _ = load_intents([str(path)])
    findings = verify(conn, intents).findings
    assert [(f.holds, f.total) for f in findings] == [(True, 0), (False, 1), (False, 1)]
    assert [(r.src, r.dst) for r in findings[1].rows] == [("s/client[Pod]", "s/app-rs-2[Pod]")]


def test_a_missing_pod_is_still_an_empty_group(conn: Connectivity) -> None:
    graph = WorkloadGraph.build(conn)
    resolver = GroupResolver.build(conn, graph)
    members = resolver.resolve("g", GroupSpec("g", workload="s/app-rs-9[Pod]"))
    assert members.empty()
    assert members.notes == ("no workload s/app-rs-9[Pod] in the input",)
