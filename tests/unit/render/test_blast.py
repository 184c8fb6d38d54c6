"""Rendering a blast radius: answer first, one table row per workload, each hop explained
once; JSON with the envelope and the issue's shape; a dot attack tree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from microseg.analyses.blast import BlastHit, BlastRadius, Hop, blast_radius, sources_of
from microseg.engine import Connectivity, Endpoint, WorkloadGraph
from microseg.ingest import load
from microseg.model import ConnSet, Protocol
from microseg.render.blast import BlastQuery, blast_dot, blast_json, blast_text
from tests.unit.analyses.test_blast import SHOP, write_shop

A, B, C = "ns/a[Deployment]", "ns/b[Deployment]", "ns/c[Deployment]"
TCP80 = ConnSet.single(Protocol.TCP, 80)


def _chain() -> BlastRadius:
    """a -> b -> c, unexplained."""
    ab, bc = Hop(A, B, TCP80, None), Hop(B, C, ConnSet.all(), None)
    return BlastRadius(
        (A,),
        (BlastHit(B, 1, (A, B), (ab,)), BlastHit(C, 2, (A, B, C), (ab, bc))),
    )


def test_text_leads_with_the_answer_then_a_table_by_hops() -> None:
    out = blast_text(_chain(), BlastQuery("ns/a"))
    lines = out.splitlines()
    assert lines[0] == f"{A} compromised: 2 workloads reachable in ≤ 2 hops"
    assert re.match(r"HOPS\s+WORKLOAD\s+PATH$", lines[2])
    assert lines[3].split() == ["1", B, A, "->", B]
    assert lines[4].split() == ["2", C, A, "->", B, "->", C]
    assert lines[-1] == "2 reachable: 1 at 1 hop, 1 at 2 hops"
    assert "Why each hop" not in out  # nothing explained, nothing claimed


def test_text_headline_variants() -> None:
    q = BlastQuery("ns/a", hops=3, conns=TCP80)
    assert blast_text(_chain(), q).startswith(
        f"{A} compromised: 2 workloads reachable in ≤ 3 hops over TCP 80\n"
    )
    empty = BlastRadius((A,), ())
    assert blast_text(empty, BlastQuery("ns/a")) == f"{A} compromised: no workload reachable\n"
    many = BlastRadius((A, B), ())
    text = blast_text(many, BlastQuery("ns/*"))
    assert text.startswith("ns/* compromised (2 workloads): no workload reachable\n")
    assert f"  from: {A}, {B}\n" in text
    jewels = blast_text(_chain(), BlastQuery("ns/a", hops=2, targets=(C, "ns/d[Deployment]")))
    assert jewels.startswith(f"{A} compromised: 2 of 2 crown jewels reachable")
    assert "  not reachable in ≤ 2 hops: ns/d[Deployment]\n" in jewels
    assert blast_text(BlastRadius((), ()), BlastQuery("x")) == "x: no workloads to start from\n"
    # one workload from an address, group or namespace: the headline says what was asked
    one = blast_text(empty, BlastQuery("10.0.0.0/8"))
    assert one == f"10.0.0.0/8 compromised (1 workload: {A}): no workload reachable\n"
    assert blast_text(empty, BlastQuery(A)).startswith(f"{A} compromised: ")
    held = blast_text(_chain(), BlastQuery("ns/a", targets=(A, C)))
    assert "  already compromised: ns/a[Deployment]\n" in held
    assert "not reachable" not in held


def test_json_has_the_issue_shape_and_the_envelope() -> None:
    doc = json.loads(blast_json(_chain(), BlastQuery("ns/a", hops=2)))
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "BlastRadius"
    assert doc["from"] == [A]
    assert doc["maxHops"] == 2
    assert doc["port"] is None
    assert [{k: r[k] for k in ("workload", "hops", "path")} for r in doc["reachable"]] == [
        {"workload": B, "hops": 1, "path": [A, B]},
        {"workload": C, "hops": 2, "path": [A, B, C]},
    ]
    # each distinct hop once, with what the attacker may use on it
    assert doc["edges"] == [
        {"src": A, "dst": B, "conn": "TCP 80"},
        {"src": B, "dst": C, "conn": "All Connections"},
    ]
    assert "unreachable" not in doc
    jewels = json.loads(blast_json(_chain(), BlastQuery("ns/a", targets=(A, C, "ns/x[Pod]"))))
    assert jewels["unreachable"] == ["ns/x[Pod]"]


def test_dot_is_the_attack_tree() -> None:
    dot = blast_dot(_chain(), BlastQuery("ns/a"))
    assert dot.startswith("digraph blast_radius {\n")
    assert f'"{A}" [label="{A}\\ncompromised", fillcolor="#f8d7da"];' in dot
    assert f'"{C}" [label="{C}\\n2 hops"];' in dot
    assert f'"{A}" -> "{B}" [label="TCP 80"];' in dot
    assert dot.count(" -> ") == 2
    assert dot.endswith("}\n")


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> BlastRadius:
    conn = Connectivity.build(load([str(write_shop(tmp_path_factory.mktemp("shop")))]))
    graph = WorkloadGraph.build(conn)
    return blast_radius(conn, graph, sources_of(conn, graph, "web/front"))


def test_each_hop_is_explained_once_with_policy_and_location(front: BlastRadius) -> None:
    out = blast_text(front, BlastQuery("web/front"))
    why = out.split("Why each hop is allowed:\n", 1)[1]
    first = "  web/front[Deployment] -> shop/api[Deployment]  TCP 8080\n"
    assert why.count(first) == 1  # every path goes through it
    block = re.split(r"\n  (?=\S)", why.split(first, 1)[1], maxsplit=1)[0]
    assert "    egress  web/front[Deployment]: isolated by NP web/front-egress\n" in block
    assert re.search(r"TCP 8080 \[NP web/front-egress#0 Allow\] \(.*shop\.yaml:\d+\)", block)
    # the guardrail chain into fraud: the admin Pass, then the NetworkPolicy allow
    fraud = why.split("-> pay/fraud[Deployment]  TCP 9000\n", 1)[1]
    assert fraud.startswith(
        "    egress  pay/svc[Deployment]: not isolated\n"  # the ANP has ingress rules only
        "    ingress pay/fraud[Deployment]: isolated by NP pay/fraud-from-svc; "
        "guarded by ANP pay-guard\n"
    )
    assert fraud.index("[ANP pay-guard/pass-internal Pass]") < fraud.index(
        "[NP pay/fraud-from-svc#0 Allow]"
    )
    # an endpoint no policy isolates says so instead of listing a default
    assert "    egress  shop/api[Deployment]: not isolated\n" in why


def test_json_edges_carry_the_permitting_steps(front: BlastRadius) -> None:
    doc = json.loads(blast_json(front, BlastQuery("web/front")))
    edges = {(e["src"], e["dst"]): e for e in doc["edges"]}
    assert len(edges) == len(doc["reachable"])  # shortest paths form a tree
    first = edges[("web/front[Deployment]", "shop/api[Deployment]")]
    assert first["conn"] == "TCP 8080"
    assert [s["policy"] for s in first["egress"]] == ["web/front-egress"]
    assert [s["policy"] for s in first["ingress"]] == ["shop/api-from-front"]
    assert first["ingress"][0]["origin"]["file"].endswith("shop.yaml")
    effects = {s["effect"] for e in doc["edges"] for d in ("egress", "ingress") for s in e[d]}
    assert effects == {"Allow", "Pass"}


# The shop with Istio: web and shop in the mesh, shop in STRICT mTLS (so callers carry an
# identity), shop/api (HTTP by its Service's port name) admitting only front's identity,
# and only for GET on /api/*.
MESH = (
    SHOP.replace(
        "metadata: {name: web}", "metadata: {name: web, labels: {istio-injection: enabled}}"
    )
    .replace("metadata: {name: shop}", "metadata: {name: shop, labels: {istio-injection: enabled}}")
    .replace(
        "spec: {containers: [{name: c, image: x, ports: [{containerPort: 443}]}]}",
        "spec: {serviceAccountName: front, containers: [{name: c, image: x, ports: [{containerPort: 443}]}]}",
    )
    + """---
