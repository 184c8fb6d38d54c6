"""`lint` on small hand-built clusters: one case per finding code, and what is not said."""

from __future__ import annotations

from microseg.analyses.lint import CODES, Finding, lint
from microseg.engine import Connectivity
from microseg.errors import Origin, Severity
from microseg.model import (
    Action,
    AdminPolicy,
    AdminRule,
    AdminTier,
    Cluster,
    ContainerPort,
    Direction,
    FrozenLabels,
    IPBlockPeer,
    IPSet,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    NodePeer,
    Pod,
    PodPeer,
    PortSpec,
    Protocol,
    Rule,
    Subject,
    Workload,
    WorkloadKey,
)

ING, EG = Direction.INGRESS, Direction.EGRESS


def _pod(name: str, ns: str = "a", ports: tuple[ContainerPort, ...] = ()) -> Pod:
    return Pod(ns, name, FrozenLabels({"app": name}), WorkloadKey(ns, name, "Deployment"), ports)


def _cluster(
    *policies: NetworkPolicy, admin: tuple[AdminPolicy, ...] = (), pods: tuple[Pod, ...] = ()
) -> Cluster:
    pods = pods or (_pod("web"), _pod("api", ports=(ContainerPort(Protocol.TCP, 8080, "http"),)))
    names = ("a", "b")
    return Cluster(
        namespaces=tuple(
            Namespace(n, FrozenLabels({"kubernetes.io/metadata.name": n, "env": "prod"}))
            for n in names
        ),
        workloads=tuple(Workload(p.workload) for p in pods),
        pods=pods,
        policies=policies,
        admin_policies=admin,
    )


def _app(name: str) -> LabelSelector:
    return LabelSelector.from_labels({"app": name})


def _origin(line: int, rule: int | None = None) -> Origin:
    return Origin("p.yaml", 0, line, "NetworkPolicy", "a", "x", rule)


def _np(
    name: str,
    target: str,
    ingress: tuple[Rule, ...] = (),
    egress: tuple[Rule, ...] = (),
    types: tuple[Direction, ...] = (ING,),
    line: int = 1,
) -> NetworkPolicy:
    return NetworkPolicy("a", name, _app(target), frozenset(types), ingress, egress, _origin(line))


def _rule(
    index: int,
    peers: tuple[PodPeer | IPBlockPeer | NodePeer, ...] | None,
    ports: tuple[PortSpec, ...] | None,
    line: int = 5,
) -> Rule:
    return Rule(peers, ports, index, _origin(line + index, index))


def _from(app: str) -> PodPeer:
    return PodPeer(_app(app), namespace="a")


def _tcp(lo: int, hi: int | None = None) -> PortSpec:
    return PortSpec(Protocol.TCP, lo, hi if hi is not None else lo)


def _codes(findings: tuple[Finding, ...]) -> list[tuple[str, str, int | None]]:
    return [(f.code, f.policy, f.rule) for f in findings]


def _lint(cluster: Cluster) -> tuple[Finding, ...]:
    return lint(Connectivity.build(cluster)).findings


def test_a_rule_covered_by_another_rule_of_the_same_pods_is_redundant() -> None:
    policy = _np(
        "api-in",
        "api",
        ingress=(
            _rule(0, (_from("web"),), (_tcp(80),)),
            _rule(1, (_from("web"),), (_tcp(80, 81),)),
        ),
    )
    findings = _lint(_cluster(policy))
    assert _codes(findings) == [("ML001", "NP a/api-in", 0)]
    (f,) = findings
    assert f.origin.location() == "p.yaml:5"
    assert f.field == "spec.ingress[0]"
    assert "also allowed by other rules" in f.message
    assert f.severity is Severity.WARNING


def test_a_rule_whose_traffic_the_other_end_blocks_is_redundant_but_its_policy_is_not() -> None:
    api_in = _np("api-in", "api", ingress=(_rule(0, (_from("web"),), None),))
    web_out = _np("web-deny-egress", "web", types=(EG,), line=20)
    findings = _lint(_cluster(api_in, web_out))
    assert _codes(findings) == [("ML001", "NP a/api-in", 0)]
    assert "blocked at the other end" in findings[0].message


