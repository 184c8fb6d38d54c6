"""Linkerd's authorization semantics, one rule of the reference per test
(https://linkerd.io/2/reference/authorization-policy/), through the explanation evaluator
and the combined Connectivity (the fast table), which must agree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.engine import Connectivity
from microseg.engine.explain.mesh_reasons import evaluate
from microseg.engine.query import Layer, MeshCause, MeshVerdict, Verdict
from microseg.ingest import load
from microseg.model import Cluster, ConnSet, Protocol

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, annotations: {linkerd.io/inject: enabled}}
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
  containers:
  - name: c
    image: i
    ports: [{containerPort: 8080, name: http}, {containerPort: 9000}, {containerPort: 7000, name: health}]
    livenessProbe: {httpGet: {path: /live, port: health}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: c, image: i}]
  podIPs: []
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: shop, labels: {app: batch}, annotations: {linkerd.io/inject: disabled}}
spec:
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {app: old}}
spec:
  containers: [{name: c, image: i}]
status: {podIP: 10.2.0.7}
"""

SERVER = """
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: api-http, namespace: shop, labels: {tier: api}}
spec:
  podSelector: {matchLabels: {app: api}}
  port: http
  proxyProtocol: HTTP/1
"""


def _cluster(tmp_path: Path, *extra: str, api_annotations: str = "") -> Cluster:
    text = BASE
    if api_annotations:
        text = text.replace(
            "metadata: {name: api, namespace: shop, labels: {app: api}}",
            f"metadata: {{name: api, namespace: shop, labels: {{app: api}}, annotations: {{{api_annotations}}}}}",
        )
    docs = [text, *(textwrap.dedent(e).strip() for e in extra)]
    path = tmp_path / "c.yaml"
    path.write_text("\n---\n".join(docs) + "\n", encoding="utf-8")
    return load([str(path)])


NAMES = {"web": "shop/web", "old": "legacy/old", "batch": "shop/batch", "api": "shop/api"}


def _verdict(cluster: Cluster, src: str, port: int) -> MeshVerdict:
    """The explanation evaluator's verdict on src -> shop/api, held to the fast table."""
    pods = {p.name: p for p in cluster.pods}
    source: object = pods.get(src, src)
    expected, _ = evaluate(cluster, source, pods["api"], Protocol.TCP, port)  # type: ignore[arg-type]
    conn = Connectivity.build(cluster).with_layer(Layer.MESH)
    decision = conn.reach(NAMES.get(src, src), "shop/api", ConnSet.single(Protocol.TCP, port))
    assert (decision.verdict is Verdict.ALLOW) == expected.allowed, (src, port, expected)
    conds = [v for c, v in decision.conditions if c.contains(Protocol.TCP, port)]
    if expected.allowed:
        assert conds == ([expected] if expected.conditional else [])
    return expected


def _causes(cluster: Cluster, src: str, port: int) -> list[MeshCause]:
    pods = {p.name: p for p in cluster.pods}
    _, reasons = evaluate(cluster, pods.get(src, src), pods["api"], Protocol.TCP, port)  # type: ignore[arg-type]
    return [r.detail.cause for r in reasons]


def test_no_policy_objects_the_cluster_default_admits_everyone(tmp_path: Path) -> None:
    c = _cluster(tmp_path)
    assert c.has_linkerd
    assert not c.has_istio
    for src in ("web", "old", "batch", "203.0.113.9"):
        assert _verdict(c, src, 9000).allowed


def test_a_server_without_authorization_denies(tmp_path: Path) -> None:
    c = _cluster(tmp_path, SERVER.replace("port: http", "port: 9000"))
    assert not _verdict(c, "web", 9000).allowed
    assert MeshCause.LINKERD_DENIED in _causes(c, "web", 9000)
    assert _verdict(c, "web", 8080).allowed  # another port: the default policy
    # On a port with HTTP probes, only the probe route passes (policy-controller's
    # default probe routes: GET on the probe paths, unauthenticated).
    c = _cluster(tmp_path, SERVER.replace("port: http", "port: health"))
    probe = _verdict(c, "web", 7000)
    assert probe.allowed
    assert probe.requires == ("{probe GET /live}",)


def test_access_policy_replaces_the_deny(tmp_path: Path) -> None:
    c = _cluster(tmp_path, SERVER + "  accessPolicy: all-authenticated\n")
    assert _verdict(c, "web", 8080).allowed
    assert not _verdict(c, "old", 8080).allowed


