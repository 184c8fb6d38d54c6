"""`recommend --format linkerd`: Servers per observed port, AuthorizationPolicies requiring
the callers' identities (MeshTLSAuthentication) or addresses (NetworkAuthentication), and
the proof that the set admits every observed flow through the Linkerd layer."""

from __future__ import annotations

from pathlib import Path

import yaml

import microseg
from microseg.analyses.synth.recommend import RecommendOptions, recommend
from microseg.analyses.synth.types import PolicyFormat
from microseg.engine import Connectivity, Layer
from microseg.model import ConnSet, Protocol
from microseg.render.policy_yaml import manifest
from tests.unit.analyses.synth_support import window

LINKERD = """
apiVersion: v1
kind: Namespace
metadata: {name: m, annotations: {linkerd.io/inject: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: one, namespace: m}
spec:
  selector: {matchLabels: {app: one}}
  template:
    metadata: {labels: {app: one}}
    spec: {serviceAccountName: one, containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: m}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {serviceAccountName: api, containers: [{name: c, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: plain, labels: {app: job}}
spec: {containers: [{name: c}]}
status: {podIP: 10.3.0.7}
"""


def test_linkerd_servers_identities_and_networks(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(LINKERD)
    cluster = microseg.load([str(tmp_path)])
    flows = [
        ("m/one", "m/api", "TCP", 8080, 5, "forwarded"),
        ("plain/job", "m/api", "TCP", 8080, 2, "forwarded"),
        ("203.0.113.9", "m/api", "TCP", 8080, 1, "forwarded"),
    ]
    rec = recommend(cluster, window(flows), RecommendOptions(format=PolicyFormat.LINKERD))
    assert rec.proof.holds
    docs = {(g.kind, g.name): manifest(g) for g in rec.generated}
    server = docs[("Server", "microseg-api-8080")]
    assert server["apiVersion"] == "policy.linkerd.io/v1beta3"
    assert server["spec"] == {"podSelector": {"matchLabels": {"app": "api"}}, "port": 8080}
    assert docs[("MeshTLSAuthentication", "microseg-api-8080")]["spec"] == {
        "identityRefs": [{"kind": "ServiceAccount", "name": "one"}]
    }
    assert docs[("NetworkAuthentication", "microseg-api-8080-net")]["spec"] == {
        "networks": [{"cidr": "10.3.0.7/32"}, {"cidr": "203.0.113.9/32"}]
    }
    ap = docs[("AuthorizationPolicy", "microseg-api-8080")]
    assert ap["apiVersion"] == "policy.linkerd.io/v1alpha1"
    assert ap["spec"]["targetRef"] == {
        "group": "policy.linkerd.io",
        "kind": "Server",
        "name": "microseg-api-8080",
    }
    # The written YAML reads back through ingest, and the engine agrees with the proof:
    # the observed callers pass, another meshed workload does not.
    text = "\n---\n".join(yaml.safe_dump(manifest(g)) for g in rec.generated)
    (tmp_path / "linkerd.yaml").write_text(text)
    merged = Connectivity.build(microseg.load([str(tmp_path)])).with_layer(Layer.BOTH)
    port = ConnSet.single(Protocol.TCP, 8080)
    assert merged.reach("m/one", "m/api", port).verdict.value == "Allow"
    assert merged.reach("plain/job", "m/api", port).verdict.value == "Allow"
    assert merged.reach("m/api", "m/api", port).verdict.value == "Deny"
    assert any(
        f.code == "MS530" and "default-inbound-policy: deny" in f.message for f in rec.findings
    )
