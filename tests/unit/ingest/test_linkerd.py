"""Linkerd's documents (policy.linkerd.io, the routes that attach to Servers), mesh
annotations and SPIRE's ClusterSPIFFEID read into the model; malformed fields are located
errors (MS190, MS197), what Linkerd itself ignores a warning that says so (MS191-MS196)."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import Severity
from microseg.ingest import load
from microseg.model.linkerd import Authentication, ProxyProtocol
from tests.unit.ingest._support import line_containing, load_errors, only, write

SERVER = """\
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web, namespace: shop, labels: {tier: web}}
spec:
  podSelector: {matchLabels: {app: web}}
  port: http
  proxyProtocol: HTTP/1
"""


def test_every_kind_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "l.yaml",
        SERVER
        + """\
---
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: saz, namespace: shop}
spec:
  server: {selector: {matchLabels: {tier: web}}}
  client:
    networks: [{cidr: 10.0.0.0/8, except: [10.9.0.0/16]}]
    meshTLS: {serviceAccounts: [{name: api}, {name: x, namespace: other}]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: m, namespace: shop}
spec:
  identities: ["*.shop.serviceaccount.identity.linkerd.cluster.local"]
  identityRefs: [{kind: ServiceAccount, name: api}, {kind: Namespace, name: ops}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: n, namespace: shop}
spec: {networks: [{cidr: 0.0.0.0/0}, {cidr: "::/0"}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: books, namespace: shop}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: web}]
  rules: [{matches: [{path: {type: PathPrefix, value: /books}, method: GET}]}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: books}
  requiredAuthenticationRefs:
  - {group: policy.linkerd.io, kind: MeshTLSAuthentication, name: m}
  - {group: policy.linkerd.io, kind: NetworkAuthentication, name: n}
""",
    )
    cluster = load([str(path)])
    lk = cluster.linkerd
    (server,) = lk.servers
    assert (server.port, server.protocol, server.access_policy) == (
        "http",
        ProxyProtocol.HTTP1,
        None,
    )
    (saz,) = lk.server_authorizations
    assert saz.server_name is None
    assert saz.client.authentication is Authentication.TLS_AUTHENTICATED
    assert saz.client.accounts == (("shop", "api"), ("other", "x"))
    assert saz.client.networks is not None
    assert str(saz.client.networks[0]) == "10.0.0.0/8 except 10.9.0.0/16"
    (route,) = lk.routes
    assert (route.kind, route.servers, route.matches) == ("HTTPRoute", ("web",), ("GET /books/*",))
    (ap,) = lk.authorization_policies
    assert ap.target.kind == "HTTPRoute"
    assert [r.kind for r in ap.required] == ["MeshTLSAuthentication", "NetworkAuthentication"]
    assert not [d for d in cluster.diagnostics if d.code.startswith("MS19")]


@pytest.mark.parametrize(
    ("needle", "replacement", "message"),
    [
        ("port: http", "port: 70000", "spec.port: expected 1-65535"),
        ("proxyProtocol: HTTP/1", "proxyProtocol: HTTP/3", "spec.proxyProtocol: 'HTTP/3'"),
    ],
)
def test_malformed_fields_are_located_errors(
    tmp_path: Path, needle: str, replacement: str, message: str
) -> None:
    path = write(tmp_path, "s.yaml", SERVER.replace(needle, replacement))
    diag = only(load_errors([path]), "MS190")
    assert diag.origin.file == str(path)
    assert message in diag.render()
    assert diag.origin.line == line_containing(path, replacement)


def test_authorization_policy_admission_rules(tmp_path: Path) -> None:
    doc = """\
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  targetRef: {kind: Namespace, name: other}
  requiredAuthenticationRefs: []
