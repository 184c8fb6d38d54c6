"""Ingress and Route objects: what is read (Services and ports), what is skipped with a
warning (MS131, MS132), and malformed fields as located errors (MS130)."""

from __future__ import annotations

from pathlib import Path

from microseg.errors import Severity
from microseg.ingest import load
from microseg.model.exposure import ServiceBackend
from tests.unit.ingest._support import line_containing, load_errors, only, write

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
---
"""


def test_ingress_v1_backends_with_port_number_and_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ing.yaml",
        SERVICE
        + """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: front, namespace: shop}
        spec:
          defaultBackend:
            service: {name: web, port: {number: 80}}
          rules:
          - host: a.example.com
            http:
              paths:
              - path: /
                pathType: Prefix
                backend:
                  service: {name: web, port: {name: http}}
              - path: /static
                pathType: Prefix
                backend:
                  service: {name: web}
          - host: no-http.example.com
        """,
    )
    cluster = load([str(path)])
    (ing,) = cluster.ingresses
    assert (ing.namespace, ing.name) == ("shop", "front")
    assert ing.backends == (
        ServiceBackend("web", 80),
        ServiceBackend("web", "http"),
        ServiceBackend("web", None),
    )
    assert not [d for d in cluster.diagnostics if d.code.startswith("MS13")]


def test_route_to_and_alternate_backends_share_the_target_port(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "route.yaml",
        SERVICE
        + """
        apiVersion: route.openshift.io/v1
        kind: Route
        metadata: {name: front, namespace: shop}
        spec:
          to: {kind: Service, name: web, weight: 100}
          alternateBackends:
          - {name: web}
          - {kind: Deployment, name: other}
          port: {targetPort: http}
        """,
    )
    cluster = load([str(path)])
    (route,) = cluster.routes
    assert route.backends == (ServiceBackend("web", "http"), ServiceBackend("web", "http"))
    warn = only(cluster.diagnostics, "MS131")
    assert warn.severity is Severity.WARNING
    assert warn.field == "spec.alternateBackends[1].kind"
    assert warn.origin is not None
    assert warn.origin.line == line_containing(path, "kind: Deployment")


def test_resource_backend_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ing.yaml",
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: front, namespace: shop}
        spec:
          defaultBackend:
            resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: assets}
        """,
    )
    cluster = load([str(path)])
    assert cluster.ingresses[0].backends == ()
    assert only(cluster.diagnostics, "MS131").field == "spec.defaultBackend"


def test_backend_to_a_missing_or_selectorless_service_is_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ing.yaml",
        """
        apiVersion: v1
        kind: Service
        metadata: {name: manual, namespace: shop}
        spec:
          ports: [{port: 80}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: front, namespace: shop}
        spec:
          rules:
          - http:
              paths:
              - backend: {service: {name: manual, port: {number: 80}}}
              - backend: {service: {name: gone, port: {number: 80}}}
        """,
    )
    cluster = load([str(path)])
    notes = sorted(d.message for d in cluster.diagnostics if d.code == "MS132")
    assert len(notes) == 2
    assert "Service shop/gone is not in the input" in notes[0]
    assert "Service shop/manual has no selector" in notes[1]


def test_bad_ingress_port_is_a_located_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ing.yaml",
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: front, namespace: shop}
        spec:
          rules:
          - http:
              paths:
              - backend:
                  service:
                    name: web
                    port: {number: 70000}
        """,
    )
    diag = only(load_errors([path]), "MS130")
    assert diag.field == "spec.rules[0].http.paths[0].backend.service.port.number"
    assert "expected 1-65535, got 70000" in diag.message
    assert diag.origin is not None
    assert diag.origin.line == line_containing(path, "70000")


def test_malformed_route_fields_are_errors_not_tracebacks(tmp_path: Path) -> None:
    docs = {
        "no-to.yaml": "spec: {port: {targetPort: 80}}",
        "to-list.yaml": "spec: {to: [web]}",
        "alt.yaml": "spec: {to: {name: web}, alternateBackends: {name: x}}",
        "port.yaml": "spec: {to: {name: web}, port: {targetPort: [1]}}",
        "spec.yaml": "spec: 5",
    }
    for name, body in docs.items():
        path = write(
            tmp_path,
            name,
            "apiVersion: route.openshift.io/v1\nkind: Route\n"
            f"metadata: {{name: r, namespace: shop}}\n{body}\n",
        )
        diags = load_errors([path])
        assert [d.code for d in diags] == ["MS130"], (name, [d.render() for d in diags])
