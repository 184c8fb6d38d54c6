"""`recommend` on small hand-written clusters: each documented choice, one at a time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import microseg
from microseg.analyses.simulate import lookup
from microseg.analyses.synth import PolicyFormat, RecommendOptions, recommend
from microseg.analyses.synth.cidrs import aggregate, public_block
from microseg.analyses.synth.needs import AddressOptions
from microseg.analyses.synth.observe import learn
from microseg.analyses.synth.proof import subset
from microseg.analyses.synth.recommend import merge
from microseg.engine import Connectivity
from microseg.model import IPSet, NetworkPolicy
from microseg.model.addresses import PUBLIC
from microseg.model.flows import EndpointResolver
from microseg.render.policy_yaml import manifest

from .synth_support import demo_window, window

CLUSTER = """
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {kubernetes.io/metadata.name: a}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d8f7, version: v2}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: api}}
  template:
    metadata: {labels: {app.kubernetes.io/name: api, app.kubernetes.io/instance: r1, helm.sh/chart: api-1.0}}
    spec:
      containers:
        - name: c
          ports: [{name: grpc, containerPort: 9090}]
          readinessProbe: {grpc: {port: 9090}}
          livenessProbe: {httpGet: {path: /, port: grpc}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: twin-one, namespace: a}
spec:
  selector: {matchLabels: {tier: x, pod-template-hash: aaa}}
  template:
    metadata: {labels: {tier: x, pod-template-hash: aaa}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: twin-two, namespace: a}
