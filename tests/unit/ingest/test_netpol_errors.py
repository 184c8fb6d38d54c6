"""Invalid NetworkPolicies: each problem is MS102 (or MS103) with its field path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import Severity
from microseg.ingest import load
from tests.unit.ingest._support import line_containing, load_errors, netpol, only, write

# (spec body, the text on the line the diagnostic must point at, field path, message part)
CASES: dict[str, tuple[str, str, str, str]] = {
    "port-70000": (
        """
        podSelector: {}
        ingress:
        - ports:
          - port: 70000
        """,
        "port: 70000",
        "spec.ingress[0].ports[0].port",
        "expected 1-65535, got 70000",
    ),
    "port-0-in-egress": (
        """
        podSelector: {}
        egress:
        - ports:
          - protocol: UDP
            port: 53
          - port: 0
        """,
        "port: 0",
        "spec.egress[0].ports[1].port",
        "expected 1-65535, got 0",
    ),
    "endPort-less-than-port": (
        """
        podSelector: {}
        ingress:
        - ports:
          - port: 9000
            endPort: 8000
        """,
        "port: 9000",
        "spec.ingress[0].ports[0]",
        "endPort 8000 is less than port 9000: empty range",
    ),
    "endPort-out-of-range": (
        """
        podSelector: {}
        ingress:
        - ports:
          - port: 80
            endPort: 70000
        """,
        "port: 80",
        "spec.ingress[0].ports[0]",
        "endPort: expected 1-65535, got 70000",
    ),
    "named-port-with-endPort": (
        """
        podSelector: {}
        ingress:
        - ports:
          - port: http
            endPort: 10000
        """,
        "port: http",
        "spec.ingress[0].ports[0]",
        "endPort needs a numeric port",
    ),
    "invalid-named-port": (
        """
        podSelector: {}
        ingress:
        - ports:
          - port: Web_Port
        """,
        "port: Web_Port",
        "spec.ingress[0].ports[0].port",
        "invalid named port 'Web_Port'",
    ),
    "lowercase-protocol": (
        """
        podSelector: {}
        ingress:
        - ports:
          - protocol: tcp
            port: 80
        """,
        "protocol: tcp",
        "spec.ingress[0].ports[0].protocol",
        "'TCP'",
    ),
    "matchLabels-bad-key": (
        """
        podSelector:
          matchLabels:
            app@b: web
        """,
        "app@b: web",
        "spec.podSelector.matchLabels",
        "invalid label key 'app@b'",
    ),
    "matchLabels-bad-key-prefix": (
        """
        podSelector: {}
        ingress:
        - from:
          - namespaceSelector:
              matchLabels:
                Example.COM/team: a
        """,
        "Example.COM/team",
        "spec.ingress[0].from[0].namespaceSelector.matchLabels",
        "prefix must be a DNS subdomain",
    ),
    "matchLabels-bad-value": (
        """
        podSelector: {}
        egress:
        - to:
          - podSelector:
              matchLabels:
                app: $backend
        """,
        "app: $backend",
        "spec.egress[0].to[0].podSelector.matchLabels",
        "invalid label value '$backend'",
    ),
    "matchLabels-value-not-a-string": (
        """
        podSelector:
          matchLabels:
            replicas: 3
        """,
        "replicas: 3",
        "spec.podSelector.matchLabels.replicas",
        "got int 3",
    ),
    "matchExpressions-In-without-values": (
        """
        podSelector:
          matchExpressions:
          - key: app
            operator: In
        """,
        "key: app",
        "spec.podSelector.matchExpressions[0]",
        "operator In needs a non-empty 'values' list",
    ),
    "matchExpressions-NotIn-with-empty-values": (
        """
        podSelector: {}
        ingress:
        - from:
          - podSelector:
              matchExpressions:
              - key: app
                operator: NotIn
                values: []
        """,
        "key: app",
        "spec.ingress[0].from[0].podSelector.matchExpressions[0]",
        "operator NotIn needs a non-empty 'values' list",
    ),
    "matchExpressions-Exists-with-values": (
        """
        podSelector:
          matchExpressions:
          - key: app
            operator: Exists
            values: [web]
        """,
        "key: app",
        "spec.podSelector.matchExpressions[0]",
        "operator Exists takes no 'values'",
    ),
    "matchExpressions-bad-key": (
        """
        podSelector:
          matchExpressions:
          - key: -app
            operator: DoesNotExist
        """,
        "key: -app",
        "spec.podSelector.matchExpressions[0].key",
        "invalid label key '-app'",
    ),
    "matchExpressions-bad-value": (
        """
        podSelector:
          matchExpressions:
          - key: app
            operator: In
            values: [web, "not valid"]
        """,
        "key: app",
        "spec.podSelector.matchExpressions[0]",
        "invalid label value 'not valid'",
    ),
    "matchExpressions-unknown-operator": (
        """
        podSelector:
          matchExpressions:
          - key: app
            operator: Has
        """,
        "operator: Has",
        "spec.podSelector.matchExpressions[0].operator",
        "'In'",
    ),
    "ipBlock-invalid-cidr": (
        """
        podSelector: {}
        ingress:
        - from:
          - ipBlock:
              cidr: A
        """,
        "cidr: A",
        "spec.ingress[0].from[0].ipBlock.cidr",
        "invalid CIDR 'A'",
    ),
    "ipBlock-cidr-without-prefix": (
        """
        podSelector: {}
        egress:
        - to:
          - ipBlock:
              cidr: 10.1.2.3
        """,
        "cidr: 10.1.2.3",
        "spec.egress[0].to[0].ipBlock.cidr",
        "a prefix length is required",
    ),
    "ipBlock-except-outside-cidr": (
        """
        podSelector: {}
        egress:
        - to:
          - ipBlock:
              cidr: 10.0.0.0/8
              except:
              - 192.168.0.0/16
        """,
        "cidr: 10.0.0.0/8",
        "spec.egress[0].to[0].ipBlock",
        "except '192.168.0.0/16' must be within cidr '10.0.0.0/8'",
    ),
    "ipBlock-except-other-family": (
        """
        podSelector: {}
        ingress:
        - from:
          - ipBlock:
              cidr: 0.0.0.0/0
              except: ["::/0"]
        """,
        "cidr: 0.0.0.0/0",
        "spec.ingress[0].from[0].ipBlock",
        "must be within cidr",
    ),
    "peer-with-ipBlock-and-podSelector": (
        """
        podSelector: {}
        ingress:
        - from:
          - ipBlock:
              cidr: 10.0.0.0/8
            podSelector: {}
        """,
        "ipBlock:",
        "spec.ingress[0].from[0]",
        "a peer may set ipBlock or podSelector/namespaceSelector, not both",
    ),
    "peer-with-ipBlock-and-namespaceSelector": (
        """
        podSelector: {}
        egress:
        - to:
          - namespaceSelector: {}
            ipBlock:
              cidr: 10.0.0.0/8
        """,
        "namespaceSelector: {}",
        "spec.egress[0].to[0]",
        "not both",
    ),
    "empty-peer": (
        """
        podSelector: {}
        ingress:
        - from:
          - {}
        """,
        "- {}",
        "spec.ingress[0].from[0]",
        "empty peer: set podSelector, namespaceSelector or ipBlock",
    ),
    "named-port-to-ipBlock": (
        """
        podSelector: {}
        egress:
        - to:
          - ipBlock:
              cidr: 0.0.0.0/0
          ports:
          - port: abc
        """,
        "- to:",
        "spec.egress[0]",
        "named port 'abc' with an ipBlock peer",
    ),
    "bad-policyType": (
        """
        podSelector: {}
        policyTypes: [ingress]
        """,
        "policyTypes",
        "spec.policyTypes[0]",
        "'Ingress'",
    ),
    "ingress-not-a-list": (
        """
        podSelector: {}
        ingress:
          from: []
        """,
        "from: []",
        "spec.ingress",
        "got dict",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_netpol_field_is_ms102_with_path_and_line(tmp_path: Path, case: str) -> None:
    body, needle, field, message = CASES[case]
    path = write(tmp_path, "np.yaml", netpol(body))
    diag = only(load_errors([path]), "MS102")
    assert diag.field == field
    assert message in diag.message
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert diag.origin.line == line_containing(path, needle)
    assert diag.origin.namespace == "ns"
    assert diag.origin.name == "np"


def test_port_70000_renders_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, "np.yaml", netpol(CASES["port-70000"][0]))
    diag = only(load_errors([path]), "MS102")
    assert diag.render() == (
        f"{path}:10: error[MS102]: spec.ingress[0].ports[0].port: expected 1-65535, got 70000"
    )


def test_missing_name_is_required_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "np.yaml",
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          namespace: ns
        spec: {}
        """,
    )
    diag = only(load_errors([path]), "MS102")
    assert diag.field == "metadata.name"
    assert diag.message == "required field is missing"
    assert diag.origin is not None
    assert diag.origin.line == 4


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "a.yaml",
        netpol(
            """
            podSelector:
              matchLabels: {"a b": c}
            ingress:
            - ports:
              - port: 0
            """
        ),
    )
    second = write(
        tmp_path,
        "b.yaml",
        netpol(
            """
            podSelector: {}
            egress:
            - to:
              - {}
            """
        ),
    )
    diags = load_errors([tmp_path])
    assert [(d.code, d.field) for d in diags] == [
        ("MS102", "spec.podSelector.matchLabels"),
        ("MS102", "spec.ingress[0].ports[0].port"),
        ("MS102", "spec.egress[0].to[0]"),
    ]
    assert [d.origin.file for d in diags if d.origin] == [str(first), str(first), str(second)]


