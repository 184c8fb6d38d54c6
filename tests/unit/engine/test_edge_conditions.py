"""Lists carry the mesh's L7 conditions: an edge the mesh grants only for some HTTP requests
never prints as plainly allowed, for pod peers and for outside addresses alike."""

from __future__ import annotations

from pathlib import Path

import microseg
from microseg.engine import WorkloadGraph
from microseg.engine.query import Layer
from microseg.engine.views.edge_conditions import edge_conditions, external_conditions
from microseg.render.connlist import connlist_rows

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: app}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: c, image: x, ports: [{containerPort: 8080}, {containerPort: 9000}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: app}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api-get, namespace: app}
spec:
  selector: {matchLabels: {app: api}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET], ports: ["8080"]}}]
  - to: [{operation: {ports: ["9000"]}}]
"""


def _rows(tmp_path: Path, layer: Layer) -> dict[tuple[str, str], str]:
    path = tmp_path / "c.yaml"
    path.write_text(MANIFESTS, encoding="utf-8")
    conn = microseg.Connectivity.build(microseg.load([str(path)])).with_layer(layer)
    graph = WorkloadGraph.build(conn)
    rows = connlist_rows(
        graph, None, edge_conditions(conn, graph), external_conditions(conn, graph)
    )
    return {(s, d): c for s, d, c in rows}


def test_conditional_parts_carry_their_conditions(tmp_path: Path) -> None:
    rows = _rows(tmp_path, Layer.BOTH)
    expected = "SCTP 1-65535,TCP 9000,UDP 1-65535,TCP 8080 {methods: GET}"
    assert rows[("app/web[Deployment]", "app/api[Deployment]")] == expected
    assert rows[("0.0.0.0-255.255.255.255[External]", "app/api[Deployment]")] == expected
    # The mesh governs inbound traffic only, and web has no AuthorizationPolicy.
    assert rows[("app/api[Deployment]", "app/web[Deployment]")] == "All Connections"


def test_network_layer_alone_has_no_conditions(tmp_path: Path) -> None:
    rows = _rows(tmp_path, Layer.NETWORK)
    assert rows[("app/web[Deployment]", "app/api[Deployment]")] == "All Connections"
    assert all("{" not in c for c in rows.values())
