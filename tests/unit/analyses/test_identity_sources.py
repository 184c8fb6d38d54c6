"""identity and lint on Linkerd, SPIRE and cloud identities: each row and finding from a
small manifest (https://linkerd.io/2/reference/authorization-policy/, spire-controller-
manager's ClusterSPIFFEID, the cloud providers' service account annotations)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from microseg.analyses.identity import IdentityReport, identity_report
from microseg.analyses.lint import lint
from microseg.engine import Connectivity
from microseg.ingest import load
from microseg.model.mesh import MeshMode

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, annotations: {linkerd.io/inject: enabled, config.linkerd.io/default-inbound-policy: cluster-authenticated}}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: batch}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: shop
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::1:role/shared"}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: job
  namespace: batch
  annotations:
    eks.amazonaws.com/role-arn: "arn:aws:iam::1:role/shared"
    azure.workload.identity/client-id: "0000-1111"
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: mesh}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: c, image: i, ports: [{containerPort: 8080, name: http}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: mesh}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      serviceAccountName: api
      containers: [{name: c, image: i}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: job, namespace: batch}
spec:
  template:
    metadata: {labels: {app: job}}
    spec:
      serviceAccountName: job
      containers: [{name: c, image: i}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: mesh}
spec: {mtls: {mode: STRICT}}
---
apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterSPIFFEID
metadata: {name: istio}
spec:
  spiffeIDTemplate: "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"
  namespaceSelector: {matchLabels: {istio-injection: enabled}}
---
apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterSPIFFEID
metadata: {name: by-app}
spec:
  spiffeIDTemplate: "spiffe://{{ .TrustDomain }}/app/{{ index .PodMeta.Labels \\"app\\" }}"
  podSelector: {matchLabels: {app: api}}
---
apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterSPIFFEID
metadata: {name: fallback}
spec:
  spiffeIDTemplate: "spiffe://{{ .TrustDomain }}/pod/{{ .PodMeta.UID }}"
  fallback: true
"""


def _load(tmp_path: Path, extra: str = "") -> Connectivity:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(BASE) + extra, encoding="utf-8")
    return Connectivity.build(load([str(path)]))


def _report(tmp_path: Path) -> IdentityReport:
    return identity_report(_load(tmp_path))


def test_rows_show_mesh_identity_spire_and_cloud(tmp_path: Path) -> None:
    rows = {r.workload.split("[")[0]: r for r in _report(tmp_path).rows}
    web, api, job = rows["shop/web"], rows["mesh/api"], rows["batch/job"]
    assert web.mesh is MeshMode.LINKERD
    assert web.mesh_identity == "web.shop.serviceaccount.identity.linkerd.cluster.local"
    assert web.mtls == "default cluster-authenticated (namespace)"
    assert api.mesh is MeshMode.SIDECAR
    assert api.mesh_identity == "spiffe://cluster.local/ns/mesh/sa/api"
    assert job.mesh is MeshMode.NONE
    assert job.mesh_identity == ""
    # Two non-fallback registrations for api; the fallback only where nothing else applies.
    assert [(s.source, s.spiffe_id) for s in api.spire] == [
        ("by-app", "spiffe://cluster.local/app/api"),
        ("istio", "spiffe://cluster.local/ns/mesh/sa/api"),
    ]
    assert [(s.source, s.exact) for s in web.spire] == [("fallback", False)]
    assert web.spire[0].spiffe_id == "spiffe://cluster.local/pod/<PodMeta.UID>"
    assert [str(c) for c in web.cloud] == ["aws-iam-role:arn:aws:iam::1:role/shared"]
    assert [str(c) for c in job.cloud] == [
        "aws-iam-role:arn:aws:iam::1:role/shared",
        "azure-client-id:0000-1111 (inactive)",
    ]


def test_findings(tmp_path: Path) -> None:
    findings = {(f.code, f.subject) for f in _report(tmp_path).findings}
    assert ("spiffe-mismatch", "mesh/api[Deployment]") in findings
    assert ("shared-cloud-identity", "aws-iam-role:arn:aws:iam::1:role/shared") in findings
    assert ("inactive-cloud-identity", "batch/job[Job]") in findings


def test_linkerd_callers_are_linkerd_identities(tmp_path: Path) -> None:
    server = """
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  port: http
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: web}
  requiredAuthenticationRefs: [{kind: ServiceAccount, name: web}]
"""
    # cluster-authenticated on the other ports: the meshed web itself; nothing else.
    report = identity_report(_load(tmp_path, server))
    web = next(r for r in report.rows if r.workload.startswith("shop/web"))
    assert web.callers == ("web.shop.serviceaccount.identity.linkerd.cluster.local",)


def test_lint_linkerd(tmp_path: Path) -> None:
    extra = """
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: ghost, namespace: shop}
spec:
  podSelector: {matchLabels: {app: ghost}}
  port: 80
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: unmeshed, namespace: batch}
spec:
  podSelector: {}
  port: 80
  accessPolicy: audit
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: open, namespace: shop}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: ghost}
  requiredAuthenticationRefs: []
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: unused, namespace: shop}
spec:
  identities: ["*"]
---
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: nowhere, namespace: shop}
spec:
  server: {selector: {matchLabels: {tier: none}}}
  client: {unauthenticated: true, networks: [{cidr: 0.0.0.0/0}]}
"""
    got = {(f.code, f.policy, f.field) for f in lint(_load(tmp_path, extra)).findings}
    assert got >= {
        ("ML010", "Linkerd Server shop/ghost", "spec.podSelector"),
        ("ML010", "Linkerd Server batch/unmeshed", "spec.podSelector"),
        ("ML012", "Linkerd Server batch/unmeshed", "spec.accessPolicy"),
        ("ML012", "Linkerd AuthorizationPolicy shop/open", "spec.requiredAuthenticationRefs"),
        ("ML011", "Linkerd MeshTLSAuthentication shop/unused", "metadata.name"),
        ("ML012", "Linkerd MeshTLSAuthentication shop/unused", "spec.identities"),
        ("ML011", "Linkerd ServerAuthorization shop/nowhere", "spec.server"),
        ("ML012", "Linkerd ServerAuthorization shop/nowhere", "spec.client"),
    }
    assert not any(c == "ML011" and p.endswith("shop/open") for c, p, _ in got)