def test_a_policy_isolating_pods_others_isolate_with_a_subset_of_their_rules_is_redundant() -> None:
    small = _np("small", "api", ingress=(_rule(0, (_from("web"),), (_tcp(80),)),))
    big = _np("big", "api", ingress=(_rule(0, (_from("web"),), (_tcp(80, 90),)),), line=30)
    findings = _lint(_cluster(small, big))
    assert _codes(findings) == [("ML002", "NP a/small", None)]
    assert findings[0].origin.location() == "p.yaml:1"


def test_duplicates_are_each_redundant_alone() -> None:
    one = _np("one", "api", ingress=(_rule(0, (_from("web"),), (_tcp(80),)),))
    two = _np("two", "api", ingress=(_rule(0, (_from("web"),), (_tcp(80),)),), line=30)
    assert [f.code for f in _lint(_cluster(one, two))] == ["ML002", "ML002"]


def test_a_deny_all_is_not_redundant_when_it_alone_isolates() -> None:
    assert _lint(_cluster(_np("deny", "api"))) == ()


def test_policies_selecting_no_pod() -> None:
    ghost = _np("ghost", "nothing", ingress=(_rule(0, (_from("nobody"),), None),))
    anp = AdminPolicy(
        "AdminNetworkPolicy",
        "g",
        AdminTier.ADMIN,
        5,
        Subject(LabelSelector.from_labels({"env": "dev"})),
    )
    findings = _lint(_cluster(ghost, admin=(anp,)))
    assert sorted(_codes(findings)) == [("ML003", "ANP g", None), ("ML003", "NP a/ghost", None)]
    assert all(f.severity is Severity.NOTICE for f in findings)
    assert "selects no pod in namespace a" in next(
        f.message for f in findings if f.policy == "NP a/ghost"
    )


def test_peers_that_match_nothing_say_why() -> None:
    no_ns = PodPeer(LabelSelector(), namespace_selector=LabelSelector.from_labels({"env": "qa"}))
    no_pod = PodPeer(_app("ghost"), namespace_selector=LabelSelector())
    rule = _rule(0, (_from("web"), no_ns, no_pod), None)
    findings = _lint(_cluster(_np("api-in", "api", ingress=(rule,))))
    assert [(f.code, f.field) for f in findings] == [
        ("ML004", "spec.ingress[0].from[1]"),
        ("ML004", "spec.ingress[0].from[2]"),
    ]
    assert "namespaceSelector env=qa matches no namespace" in findings[0].message
    assert "podSelector app=ghost" in findings[1].message


def test_a_rule_whose_only_peer_matches_nothing_is_not_also_called_redundant() -> None:
    rule = _rule(0, (_from("ghost"),), None)
    other = _rule(1, (_from("web"),), None)
    findings = _lint(_cluster(_np("api-in", "api", ingress=(rule, other))))
    assert _codes(findings) == [("ML004", "NP a/api-in", 0)]


def test_named_ports_resolve_on_the_destination() -> None:
    ingress = _rule(
        0,
        (_from("web"),),
        (PortSpec(Protocol.TCP, name="http"), PortSpec(Protocol.UDP, name="http")),
    )
    egress = _rule(
        0,
        (_from("api"),),
        (PortSpec(Protocol.TCP, name="metrics"), PortSpec(Protocol.TCP, name="http")),
        line=45,
    )
    api_in = _np("api-in", "api", ingress=(ingress,))
    web_out = _np("web-out", "web", egress=(egress,), types=(EG,), line=40)
    findings = _lint(_cluster(api_in, web_out))
    got = [(f.code, f.policy, f.field, f.message.split(" is ")[0]) for f in findings]
    assert got == [
        ("ML006", "NP a/api-in", "spec.ingress[0].ports", "named port UDP/http"),
        ("ML006", "NP a/web-out", "spec.egress[0].ports", "named port TCP/metrics"),
    ]


def _anp(*rules: AdminRule, name: str = "guard", priority: int = 10) -> AdminPolicy:
    subject = Subject(LabelSelector.from_labels({"kubernetes.io/metadata.name": "a"}), _app("api"))
    origin = Origin("g.yaml", 0, 1, "AdminNetworkPolicy", "", name)
    return AdminPolicy(
        "AdminNetworkPolicy", name, AdminTier.ADMIN, priority, subject, rules, (), origin
    )


