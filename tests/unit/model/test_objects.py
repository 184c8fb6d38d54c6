"""Small behaviours of the model objects: FrozenLabels, keys, named ports, policies, Cluster."""

from __future__ import annotations

import dataclasses

import pytest

from microseg.errors import Origin
from microseg.model import (
    Cluster,
    ContainerPort,
    Direction,
    FrozenLabels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Pod,
    Protocol,
    Rule,
    WorkloadKey,
)


def test_frozen_labels_is_a_sorted_hashable_mapping() -> None:
    a = FrozenLabels({"b": "2", "a": "1"})
    b = FrozenLabels({"a": "1", "b": "2"})
    assert list(a) == ["a", "b"]
    assert a.key() == (("a", "1"), ("b", "2"))
    assert a == b
    assert hash(a) == hash(b)
    assert a == {"a": "1", "b": "2"}
    assert a != {"a": "1"}
    assert a["b"] == "2"
    assert len(a) == 2
    assert "a" in a
    assert FrozenLabels() == FrozenLabels(None)
    assert len(FrozenLabels()) == 0


def test_frozen_labels_cannot_be_changed_and_do_not_alias_the_input() -> None:
    src = {"app": "web"}
    labels = FrozenLabels(src)
    src["app"] = "db"
    assert labels["app"] == "web"
    with pytest.raises(TypeError):
        labels["app"] = "x"  # type: ignore[index]


def test_workload_key_prints_and_sorts() -> None:
    k = WorkloadKey("shop", "postgres", "StatefulSet")
    assert str(k) == "shop/postgres[StatefulSet]"
    keys = [WorkloadKey("shop", "b", "Deployment"), WorkloadKey("frontend", "z", "Pod"), k]
    assert [str(x) for x in sorted(keys)] == [
        "frontend/z[Pod]",
        "shop/b[Deployment]",
        "shop/postgres[StatefulSet]",
    ]


def _pod(**kw: object) -> Pod:
    base: dict[str, object] = {
        "namespace": "shop",
        "name": "api-0",
        "labels": FrozenLabels({"app": "api"}),
        "workload": WorkloadKey("shop", "api", "Deployment"),
    }
    base.update(kw)
    return Pod(**base)  # type: ignore[arg-type]


def test_named_port_resolves_per_protocol() -> None:
    pod = _pod(
        ports=(
            ContainerPort(Protocol.UDP, 53, "dns"),
            ContainerPort(Protocol.TCP, 5353, "dns"),
            ContainerPort(Protocol.TCP, 8080, "http"),
        )
    )
    assert pod.named_port("dns", Protocol.UDP) == 53
    assert pod.named_port("dns", Protocol.TCP) == 5353
    assert pod.named_port("http", Protocol.TCP) == 8080
    assert pod.named_port("http", Protocol.UDP) is None
    assert pod.named_port("grpc", Protocol.TCP) is None


def test_model_objects_are_frozen() -> None:
    pod = _pod()
    with pytest.raises(dataclasses.FrozenInstanceError):
        pod.name = "other"  # type: ignore[misc]


def test_origin_does_not_take_part_in_equality() -> None:
    a = _pod(origin=Origin("a.yaml", line=1))
    b = _pod(origin=Origin("b.yaml", line=9))
    assert a == b


def test_network_policy_rules_and_types() -> None:
    ing = Rule(peers=None, ports=None, index=0)
    eg = Rule(peers=(), ports=None, index=0)
    np_ = NetworkPolicy(
        namespace="shop",
        name="allow",
        pod_selector=LabelSelector(),
        policy_types=frozenset({Direction.INGRESS}),
        ingress=(ing,),
        egress=(eg,),
    )
    assert np_.ref == "shop/allow"
    assert np_.rules(Direction.INGRESS) == (ing,)
    assert np_.rules(Direction.EGRESS) == (eg,)
    assert np_.affects(Direction.INGRESS)
    assert not np_.affects(Direction.EGRESS)


def test_cluster_namespace_lookup() -> None:
    ns = Namespace("shop", FrozenLabels({"kubernetes.io/metadata.name": "shop"}))
    cluster = Cluster(namespaces=(ns,))
    assert cluster.namespace("shop") is ns
    assert cluster.namespace("nope") is None


def test_origin_location() -> None:
    assert Origin("x.yaml", line=12).location() == "x.yaml:12"
    assert Origin("x.yaml").location() == "x.yaml"
    o = Origin("x.yaml", 1, 3, "NetworkPolicy", "ns", "np").with_rule(2, 40)
    assert (o.rule, o.line, o.name) == (2, 40, "np")
    assert Origin("x.yaml", line=3).with_rule(1, None).line == 3