"""
    diag = only(load_errors([write(tmp_path, "a.yaml", doc)]), "MS190")
    assert "cannot target another namespace" in diag.message
    two = doc.replace("name: other}", "name: shop}").replace(
        "requiredAuthenticationRefs: []",
        "requiredAuthenticationRefs: [{kind: ServiceAccount, name: a}, {kind: ServiceAccount, name: b}]",
    )
    diag = only(load_errors([write(tmp_path, "b.yaml", two)]), "MS190")
    assert "only a single ServiceAccount" in diag.message


def test_dangling_references_are_warnings_and_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.yaml",
        """\
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: nowhere}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: gone}]
""",
    )
    cluster = load([str(path)])
    found = [d for d in cluster.diagnostics if d.code == "MS193"]
    assert len(found) == 2
    assert all(d.severity is Severity.WARNING for d in found)
    assert "Linkerd ignores the policy" in " ".join(d.message for d in found)


def test_duplicates_versions_and_overlapping_servers(tmp_path: Path) -> None:
    pod = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80, name: http}]}]}
---
"""
    other = SERVER.replace("name: web,", "name: web2,").replace("port: http", "port: 80")
    path = write(tmp_path, "o.yaml", pod + SERVER + "---\n" + other)
    cluster = load([str(path)])
    assert "read as shop/web" in only(cluster.diagnostics, "MS194").message
    old = SERVER.replace("v1beta3", "v9")
    cluster = load([str(write(tmp_path, "v.yaml", old))])
    assert only(cluster.diagnostics, "MS191").severity is Severity.WARNING
    diag = only(load_errors([write(tmp_path, "dup.yaml", SERVER + "---\n" + SERVER)]), "MS192")
    assert "two Server objects named shop/web" in diag.message


def test_annotations_linkerd_ignores_and_two_meshes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "n.yaml",
        """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
  annotations: {linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy: closed}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  annotations: {config.linkerd.io/opaque-ports: "abc"}
spec: {containers: [{name: c, image: i}]}
""",
    )
    cluster = load([str(path)])
    warned = [d for d in cluster.diagnostics if d.code == "MS195"]
    assert len(warned) == 2
    assert "the cluster default applies instead" in " ".join(d.message for d in warned)
    assert "analysed as in the Istio mesh only" in only(cluster.diagnostics, "MS196").message


def test_gateway_routes_without_server_parents_are_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "g.yaml",
        """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: public, namespace: shop}
spec:
  parentRefs: [{kind: Gateway, name: edge}]
""",
    )
    cluster = load([str(path)])
    assert not cluster.linkerd.routes
    assert not cluster.has_linkerd


def test_cluster_spiffe_id(tmp_path: Path) -> None:
    good = """\
apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterSPIFFEID
metadata: {name: default}
spec:
  spiffeIDTemplate: "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}"
  podSelector: {matchLabels: {app: web}}
  className: spire
"""
    cluster = load([str(write(tmp_path, "s.yaml", good))])
    (spec,) = cluster.spiffe_ids
    assert (spec.name, spec.class_name) == ("default", "spire")
    control = good.replace("{{ .PodMeta.Namespace }}", "{{ if .PodMeta }}x{{ end }}")
    cluster = load([str(write(tmp_path, "c.yaml", control))])
    assert only(cluster.diagnostics, "MS198").severity is Severity.NOTICE
    missing = good.replace(
        '  spiffeIDTemplate: "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}"\n', ""
    )
    diag = only(load_errors([write(tmp_path, "m.yaml", missing)]), "MS197")
    assert "spiffeIDTemplate" in diag.render()


def test_linkerd_config_sets_the_installation(tmp_path: Path) -> None:
    config = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: linkerd-config, namespace: mesh-system}
data:
  values: |
    clusterNetworks: "10.0.0.0/16,fd00::/8"
    identityTrustDomain: example.org
    proxy:
      defaultInboundPolicy: cluster-authenticated
      opaquePorts: "3306"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: shop}
data: {a: b}
"""
    cluster = load([str(write(tmp_path, "c.yaml", config))])
    lk = cluster.linkerd
    assert lk.control_plane_namespace == "mesh-system"
    assert lk.trust_domain == "example.org"
    assert lk.default_policy.value == "cluster-authenticated"
    assert [n.cidr for n in lk.cluster_networks] == ["10.0.0.0/16", "fd00::/8"]
    assert lk.opaque_ports == "3306"
    assert cluster.has_linkerd
    bad = config.replace("cluster-authenticated", "closed")
    cluster = load([str(write(tmp_path, "b.yaml", bad))])
    assert "all-unauthenticated is kept" in only(cluster.diagnostics, "MS199").message