def test_error_in_a_list_item_points_at_the_item_line(tmp_path: Path) -> None:
    good = netpol("podSelector: {}\n").replace("\n", "\n  ")
    bad = netpol("podSelector: {}\ningress:\n- ports:\n  - port: 70000\n")
    bad = bad.replace("name: np", "name: np2").replace("\n", "\n  ")
    text = f"apiVersion: v1\nkind: List\nitems:\n- {good.rstrip()}\n- {bad.rstrip()}\n"
    path = write(tmp_path, "list.yaml", text)
    diag = only(load_errors([path]), "MS102")
    assert diag.field == "spec.ingress[0].ports[0].port"
    assert diag.origin is not None
    assert diag.origin.name == "np2"
    assert diag.origin.line == line_containing(path, "port: 70000")


def test_json_netpol_error_points_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "np.json",
        """
        {
          "apiVersion": "networking.k8s.io/v1",
          "kind": "NetworkPolicy",
          "metadata": {"name": "np", "namespace": "ns"},
          "spec": {
            "podSelector": {},
            "ingress": [
              {"ports": [{"port": 70000}]}
            ]
          }
        }
        """,
    )
    diag = only(load_errors([path]), "MS102")
    assert diag.field == "spec.ingress[0].ports[0].port"
    assert diag.origin is not None
    assert diag.origin.line == line_containing(path, "70000") == 8


