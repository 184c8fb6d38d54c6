"""Istio security documents: PeerAuthentication and AuthorizationPolicy (v1 and v1beta1) read
into the model, identities and mesh membership, and every malformed field a located MS140."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import Severity
from microseg.ingest import load
from microseg.model.mesh import AuthzAction, Condition, MeshMode, MtlsMode, mesh_mode
from tests.unit.ingest._support import line_containing, load_errors, only, write

AP_HEAD = """\
apiVersion: security.istio.io/{version}
kind: AuthorizationPolicy
metadata:
  name: ap
  namespace: shop
spec:
"""


def _ap(body: str, version: str = "v1") -> str:
    import textwrap

    return AP_HEAD.format(version=version) + textwrap.indent(
        textwrap.dedent(body).lstrip("\n"), "  "
    )


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_authorization_policy_is_read(tmp_path: Path, version: str) -> None:
    path = write(
        tmp_path,
        "ap.yaml",
        _ap(
            """
            selector:
              matchLabels: {app: api}
            action: DENY
            rules:
              - from:
                  - source: {principals: ["cluster.local/ns/a/sa/b"], notNamespaces: [x]}
                to:
                  - operation: {ports: ["8080"], methods: [GET], paths: ["/api/*"]}
                when:
                  - key: request.headers[x-user]
                    values: [alice]
            """,
            version,
        ),
    )
    cluster = load([str(path)])
    (policy,) = cluster.authorization_policies
    assert policy.action is AuthzAction.DENY
    assert policy.selector == {"app": "api"}
    (rule,) = policy.rules
    assert rule.sources is not None
    assert rule.sources[0].principals == ("cluster.local/ns/a/sa/b",)
    assert rule.sources[0].not_namespaces == ("x",)
    assert rule.operations is not None
    assert rule.operations[0].ports == ("8080",)
    assert rule.conditions[0].key == "request.headers[x-user]"
    assert rule.origin.line == line_containing(path, "- from:")
    assert cluster.has_mesh


def test_peer_authentication_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pa.yaml",
        """
        apiVersion: security.istio.io/v1beta1
        kind: PeerAuthentication
        metadata: {name: finance, namespace: foo}
        spec:
          selector: {matchLabels: {app: finance}}
          mtls: {mode: STRICT}
          portLevelMtls:
            8080: {mode: DISABLE}
        """,
    )
    (pa,) = load([str(path)]).peer_authentications
    assert pa.mode is MtlsMode.STRICT
    assert pa.port_modes == ((8080, MtlsMode.DISABLE),)


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        ("rules:\n  - null\n", "spec.rules[0]", "expected a mapping"),
        ("rules:\n  - from: null\n", "spec.rules[0]", "from: expected a value, got null"),
        ("rules:\n  - from: []\n", "spec.rules[0].from", "at least 1"),
        (
            "rules:\n  - from:\n      - source: {}\n",
            "spec.rules[0].from[0].source",
            "cannot be empty",
        ),
        (
            "rules:\n  - to:\n      - operation: {}\n",
            "spec.rules[0].to[0].operation",
            "cannot be empty",
        ),
        (
            'rules:\n  - to:\n      - operation: {ports: ["99999"]}\n',
            "spec.rules[0].to[0].operation",
            "1-65535",
        ),
        (
            "rules:\n  - when:\n      - key: source.ip\n",
            "spec.rules[0].when[0]",
            "values or notValues",
        ),
        ("rules:\n  - when:\n      - values: [a]\n", "spec.rules[0].when[0].key", "required field"),
        (
            "rules:\n  - when:\n      - {key: 'request.header[x-user]', values: [a]}\n",
            "spec.rules[0].when[0]",
            "not one Istio supports",
        ),
        (
            "rules:\n  - when:\n      - {key: 'request.headers[]', values: [a]}\n",
            "spec.rules[0].when[0]",
            "not one Istio supports",
        ),
        ("action: DENY\n", "spec", "without rules never matches"),
        ("action: CUSTOM\nrules: [{}]\n", "spec", "needs a provider"),
        ("action: MAYBE\n", "spec.action", "ALLOW"),
        (
            'rules:\n  - from:\n      - source: {ipBlocks: ["10.0.0.300/8"]}\n',
            "spec.rules[0].from[0].source",
            "invalid CIDR",
        ),
        (
            "rules:\n  - from:\n      - source: {principal: [a]}\n",
            "spec.rules[0].from[0].source.principal",
            "Extra inputs",
        ),
        (
            "selector: {matchLabels: {a: b}}\ntargetRef: {kind: Service, name: s}\n",
            "spec",
            "only one of",
        ),
        (
            'rules:\n  - from:\n      - source: {serviceAccounts: ["ns/*"]}\n',
            "spec.rules[0].from[0].source",
            "no wildcard",
        ),
        (
            'rules:\n  - from:\n      - source: {serviceAccounts: ["a/b/c"]}\n',
            "spec.rules[0].from[0].source",
            "<namespace>/<name> or <name>",
        ),
        (
            "rules:\n  - from:\n      - source: {serviceAccounts: [a], namespaces: [x]}\n",
            "spec.rules[0].from[0].source",
            "cannot be set with principals or namespaces",
        ),
    ],
)
def test_bad_authorization_policy_is_a_located_ms140(
    tmp_path: Path, body: str, field: str, needle: str
) -> None:
    path = write(
        tmp_path, "ap.yaml", AP_HEAD.format(version="v1") + "  " + body.replace("\n", "\n  ")
    )
    diag = only(load_errors([path]), "MS140")
    assert diag.field == field, diag.render()
    assert needle in diag.message, diag.render()
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert diag.origin.line is not None


def test_port_level_mtls_needs_a_selector(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pa.yaml",
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: foo}
        spec:
          mtls: {mode: STRICT}
          portLevelMtls: {"8080": {mode: SOMETIMES}}
        """,
    )
    diags = load_errors([path])
    assert any("portLevelMtls" in d.field and "STRICT" in d.message for d in diags), [
        d.render() for d in diags
    ]


