"""The memoized NetworkPolicy path: the same policies as the pydantic schema, shared
sub-objects for equal sub-documents, and the schema's diagnostics for anything else."""

from __future__ import annotations

from typing import Any

import pytest

from microseg.ingest.documents import Document
from microseg.ingest.netpols import (
    PolicyMemo,
    _schema_network_policy,
    fast_network_policy,
    parse_network_policy,
)


def _doc(spec: Any, namespace: str | None = "ns", name: str = "np", **extra: Any) -> Document:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    data: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta,
        **extra,
    }
    if spec is not _ABSENT:
        data["spec"] = spec
    return Document(data, "p.yaml", 0, 1)


_ABSENT = object()

VALID: dict[str, Any] = {
    "no-spec": _ABSENT,
    "empty-spec": {},
    "null-pod-selector": {"podSelector": None, "ingress": [{}]},
    "deny-all": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    "empty-policy-types": {"podSelector": {}, "policyTypes": [], "egress": [{"to": []}]},
    "peers-and-ports": {
        "podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [
            {
                "from": [
                    {"podSelector": {"matchLabels": {"app": "api"}}},
                    {
                        "namespaceSelector": {
                            "matchExpressions": [
                                {"key": "env", "operator": "In", "values": ["prod", "dev"]}
                            ]
                        },
                        "podSelector": {},
                    },
                    {"namespaceSelector": {}},
                ],
                "ports": [
                    {"port": 5432},
                    {"protocol": "UDP", "port": "dns"},
                    {"port": 30000, "endPort": 32767},
                    {"protocol": "SCTP"},
                ],
            },
            {"from": None, "ports": []},
        ],
    },
    "ip-blocks": {
        "podSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                "ports": [{"port": 443}],
            },
            {"to": [{"ipBlock": {"cidr": "fd00::/8"}}]},
        ],
    },
    "unknown-fields-ignored": {
        "podSelector": {"matchLabels": {"a": "b"}, "extra": 1},
        "ingress": [{"from": [{"podSelector": {}, "note": "x"}], "other": True}],
    },
}


@pytest.mark.parametrize("name", list(VALID))
def test_memoized_path_builds_what_the_schema_builds(name: str) -> None:
    for namespace in ("ns", None):
        doc = _doc(VALID[name], namespace)
        fast = fast_network_policy(doc, PolicyMemo())
        assert fast is not None
        assert fast == _schema_network_policy(doc)
        assert repr(fast) == repr(_schema_network_policy(doc))


def test_equal_sub_documents_share_one_object() -> None:
    memo = PolicyMemo()
    rule = {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 80}]}
    a = fast_network_policy(_doc({"ingress": [rule]}, name="a"), memo)
    b = fast_network_policy(_doc({"ingress": [dict(rule)]}, name="b"), memo)
    other_ns = fast_network_policy(_doc({"ingress": [rule]}, namespace="other"), memo)
    assert a is not None
    assert b is not None
    assert other_ns is not None
    assert a.ingress[0].peers is b.ingress[0].peers
    assert a.ingress[0].ports is b.ingress[0].ports is other_ns.ingress[0].ports
    assert a.pod_selector is b.pod_selector
    # A podSelector-only peer means the policy's own namespace: not shared across them.
    assert a.ingress[0].peers != other_ns.ingress[0].peers
    assert other_ns.ingress[0].peers[0].namespace == "other"  # type: ignore[union-attr]


DECLINED: dict[str, Any] = {
    "port-out-of-range": {"ingress": [{"ports": [{"port": 70000}]}]},
    "field-name-not-alias": {"ingress": [{"from_": [{"podSelector": {}}]}]},
    "except-field-name": {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except_": []}}]}]},
    "null-spec": None,
    "bad-policy-type": {"policyTypes": ["ingress"]},
    "named-port-to-ip-block": {
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": "http"}]}]
    },
    "empty-peer": {"ingress": [{"from": [{}]}]},
    "unhashable-set": {"ingress": [{"ports": [{"port": {80}}]}]},
    "selector-not-a-mapping": {"podSelector": ["app"]},
}


@pytest.mark.parametrize("name", list(DECLINED))
def test_other_documents_get_the_schema_diagnostics(name: str) -> None:
    doc = _doc(DECLINED[name])
    assert fast_network_policy(doc, PolicyMemo()) is None
    result = parse_network_policy(doc, PolicyMemo())
    assert result == _schema_network_policy(doc)


def test_a_value_equal_to_a_cached_one_in_python_is_judged_on_its_own() -> None:
    """True == 1 and 1.0 == 1 in Python: the memo must not hand one the other's verdict."""
    memo = PolicyMemo()
    for port in (1, True, 1.0, "1", "http"):
        doc = _doc({"ingress": [{"ports": [{"port": port}]}]})
        assert repr(parse_network_policy(doc, memo)) == repr(_schema_network_policy(doc))
    bad = parse_network_policy(_doc({"ingress": [{"ports": [{"port": "1"}]}]}), memo)
    assert isinstance(bad, list)
    assert [(d.code, d.field) for d in bad] == [("MS102", "spec.ingress[0].ports[0].port")]