# --- MS103: duplicate names ---------------------------------------------------------------


def test_duplicate_netpol_name_in_a_namespace_is_ms103(tmp_path: Path) -> None:
    first = write(tmp_path, "a/np.yaml", netpol("podSelector: {}\n"))
    second = write(tmp_path, "b/np.yaml", netpol("podSelector: {matchLabels: {app: x}}\n"))
    diag = only(load_errors([first, second]), "MS103")
    assert diag.field == "metadata.name"
    assert diag.origin is not None
    assert diag.origin.file == str(second)
    assert diag.origin.line == 1
    assert "ns/np" in diag.message
    assert f"first at {first}:1" in diag.message


def test_absent_namespace_is_default_for_duplicates(tmp_path: Path) -> None:
    explicit = netpol("podSelector: {}\n").replace("namespace: ns", "namespace: default")
    implicit = netpol("podSelector: {}\n").replace("  namespace: ns\n", "")
    path = write(tmp_path, "np.yaml", explicit + "---\n" + implicit)
    diag = only(load_errors([path]), "MS103")
    assert "default/np" in diag.message
    assert diag.origin is not None
    assert diag.origin.line == line_containing(path, "---") + 1


def test_same_netpol_name_in_other_namespaces_is_fine(tmp_path: Path) -> None:
    a = netpol("podSelector: {}\n")
    b = a.replace("namespace: ns", "namespace: other")
    path = write(tmp_path, "np.yaml", a + "---\n" + b)
    cluster = load([str(path)])
    assert sorted((p.namespace, p.name) for p in cluster.policies) == [
        ("ns", "np"),
        ("other", "np"),
    ]
    assert not [d for d in cluster.diagnostics if d.severity is Severity.ERROR]
