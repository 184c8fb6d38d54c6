"""Blast radius on a small shop whose hop counts are read off its policies by hand and, on
random clusters, against a plain breadth-first search over the allowed pairs.

The shop (SHOP, also used by the render and CLI tests): the internet reaches web/front on
TCP 443; front may open TCP 8080 (and UDP 53) anywhere in the cluster, and shop/api admits
web on 8080; shop/db admits any shop pod on 5432, shop/cache only api on 6379; pay/svc
admits only shop's api on 8443, pay/fraud only svc on 9000, behind an admin Pass for pay's
own traffic. Nothing else is isolated, and no pod accepts anything else.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from microseg.analyses.blast import (
    NamedPort,
    blast_radius,
    exposed_sources,
    resolve_nodes,
    sources_of,
)
from microseg.engine import (
    Connectivity,
    Endpoint,
    UnknownEndpointError,
    Verdict,
    WorkloadGraph,
)
from microseg.ingest import load
from microseg.ingest.intents import load_intents
from microseg.model import Cluster, ConnSet, IPSet, Protocol
from microseg.model.addresses import PUBLIC
from microseg.model.intent import IntentSet
from tests.property.clusters import clusters

FRONT = "web/front[Deployment]"
API = "shop/api[Deployment]"
DB = "shop/db[StatefulSet]"
CACHE = "shop/cache[Deployment]"
SVC = "pay/svc[Deployment]"
FRAUD = "pay/fraud[Deployment]"

SHOP = """\
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: pay}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: front, namespace: web}
spec:
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec: {containers: [{name: c, image: x, ports: [{containerPort: 443}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache, namespace: shop}
spec:
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec: {containers: [{name: c, image: x, ports: [{name: redis, containerPort: 6379}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: svc, namespace: pay}
spec:
  selector: {matchLabels: {app: svc}}
  template:
    metadata: {labels: {app: svc}}
    spec: {containers: [{name: c, image: x, ports: [{name: https, containerPort: 8443}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: fraud, namespace: pay}
spec:
  selector: {matchLabels: {app: fraud}}
  template:
    metadata: {labels: {app: fraud}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 9000}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: front-from-internet, namespace: web}
spec:
  podSelector: {matchLabels: {app: front}}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 443}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: front-egress, namespace: web}
spec:
  podSelector: {matchLabels: {app: front}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {}}], ports: [{port: 8080}, {port: 53, protocol: UDP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-front, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}}]
    ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-shop, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {}}], ports: [{port: 5432}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cache-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: cache}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 6379}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: svc-from-api, namespace: pay}
spec:
  podSelector: {matchLabels: {app: svc}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 8443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: fraud-from-svc, namespace: pay}
