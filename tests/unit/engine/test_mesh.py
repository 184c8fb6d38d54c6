"""Mesh semantics, one istio.io rule per test, through the reference evaluator and the
combined Connectivity (the fast table), which must agree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.engine import Connectivity
from microseg.engine.explain.mesh_reasons import evaluate
from microseg.engine.query import Layer, MeshVerdict, Verdict
from microseg.ingest import load
from microseg.model import Cluster, ConnSet, Protocol

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  serviceAccountName: api
  containers: [{name: c, image: i, ports: [{containerPort: 8080, name: http}, {containerPort: 9000}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {app: old}}
spec:
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http-api, port: 80, targetPort: http}, {name: tcp-raw, port: 9000}]
"""


def _cluster(tmp_path: Path, extra: str) -> Cluster:
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "---\n" + textwrap.dedent(extra).strip() + "\n", encoding="utf-8")
    return load([str(path)])


def _verdict(cluster: Cluster, src: str, port: int, proto: Protocol = Protocol.TCP) -> MeshVerdict:
    """The reference's verdict for src -> shop/api, checked against the fast table."""
    pods = {p.name: p for p in cluster.pods}
    dst = pods["api"]
    source: object = pods.get(src, src)
    expected, _ = evaluate(cluster, source, dst, proto, port)  # type: ignore[arg-type]
    conn = Connectivity.build(cluster).with_layer(Layer.MESH)
    names = {"web": "shop/web", "old": "legacy/old"}
    decision = conn.reach(names.get(src, src), "shop/api", ConnSet.single(proto, port))
    assert (decision.verdict is Verdict.ALLOW) == expected.allowed
    conds = [v for c, v in decision.conditions if c.contains(proto, port)]
    if expected.allowed:
        assert conds == ([expected] if expected.conditional else [])
    return expected


def _ap(name: str, spec: str) -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip(), "  ")
    return (
        f"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        f"metadata: {{name: {name}, namespace: shop}}\nspec:\n{body}\n"
    )


STRICT = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: STRICT}}\n"


def test_strict_rejects_plaintext_and_accepts_mesh_peers(tmp_path: Path) -> None:
    c = _cluster(tmp_path, STRICT)
    assert not _verdict(c, "old", 9000).allowed
    assert not _verdict(c, "203.0.113.9", 9000).allowed
    assert _verdict(c, "web", 9000).allowed


def test_udp_is_not_governed(tmp_path: Path) -> None:
    c = _cluster(tmp_path, STRICT)
    assert _verdict(c, "old", 53, Protocol.UDP).allowed


def test_principals_never_match_plaintext_but_not_fields_do(tmp_path: Path) -> None:
    allow = _ap(
        "a",
        """
        selector: {matchLabels: {app: api}}
        rules: [{from: [{source: {principals: ["*"]}}]}]
        """,
    )
    c = _cluster(tmp_path, allow)
    assert _verdict(c, "web", 9000).allowed
    assert not _verdict(c, "old", 9000).allowed
    # ISTIO-SECURITY-2021-004: notNamespaces compares an empty namespace for plaintext.
    allow_not = _ap("a", 'rules: [{from: [{source: {notNamespaces: ["legacy"]}}]}]')
    c = _cluster(tmp_path, allow_not)
    assert _verdict(c, "old", 9000).allowed


def test_deny_before_allow_and_allow_policies_require_a_match(tmp_path: Path) -> None:
    policies = (
        _ap("allow", 'rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/*"]}}]}]')
        + "---\n"
        + _ap("deny", 'action: DENY\nrules: [{to: [{operation: {ports: ["9000"]}}]}]')
    )
    c = _cluster(tmp_path, policies)
    assert not _verdict(c, "web", 9000).allowed  # DENY wins
    assert _verdict(c, "web", 8080).allowed
    assert not _verdict(c, "old", 8080).allowed  # an ALLOW policy exists and nothing matches


def test_empty_allow_denies_everything_and_an_empty_rule_allows_everything(
    tmp_path: Path,
) -> None:
    c = _cluster(tmp_path, _ap("nothing", "action: ALLOW"))
    assert not _verdict(c, "web", 9000).allowed
    c = _cluster(tmp_path, _ap("all", "rules: [{}]"))
    assert _verdict(c, "old", 9000).allowed