spec:
  selector: {matchLabels: {tier: x, pod-template-hash: bbb}}
  template:
    metadata: {labels: {tier: x, pod-template-hash: bbb}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: b}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db, controller-revision-hash: db-7}}
    spec: {containers: [{name: c, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: b}
spec:
  clusterIP: 10.96.1.1
  selector: {app: db}
  ports: [{port: 15432, targetPort: pg}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: idle, namespace: b}
spec:
  selector: {matchLabels: {app: idle}}
  template:
    metadata: {labels: {app: idle}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      containers:
        - name: c
          ports: [{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  selector: {k8s-app: kube-dns}
  ports: [{name: dns, port: 53, protocol: UDP, targetPort: dns}]
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
status: {addresses: [{type: InternalIP, address: 10.0.0.11}]}
"""

FLOWS = [
    ("a/web", "a/api", "TCP", 9090, 10, "forwarded"),
    ("a/api", "10.96.1.1", "TCP", 15432, 7, "forwarded"),
    ("a/web", "10.96.0.10", "UDP", 53, 3, "forwarded"),
    ("a/web", "198.51.100.7", "TCP", 443, 2, "forwarded"),
    ("a/web", "198.51.100.9", "TCP", 443, 2, "forwarded"),
    ("a/web", "8.8.8.8", "TCP", 443, 1, "forwarded"),
    ("a/twin-one", "a/web", "TCP", 8080, 4, "forwarded"),
    ("a/web", "b/db", "TCP", 5432, 1, "dropped"),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> microseg.model.Cluster:
    path = tmp_path_factory.mktemp("c") / "c.yaml"
    path.write_text(CLUSTER)
    return microseg.load([str(path)])


def _policy(rec: object, name: str) -> dict[str, object]:
    for g in rec.generated:  # type: ignore[attr-defined]
        if g.name == name:
            return manifest(g)["spec"]  # type: ignore[no-any-return]
    raise AssertionError(f"no policy {name}")


def test_selectors_use_stable_labels_only(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions())
    chosen = {w: (str(c.selector), c.source, c.neighbours) for w, c in rec.selectors}
    assert chosen["a/web[Deployment]"] == ("app=web", "app", ())
    assert chosen["a/api[Deployment]"] == (
        "app.kubernetes.io/name=api",
        "app.kubernetes.io/name",
        (),
    )
    assert chosen["b/db[StatefulSet]"][0] == "app=db"
    # only pod-template-hash tells the twins apart, and it is never used: a finding
    assert chosen["a/twin-one[Deployment]"] == ("tier=x", "controller", ("a/twin-two[Deployment]",))
    assert ("MS523", "a/twin-one[Deployment]") in [(f.code, f.subject) for f in rec.findings]
    text = "\n".join(str(manifest(g)) for g in rec.generated)
    for unstable in (
        "version",
        "app.kubernetes.io/instance",
        "helm.sh/chart",
        "controller-revision-hash",
    ):
        assert unstable not in text


def test_neighbours_are_a_finding_when_nothing_tells_workloads_apart(
    cluster: microseg.model.Cluster,
) -> None:
    # Without the controllers' selectors, the twins share every stable label.
    bare = replace(cluster, workloads=tuple(replace(w, selector=None) for w in cluster.workloads))
    rec = recommend(bare, window(FLOWS), RecommendOptions())
    chosen = dict(rec.selectors)
    assert str(chosen["a/twin-one[Deployment]"].selector) == "tier=x"
    assert chosen["a/twin-one[Deployment]"].neighbours == ("a/twin-two[Deployment]",)
    codes = [(f.code, f.subject) for f in rec.findings]
    assert ("MS523", "a/twin-one[Deployment]") in codes
    # the proof counts what the shared selector adds: twin-two may now call web
    web = next(w for w in rec.proof.workloads if w.workload == "a/web[Deployment]")
    assert any(e.peer == "a/twin-two[Deployment]" and e.direction == "ingress" for e in web.excess)


def test_service_port_becomes_the_named_target_port(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions())
    api = _policy(rec, "microseg-api")
    egress = api["egress"]  # type: ignore[index]
    to_db = [
        r
        for r in egress
        if any(p.get("podSelector") == {"matchLabels": {"app": "db"}} for p in r["to"])
    ]
    assert to_db == [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}},
                    "podSelector": {"matchLabels": {"app": "db"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": "pg"}],
        }
    ]
    db = _policy(rec, "microseg-db")
    assert db["ingress"][0]["ports"] == [{"protocol": "TCP", "port": "pg"}]  # type: ignore[index]


def test_dns_to_the_observed_resolver_on_udp_and_tcp(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions())
    assert rec.resolvers == ("kube-system/coredns[Deployment]",)
    api = _policy(rec, "microseg-api")  # api never queried DNS but talks: it gets DNS too
    dns = [r for r in api["egress"] if r["ports"][0]["port"] in ("dns", "dns-tcp")]  # type: ignore[index]
    assert dns
    assert {p["port"] for p in dns[0]["ports"]} == {"dns", "dns-tcp"}
    coredns = _policy(rec, "microseg-coredns")
    assert len(coredns["ingress"][0]["from"]) == 3  # type: ignore[index]  # web, api, twin-one


def test_external_addresses_aggregate_within_the_max_prefix(
    cluster: microseg.model.Cluster,
) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions())
    web = _policy(rec, "microseg-web")
    blocks = [p["ipBlock"]["cidr"] for r in web["egress"] for p in r["to"] if "ipBlock" in p]  # type: ignore[index]
    assert blocks == ["8.8.8.8/32", "198.51.100.0/28"]
    wide = recommend(
        cluster,
        window(FLOWS),
        RecommendOptions(addresses=AddressOptions(internet_egress=True)),
    )
    web = _policy(wide, "microseg-web")
    blocks = [p["ipBlock"] for r in web["egress"] for p in r["to"] if "ipBlock" in p]  # type: ignore[index]
    assert blocks[0]["cidr"] == "0.0.0.0/0"
    assert "10.0.0.0/8" in blocks[0]["except"]
    assert blocks[1] == {"cidr": "198.51.100.0/28"}  # documentation space is not the internet


def test_aggregation_and_the_public_block_are_exact() -> None:
    assert aggregate(["10.1.2.3", "10.1.2.200", "10.1.3.1"], 24, 64) == [
        ("10.1.2.0/24", ["10.1.2.3", "10.1.2.200"]),
        ("10.1.3.1/32", ["10.1.3.1"]),
    ]
    assert aggregate(["2001:db8::1", "2001:db8::2"], 24, 64) == [
        ("2001:db8::/126", ["2001:db8::1", "2001:db8::2"])
    ]
    for version in (4, 6):
        cidr, excepts = public_block(version)
        got = IPSet.from_cidr(cidr)
        for e in excepts:
            got = got - IPSet.from_cidr(e)
        want = IPSet(v4=PUBLIC.v4) if version == 4 else IPSet(v6=PUBLIC.v6)
        assert got == want


def test_probes_are_a_note_or_a_node_rule(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions())
    assert any(
        f.code == "MS525" and "a/api[Deployment] (TCP 9090, grpc)" in f.message
        for f in rec.findings
    )
    rec = recommend(cluster, window(FLOWS), RecommendOptions(allow_probes=True))
    api = _policy(rec, "microseg-api")
    node = [r for r in api["ingress"] if any("ipBlock" in p for p in r["from"])]  # type: ignore[index]
    assert node == [
        {
            "from": [{"ipBlock": {"cidr": "10.0.0.11/32"}}],
            "ports": [{"protocol": "TCP", "port": 9090}, {"protocol": "TCP", "port": "grpc"}],
        }
    ]


def test_unseen_workloads_get_the_default_deny_and_a_warning(
    cluster: microseg.model.Cluster,
) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions())
    assert "b/idle[Deployment]" in rec.unseen
    assert not any(g.name == "microseg-idle" for g in rec.generated)
    deny = _policy(rec, "microseg-default-deny")
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert any(f.code == "MS522" and f.subject == "b/idle[Deployment]" for f in rec.findings)


def test_dropped_flows_and_min_count_are_not_learnt(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions(min_count=3))
    assert rec.stats.recorded_denied == 1
    web = _policy(rec, "microseg-web")
    assert not any("ipBlock" in p for r in web.get("egress", []) for p in r["to"])  # type: ignore[union-attr]
    assert rec.proof.holds


def test_rollout_steps_equal_a_rebuild_per_step(cluster: microseg.model.Cluster) -> None:
    """The per-direction check of each step agrees with rebuilding the cluster with the
    steps so far and replaying every learnt key, as `simulate --with` would."""
    w = window(FLOWS)
    rec = recommend(cluster, w, RecommendOptions(rollout=True))
    assert [s.breaks for s in rec.rollout] == [0] * len(rec.rollout)
    assert [s.group for s in rec.rollout][-1] == "a"  # the most used namespace last
    learnt = learn(cluster, w.keys, EndpointResolver(cluster))
    rows = subset(learnt.rows, learnt.row_edge >= 0)
    now = lookup(Connectivity.build(cluster), rows).allowed
    done: list[str] = []
    for step in rec.rollout:
        done.append(step.group)
        part = tuple(g for g in rec.generated if g.group in done)
        after = lookup(Connectivity.build(merge(cluster, part)), rows).allowed
        assert int((now & ~after).sum()) == step.breaks


def test_demo_recommendation_is_proven_in_every_format(demo_dir: Path) -> None:
    cluster = microseg.load([str(demo_dir)])
    for fmt in PolicyFormat:
        rec = recommend(cluster, demo_window(), RecommendOptions(format=fmt))
        assert rec.proof.holds, fmt
        assert rec.proof.checked_keys == 26
        kinds = {g.kind for g in rec.generated}
        if fmt is PolicyFormat.LINKERD:
            assert kinds == set()  # no workload of the demo is in Linkerd's mesh
            assert any(
                f.code == "MS530" and "outside Linkerd's mesh" in f.message for f in rec.findings
            )
        elif fmt is PolicyFormat.ISTIO:
            assert kinds == {"AuthorizationPolicy"}
            assert {d.cause for d in rec.proof.denied} == {"mesh"}  # STRICT mTLS, not the set
        elif fmt is PolicyFormat.ADMINNETWORKPOLICY:
            assert kinds == {"NetworkPolicy", "AdminNetworkPolicy"}  # the demo has its BANP
            assert any(f.code == "MS533" for f in rec.findings)
        else:
            assert kinds == {"NetworkPolicy"}
            assert rec.proof.denied_total == 0


def test_replace_existing_removes_what_the_old_policies_allowed(demo_dir: Path) -> None:
    cluster = microseg.load([str(demo_dir)])
    added = recommend(cluster, demo_window(), RecommendOptions())
    replaced = recommend(cluster, demo_window(), RecommendOptions(replace_existing=True))
    assert replaced.proof.holds
    assert replaced.proof.allowed < added.proof.allowed
    webapp = next(
        w for w in replaced.proof.workloads if w.workload == "frontend/webapp[Deployment]"
    )
    assert not any(e.peer == "shop/postgres[StatefulSet]" for e in webapp.excess)  # the gap is gone


def test_namespace_granularity(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), RecommendOptions(granularity="namespace"))
    assert rec.proof.holds
    names = sorted(
        (g.namespace, g.name) for g in rec.generated if isinstance(g.policy, NetworkPolicy)
    )
    assert ("a", "microseg-namespace") in names
    assert ("a", "microseg-web") not in names


MESH = """
apiVersion: v1
kind: Namespace
metadata: {name: m, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: one, namespace: m}
spec:
  selector: {matchLabels: {app: one}}
  template:
    metadata: {labels: {app: one}}
    spec: {serviceAccountName: shared, containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: two, namespace: m}
spec:
  selector: {matchLabels: {app: two}}
  template:
    metadata: {labels: {app: two}}
    spec: {serviceAccountName: shared, containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: m}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {serviceAccountName: api, containers: [{name: c, ports: [{containerPort: 8080}]}]}
"""


def test_istio_principals_and_shared_service_accounts(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MESH)
    cluster = microseg.load([str(tmp_path)])
    flows = [
        ("m/one", "m/api", "TCP", 8080, 5, "forwarded"),
        ("m/two", "m/api", "TCP", 8080, 5, "forwarded"),
        ("m/one", "169.254.20.10", "UDP", 53, 5, "forwarded"),
    ]
    rec = recommend(cluster, window(flows), RecommendOptions(format=PolicyFormat.ISTIO))
    assert rec.proof.holds
    api = _policy(rec, "microseg-api")
    assert api["selector"] == {"matchLabels": {"app": "api"}}
    assert api["rules"] == [
        {
            "from": [{"source": {"principals": ["cluster.local/ns/m/sa/shared"]}}],
            "to": [{"operation": {"ports": ["8080"]}}],
        }
    ]
    shared = [f for f in rec.findings if f.code == "MS524"]
    assert shared
    assert "m/one[Deployment], m/two[Deployment]" in shared[0].message
    # two may call api because one may: the proof counts it as observed (both were seen)
    assert _policy(rec, "microseg-allow-nothing") == {}


def test_node_local_dns_cache_is_the_resolver_when_the_flows_show_it(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MESH)
    cluster = microseg.load([str(tmp_path)])
    flows = [
        ("m/one", "m/api", "TCP", 8080, 5, "forwarded"),
        ("m/one", "169.254.20.10", "UDP", 53, 5, "forwarded"),
    ]
    rec = recommend(cluster, window(flows), RecommendOptions())
    assert rec.resolvers == ("169.254.20.10",)
    one = _policy(rec, "microseg-one")
    dns = [r for r in one["egress"] if r["to"] == [{"ipBlock": {"cidr": "169.254.20.10/32"}}]]  # type: ignore[index]
    assert dns == [
        {
            "to": [{"ipBlock": {"cidr": "169.254.20.10/32"}}],
            "ports": [{"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53}],
        }
    ]
    gen = next(g for g in rec.generated if g.name == "microseg-one")
    assert any("link-local" in note for _, note in gen.comments)
