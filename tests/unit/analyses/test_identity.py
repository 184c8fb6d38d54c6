"""The identity report on the demo (STRICT shop, api-gateway policies) and on small inputs."""

from __future__ import annotations

from pathlib import Path

from microseg.analyses.identity import identity_report
from microseg.engine import Connectivity
from microseg.ingest import load
from microseg.model import ConnSet, Protocol
from microseg.model.mesh import MeshMode


def _report(paths: list[str], expect: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return identity_report(Connectivity.build(load(paths)), expect)


def test_demo_rows(demo_dir: Path) -> None:
    report = _report([str(demo_dir)])
    rows = {r.workload: r for r in report.rows}
    gw = rows["shop/api-gateway[Deployment]"]
    assert gw.spiffe_id == "spiffe://cluster.local/ns/shop/sa/api-gateway"
    assert gw.mesh is MeshMode.SIDECAR
    assert gw.mtls == "STRICT"
    assert gw.callers == ("cluster.local/ns/frontend/sa/webapp",)
    assert rows["monitoring/prometheus[Deployment]"].mesh is MeshMode.NONE
    assert rows["frontend/webapp[Deployment]"].mtls == "PERMISSIVE"


def test_demo_findings(demo_dir: Path) -> None:
    report = _report([str(demo_dir)], ("frontend",))
    codes = {(f.code, f.subject) for f in report.findings}
    assert ("mtls-not-strict", "frontend/webapp[Deployment]") in codes
    callers = [f for f in report.findings if f.code == "plaintext-caller"]
    assert {f.subject for f in callers} == {"monitoring/prometheus[Deployment]"}
    assert len(callers) == 6  # every shop workload it scrapes on 9100
    assert all(f.conns == ConnSet.single(Protocol.TCP, 9100) for f in callers)


def test_open_allow_rule_and_unknown_principal(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {serviceAccountName: sa-a, containers: [{name: c, image: i}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: open, namespace: x}
spec:
  rules:
    - to: [{operation: {ports: ["80"]}}]
    - from: [{source: {principals: ["cluster.local/ns/x/sa/typo", "cluster.local/ns/x/sa/sa-a"]}}]
""",
        encoding="utf-8",
    )
    report = _report([str(path)])
    found = {(f.code, f.subject, f.message) for f in report.findings}
    assert any(c == "allow-any-principal" and s == "x/open rule 0" for c, s, _ in found)
    unknown = [m for c, _, m in found if c == "unknown-principal"]
    assert unknown == [
        "principal 'cluster.local/ns/x/sa/typo' matches no service account in the input"
    ]


_SMALL = """
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
spec: {serviceAccountName: api, containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {serviceAccountName: web, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {serviceAccountName: db, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {app: old}}
spec: {containers: [{name: c, image: i}]}
---
"""


def _small(tmp_path: Path, policies: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(_SMALL + policies, encoding="utf-8")
    return _report([str(path)])


def _callers(report, workload: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return next(r.callers for r in report.rows if r.workload == workload)


def test_callers_follow_the_mesh_verdicts_deny_and_not_fields(tmp_path: Path) -> None:
    # A DENY policy removes callers; notPrincipals lets everyone else in, plaintext too
    # (ISTIO-SECURITY-2021-004).
    policies = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-db, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/db"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: not-web, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{from: [{source: {notPrincipals: ["cluster.local/ns/shop/sa/web"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  action: DENY
  rules: [{}]
"""
    report = _small(tmp_path, policies)
    assert _callers(report, "shop/api[Pod]") == ("cluster.local/ns/shop/sa/api", "plaintext")
    assert _callers(report, "shop/db[Pod]") == ()
    assert _callers(report, "shop/web[Pod]") == ("*",)


def test_plaintext_caller_only_where_strict_rejects_it(tmp_path: Path) -> None:
    # api is STRICT except 9090 (PERMISSIVE), and an AuthorizationPolicy denies everything:
    # plaintext from legacy/old fails on 9090 by that policy, not by mTLS, so the finding
    # names every TCP port but 9090; db (PERMISSIVE, only denied by policy) has none.
    policies = """
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
  portLevelMtls: {9090: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: shop}
spec: {action: DENY, rules: [{}]}
"""
    report = _small(tmp_path, policies)
    found = {
        f.message.split(" ")[4].rstrip(","): f.conns
        for f in report.findings
        if f.code == "plaintext-caller" and f.subject == "legacy/old[Pod]"
    }
    assert set(found) == {"shop/api[Pod]", "shop/web[Pod]"}
    api = found["shop/api[Pod]"]
    assert api is not None
    assert not api.contains(Protocol.TCP, 9090)
    assert api.contains(Protocol.TCP, 9089)
    assert api.contains(Protocol.TCP, 9091)
    web = found["shop/web[Pod]"]
    assert web is not None
    assert web.contains(Protocol.TCP, 9090)
