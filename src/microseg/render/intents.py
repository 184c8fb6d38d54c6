"""SegmentationIntent documents as YAML that `microseg verify` reads back unchanged.

The web UI writes the intents a person draws with this module; a round-trip test holds
`load_intents(intent_yaml(...))` equal to what was rendered. Selectors come back in the
form people write: one-value `In` requirements as `matchLabels`, the rest as
`matchExpressions` (apimachinery LabelSelector: matchLabels entries are `In` requirements
with one value, so the two forms select the same pods). Format: docs/intents.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from microseg.model.intent import FlowIntent, FlowKind, GroupSpec
from microseg.model.selectors import LabelSelector, Operator

__all__ = ["group_yaml", "intent_yaml", "selector_yaml"]

API_VERSION = "microseg.dev/v1alpha1"
KIND = "SegmentationIntent"


def selector_yaml(selector: LabelSelector) -> dict[str, Any]:
    labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for r in selector.requirements:
        if r.operator is Operator.IN and len(r.values) == 1 and r.key not in labels:
            labels[r.key] = next(iter(r.values))
            continue
        expr: dict[str, Any] = {"key": r.key, "operator": r.operator.value}
        if r.operator in (Operator.IN, Operator.NOT_IN):
            expr["values"] = sorted(r.values)
        expressions.append(expr)
    if expressions:
        out: dict[str, Any] = {}
        if labels:
            out["matchLabels"] = labels
        out["matchExpressions"] = expressions
        return out
    return labels  # the matchLabels shorthand; `{}` selects everything


def group_yaml(group: GroupSpec) -> dict[str, Any]:
    if group.workload is not None:
        return {"workload": group.workload}
    if group.cidrs:
        return {"cidr": list(group.cidrs)}
    out: dict[str, Any] = {}
    if group.namespace is not None:
        out["namespace"] = group.namespace
    if group.namespace_selector is not None:
        out["namespaceSelector"] = selector_yaml(group.namespace_selector)
    if group.selector is not None:
        out["selector"] = selector_yaml(group.selector)
    return out


def _flow(flow: FlowIntent) -> dict[str, Any]:
    out: dict[str, Any] = {"from": flow.src, "to": flow.dst}
    if flow.ports:
        out["ports"] = [str(p) for p in flow.ports]
    return out


def intent_yaml(
    name: str, groups: Sequence[GroupSpec], flows: Sequence[FlowIntent], comment: str = ""
) -> str:
    """One SegmentationIntent document (no `---`): the groups, then `allow` and `deny` in
    the order given. `comment` lines go above it, each prefixed with `# `."""
    spec: dict[str, Any] = {}
    if groups:
        spec["groups"] = {g.name: group_yaml(g) for g in groups}
    for kind in (FlowKind.ALLOW, FlowKind.DENY):
        chosen = [_flow(f) for f in flows if f.kind is kind]
        if chosen:
            spec[kind.value] = chosen
    doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}
    head = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines())
    body = yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100
    )
    return head + body