MTLS = """
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: web-only, namespace: shop}
spec:
  identityRefs: [{kind: ServiceAccount, name: web}]
"""


def _policy(target: str, *refs: str, name: str = "ap") -> str:
    req = "".join(f"\n  - {r}" for r in refs) or " []"
    return (
        "apiVersion: policy.linkerd.io/v1alpha1\nkind: AuthorizationPolicy\n"
        f"metadata: {{name: {name}, namespace: shop}}\n"
        f"spec:\n  targetRef: {target}\n  requiredAuthenticationRefs:{req}\n"
    )


SERVER_REF = "{group: policy.linkerd.io, kind: Server, name: api-http}"
MTLS_REF = "{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: web-only}"


def test_mesh_tls_authentication_admits_the_identities_it_names(tmp_path: Path) -> None:
    c = _cluster(tmp_path, SERVER, MTLS, _policy(SERVER_REF, MTLS_REF))
    assert _verdict(c, "web", 8080).allowed
    assert not _verdict(c, "old", 8080).allowed  # unmeshed: unauthenticated
    assert not _verdict(c, "batch", 8080).allowed  # opted out with linkerd.io/inject: disabled


def test_identity_patterns(tmp_path: Path) -> None:
    ids = """
    apiVersion: policy.linkerd.io/v1alpha1
    kind: MeshTLSAuthentication
    metadata: {name: web-only, namespace: shop}
    spec:
      identities: ["*.shop.serviceaccount.identity.linkerd.cluster.local"]
    """
    c = _cluster(tmp_path, SERVER, ids, _policy(SERVER_REF, MTLS_REF))
    assert _verdict(c, "web", 8080).allowed
    exact = ids.replace("*.shop", "api.shop")
    c = _cluster(tmp_path, SERVER, exact, _policy(SERVER_REF, MTLS_REF))
    assert not _verdict(c, "web", 8080).allowed


def test_network_authentication_with_except(tmp_path: Path) -> None:
    nets = """
    apiVersion: policy.linkerd.io/v1alpha1
    kind: NetworkAuthentication
    metadata: {name: pods, namespace: shop}
    spec:
      networks: [{cidr: 10.0.0.0/8, except: [10.2.0.0/16]}]
    """
    ref = "{group: policy.linkerd.io, kind: NetworkAuthentication, name: pods}"
    c = _cluster(tmp_path, SERVER, nets, _policy(SERVER_REF, ref))
    assert _verdict(c, "web", 8080).allowed  # 10.1.0.5
    assert not _verdict(c, "old", 8080).allowed  # 10.2.0.7 is excepted
    assert _verdict(c, "10.9.9.9", 8080).allowed
    assert not _verdict(c, "203.0.113.9", 8080).allowed
    # Both refs: the network AND the identity.
    c = _cluster(tmp_path, SERVER, nets, MTLS, _policy(SERVER_REF, ref, MTLS_REF))
    assert _verdict(c, "web", 8080).allowed
    assert not _verdict(c, "10.9.9.9", 8080).allowed


def test_a_missing_authentication_makes_linkerd_ignore_the_policy(tmp_path: Path) -> None:
    c = _cluster(tmp_path, SERVER, _policy(SERVER_REF, MTLS_REF))
    assert not _verdict(c, "web", 8080).allowed
    assert any(d.code == "MS193" for d in c.diagnostics)


def test_namespace_target_applies_to_every_server_of_the_namespace(tmp_path: Path) -> None:
    ns = "{kind: Namespace, name: shop}"
    c = _cluster(tmp_path, SERVER, MTLS, _policy(ns, MTLS_REF))
    assert _verdict(c, "web", 8080).allowed
    assert not _verdict(c, "old", 8080).allowed


