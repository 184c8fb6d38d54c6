"""verify on a small cluster built here: each quantifier, each kind of intent, and agreement
with the engine's own answer for every pair."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.analyses.verify import Finding, VerificationReport, verify
from microseg.engine import Connectivity, Verdict
from microseg.ingest import load
from microseg.ingest.intents import load_intents
from microseg.model.sets import ConnSet, IntervalSet, IPSet, Protocol

CLUSTER = """
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: y}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{containerPort: 8080, name: http}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, ports: [{containerPort: 9000, name: grpc}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: b}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, namespace: b}
spec:
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: c}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-a, namespace: b}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {team: x}}}]
      ports: [{port: 5432}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: a}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 8000, endPort: 9000}]
"""

GROUPS = """
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: t}
spec:
  groups:
    web: {workload: a/web}
    api: {workload: "a/api[Deployment]"}
    db: {workload: b/db}
    batch: {workload: b/batch}
    team-x: {namespaceSelector: {team: x}}
    b: {namespace: b}
    ghost: {namespace: a, selector: {app: ghost}}
    doc-net: {cidr: [203.0.113.0/24]}
"""


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Connectivity:
    path = tmp_path_factory.mktemp("cluster") / "c.yaml"
    path.write_text(CLUSTER)
    return Connectivity.build(load([str(path)]))


def check(conn: Connectivity, tmp_path: Path, body: str) -> VerificationReport:
    path = tmp_path / "intents.yaml"
    path.write_text(GROUPS + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n")
    intents, _ = load_intents([str(path)])
    return verify(conn, intents)


def only(report: VerificationReport) -> Finding:
    assert len(report.findings) == 1
    return report.findings[0]


def test_allow_holds_and_fails_with_the_missing_connections(
    conn: Connectivity, tmp_path: Path
) -> None:
    assert only(check(conn, tmp_path, "allow: [{from: web, to: db, ports: [TCP/5432]}]")).holds
    f = only(check(conn, tmp_path, "allow: [{from: web, to: db, ports: [TCP/5432, TCP/80]}]"))
    assert not f.holds
    assert f.total == 1
    row = f.rows[0]
    assert (row.src, row.dst, row.conns) == (
        "a/web[Deployment]",
        "b/db[Deployment]",
        ConnSet.single(Protocol.TCP, 80),
    )
    assert f.decision is not None
    assert f.decision.verdict is Verdict.DENY
    assert [o.name for o in f.related] == ["db-from-a"]


def test_allow_without_ports_means_all_connections(conn: Connectivity, tmp_path: Path) -> None:
    f = only(check(conn, tmp_path, "allow: [{from: web, to: db}]"))
    assert not f.holds
    assert f.rows[0].conns == ConnSet.all() - ConnSet.single(Protocol.TCP, 5432)
    assert only(check(conn, tmp_path, "allow: [{from: web, to: batch}]")).holds


def test_allow_is_every_source_to_every_destination_but_itself(
    conn: Connectivity, tmp_path: Path
) -> None:
    assert only(check(conn, tmp_path, "allow: [{from: team-x, to: db, ports: [TCP/5432]}]")).holds
    # db is a template standing for its replicas: two of its pods are subject to policy
    assert not only(check(conn, tmp_path, "allow: [{from: db, to: db, ports: [TCP/1]}]")).holds
    f = only(check(conn, tmp_path, "allow: [{from: cluster, to: db, ports: [TCP/5432]}]"))
    assert not f.holds
    assert [(r.src, r.dst) for r in f.rows] == [
        ("b/batch[Deployment]", "b/db[Deployment]"),
        ("b/db[Deployment]", "b/db[Deployment]"),
    ]


def test_deny_is_no_source_to_any_destination(conn: Connectivity, tmp_path: Path) -> None:
    f = only(check(conn, tmp_path, "deny: [{from: team-x, to: db}]"))
    assert not f.holds
    assert f.total == 2
    assert {r.src for r in f.rows} == {"a/web[Deployment]", "a/api[Deployment]"}
    assert all(r.conns == ConnSet.single(Protocol.TCP, 5432) for r in f.rows)
    assert f.decision is not None
    assert f.decision.verdict is Verdict.ALLOW
    assert [o.name for o in f.related] == ["db-from-a"]
    assert only(check(conn, tmp_path, "deny: [{from: team-x, to: db, ports: [UDP/1-65535]}]")).holds
    # b/batch is not isolated: team-x reaches it on everything
    f = only(check(conn, tmp_path, "deny: [{from: team-x, to: b, ports: [UDP/53]}]"))
    assert f.total == 2
    assert {r.dst for r in f.rows} == {"b/batch[Deployment]"}
    assert all(r.conns == ConnSet.single(Protocol.UDP, 53) for r in f.rows)


def test_named_ports_resolve_on_each_destination(conn: Connectivity, tmp_path: Path) -> None:
    assert only(check(conn, tmp_path, "allow: [{from: web, to: api, ports: [TCP/grpc]}]")).holds
    f = only(check(conn, tmp_path, "allow: [{from: web, to: db, ports: [TCP/grpc]}]"))
    assert not f.holds
    assert "no container port TCP/grpc" in f.rows[0].note
    assert only(check(conn, tmp_path, "deny: [{from: web, to: db, ports: [TCP/grpc]}]")).holds


def test_an_empty_group_is_a_violation(conn: Connectivity, tmp_path: Path) -> None:
    f = only(check(conn, tmp_path, "deny: [{from: ghost, to: db}]"))
    assert not f.holds
    assert "group ghost is empty" in f.message
    report = check(
        conn, tmp_path, "groups2: {}".replace("groups2: {}", "deny: [{from: web, to: db}]")
    )
    assert not report.findings[0].holds


def test_missing_workload_is_empty_and_noted(conn: Connectivity, tmp_path: Path) -> None:
    path = tmp_path / "i.yaml"
    path.write_text(GROUPS.replace("b/batch", "b/nope") + "  deny: [{from: batch, to: db}]\n")
    report = verify(conn, load_intents([str(path)])[0])
    assert "no workload b/nope in the input" in report.findings[0].message
    assert report.notes == ("group batch: no workload b/nope in the input",)


def test_strict_domain_lists_uncovered_flows_by_refined_ports(
    conn: Connectivity, tmp_path: Path
) -> None:
    body = """
    allow:
      - {from: web, to: api, ports: [TCP/8080]}
    domains:
      - {name: core, members: [api]}
    """
    f = next(x for x in check(conn, tmp_path, body).findings if x.kind == "domain")
    assert not f.holds
    rows = {
        (str(r.src), str(r.dst)): r.conns
        for r in f.rows
        if isinstance(r.dst, str) and isinstance(r.src, str)
    }
    web_api = ConnSet.of({Protocol.TCP: IntervalSet.of([(8000, 8079), (8081, 9000)])})
    assert rows[("a/web[Deployment]", "a/api[Deployment]")] == web_api
    assert rows[("a/api[Deployment]", "b/db[Deployment]")] == ConnSet.single(Protocol.TCP, 5432)
    assert rows[("a/api[Deployment]", "a/web[Deployment]")] == ConnSet.all()
    assert ("b/batch[Deployment]", "a/api[Deployment]") not in rows
    outbound = [r for r in f.rows if isinstance(r.dst, IPSet)]
    assert outbound
    assert all(r.src == "a/api[Deployment]" for r in outbound)
    covered = IPSet()
    for r in outbound:
        assert isinstance(r.dst, IPSet)
        covered = covered | r.dst
    assert covered == IPSet.all_v4()


def test_a_domain_covered_by_allow_intents_holds(conn: Connectivity, tmp_path: Path) -> None:
    body = """
    allow:
      - {from: web, to: db, ports: [TCP/5432]}
      - {from: api, to: db, ports: [TCP/5432]}
    domains:
      - {name: data, members: [db]}
    """
    f = next(x for x in check(conn, tmp_path, body).findings if x.kind == "domain")
    assert not f.holds  # db itself is not isolated for egress: everything it opens is listed
    assert {str(r.src) for r in f.rows} == {"b/db[Deployment]"}


def test_default_deny_and_no_internet_egress(conn: Connectivity, tmp_path: Path) -> None:
    report = check(conn, tmp_path, "expect: {defaultDeny: [db], noInternetEgress: [db]}")
    dd, ie = report.findings
    assert not dd.holds
    assert dd.details == ("b/db[Deployment]: not isolated for egress",)
    assert not ie.holds
    reached = IPSet()
    for r in ie.rows:
        assert isinstance(r.dst, IPSet)
        reached = reached | r.dst
    assert not reached.contains_address("10.1.2.3")
    assert not reached.contains_address("203.0.113.9")
    assert reached.contains_address("8.8.8.8")


def test_cidr_groups(conn: Connectivity, tmp_path: Path) -> None:
    assert only(check(conn, tmp_path, "allow: [{from: doc-net, to: web, ports: [TCP/8080]}]")).holds
    f = only(check(conn, tmp_path, "deny: [{from: doc-net, to: b}]"))
    assert not f.holds
    assert all(r.src == IPSet.from_cidr("203.0.113.0/24") for r in f.rows)


def test_max_blast_radius(conn: Connectivity, tmp_path: Path) -> None:
    # web reaches api (8000-9000), db (5432) and batch (not isolated) in one hop
    f = only(check(conn, tmp_path, "expect: {maxBlastRadius: {from: web, hops: 1, atMost: 2}}"))
    assert not f.holds
    assert f.total == 3
    assert "b/db[Deployment] at 1 hop: a/web[Deployment] -> b/db[Deployment]" in f.details
    assert only(
        check(conn, tmp_path, "expect: {maxBlastRadius: {from: web, hops: 1, atMost: 3}}")
    ).holds


@pytest.mark.parametrize("ports", [[], ["TCP/5432"], ["TCP/80", "UDP/53"], ["TCP/8000-8500"]])
def test_verdicts_agree_with_the_engine_for_every_pair(
    conn: Connectivity, tmp_path: Path, ports: list[str]
) -> None:
    names = ["web", "api", "db", "batch"]
    workloads = {"web": "a/web", "api": "a/api", "db": "b/db", "batch": "b/batch"}
    p = f", ports: [{', '.join(ports)}]" if ports else ""
    flows = [(s, d) for s in names for d in names]  # templates pair with themselves
    body = "allow:\n" + "".join(f"  - {{from: {s}, to: {d}{p}}}\n" for s, d in flows)
    body += "deny:\n" + "".join(f"  - {{from: {s}, to: {d}{p}}}\n" for s, d in flows)
    report = check(conn, tmp_path, body)
    want = ConnSet.all() if not ports else ConnSet()
    for text in ports:
        proto, rng = text.split("/")
        lo, _, hi = rng.partition("-")
        want = want | ConnSet.single(Protocol(proto), int(lo), int(hi or lo))
    for i, (s, d) in enumerate(flows):
        allowed, _ = conn.allowed(conn.resolve(workloads[s]), conn.resolve(workloads[d]))
        allow, deny = report.findings[i], report.findings[len(flows) + i]
        assert allow.holds == want.issubset(allowed), (s, d)
        assert deny.holds == (not (want & allowed)), (s, d)


def test_a_guardrail_denial_names_the_admin_rule(demo_dir: Path, tmp_path: Path) -> None:
    conn = Connectivity.build(load([str(demo_dir)]))
    path = tmp_path / "i.yaml"
    path.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: g}\n"
        "spec:\n  groups:\n    cart: {workload: shop/cart}\n"
        "    pay: {workload: payments/payment-service}\n"
        "  allow:\n    - {from: cart, to: pay, ports: [TCP/8443]}\n"
    )
    f = only(verify(conn, load_intents([str(path)])[0]))
    assert not f.holds
    assert f.decision is not None
    assert f.decision.verdict is Verdict.DENY
    assert [(o.kind, o.name) for o in f.related] == [("AdminNetworkPolicy", "protect-payments")]
    deny = [s for s in f.decision.ingress.steps if s.effect is Verdict.DENY and s.policy]
    assert [s.rule_name for s in deny] == ["deny-all-other"]


def test_the_mesh_layer_counts_when_present(demo_dir: Path, tmp_path: Path) -> None:
    """The demo's shop runs STRICT mTLS: plaintext from monitoring is rejected by the mesh
    although a NetworkPolicy allows it; the intent fails and the explanation says so."""
    conn = Connectivity.build(load([str(demo_dir)]))
    path = tmp_path / "i.yaml"
    path.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: m}\n"
        "spec:\n  groups:\n    prom: {workload: monitoring/prometheus}\n"
        "    gw: {workload: shop/api-gateway}\n"
        "  allow:\n    - {from: prom, to: gw, ports: [TCP/9100]}\n"
    )
    f = only(verify(conn, load_intents([str(path)])[0]))
    assert not f.holds
    assert f.decision is not None
    assert any(s.effect is Verdict.DENY for s in f.decision.mesh)


@pytest.mark.parametrize("source", ["internet", "doc-net"])
def test_max_blast_radius_from_addresses_starts_at_the_workloads_they_reach(
    conn: Connectivity, tmp_path: Path, source: str
) -> None:
    # web and batch admit any address (no ingress policy); in one hop web reaches api
    # (8000-9000 from web) and db (5432 from namespace a); batch reaches only web
    body = f"expect: {{maxBlastRadius: {{from: {source}, hops: 1, atMost: 1}}}}"
    f = only(check(conn, tmp_path, body))
    assert not f.holds
    assert f.total == 2
    assert [d.split(" at ")[0] for d in f.details] == ["a/api[Deployment]", "b/db[Deployment]"]
    assert "starting from the 2 workloads" in f.message
    body = f"expect: {{maxBlastRadius: {{from: {source}, hops: 1, atMost: 2}}}}"
    assert only(check(conn, tmp_path, body)).holds