spec:
  podSelector: {matchLabels: {app: fraud}}
  ingress: [{from: [{podSelector: {matchLabels: {app: svc}}}], ports: [{port: 9000}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pay-guard}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: pay}}}
  ingress:
  - name: pass-internal
    action: Pass
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: pay}}}]
"""


def write_shop(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shop.yaml").write_text(SHOP, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Connectivity, WorkloadGraph]:
    conn = Connectivity.build(load([str(write_shop(tmp_path_factory.mktemp("shop")))]))
    return conn, WorkloadGraph.build(conn)


def test_front_reaches_fraud_in_three_hops(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    result = blast_radius(conn, graph, sources_of(conn, graph, "web/front"))
    assert result.sources == (FRONT,)
    assert [(h.hops, h.workload) for h in result.reachable] == [
        (1, API),
        (2, SVC),
        (2, CACHE),
        (2, DB),
        (3, FRAUD),
    ]  # sorted by hops, then name; a source is never "reachable"
    fraud = result.reachable[-1]
    assert fraud.path == (FRONT, API, SVC, FRAUD)
    assert [s.conns for s in fraud.steps] == [
        ConnSet.single(Protocol.TCP, 8080),
        ConnSet.single(Protocol.TCP, 8443),
        ConnSet.single(Protocol.TCP, 9000),
    ]


def test_every_hop_is_explained_by_the_engine(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    result = blast_radius(conn, graph, sources_of(conn, graph, "web/front"))
    for hit in result.reachable:
        assert len(hit.steps) == hit.hops == len(hit.path) - 1
        for hop, (a, b) in zip(hit.steps, pairwise(hit.path), strict=True):
            assert (hop.src, hop.dst) == (a, b)
            assert hop.decision is not None
            assert hop.decision.verdict is Verdict.ALLOW
            assert hop.decision.allowed == hop.conns
            assert hop.decision == conn.reach(a, b, hop.conns)
    first = result.reachable[0].steps[0].decision
    assert first is not None
    allows = Verdict.ALLOW
    assert [s.policy for s in first.egress.steps if s.effect is allows] == ["web/front-egress"]
    assert [s.policy for s in first.ingress.steps if s.effect is allows] == ["shop/api-from-front"]
    fraud = result.reachable[-1].steps[-1].decision
    assert fraud is not None
    assert [(s.tier.value, s.effect.value) for s in fraud.ingress.steps][:2] == [
        ("ANP", "Pass"),
        ("NP", "Allow"),
    ]
    quiet = blast_radius(conn, graph, sources_of(conn, graph, "web/front"), explain=False)
    assert all(s.decision is None for h in quiet.reachable for s in h.steps)
    assert [h.path for h in quiet.reachable] == [h.path for h in result.reachable]


def test_hops_limit_and_port_filter(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    src = sources_of(conn, graph, "web/front")
    near = blast_radius(conn, graph, src, hops=2, explain=False)
    assert [h.workload for h in near.reachable] == [API, SVC, CACHE, DB]
    assert blast_radius(conn, graph, src, hops=0).reachable == ()
    web = blast_radius(conn, graph, src, conns=ConnSet.single(Protocol.TCP, 8080))
    assert [(h.workload, h.hops) for h in web.reachable] == [(API, 1)]
    # from api, the database over its own port; the filtered part is what the attacker uses
    db = blast_radius(conn, graph, sources_of(conn, graph, "shop/api"), conns=ConnSet.all())
    assert {h.workload for h in db.reachable} == {SVC, CACHE, DB, FRAUD}
    api = sources_of(conn, graph, "shop/api")
    narrow = blast_radius(conn, graph, api, conns=ConnSet.single(Protocol.TCP, 5000, 6000))
    assert [(h.workload, [s.conns for s in h.steps]) for h in narrow.reachable] == [
        (DB, [ConnSet.single(Protocol.TCP, 5432)])
    ]
    with pytest.raises(ValueError, match="hops"):
        blast_radius(conn, graph, src, hops=-1)


def test_named_port_resolves_on_each_destination(
    shop: tuple[Connectivity, WorkloadGraph],
) -> None:
    conn, graph = shop
    http = NamedPort(Protocol.TCP, "http")  # api's 8080, fraud's 9000
    front = blast_radius(conn, graph, sources_of(conn, graph, "web/front"), named=http)
    assert [(h.workload, h.hops) for h in front.reachable] == [(API, 1)]
    assert front.reachable[0].steps[0].conns == ConnSet.single(Protocol.TCP, 8080)
    svc = blast_radius(conn, graph, sources_of(conn, graph, "pay/svc"), named=http)
    assert [(h.workload, [s.conns for s in h.steps]) for h in svc.reachable] == [
        (FRAUD, [ConnSet.single(Protocol.TCP, 9000)])
    ]
    decision = svc.reachable[0].steps[0].decision
    assert decision is not None
    assert decision.requested == ConnSet.single(Protocol.TCP, 9000)
    # with a port set as well, both must hold
    none = blast_radius(
        conn,
        graph,
        sources_of(conn, graph, "pay/svc"),
        named=http,
        conns=ConnSet.single(Protocol.TCP, 8080),
    )
    assert none.reachable == ()
    missing = NamedPort(Protocol.UDP, "http")  # no UDP port of that name anywhere
    assert (
        blast_radius(conn, graph, sources_of(conn, graph, "web/front"), named=missing).reachable
        == ()
    )


def test_targets_give_shortest_paths_to_crown_jewels(
    shop: tuple[Connectivity, WorkloadGraph],
) -> None:
    conn, graph = shop
    jewels = sources_of(conn, graph, "pay/*")
    result = blast_radius(conn, graph, sources_of(conn, graph, "web/front"), targets=jewels)
    assert [(h.workload, h.hops) for h in result.reachable] == [(SVC, 2), (FRAUD, 3)]
    cache = blast_radius(conn, graph, sources_of(conn, graph, "shop/cache"), targets=jewels)
    assert cache.reachable == ()  # cache only reaches the database


def test_dead_ends(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    assert blast_radius(conn, graph, sources_of(conn, graph, "pay/fraud")).reachable == ()
    db = blast_radius(conn, graph, sources_of(conn, graph, "shop/cache"))
    assert [(h.workload, h.hops) for h in db.reachable] == [(DB, 1)]


def test_sources_namespace_and_errors(shop: tuple[Connectivity, WorkloadGraph]) -> None:
    conn, graph = shop
    assert {graph.nodes[i] for i in sources_of(conn, graph, "shop/*")} == {API, CACHE, DB}
    assert sources_of(conn, graph, "shop/db[StatefulSet]") == (graph.nodes.index(DB),)
    # several sources at once: distances from the nearest
    both = blast_radius(conn, graph, sources_of(conn, graph, "shop/*"))
    assert [(h.workload, h.hops) for h in both.reachable] == [(SVC, 1), (FRAUD, 2)]
    with pytest.raises(UnknownEndpointError, match="no workloads in namespace 'nope'"):
        sources_of(conn, graph, "nope/*")
    with pytest.raises(UnknownEndpointError, match="address"):
        sources_of(conn, graph, "10.0.0.1")
    with pytest.raises(UnknownEndpointError, match="no workload or pod"):
        sources_of(conn, graph, "shop/nothing")


INTENTS = """\
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: shop}
spec:
  groups:
    payments: {namespace: pay}
    edge: {workload: web/front}
    partner: {cidr: [203.0.113.0/24]}
