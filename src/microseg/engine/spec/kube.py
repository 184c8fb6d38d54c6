"""Label selectors, addresses and documents read the way the Kubernetes API defines them, for
the reference evaluators only.

Written from the references, not from microseg's model or ingest (the point of an oracle):
- LabelSelector (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/label-selector/):
  `matchLabels` entries and `matchExpressions` are ANDed; a `matchLabels` entry is an `In`
  with one value; an empty selector matches everything.
- Set-based requirements (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#set-based-requirement):
  `NotIn` also selects objects without the key; `Exists` / `DoesNotExist` test the key only.
- Every value here is plain parsed YAML (dicts, lists, strings, ints): nothing is validated,
  since the documents the property tests write are valid, and ingest's refusals are tested
  elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

__all__ = ["Doc", "address_in", "cidr_contains", "field", "items", "selector_matches"]

Doc = Mapping[str, Any]


def field(doc: Any, *path: str, default: Any = None) -> Any:
    """`doc[path...]`, or `default` when any step is absent or null."""
    value = doc
    for key in path:
        if not isinstance(value, Mapping):
            return default
        value = value.get(key)
        if value is None:
            return default
    return value


def items(doc: Any, *path: str) -> list[Any]:
    """The list at `path`; an absent or null list is empty."""
    value = field(doc, *path, default=[])
    return list(value) if isinstance(value, list) else []


def _requirement_matches(req: Doc, labels: Mapping[str, str]) -> bool:
    key, operator = req["key"], req["operator"]
    values = [str(v) for v in req.get("values") or []]
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(f"unknown selector operator {operator!r}")


def selector_matches(selector: Doc | None, labels: Mapping[str, str]) -> bool:
    """Whether a (non-null) LabelSelector matches `labels`. Callers decide what an absent
    selector means in their field; here None is read as `{}` (every object)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    return all(_requirement_matches(r, labels) for r in selector.get("matchExpressions") or [])


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR, or a bare address as its single-address block (Istio accepts both)."""
    if "/" not in text:
        text += "/128" if ":" in text else "/32"
    return ipaddress.ip_network(text, strict=False)


def cidr_contains(cidr: str, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    net = _network(cidr)
    return ip.version == net.version and ip in net


def address_in(address: str, cidr: str, excepts: list[str] | tuple[str, ...] = ()) -> bool:
    """NetworkPolicy IPBlock: inside `cidr` and inside none of its `except` blocks
    (https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec,
    IPBlock: "except is a slice of CIDRs that should not be included within an IPBlock")."""
    return cidr_contains(cidr, address) and not any(cidr_contains(e, address) for e in excepts)
