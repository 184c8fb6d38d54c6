"""`recommend --format calico` on a small hand-written cluster: the Calico shapes the
networkpolicy format's needs become (stable selectors, Service target ports by name, DNS
to the observed resolver, CIDRs as nets), each proven by the engine in Calico's model."""

from __future__ import annotations

from pathlib import Path

import pytest

import microseg
from microseg.analyses.synth import PolicyFormat, RecommendOptions, recommend
from microseg.analyses.synth.calico import selector_text, to_calico
from microseg.analyses.synth.recommend import merge
from microseg.analyses.synth.types import Generated
from microseg.model import NetworkPolicy
from microseg.model.calico import CalicoPolicy
from microseg.model.netpol import Direction, IPBlockPeer, PodPeer, PortSpec, Rule
from microseg.model.selectors import LabelSelector, Operator, Requirement
from microseg.model.sets import IPSet, Protocol
from microseg.render.policy_yaml import manifest

from .synth_support import window
from .test_synth_recommend import FLOWS
from .test_synth_recommend import cluster as cluster  # the fixture

CALICO = RecommendOptions(format=PolicyFormat.CALICO)


def _spec(rec: object, namespace: str, name: str) -> dict[str, object]:
    for g in rec.generated:  # type: ignore[attr-defined]
        if (g.namespace, g.name) == (namespace, name):
            doc = manifest(g)
            assert doc["apiVersion"] == "projectcalico.org/v3"
            assert doc["kind"] == "NetworkPolicy"
            return doc["spec"]  # type: ignore[no-any-return]
    raise AssertionError(f"no policy {namespace}/{name}")


def test_every_object_is_a_calico_policy_and_the_proof_holds(
    cluster: microseg.model.Cluster,
) -> None:
    rec = recommend(cluster, window(FLOWS), CALICO)
    plain = recommend(cluster, window(FLOWS), RecommendOptions())
    assert rec.proof.holds
    assert all(isinstance(g.policy, CalicoPolicy) for g in rec.generated)
    assert [(g.namespace, g.name) for g in rec.generated] == [
        (g.namespace, g.name) for g in plain.generated
    ]
    # the same needs in another model: exactly as much allowed, workload by workload
    assert (rec.proof.observed, rec.proof.allowed) == (plain.proof.observed, plain.proof.allowed)
    assert [(w.workload, w.allowed) for w in rec.proof.workloads] == [
        (w.workload, w.allowed) for w in plain.proof.workloads
    ]


def test_default_deny_is_a_namespaced_policy_selecting_all(
    cluster: microseg.model.Cluster,
) -> None:
    rec = recommend(cluster, window(FLOWS), CALICO)
    spec = _spec(rec, "a", "microseg-default-deny")
    assert spec == {
        "tier": "default",
        "order": 2000,
        "selector": "all()",
        "types": ["Ingress", "Egress"],
    }


def test_stable_selectors_and_the_named_target_port(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), CALICO)
    api = _spec(rec, "a", "microseg-api")
    assert api["selector"] == "app.kubernetes.io/name == 'api'"
    to_db = [r for r in api["egress"] if r["destination"].get("selector") == "app == 'db'"]  # type: ignore[union-attr]
    assert to_db == [
        {
            "action": "Allow",
            "protocol": "TCP",
            "destination": {
                "selector": "app == 'db'",
                "namespaceSelector": "kubernetes.io/metadata.name == 'b'",
                "ports": ["pg"],  # the Service port 15432 as the pod's named port
            },
        }
    ]
    web = _spec(rec, "a", "microseg-web")
    from_twin = [r for r in web["ingress"] if "source" in r]  # type: ignore[union-attr]
    # same namespace: a selector alone (Calico scopes it to the policy's namespace)
    assert any(r["source"] == {"selector": "tier == 'x'"} for r in from_twin)


def test_dns_rules_go_to_the_observed_resolver_per_protocol(
    cluster: microseg.model.Cluster,
) -> None:
    rec = recommend(cluster, window(FLOWS), CALICO)
    web = _spec(rec, "a", "microseg-web")
    dns = [
        r
        for r in web["egress"]  # type: ignore[union-attr]
        if r["destination"].get("selector") == "k8s-app == 'kube-dns'"
    ]
    assert sorted((r["protocol"], tuple(r["destination"]["ports"])) for r in dns) == [
        ("TCP", ("dns-tcp",)),
        ("UDP", ("dns",)),
    ]


def test_external_addresses_are_nets(cluster: microseg.model.Cluster) -> None:
    rec = recommend(cluster, window(FLOWS), CALICO)
    web = _spec(rec, "a", "microseg-web")
    nets = [r["destination"]["nets"] for r in web["egress"] if "nets" in r["destination"]]  # type: ignore[union-attr]
    assert ["198.51.100.0/28"] in nets  # .7 and .9, aggregated as the networkpolicy format does
    assert ["8.8.8.8/32"] in nets