"""


def write_intents(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "intents.yaml"
    path.write_text(INTENTS, encoding="utf-8")
    return path


def test_groups_and_addresses(shop: tuple[Connectivity, WorkloadGraph], tmp_path: Path) -> None:
    conn, graph = shop

    def names(text: str, intents: IntentSet | None = None, target: bool = False) -> set[str]:
        nodes, _ = resolve_nodes(conn, graph, text, intents, target=target)
        return {graph.nodes[i] for i in nodes}

    # an address source stands for what it may connect to: the foothold it gets
    assert names("internet") == names("203.0.113.7") == names("0.0.0.0/0") == {FRONT}
    assert names("cluster") == set(graph.nodes)
    assert names("shop/*") == {API, CACHE, DB}
    assert names("10.0.0.0/8") == {FRONT}  # the ipBlock admits every address
    intents, _ = load_intents([str(write_intents(tmp_path))])
    assert names("payments", intents, target=True) == {SVC, FRAUD}
    assert names("edge", intents) == {FRONT}
    assert names("partner", intents) == {FRONT}
    with pytest.raises(UnknownEndpointError, match="crown jewels are workloads"):
        names("partner", intents, target=True)
    with pytest.raises(UnknownEndpointError, match="need --intents FILE"):
        names("payments")
    with pytest.raises(UnknownEndpointError, match="groups: cluster, edge, internet"):
        names("nothing", intents)
    _, notes = resolve_nodes(conn, graph, "kube-dns", intents)
    assert notes == () or all(isinstance(n, str) for n in notes)


def test_exposed_sources_are_the_internet_facing_workloads(
    shop: tuple[Connectivity, WorkloadGraph],
) -> None:
    conn, graph = shop
    assert [graph.nodes[i] for i in exposed_sources(conn, graph)] == [FRONT]


POD_CLUSTER = """\
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: ns, labels: {app: web, role: a}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: ns, labels: {app: web, role: b}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: ns, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: ns}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {role: a}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: ns}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}}]}]
"""


def test_single_pods_and_their_addresses(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text(POD_CLUSTER, encoding="utf-8")
    conn = Connectivity.build(load([str(tmp_path)]))
    graph = WorkloadGraph.build(conn)
    one = sources_of(conn, graph, "ns/web-1")
    two = sources_of(conn, graph, "ns/web-2")
    assert len(one) == len(two) == 1
    a = blast_radius(conn, graph, one, explain=False)
    b = blast_radius(conn, graph, two, explain=False)
    assert {(h.workload, h.hops) for h in a.reachable} == {("ns/db[Pod]", 1), ("ns/web-2[Pod]", 1)}
    # web-2 is not let in by the db policy: it gets there through web-1
    assert [h.path for h in b.reachable] == [
        ("ns/web-2[Pod]", "ns/web-1[Pod]"),
        ("ns/web-2[Pod]", "ns/web-1[Pod]", "ns/db[Pod]"),
    ]
    # the web pods accept only private addresses from outside: not exposed to the internet
    assert exposed_sources(conn, graph) == ()
    assert {
        graph.nodes[i] for i in exposed_sources(conn, graph, IPSet.from_cidr("10.0.0.0/8"))
    } == {
        "ns/web-1[Pod]",
        "ns/web-2[Pod]",
    }


SPLIT = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: ns
  labels: {app: web, role: a}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-abc, uid: u1, controller: true}]
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-2
  namespace: ns
  labels: {app: web, role: b}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-abc, uid: u1, controller: true}]
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: ns, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: ns}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {role: a}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: ns}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]
"""


