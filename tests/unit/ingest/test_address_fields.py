"""Fields the API server would refuse are refused here too, at their place: addresses that
are not addresses (once a ValueError deep in the engine) and numbers or CIDRs that Python
would read leniently (80.0 as 80, a netmask as a prefix length)."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import InputError
from microseg.ingest import load

POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: h, namespace: a}}
spec: {{hostNetwork: true, containers: [{{name: c, image: i}}]}}
status: {{{status}}}
"""
NODE = """\
apiVersion: v1
kind: Node
metadata: {{name: n1}}
status: {{addresses: [{{type: InternalIP, address: "{address}"}}]}}
"""
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: x, namespace: a}}
spec:
  podSelector: {{}}
  ingress: [{rule}]
"""


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "in.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load([str(path)])
    return [d.render() for d in exc.value.diagnostics]


@pytest.mark.parametrize("value", ["0.0.0.0/0", "abc", "300.1.1.1"])
@pytest.mark.parametrize("field", ["hostIP", "podIP"])
def test_pod_addresses_must_be_addresses(tmp_path: Path, field: str, value: str) -> None:
    (line,) = _errors(tmp_path, POD.format(status=f'{field}: "{value}"'))
    assert f"error[MS201]: status.{field}: expected an IP address" in line
    assert repr(value) in line


def test_pod_ips_list_is_checked_item_by_item(tmp_path: Path) -> None:
    (line,) = _errors(tmp_path, POD.format(status='podIPs: [{ip: 10.0.0.1}, {ip: "10.0.0.0/8"}]'))
    assert "status.podIPs[1].ip: expected an IP address" in line


def test_node_address_with_a_prefix_is_refused(tmp_path: Path) -> None:
    (line,) = _errors(tmp_path, NODE.format(address="10.0.0.1/32"))
    assert "error[MS201]: status.addresses[0].address: expected an IP address" in line


def test_port_as_a_float_is_refused(tmp_path: Path) -> None:
    (line,) = _errors(tmp_path, POLICY.format(rule="{ports: [{port: 80.0}]}"))
    assert (
        "error[MS102]: spec.ingress[0].ports[0].port: expected an integer, got float 80.0" in line
    )


def test_cidr_with_a_netmask_is_refused(tmp_path: Path) -> None:
    rule = "{from: [{ipBlock: {cidr: 10.0.0.0/255.0.0.0}}]}"
    (line,) = _errors(tmp_path, POLICY.format(rule=rule))
    assert "spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR '10.0.0.0/255.0.0.0'" in line
    assert "not a netmask" in line


def test_valid_addresses_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        POD.format(status="hostIP: 192.0.2.1, podIP: 192.0.2.1")
        + "---\n"
        + NODE.format(address="2001:db8::1"),
        encoding="utf-8",
    )
    cluster = load([str(path)])
    assert cluster.pods[0].host_ip == "192.0.2.1"
    assert cluster.nodes[0].addresses == ("2001:db8::1",)
