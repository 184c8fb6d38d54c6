"""`apply_change`: the snapshot a change leads to, and clear errors for missing objects."""

from __future__ import annotations

import pytest

from microseg.model import (
    Cluster,
    Direction,
    FrozenLabels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Pod,
    Workload,
    WorkloadKey,
)
from microseg.model.changes import (
    ChangeError,
    DeleteNamespace,
    DeletePod,
    DeletePolicy,
    PutNamespace,
    PutPod,
    PutPolicy,
    RelabelPod,
    apply_change,
)
from microseg.model.objects import NAMESPACE_NAME_LABEL, Service


def _pod(ns: str, name: str, workload: str, **labels: str) -> Pod:
    return Pod(ns, name, FrozenLabels(labels), WorkloadKey(ns, workload, "Deployment"))


def _np(ns: str, name: str) -> NetworkPolicy:
    return NetworkPolicy(ns, name, LabelSelector(()), frozenset([Direction.INGRESS]))


BASE = Cluster(
    namespaces=(
        Namespace("a", FrozenLabels({NAMESPACE_NAME_LABEL: "a", "team": "x"})),
        Namespace("b", FrozenLabels({NAMESPACE_NAME_LABEL: "b"})),
    ),
    workloads=(Workload(WorkloadKey("a", "web", "Deployment")),),
    pods=(_pod("a", "web-1", "web", app="web"), _pod("a", "web-2", "web", app="web")),
    policies=(_np("a", "deny"), _np("b", "deny")),
    services=(Service("a", "web", FrozenLabels({"app": "web"})),),
)


def test_put_policy_replaces_in_place_or_appends() -> None:
    replaced = apply_change(BASE, PutPolicy(_np("a", "deny")))
    assert [p.name for p in replaced.policies] == ["deny", "deny"]
    added = apply_change(BASE, PutPolicy(_np("c", "new")))
    assert added.policies[-1].name == "new"
    assert added.namespace("c") is not None  # a referenced namespace exists, undeclared
    assert not added.namespace("c").declared  # type: ignore[union-attr]


def test_relabel_keeps_the_pod_and_its_place() -> None:
    out = apply_change(BASE, RelabelPod("a", "web-2", {"app": "api"}))
    assert out.pods[1].name == "web-2"
    assert dict(out.pods[1].labels) == {"app": "api"}
    assert out.workloads == BASE.workloads


def test_deleting_the_last_pod_of_a_workload_removes_the_workload() -> None:
    out = apply_change(BASE, DeletePod("a", "web-1"))
    assert out.workloads == BASE.workloads
    out = apply_change(out, DeletePod("a", "web-2"))
    assert out.workloads == ()


def test_put_pod_adds_its_workload() -> None:
    out = apply_change(BASE, PutPod(_pod("b", "db-1", "db")))
    assert out.workloads[-1].key == WorkloadKey("b", "db", "Deployment")


def test_put_namespace_keeps_the_name_label() -> None:
    out = apply_change(BASE, PutNamespace("a", {"team": "y"}))
    labels = out.namespace("a").labels  # type: ignore[union-attr]
    assert dict(labels) == {NAMESPACE_NAME_LABEL: "a", "team": "y"}


def test_delete_namespace_removes_everything_in_it() -> None:
    out = apply_change(BASE, DeleteNamespace("a"))
    assert out.namespace("a") is None
    assert (out.pods, out.workloads, out.services) == ((), (), ())
    assert [p.namespace for p in out.policies] == ["b"]


@pytest.mark.parametrize(
    "change",
    [
        DeletePolicy("NetworkPolicy", "nope", "a"),
        DeletePolicy("AdminNetworkPolicy", "nope"),
        DeletePod("a", "nope"),
        RelabelPod("a", "nope", {}),
        DeleteNamespace("nope"),
    ],
)
def test_a_change_naming_a_missing_object_is_a_clear_error(change: object) -> None:
    with pytest.raises(ChangeError, match="nope"):
        apply_change(BASE, change)  # type: ignore[arg-type]


def test_position_of_matches_namespace_and_name_first_in_order() -> None:
    """position_of finds by name in C, then checks the namespace: a name that repeats in
    other namespaces is skipped until its own, and the first of equal keys wins."""
    from dataclasses import dataclass

    from microseg.model.changes import position_of

    @dataclass(frozen=True)
    class Named:
        namespace: str
        name: str

    items = tuple(
        Named(ns, n) for ns, n in [("a", "x"), ("b", "y"), ("b", "x"), ("c", "x"), ("b", "x")]
    )
    assert position_of(items, "a", "x") == 0
    assert position_of(items, "b", "x") == 2
    assert position_of(items, "c", "x") == 3
    assert position_of(items, "b", "y") == 1
    assert position_of(items, "d", "x") is None
    assert position_of(items, "a", "z") is None
    assert position_of((), "a", "x") is None