def test_a_split_workload_starts_from_every_pod(tmp_path: Path) -> None:
    """web-abc's pods differ (only role=a may reach the database), so the graph shows them
    one by one: the workload is both pods, a pod is its own node."""
    (tmp_path / "split.yaml").write_text(SPLIT, encoding="utf-8")
    conn = Connectivity.build(load([str(tmp_path)]))
    graph = WorkloadGraph.build(conn)
    assert graph.split == ("ns/web-abc[ReplicaSet]",)
    whole = sources_of(conn, graph, "ns/web-abc")
    assert {graph.nodes[i] for i in whole} == {"ns/web-1[Pod]", "ns/web-2[Pod]"}
    assert [graph.nodes[i] for i in sources_of(conn, graph, "ns/web-2")] == ["ns/web-2[Pod]"]
    result = blast_radius(conn, graph, whole)
    assert [h.path for h in result.reachable] == [("ns/web-1[Pod]", "ns/db[Pod]")]
    assert blast_radius(conn, graph, sources_of(conn, graph, "ns/web-2")).reachable == ()


BEHIND_INGRESS = """\
apiVersion: v1
kind: Pod
metadata: {name: site, namespace: ns, labels: {app: site}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: site, namespace: ns}
spec:
  podSelector: {matchLabels: {app: site}}
  ingress: [{from: [{namespaceSelector: {}}]}]
---
apiVersion: v1
kind: Service
metadata: {name: site, namespace: ns}
spec: {selector: {app: site}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site, namespace: ns}
spec: {defaultBackend: {service: {name: site, port: {number: 80}}}}
"""