def test_http_fields_on_tcp_and_on_http_ports(tmp_path: Path) -> None:
    allow = _ap("get", 'rules: [{to: [{operation: {methods: ["GET"]}}]}]')
    c = _cluster(tmp_path, allow)
    assert not _verdict(c, "web", 9000).allowed  # TCP: an ALLOW rule needing methods never matches
    got = _verdict(c, "web", 8080)  # HTTP (Service port http-api): allowed on condition
    assert got.allowed
    assert got.requires == ("{methods: GET}",)
    deny = _ap("no-delete", 'action: DENY\nrules: [{to: [{operation: {methods: ["DELETE"]}}]}]')
    c = _cluster(tmp_path, deny)
    assert not _verdict(c, "web", 9000).allowed  # TCP: the DENY ignores methods and denies
    got = _verdict(c, "web", 8080)
    assert got.allowed
    assert got.unless == ("{methods: DELETE}",)


def test_when_conditions_are_kept_or_decided(tmp_path: Path) -> None:
    kept = _ap("w", "rules: [{when: [{key: destination.ip, values: [10.0.0.1]}]}]")
    got = _verdict(_cluster(tmp_path, kept), "web", 9000)
    assert got.requires == ("{destination.ip: 10.0.0.1}",)
    # Keys whose value is known statically are decided (source.namespace of mTLS peers).
    decided = _ap("w", "rules: [{when: [{key: source.namespace, values: [shop]}]}]")
    c = _cluster(tmp_path, decided)
    assert _verdict(c, "web", 9000) == MeshVerdict(True)
    assert not _verdict(c, "old", 9000).allowed


def test_port_level_mtls_unset_inherits_and_most_specific_wins(tmp_path: Path) -> None:
    pas = """
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {name: mesh, namespace: istio-system}
    spec: {mtls: {mode: STRICT}}
    ---
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {name: api, namespace: shop}
    spec:
      selector: {matchLabels: {app: api}}
      mtls: {mode: UNSET}
      portLevelMtls: {9000: {mode: PERMISSIVE}}
    """
    c = _cluster(tmp_path, pas)
    assert not _verdict(c, "old", 8080).allowed  # UNSET inherits the mesh's STRICT
    assert _verdict(c, "old", 9000).allowed  # the port-level mode wins


def test_ambient_is_l4_only(tmp_path: Path) -> None:
    ambient = BASE.replace(
        "labels: {istio-injection: enabled}", "labels: {istio.io/dataplane-mode: ambient}"
    )
    path = tmp_path / "a.yaml"
    path.write_text(
        ambient + "---\n" + _ap("get", 'rules: [{to: [{operation: {methods: ["GET"]}}]}]'),
        encoding="utf-8",
    )
    c = load([str(path)])
    assert not _verdict(c, "web", 8080).allowed  # ztunnel cannot see methods


def test_layers_combine_and_plain_inputs_are_unchanged(tmp_path: Path) -> None:
    c = _cluster(tmp_path, STRICT)
    conn = Connectivity.build(c)
    assert conn.layer is Layer.BOTH
    both = conn.reach("legacy/old", "shop/api", ConnSet.single(Protocol.TCP, 9000))
    assert both.verdict is Verdict.DENY
    assert any(s.kind == "mTLS" and s.effect is Verdict.DENY for s in both.mesh)
    network = conn.with_layer(Layer.NETWORK).reach("legacy/old", "shop/api")
    assert network.verdict is Verdict.ALLOW
    assert not network.mesh
    plain = Connectivity.build(Cluster())
    assert plain.layer is Layer.NETWORK
    assert plain.mesh is None


@pytest.mark.parametrize("layer", list(Layer))
def test_pod_to_pod_per_layer(tmp_path: Path, layer: Layer) -> None:
    c = _cluster(tmp_path, STRICT)
    conn = Connectivity.build(c).with_layer(layer)
    pods = {p.name: i for i, p in enumerate(c.pods)}
    old, api = (int(conn.classes.pod_class[pods[n]]) for n in ("old", "api"))
    atom = conn.ports.atom_of(Protocol.TCP, 9000)
    assert bool(conn.pod_to_pod()[old, api, atom]) is (layer is Layer.NETWORK)