def _generated(policy: NetworkPolicy) -> Generated:
    return Generated("NetworkPolicy", policy.namespace, policy.name, policy, policy.namespace)


def test_one_rule_per_peer_and_protocol_with_ranges_excepts_and_no_ports() -> None:
    peers = (
        PodPeer(LabelSelector.from_labels({"app": "x"}), namespace="n"),
        IPBlockPeer("10.0.0.0/8", ("10.1.0.0/16",), IPSet.from_cidr("10.0.0.0/8")),
    )
    ports = (
        PortSpec(Protocol.TCP, 80, 80),
        PortSpec(Protocol.TCP, 8000, 8080),
        PortSpec(Protocol.UDP, name="dns"),
        PortSpec(Protocol.SCTP),  # every SCTP port
    )
    np_ = NetworkPolicy(
        "n",
        "p",
        LabelSelector.from_labels({"app": "y"}),
        frozenset({Direction.INGRESS, Direction.EGRESS}),
        ingress=(Rule(peers, ports, 0), Rule(None, None, 1)),
        egress=(Rule((peers[1],), None, 0),),
    )
    c = to_calico(_generated(np_)).policy
    assert isinstance(c, CalicoPolicy)
    shapes = [
        (r.protocol.protocol.value if r.protocol else "", r.source, r.destination.ports)
        for r in c.ingress
    ]
    assert len(shapes) == 2 * 3 + 1
    assert [s[0] for s in shapes] == ["SCTP", "TCP", "UDP", "SCTP", "TCP", "UDP", ""]
    assert shapes[0][2] is None  # the whole protocol: no ports
    assert [(p.start, p.end) for p in shapes[1][2] or ()] == [(80, 80), (8000, 8080)]
    assert [p.name for p in shapes[2][2] or ()] == ["dns"]
    block = shapes[3][1]
    assert block.nets == IPSet.from_cidr("10.0.0.0/8")
    assert block.not_nets == IPSet.from_cidr("10.1.0.0/16")
    assert shapes[6] == ("", c.ingress[6].source, None)  # a rule without peers or ports
    assert c.egress[0].destination.nets == IPSet.from_cidr("10.0.0.0/8")
    assert c.egress[0].protocol is None


@pytest.mark.parametrize(
    ("requirements", "text"),
    [
        ((), "all()"),
        ((Requirement("app", Operator.IN, frozenset({"web"})),), "app == 'web'"),
        (
            (
                Requirement("tier", Operator.IN, frozenset({"a", "b"})),
                Requirement("app", Operator.EXISTS),
            ),
            "has(app) && tier in {'a', 'b'}",
        ),
        (
            (
                Requirement("env", Operator.NOT_IN, frozenset({"dev"})),
                Requirement("debug", Operator.DOES_NOT_EXIST),
            ),
            "!has(debug) && env not in {'dev'}",
        ),
    ],
)
def test_label_selectors_in_calico_syntax_select_the_same_labels(
    requirements: tuple[Requirement, ...], text: str
) -> None:
    from microseg.model.calico_selector import parse_selector

    sel = LabelSelector(requirements)
    assert selector_text(sel) == text
    parsed = parse_selector(text)
    for labels in (
        {},
        {"app": "web"},
        {"app": "x", "tier": "a"},
        {"tier": "b"},
        {"env": "dev"},
        {"env": "prod", "debug": "1"},
        {"env": "prod"},
    ):
        assert parsed.matches(labels) == sel.matches(labels), labels


OLD_CALICO = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: old-allow-all, namespace: a}
spec:
  selector: all()
  types: [Ingress]
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: guard}
spec:
  selector: all()
  types: [Ingress]
  ingress: [{action: Pass}]
"""


def test_replace_existing_drops_the_covered_namespaces_calico_policies(
    cluster: microseg.model.Cluster, tmp_path: Path
) -> None:
    from dataclasses import replace

    (tmp_path / "old.yaml").write_text(OLD_CALICO)
    old = microseg.load([str(tmp_path)]).calico
    with_old = replace(cluster, calico=old)
    added = recommend(with_old, window(FLOWS), CALICO)
    replaced = recommend(with_old, window(FLOWS), replace(CALICO, replace_existing=True))
    assert added.proof.holds
    assert replaced.proof.holds
    kept = merge(with_old, replaced.generated, {"a"}).calico.policies
    assert "old-allow-all" not in {p.name for p in kept}
    assert "guard" in {p.name for p in kept}  # global policies stay
    # the networkpolicy format leaves Calico's own policies as they are
    plain = merge(with_old, recommend(with_old, window(FLOWS), RecommendOptions()).generated, {"a"})
    assert plain.calico == old