def test_a_workload_behind_an_ingress_is_exposed(tmp_path: Path) -> None:
    """Its policy admits pods of any namespace (so the ingress controller) but no address."""
    (tmp_path / "site.yaml").write_text(BEHIND_INGRESS, encoding="utf-8")
    conn = Connectivity.build(load([str(tmp_path)]))
    graph = WorkloadGraph.build(conn)
    assert exposed_sources(conn, graph) == ()
    exposed = exposed_sources(conn, graph, ingress=True)
    assert [graph.nodes[i] for i in exposed] == ["ns/site[Pod]"]
    assert resolve_nodes(conn, graph, "internet")[0] == exposed
    assert resolve_nodes(conn, graph, "0.0.0.0/0")[0] == ()


# -- against a plain BFS on random clusters -------------------------------------------


def _plain_bfs(graph: WorkloadGraph, sources: set[int], hops: int | None) -> dict[int, int]:
    adjacency: dict[int, list[int]] = {}
    for s, d in zip(graph.src.tolist(), graph.dst.tolist(), strict=True):
        adjacency.setdefault(s, []).append(d)
    dist = dict.fromkeys(sources, 0)
    queue = deque(sources)
    while queue:
        v = queue.popleft()
        if hops is not None and dist[v] >= hops:
            continue
        for w in adjacency.get(v, []):
            if w not in dist:
                dist[w] = dist[v] + 1
                queue.append(w)
    return {v: d for v, d in dist.items() if d > 0}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_policies=4))
def test_distances_equal_a_plain_bfs(cluster: Cluster) -> None:
    conn = Connectivity.build(cluster)
    graph = WorkloadGraph.build(conn)
    edges = set(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))
    for first in range(min(len(graph.nodes), 3)):
        for hops in (None, 1, 2):
            result = blast_radius(conn, graph, [first], hops=hops, explain=False)
            got = {graph.nodes.index(h.workload): h.hops for h in result.reachable}
            assert got == _plain_bfs(graph, {first}, hops)
            for hit in result.reachable:  # each path is a chain of allowed edges
                idx = [graph.nodes.index(n) for n in hit.path]
                assert idx[0] == first
                assert all((a, b) in edges for a, b in pairwise(idx))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_policies=4))
def test_hop_explanations_equal_the_engines_reach(cluster: Cluster) -> None:
    """The per-class policy index behind the explanations changes nothing: with guardrail
    tiers, named ports and ipBlocks in play, each hop's Decision is `conn.reach`'s."""
    conn = Connectivity.build(cluster)
    graph = WorkloadGraph.build(conn)
    result = blast_radius(conn, graph, range(len(graph.nodes))[:1])

    def endpoint(name: str) -> Endpoint:
        return Endpoint(name, klass=int(graph.node_class[graph.nodes.index(name)]))

    for hit in result.reachable:
        for hop in hit.steps:
            assert hop.decision == conn.reach(endpoint(hop.src), endpoint(hop.dst), hop.conns)


# -- address sources come from the Connectivity, filtered like every other hop ----------