apiVersion: v1
kind: ServiceAccount
metadata: {name: front, namespace: web}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/web/sa/front]}}]
    to: [{operation: {methods: [GET], paths: [/api/*]}}]
"""
)


def test_mesh_steps_and_l7_conditions(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(MESH, encoding="utf-8")
    conn = Connectivity.build(load([str(tmp_path)]))
    graph = WorkloadGraph.build(conn)
    result = blast_radius(conn, graph, sources_of(conn, graph, "web/front"))
    # the mesh admits nobody but front at api: api's own calls onwards are not its business
    assert next(h.workload for h in result.reachable) == "shop/api[Deployment]"
    text = blast_text(result, BlastQuery("web/front"))
    assert "    mesh    shop/api[Deployment]:\n" in text
    assert "[AuthZ shop/api-allow rule 0 ALLOW" in text
    assert "      TCP 8080 only {methods: GET, paths: /api/*}\n" in text
    doc = json.loads(blast_json(result, BlastQuery("web/front")))
    first = next(e for e in doc["edges"] if e["dst"] == "shop/api[Deployment]")
    assert any(s["label"].startswith("[AuthZ shop/api-allow") for s in first["mesh"])
    assert first["conditions"] == [{"conn": "TCP 8080", "only": "{methods: GET, paths: /api/*}"}]
    # hops into workloads outside the mesh say nothing about it
    fraud = next(e for e in doc["edges"] if e["dst"] == "pay/fraud[Deployment]")
    assert "mesh" not in fraud
    assert "conditions" not in fraud
    # with the mesh in play too, the explanations are the engine's own
    index = {n: i for i, n in enumerate(graph.nodes)}

    def endpoint(name: str) -> Endpoint:
        return Endpoint(name, klass=int(graph.node_class[index[name]]))

    for hop in {s for h in result.reachable for s in h.steps}:
        assert hop.decision == conn.reach(endpoint(hop.src), endpoint(hop.dst), hop.conns)