def test_server_authorization_by_name_and_by_selector(tmp_path: Path) -> None:
    saz = """
    apiVersion: policy.linkerd.io/v1beta1
    kind: ServerAuthorization
    metadata: {name: saz, namespace: shop}
    spec:
      server: {name: api-http}
      client:
        meshTLS: {serviceAccounts: [{name: web}]}
    """
    c = _cluster(tmp_path, SERVER, saz)
    assert _verdict(c, "web", 8080).allowed
    assert not _verdict(c, "old", 8080).allowed
    by_labels = saz.replace(
        "server: {name: api-http}", "server: {selector: {matchLabels: {tier: api}}}"
    )
    c = _cluster(tmp_path, SERVER, by_labels)
    assert _verdict(c, "web", 8080).allowed
    unauth = """
    apiVersion: policy.linkerd.io/v1beta1
    kind: ServerAuthorization
    metadata: {name: saz, namespace: shop}
    spec:
      server: {name: api-http}
      client: {unauthenticated: true}
    """
    c = _cluster(tmp_path, SERVER, unauth)
    # networks unset: the cluster networks (10.0.0.0/8 and the other private ranges)
    assert _verdict(c, "old", 8080).allowed
    assert not _verdict(c, "203.0.113.9", 8080).allowed


ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: books, namespace: shop}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: api-http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /books}, method: GET}]
"""


def test_route_authorizations_narrow_to_the_route(tmp_path: Path) -> None:
    route_ref = "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: books}"
    c = _cluster(tmp_path, SERVER, ROUTE, MTLS, _policy(route_ref, MTLS_REF))
    v = _verdict(c, "web", 8080)
    assert v.allowed
    assert v.requires == ("{HTTPRoute shop/books}",)
    assert not _verdict(c, "old", 8080).allowed
    # A Server-level authorization reaches every route of the Server.
    c = _cluster(tmp_path, SERVER, ROUTE, MTLS, _policy(SERVER_REF, MTLS_REF))
    v = _verdict(c, "web", 8080)
    assert v.allowed
    assert v.requires == ("{HTTPRoute shop/books}",)


@pytest.mark.parametrize(
    ("policy", "web", "old", "outside"),
    [
        ("all-unauthenticated", True, True, True),
        ("all-authenticated", True, False, False),
        ("cluster-unauthenticated", True, True, False),
        ("cluster-authenticated", True, False, False),
        ("deny", False, False, False),
        ("audit", True, True, True),
    ],
)
def test_default_inbound_policies(
    tmp_path: Path, policy: str, web: bool, old: bool, outside: bool
) -> None:
    c = _cluster(tmp_path, api_annotations=f"config.linkerd.io/default-inbound-policy: {policy}")
    assert _verdict(c, "web", 9000).allowed is web
    assert _verdict(c, "old", 9000).allowed is old
    assert _verdict(c, "203.0.113.9", 9000).allowed is outside


def test_namespace_default_and_require_identity_and_skip(tmp_path: Path) -> None:
    c = _cluster(
        tmp_path,
        api_annotations="config.linkerd.io/proxy-require-identity-inbound-ports: '9000', "
        "config.linkerd.io/skip-inbound-ports: '8080'",
    )
    assert _verdict(c, "web", 9000).allowed
    assert not _verdict(c, "old", 9000).allowed  # all-unauthenticated made authenticated
    assert _verdict(c, "old", 8080).allowed  # bypasses the proxy
    assert MeshCause.LINKERD_SKIPPED in _causes(c, "old", 8080)


def test_unmeshed_destination_is_outside_the_mesh(tmp_path: Path) -> None:
    c = _cluster(tmp_path, api_annotations="config.linkerd.io/default-inbound-policy: deny")
    pods = {p.name: p for p in c.pods}
    v, reasons = evaluate(c, pods["web"], pods["old"], Protocol.TCP, 80)
    assert v.allowed
    assert reasons[0].detail.cause is MeshCause.OUTSIDE_MESH


def test_linkerd_config_default_and_identity(tmp_path: Path) -> None:
    config = """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: linkerd-config, namespace: linkerd}
    data:
      values: |
        identityTrustDomain: example.org
        proxy: {defaultInboundPolicy: all-authenticated}
    """
    saz = """
    apiVersion: policy.linkerd.io/v1beta1
    kind: ServerAuthorization
    metadata: {name: saz, namespace: shop}
    spec:
      server: {name: api-http}
      client:
        meshTLS: {identities: [web.shop.serviceaccount.identity.linkerd.example.org]}
    """
    c = _cluster(tmp_path, config, SERVER, saz)
    assert not _verdict(c, "old", 9000).allowed  # the installation's default
    assert _verdict(c, "web", 9000).allowed
    assert _verdict(c, "web", 8080).allowed  # identities in the installation's trust domain