def test_ambient_skips_disable_and_the_next_wider_level_applies(tmp_path: Path) -> None:
    # istio.io PeerAuthentication reference: DISABLE is not supported in ambient mode;
    # istiod skips such policies for ambient workloads, so the namespace's STRICT applies.
    ambient = BASE.replace(
        "labels: {istio-injection: enabled}", "labels: {istio.io/dataplane-mode: ambient}"
    )
    pas = """
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {name: default, namespace: shop}
    spec: {mtls: {mode: STRICT}}
    ---
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {name: api, namespace: shop}
    spec:
      selector: {matchLabels: {app: api}}
      mtls: {mode: DISABLE}
      portLevelMtls: {9000: {mode: DISABLE}}
    """
    path = tmp_path / "a.yaml"
    path.write_text(ambient + "---\n" + textwrap.dedent(pas).strip() + "\n", encoding="utf-8")
    c = load([str(path)])
    assert not _verdict(c, "old", 8080).allowed
    assert not _verdict(c, "old", 9000).allowed
    assert not _verdict(c, "203.0.113.7", 8080).allowed
    assert _verdict(c, "web", 8080).allowed


@pytest.mark.parametrize("selector", ["selector: {matchLabels: {}}", "selector: {}"])
def test_empty_selector_peer_authentication_is_namespace_or_mesh_wide(
    tmp_path: Path, selector: str
) -> None:
    # istio.io PeerAuthentication reference / policy composition: an absent selector or
    # empty matchLabels covers the whole namespace (the mesh, in the root namespace).
    root = f"""
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {{name: mesh, namespace: istio-system}}
    spec:
      {selector}
      mtls: {{mode: STRICT}}
    """
    c = _cluster(tmp_path, root)
    assert not _verdict(c, "old", 8080).allowed
    ns = f"""
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {{name: mesh, namespace: istio-system}}
    spec: {{mtls: {{mode: STRICT}}}}
    ---
    apiVersion: security.istio.io/v1
    kind: PeerAuthentication
    metadata: {{name: default, namespace: shop}}
    spec:
      {selector}
      mtls: {{mode: PERMISSIVE}}
    """
    c = _cluster(tmp_path, ns)
    assert _verdict(c, "old", 8080).allowed  # the namespace level beats the mesh level


def test_target_ref_policies_are_not_enforced_by_sidecars(tmp_path: Path) -> None:
    # istio.io AuthorizationPolicy reference (targetRef): kind Service is supported only
    # for waypoints; sidecars and ztunnel enforce selector / namespace-wide policies only.
    deny = _ap(
        "deny-all", "targetRefs: [{kind: Service, group: '', name: api}]\naction: DENY\nrules: [{}]"
    )
    c = _cluster(tmp_path, deny)
    assert _verdict(c, "web", 8080).allowed
    assert _verdict(c, "old", 9000).allowed


@pytest.mark.parametrize(
    ("ports", "http"),
    [
        ("[{name: web, port: 80, targetPort: http, appProtocol: http}]", True),
        ("[{name: web, port: 80, targetPort: http, appProtocol: kubernetes.io/h2c}]", True),
        ("[{name: http-web, port: 80, targetPort: http, appProtocol: tcp}]", False),
        ("[{name: http-web, port: 80, targetPort: http}]", True),
    ],
)
def test_app_protocol_decides_before_the_port_name(tmp_path: Path, ports: str, http: bool) -> None:
    # istio.io "Protocol Selection": a Service port's appProtocol takes precedence over
    # its name's prefix.
    base = BASE.replace(
        "ports: [{name: http-api, port: 80, targetPort: http}, {name: tcp-raw, port: 9000}]",
        f"ports: {ports}",
    )
    path = tmp_path / "c.yaml"
    allow = _ap(
        "get",
        'selector: {matchLabels: {app: api}}\nrules: [{to: [{operation: {methods: ["GET"]}}]}]',
    )
    deny = _ap(
        "deny-get",
        'selector: {matchLabels: {app: api}}\naction: DENY\nrules: [{to: [{operation: {methods: ["GET"]}}]}]',
    )
    path.write_text(base + "---\n" + allow, encoding="utf-8")
    verdict = _verdict(load([str(path)]), "web", 8080)
    # HTTP: allowed on condition of GET; TCP: HTTP fields never match, so no ALLOW matches.
    assert verdict.allowed is http
    assert verdict.conditional is http
    path.write_text(base + "---\n" + deny, encoding="utf-8")
    # HTTP: denied only for GET; TCP: the DENY rule denies outright.
    assert _verdict(load([str(path)]), "web", 8080).allowed is http
