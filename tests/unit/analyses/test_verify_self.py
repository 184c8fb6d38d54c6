"""verify pairs a workload with itself when it stands for several pods: NetworkPolicy applies
between two pods of one workload; only a pod's traffic to itself is exempt."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.analyses.verify import verify
from microseg.engine import Connectivity
from microseg.ingest import load
from microseg.ingest.intents import load_intents

CLUSTER = """
apiVersion: v1
kind: Namespace
metadata: {name: s}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: etcd, namespace: s}
spec:
  replicas: 3
  selector: {matchLabels: {app: etcd}}
  template:
    metadata: {labels: {app: etcd}}
    spec: {containers: [{name: c, ports: [{name: peer, containerPort: 2380}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: db, namespace: s}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-1
  namespace: s
  labels: {app: db}
  ownerReferences: [{kind: ReplicaSet, name: db, apiVersion: apps/v1, uid: "1"}]
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-2
  namespace: s
  labels: {app: db}
  ownerReferences: [{kind: ReplicaSet, name: db, apiVersion: apps/v1, uid: "1"}]
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: s, labels: {app: solo}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: s}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [etcd, db, solo]}]}
  policyTypes: [Ingress, Egress]
"""


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Connectivity:
    path = tmp_path_factory.mktemp("cluster") / "c.yaml"
    path.write_text(CLUSTER)
    return Connectivity.build(load([str(path)]))


def _verify(conn: Connectivity, tmp_path: Path, body: str) -> list[tuple[bool, int]]:
    path = tmp_path / "i.yaml"
    path.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: t}\n"
        "spec:\n  groups:\n    etcd: {workload: s/etcd}\n    web: {workload: s/web}\n"
        "    db: {workload: s/db}\n    solo: {workload: s/solo}\n"
        "    all: {namespace: s}\n" + body
    )
    intents, _ = load_intents([str(path)])
    return [(f.holds, f.total) for f in verify(conn, intents).findings]


def test_a_template_pairs_with_itself(conn: Connectivity, tmp_path: Path) -> None:
    body = "  allow:\n    - {from: etcd, to: etcd, ports: [TCP/peer]}\n"
    body += "  deny:\n    - {from: web, to: web}\n"
    assert _verify(conn, tmp_path, body) == [(False, 1), (False, 1)]
    assert not conn.allowed(conn.resolve("s/etcd"), conn.resolve("s/etcd"))[0]


def test_two_explicit_pods_of_one_workload_pair(conn: Connectivity, tmp_path: Path) -> None:
    body = "  allow:\n    - {from: db, to: db, ports: [TCP/5432]}\n"
    assert _verify(conn, tmp_path, body) == [(False, 1)]


def test_a_single_pod_is_not_paired_with_itself(conn: Connectivity, tmp_path: Path) -> None:
    body = "  allow:\n    - {from: solo, to: solo}\n"
    assert _verify(conn, tmp_path, body) == [(True, 0)]


def test_counts_over_a_group_include_self_pairs(conn: Connectivity, tmp_path: Path) -> None:
    # web reaches web (itself, 2 replicas); everything else is isolated: one open pair
    body = "  deny:\n    - {from: all, to: all}\n"
    assert _verify(conn, tmp_path, body) == [(False, 1)]
    # 4 nodes, 16 ordered pairs, minus solo -> solo; only web -> web is open
    body = "  allow:\n    - {from: all, to: all}\n"
    assert _verify(conn, tmp_path, body) == [(False, 14)]


def test_a_strict_domain_covers_a_workload_talking_to_itself(
    conn: Connectivity, tmp_path: Path
) -> None:
    # web is open to any address both ways and to itself; every other pod is isolated
    body = "    any: {cidr: [0.0.0.0/0]}\n  domains:\n    - {name: d, members: [web], isolation: strict}\n"
    body += "  allow:\n    - {from: web, to: any}\n    - {from: any, to: web}\n"
    assert _verify(conn, tmp_path, body)[-1] == (False, 1)
    body += "    - {from: web, to: web}\n"
    assert _verify(conn, tmp_path, body)[-1] == (True, 0)