def _arule(
    index: int,
    action: Action,
    peers: tuple[PodPeer, ...],
    ports: tuple[PortSpec, ...] | None = None,
) -> AdminRule:
    origin = Origin("g.yaml", 0, 10 + index, "AdminNetworkPolicy", "", "guard", index)
    return AdminRule(f"r{index}", action, ING, peers, ports, index, (), origin)


EVERY_NS = PodPeer(LabelSelector(), namespace_selector=LabelSelector())
NS_A = PodPeer(
    LabelSelector(),
    namespace_selector=LabelSelector.from_labels({"kubernetes.io/metadata.name": "a"}),
)


def test_an_admin_rule_behind_a_broader_earlier_rule_is_shadowed() -> None:
    anp = _anp(_arule(0, Action.DENY, (EVERY_NS,)), _arule(1, Action.ALLOW, (NS_A,)))
    findings = _lint(_cluster(admin=(anp,)))
    assert _codes(findings) == [("ML005", "ANP guard", 1)]
    assert "ANP guard/r0" in findings[0].message
    assert findings[0].origin.location() == "g.yaml:11"


def test_an_admin_allow_that_the_default_gives_anyway_is_redundant() -> None:
    anp = _anp(
        _arule(0, Action.ALLOW, (NS_A,), (_tcp(80),)),
        _arule(1, Action.DENY, (EVERY_NS,), (_tcp(443),)),
    )
    assert _codes(_lint(_cluster(admin=(anp,)))) == [("ML001", "ANP guard", 0)]


def test_an_admin_allow_in_front_of_a_deny_matters() -> None:
    anp = _anp(_arule(0, Action.ALLOW, (NS_A,), (_tcp(80),)), _arule(1, Action.DENY, (EVERY_NS,)))
    assert _lint(_cluster(admin=(anp,))) == ()


def test_a_baseline_allow_matters_only_before_a_baseline_deny_for_pods_no_netpol_isolates() -> None:
    subject = Subject(LabelSelector())
    allow = AdminRule("allow-web", Action.ALLOW, ING, (NS_A,), (_tcp(80),), 0)
    deny = AdminRule("deny", Action.DENY, ING, (EVERY_NS,), None, 1)
    banp = AdminPolicy(
        "BaselineAdminNetworkPolicy", "default", AdminTier.BASELINE, 0, subject, (allow, deny)
    )
    assert _lint(_cluster(admin=(banp,))) == ()
    # once NetworkPolicies isolate every pod, the baseline never speaks
    isolate = _np("all", "web"), _np("all-api", "api", line=10)
    findings = _lint(_cluster(*isolate, admin=(banp,)))
    assert ("ML002", "BANP default", None) in _codes(findings)


def test_codes_are_stable() -> None:
    assert {c: n for c, (n, _) in CODES.items()} == {
        "ML001": "redundant-rule",
        "ML002": "redundant-policy",
        "ML003": "selects-no-pod",
        "ML004": "peer-matches-nothing",
        "ML005": "shadowed-admin-rule",
        "ML006": "named-port-unresolved",
        "ML010": "linkerd-server-no-pod",
        "ML011": "linkerd-unused-authorization",
        "ML012": "linkerd-admits-everyone",
        "ML013": "linkerd-probe-unrouted",
    }


def test_node_and_ip_block_peers() -> None:
    no_node = NodePeer(LabelSelector.from_labels({"zone": "z"}))
    block = IPBlockPeer("10.0.0.0/8", (), IPSet.from_cidr("10.0.0.0/8"))
    rule = AdminRule("out", Action.DENY, EG, (no_node, block), None, 0)
    anp = AdminPolicy(
        "AdminNetworkPolicy", "n", AdminTier.ADMIN, 1, Subject(LabelSelector()), (), (rule,)
    )
    findings = _lint(_cluster(admin=(anp,)))
    assert [(f.code, f.field) for f in findings] == [("ML004", "spec.egress[0].to")]
    assert "nodeSelector zone=z matches no Node" in findings[0].message
