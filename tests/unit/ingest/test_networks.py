"""UserDefinedNetwork / ClusterUserDefinedNetwork ingest: fields, primary network per
namespace, and the located diagnostics MS150-MS152 (ingest/networks.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.errors import InputError, Severity
from microseg.ingest import load
from microseg.model.networks import NetworkKind, NetworkRole, Topology
from microseg.render.diagnostics import render_diagnostics

NS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels:
    {label}
---
"""
UDN = """\
apiVersion: k8s.ovn.org/v1
kind: UserDefinedNetwork
metadata:
  name: {name}
  namespace: {ns}
spec:
  topology: {topology}
  {layer}:
    role: {role}
---
"""
CUDN = """\
apiVersion: k8s.ovn.org/v1
kind: ClusterUserDefinedNetwork
metadata:
  name: {name}
spec:
  namespaceSelector:
    matchLabels:
      tenant: {tenant}
  network:
    topology: Layer3
    layer3:
      role: Primary
---
"""
POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: {ns}}}
---
"""
LABEL = "k8s.ovn.org/primary-user-defined-network: ''"


def ns(name: str, label: str = LABEL) -> str:
    return NS.format(name=name, label=label)


def udn(
    name: str = "net", namespace: str = "blue", topology: str = "Layer2", role: str = "Primary"
) -> str:
    layer = {"Layer2": "layer2", "Layer3": "layer3"}.get(topology, "layer2")
    return UDN.format(name=name, ns=namespace, topology=topology, layer=layer, role=role)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load([str(path)])
    return render_diagnostics(info.value.diagnostics).splitlines()


def test_primary_udn_becomes_the_namespace_network(tmp_path: Path) -> None:
    cluster = load([str(_write(tmp_path, ns("blue") + udn() + POD.format(ns="blue")))])
    network = cluster.networks.primary_of("blue")
    assert network is not None
    assert (network.kind, network.qualified_name) == (NetworkKind.UDN, "blue/net")
    assert (network.topology, network.role) == (Topology.LAYER2, NetworkRole.PRIMARY)
    assert network.origin.line == 8  # the UDN document's first line
    assert cluster.networks.primary_of("green") is None


def test_cudn_selects_labelled_namespaces(tmp_path: Path) -> None:
    red = NS.format(name="red", label=LABEL).replace("    k8s", "    tenant: t1\n    k8s")
    text = red + ns("blue") + CUDN.format(name="shared", tenant="t1")
    cluster = load([str(_write(tmp_path, text))])
    red = cluster.networks.primary_of("red")
    assert red is not None
    assert red.kind is NetworkKind.CUDN
    assert red.qualified_name == "shared"
    assert cluster.networks.primary_of("blue") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            udn(topology="Layer4"),
            "in.yaml:14: error[MS150]: spec.topology: expected Layer2 or Layer3, got 'Layer4'",
        ),
        (
            udn(topology="Layer2").replace("layer2:", "layer3:"),
            "in.yaml:16: error[MS150]: spec.layer3: forbidden when topology is Layer2 (expected layer2)",
        ),
        (
            udn(role="Admin"),
            "in.yaml:16: error[MS150]: spec.layer2.role: expected Primary or Secondary, got 'Admin'",
        ),
        (
            udn(name="default"),
            "in.yaml:11: error[MS150]: metadata.name: a user-defined network may not be named 'default'",
        ),
        (
            udn(namespace="openshift-x"),
            "in.yaml:12: error[MS150]: metadata.namespace: a UserDefinedNetwork may not be in namespace 'openshift-x'",
        ),
        (
            udn().replace("  topology: Layer2\n", ""),
            "in.yaml:14: error[MS150]: spec.topology: required field is missing (expected Layer2 or Layer3)",
        ),
        (
            udn().replace("role: Primary", "role: [Primary]"),
            "in.yaml:16: error[MS150]: spec.layer2.role: expected a string",
        ),
    ],
)
def test_invalid_udn_fields_are_located(tmp_path: Path, text: str, expected: str) -> None:
    errors = _errors(tmp_path, ns("blue") + text)
    assert any(expected in e for e in errors), errors


def test_two_primary_networks_in_one_namespace(tmp_path: Path) -> None:
    errors = _errors(tmp_path, ns("blue") + udn("a") + udn("b"))
    assert len(errors) == 1
    assert (
        "in.yaml:18: error[MS151]: namespace blue has two primary networks: UDN blue/a"
        in (errors[0])
    )
    assert "and UDN blue/b; a namespace has at most one" in errors[0]


def test_two_udns_with_one_name(tmp_path: Path) -> None:
    errors = _errors(tmp_path, ns("blue") + udn("a") + udn("a", role="Secondary"))
    assert any("error[MS151]: metadata.name: two UDN objects named blue/a" in e for e in errors)


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (ns("blue") + udn(role="Secondary"), "UDN blue/net: a Secondary network"),
        (udn(), "namespace blue is not declared with the label"),
        (ns("blue", "x: y") + udn(), "namespace blue lacks the label"),
        (CUDN.format(name="c", tenant="nobody"), "CUDN c: its namespaceSelector matches no"),
    ],
)
def test_networks_that_change_nothing_warn(tmp_path: Path, text: str, warning: str) -> None:
    cluster = load([str(_write(tmp_path, text + POD.format(ns="blue")))])
    notes = [d for d in cluster.diagnostics if d.code == "MS152"]
    assert [d.severity for d in notes] == [Severity.WARNING]
    assert warning in notes[0].message
    assert not cluster.networks


def test_udn_of_another_api_group_is_skipped(tmp_path: Path) -> None:
    text = udn().replace("k8s.ovn.org/v1", "example.com/v1") + POD.format(ns="blue")
    cluster = load([str(_write(tmp_path, text))])
    assert not cluster.networks.networks
    assert any(d.code == "MS010" for d in cluster.diagnostics)