def test_duplicate_policy_is_ms143(tmp_path: Path) -> None:
    doc = _ap("rules: [{}]\n")
    path = write(tmp_path, "ap.yaml", doc + "---\n" + doc)
    diag = only(load_errors([path]), "MS143")
    assert "two AuthorizationPolicy objects named shop/ap" in diag.message


def test_other_groups_kinds_are_not_istio(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.yaml",
        "apiVersion: example.com/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {x: 1}\n",
    )
    cluster = load([str(path)])
    assert not cluster.has_mesh
    assert any(d.code == "MS010" for d in cluster.diagnostics)


def test_service_account_and_mesh_membership(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yaml",
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {istio-injection: enabled}}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: a
          namespace: shop
          annotations: {sidecar.istio.io/inject: "false"}
        spec:
          serviceAccountName: api
          containers: [{name: c, image: i}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: shop}
        spec:
          containers: [{name: c, image: i}]
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: shop}
        spec: {mtls: {mode: STRICT}}
        """,
    )
    cluster = load([str(path)])
    a, b = cluster.pods
    ns = cluster.namespace("shop")
    assert a.service_account == "api"
    assert a.inject_annotation == "false"
    assert mesh_mode(a, ns) is MeshMode.NONE
    assert mesh_mode(b, ns) is MeshMode.SIDECAR
    warnings = [d for d in cluster.diagnostics if d.code == "MS144"]
    assert len(warnings) == 1
    assert warnings[0].severity is Severity.WARNING
    assert "ServiceAccount shop/api" in warnings[0].message


def test_empty_selector_is_no_selector(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pa.yaml",
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: foo}
        spec:
          selector: {matchLabels: {}}
          mtls: {mode: STRICT}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: ap, namespace: foo}
        spec:
          selector: {}
          rules: [{}]
        """,
    )
    cluster = load([str(path)])
    assert cluster.peer_authentications[0].selector is None
    assert cluster.authorization_policies[0].selector is None
    bad = write(
        tmp_path,
        "bad.yaml",
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: foo}
        spec:
          selector: {}
          portLevelMtls: {"8080": {mode: STRICT}}
        """,
    )
    diags = load_errors([bad])
    assert any("selector" in d.message for d in diags), [d.render() for d in diags]


@pytest.mark.parametrize("kind", ["Service", "Gateway"])
def test_target_ref_policies_get_a_notice(tmp_path: Path, kind: str) -> None:
    path = write(
        tmp_path, "ap.yaml", _ap(f"targetRefs: [{{kind: {kind}, name: api}}]\nrules: [{{}}]\n")
    )
    cluster = load([str(path)])
    notes = [d for d in cluster.diagnostics if d.code == "MS142"]
    assert len(notes) == 1, notes
    assert notes[0].severity is Severity.NOTICE
    assert "waypoints/gateways" in notes[0].message


@pytest.mark.parametrize(
    "key",
    [
        "request.headers[User-Agent]",
        "request.auth.claims[iss]",
        "experimental.envoy.filters.network.mysql_proxy[db.table]",
        "connection.sni",
        "destination.port",
    ],
)
def test_supported_condition_keys_load(tmp_path: Path, key: str) -> None:
    """A supported key is read as a condition of its rule, key and value intact, with no
    error: loading must not drop, rename or reject it (an unsupported key is an MS140)."""
    value = "80" if key == "destination.port" else "a"
    body = f"rules:\n  - when:\n      - {{key: '{key}', values: ['{value}']}}\n"
    path = write(
        tmp_path, "ap.yaml", AP_HEAD.format(version="v1") + "  " + body.replace("\n", "\n  ")
    )
    cluster = load([str(path)])
    assert not [d for d in cluster.diagnostics if d.severity is Severity.ERROR]
    (policy,) = cluster.authorization_policies
    assert policy.ref == "shop/ap"
    (rule,) = policy.rules
    assert rule.sources is None
    assert rule.operations is None
    assert rule.conditions == (Condition(key, (value,), None),)


def test_a_bare_service_account_is_in_the_policys_namespace(tmp_path: Path) -> None:
    """istio.io AuthorizationPolicy reference, Source.serviceAccounts: `<serviceaccount>`
    alone names an account of the policy's own namespace."""
    body = """
        rules:
          - from:
              - source: {serviceAccounts: [web, other/api], notServiceAccounts: [batch]}
        """
    cluster = load([str(write(tmp_path, "ap.yaml", _ap(body)))])
    (source,) = cluster.authorization_policies[0].rules[0].sources or ()
    assert source.service_accounts == ("shop/web", "other/api")
    assert source.not_service_accounts == ("shop/batch",)
