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