V4_ONLY = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 5432}]}]
"""


@pytest.fixture(scope="module")
def v4_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[Connectivity, WorkloadGraph]:
    path = tmp_path_factory.mktemp("v4") / "c.yaml"
    path.write_text(V4_ONLY, encoding="utf-8")
    conn = Connectivity.build(load([str(path)]))
    return conn, WorkloadGraph.build(conn)


def test_ipv6_sources_reach_in_although_the_input_names_no_ipv6(
    v4_only: tuple[Connectivity, WorkloadGraph],
) -> None:
    # web has no ingress policy, so every address, IPv6 included, may connect to it; the
    # connectivity list hides IPv6 here (IPAtoms.show_v6), the blast radius must not.
    conn, graph = v4_only
    assert not conn.ips.show_v6

    def names(text: str) -> set[str]:
        return {graph.nodes[i] for i in resolve_nodes(conn, graph, text)[0]}

    assert names("::/0") == names("2001:db8::1") == {"a/web[Pod]"}
    assert names("10.1.2.3") == {"a/web[Pod]", "a/db[Pod]"}
    public_v6 = IPSet.from_cidr("2000::/3")
    assert [graph.nodes[i] for i in exposed_sources(conn, graph, public_v6)] == ["a/web[Pod]"]
    assert [graph.nodes[i] for i in exposed_sources(conn, graph)] == ["a/web[Pod]"]


def test_the_port_filter_restricts_the_entry_hop(
    v4_only: tuple[Connectivity, WorkloadGraph], shop: tuple[Connectivity, WorkloadGraph]
) -> None:
    conn, graph = v4_only

    def names(text: str, conns: ConnSet | None = None, named: NamedPort | None = None) -> set[str]:
        nodes, _ = resolve_nodes(conn, graph, text, conns=conns, named=named)
        return {graph.nodes[i] for i in nodes}

    pg = ConnSet.single(Protocol.TCP, 5432)
    assert names("10.0.0.0/8", pg) == {"a/web[Pod]", "a/db[Pod]"}
    assert names("10.0.0.0/8", ConnSet.single(Protocol.TCP, 22)) == {"a/web[Pod]"}
    assert names("10.0.0.0/8", ConnSet.single(Protocol.UDP, 5432)) == {"a/web[Pod]"}
    assert names("192.168.0.0/16", pg) == {"a/web[Pod]"}  # db admits 10/8 only
    # a named port resolves on each entry's destination: only web has `http`
    assert names("10.0.0.0/8", named=NamedPort(Protocol.TCP, "http")) == {"a/web[Pod]"}
    assert names("10.0.0.0/8", named=NamedPort(Protocol.UDP, "http")) == set()
    # workload sources are compromised already: no filter applies to them
    assert names("a/db", ConnSet.single(Protocol.UDP, 1)) == {"a/db[Pod]"}
    # the shop's internet reaches front on TCP 443 only
    conn, graph = shop
    internet = [
        graph.nodes[i]
        for i in exposed_sources(conn, graph, conns=ConnSet.single(Protocol.TCP, 443))
    ]
    assert internet == [FRONT]
    assert exposed_sources(conn, graph, conns=ConnSet.single(Protocol.TCP, 8080)) == ()
    assert exposed_sources(conn, graph, named=NamedPort(Protocol.TCP, "http")) == ()


def test_the_ingress_controller_entry_is_port_filtered_too(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(BEHIND_INGRESS, encoding="utf-8")
    conn = Connectivity.build(load([str(tmp_path)]))
    graph = WorkloadGraph.build(conn)
    ((node, k),) = graph.ingress
    routed = graph.conns[k]
    ((proto, ports),) = routed.ports
    port = ports.intervals[0][0]
    assert exposed_sources(conn, graph, ingress=True, conns=ConnSet.single(proto, port)) == (node,)
    other = ConnSet.single(proto, port + 1)
    assert exposed_sources(conn, graph, ingress=True, conns=other) == ()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_policies=4))
def test_address_entries_equal_the_full_external_runs(cluster: Cluster) -> None:
    """Independent oracle: the inbound runs of a WorkloadGraph built to show both families,
    each run's connection set restricted by the port filter by ConnSet algebra."""
    conn = Connectivity.build(cluster)
    graph = WorkloadGraph.build(conn)
    shown = WorkloadGraph.build(replace(conn, ips=replace(conn.ips, show_v6=True)))
    assert shown.nodes == graph.nodes
    tcp80 = ConnSet.single(Protocol.TCP, 80)
    for space in (IPSet.from_cidr("0.0.0.0/0"), IPSet.from_cidr("::/0"), PUBLIC):
        for filt in (None, tcp80):
            expected = {
                e.node
                for e in shown.external
                if not e.outbound
                and e.addresses & space
                and (shown.conns[e.conns] if filt is None else shown.conns[e.conns] & filt)
            }
            assert set(exposed_sources(conn, graph, space, conns=filt)) == expected
