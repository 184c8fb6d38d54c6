"""Services are validated like every other kind (MS201 at the field): an unknown protocol is
an error, never TCP, and a malformed port is an error, never dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.ingest import load
from microseg.model import Protocol
from tests.unit.ingest._support import line_containing, load_errors, only, write

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{app: web}}
  ports:
  - name: ok
    port: 80
  - {port}
"""


def _service(tmp_path: Path, port: str) -> Path:
    return write(tmp_path, "svc.yaml", SERVICE.format(port=port))


@pytest.mark.parametrize(
    ("port", "field", "message"),
    [
        (
            "{port: 53, protocol: ICMP}",
            "spec.ports[1].protocol",
            "expected TCP, UDP or SCTP, got 'ICMP'",
        ),
        (
            "{port: 53, protocol: tcp}",
            "spec.ports[1].protocol",
            "expected TCP, UDP or SCTP, got 'tcp'",
        ),
        ("{port: '80'}", "spec.ports[1].port", "expected 1-65535, got '80'"),
        ("{port: 0}", "spec.ports[1].port", "expected 1-65535, got 0"),
        ("{port: 70000}", "spec.ports[1].port", "expected 1-65535, got 70000"),
        ("{port: true}", "spec.ports[1].port", "expected 1-65535, got True"),
        ("{name: x}", "spec.ports[1].port", "required field is missing"),
        (
            "{port: 80, targetPort: 1.5}",
            "spec.ports[1].targetPort",
            "expected a port number (1-65535) or name, got 1.5",
        ),
        ("{port: 80, targetPort: 65536}", "spec.ports[1].targetPort", "got 65536"),
        ("{port: 80, targetPort: [8080]}", "spec.ports[1].targetPort", "or name, got [8080]"),
        (
            "{port: 80, targetPort: my_port}",
            "spec.ports[1].targetPort",
            "invalid named port 'my_port'",
        ),
        ("{port: 80, targetPort: '8080'}", "spec.ports[1].targetPort", "invalid named port '8080'"),
        ("{port: 80, name: Web}", "spec.ports[1].name", "invalid port name 'Web'"),
        ("{port: 80, name: 7}", "spec.ports[1].name", "expected str, got int 7"),
        ("{port: 80, nodePort: 99999}", "spec.ports[1].nodePort", "expected 1-65535, got 99999"),
        ("{port: 80, appProtocol: [h2]}", "spec.ports[1].appProtocol", "expected str"),
        ("just-a-string", "spec.ports[1]", "expected a port mapping"),
    ],
)
def test_invalid_service_port_is_a_located_ms201(
    tmp_path: Path, port: str, field: str, message: str
) -> None:
    path = _service(tmp_path, port)
    diag = only(load_errors([path]), "MS201")
    assert diag.field == field
    assert message in diag.message
    assert diag.origin is not None
    assert diag.origin.line == line_containing(path, f"- {port}")
    assert diag.origin.kind == "Service"
    assert diag.origin.name == "web"


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ("spec: [1]", "spec", "expected dict, got list"),
        ("spec: {selector: [app]}", "spec.selector", "expected dict, got list"),
        ("spec: {selector: {app: 1}}", "spec.selector.app", "label value must be a string"),
        ("spec: {selector: {'a b': x}}", "spec.selector.a b", "invalid label key 'a b'"),
        ("spec: {type: 5}", "spec.type", "expected str, got int 5"),
        ("spec: {ports: {port: 80}}", "spec.ports", "expected a list of ports"),
    ],
)
def test_invalid_service_spec_is_a_located_ms201(
    tmp_path: Path, spec: str, field: str, message: str
) -> None:
    text = f"apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\n{spec}\n"
    diag = only(load_errors([write(tmp_path, "svc.yaml", text)]), "MS201")
    assert diag.field == field
    assert message in diag.message
    assert diag.origin is not None
    assert diag.origin.line == 4


def test_service_without_metadata_name_is_ms201(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata: {namespace: shop}\nspec: {}\n"
    diag = only(load_errors([write(tmp_path, "svc.yaml", text)]), "MS201")
    assert diag.field == "metadata"
    assert diag.message == "expected a mapping with a name"


def test_valid_service_ports_keep_the_api_defaults(tmp_path: Path) -> None:
    text = """\
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec:
      selector: {app: web}
      ports:
      - {name: ok, port: 80, targetPort: 0}
      - {name: dns, port: 53, protocol: UDP, targetPort: dns-udp, nodePort: 30053, appProtocol: dns}
    """
    [svc] = load([str(write(tmp_path, "svc.yaml", text))]).services
    first, second = svc.ports
    # Absent protocol: TCP; targetPort 0 (or absent, or ""): the Service's own port.
    assert (first.protocol, first.port, first.target, first.name) == (Protocol.TCP, 80, 80, "ok")
    assert (second.protocol, second.target, second.name, second.app_protocol) == (
        Protocol.UDP,
        "dns-udp",
        "dns",
        "dns",
    )
    assert svc.selector is not None
    assert dict(svc.selector) == {"app": "web"}
    assert svc.type == "ClusterIP"
