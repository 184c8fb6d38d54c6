"""Segmentation rules through the engine: a new workload must be isolated for ingress, and a
policy change must not break the segmentation intents.

- Ingress isolation follows the NetworkPolicy API reference ("Isolated and Non-isolated
  Pods"): a pod is isolated for ingress when some NetworkPolicy of its namespace selects it
  with `Ingress` in its policyTypes (its own policy, or the namespace's default deny with
  `podSelector: {}`). A host-network pod is never selected by NetworkPolicies (the common
  implementation; README, Semantics), so it cannot be isolated.
- Intents: the change (a NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy or
  ClusterNetworkPolicy created, updated or deleted) is applied to the snapshot with
  `Connectivity.apply` (engine/incremental: table edits, not a rebuild), and the intents are
  verified before and after (analyses/verify.py, with the same quantifiers). The change is a
  violation when an intent that held no longer holds (a `deny` made reachable, an `allow`
  blocked, a strict domain entered, an expectation broken) and when an `allow` intent with
  ports is widened: between its groups, connections beyond its ports that were closed are
  now open (checked as a `deny` of the complement of its ports; named ports cannot be
  complemented and are left out of that check). Intents already violated before the change
  do not block it: the change did not cause them.

The intents' verdicts before a change are kept per snapshot (`IntentMemo`), so a review
costs one incremental update and one verification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from microseg.analyses.guardrails.findings import Finding, finding
from microseg.analyses.guardrails.pods import segmentation_keys
from microseg.analyses.verify import Finding as IntentFinding
from microseg.analyses.verify import VerificationReport, verify
from microseg.engine import Connectivity, WorkloadGraph, workload_nodes
from microseg.model.changes import Change
from microseg.model.cluster import Cluster
from microseg.model.guardrails import IntentsRule, Rule
from microseg.model.intent import FlowIntent, FlowKind, IntentPort, IntentSet, MaxBlastRadius
from microseg.model.netpol import Direction, NetworkPolicy
from microseg.model.podspec import WorkloadObject
from microseg.model.sets import Protocol

__all__ = [
    "IntentMemo",
    "intent_findings",
    "intent_state_findings",
    "isolating_policies",
    "isolation_findings",
]


def isolating_policies(
    policies: tuple[NetworkPolicy, ...], namespace: str, labels: Mapping[str, str]
) -> list[str]:
    """The NetworkPolicies that isolate pods with `labels` in `namespace` for ingress."""
    return [
        p.ref
        for p in policies
        if p.namespace == namespace
        and p.affects(Direction.INGRESS)
        and p.pod_selector.matches(labels)
    ]


@dataclass(frozen=True, slots=True)
class NamespaceFacts:
    """What pod reviews read of a namespace in the snapshot: its NetworkPolicies with
    Ingress in their types (those selecting every pod first, since they decide at once),
    and the label keys its policies select pods by (pods.segmentation_keys)."""

    ingress: tuple[NetworkPolicy, ...]
    keys: tuple[str, ...]


def isolation_findings(
    rule: Rule, obj: WorkloadObject, ingress: tuple[NetworkPolicy, ...]
) -> list[Finding]:
    """`ingress`: the Ingress-typed NetworkPolicies of the object's namespace."""
    who = f"{obj.namespace}/{obj.name}[{obj.kind}]"
    if obj.pod.host_network is True:
        return [
            finding(
                rule,
                "hostNetwork",
                f"{who} uses the host network: NetworkPolicies do not select host-network "
                "pods, so it cannot be isolated for ingress",
                obj.pod.spec_field("hostNetwork"),
            )
        ]
    labels = obj.pod.labels
    if any(p.pod_selector.matches(labels) for p in ingress):
        return []
    shown = ", ".join(f"{k}={v}" for k, v in obj.pod.labels.items()) or "no labels"
    return [
        finding(
            rule,
            "notIsolated",
            f"{who} would not be isolated for ingress: no NetworkPolicy in namespace "
            f"{obj.namespace} selects its pods ({shown}) with policyTypes Ingress; add the "
            "namespace's default deny (podSelector: {}, policyTypes: [Ingress]) or a policy "
            "of its own",
            obj.pod.meta_field("labels"),
        )
    ]


# ---------------------------------------------------------------- intents

_WIDEN = "#beyond-ports"


def _complement(ports: tuple[IntentPort, ...]) -> tuple[IntentPort, ...] | None:
    """Every numeric port outside `ports`, per protocol; None when a named port makes the
    complement unknowable, () when `ports` cover everything."""
    if any(p.name for p in ports):
        return None
    out = []
    for proto in (Protocol.TCP, Protocol.UDP, Protocol.SCTP):
        taken = sorted((p.start, p.end) for p in ports if p.protocol is proto)
        at = 1
        for lo, hi in taken:
            if lo > at:
                out.append(IntentPort(proto, at, lo - 1))
            at = max(at, hi + 1)
        if at <= 65535:
            out.append(IntentPort(proto, at, 65535))
    return tuple(out)


def _augmented(intents: IntentSet) -> IntentSet:
    """The intents plus, for each allow with numeric ports, a deny on the other ports."""
    extra = []
    for f in intents.allows:
        if not f.ports:
            continue
        others = _complement(f.ports)
        if others:
            extra.append(
                FlowIntent(
                    FlowKind.DENY, f.intent + _WIDEN, f.index, f.src, f.dst, others, f.origin
                )
            )
    return replace(intents, flows=(*intents.flows, *extra))


def _facts(policies: list[NetworkPolicy]) -> NamespaceFacts:
    ingress = sorted(
        (p for p in policies if p.affects(Direction.INGRESS)),
        key=lambda p: not p.pod_selector.is_empty(),
    )
    return NamespaceFacts(tuple(ingress), tuple(segmentation_keys(policies)))


_NO_FACTS = NamespaceFacts((), ())


def _skeleton(conn: Connectivity, edges: bool) -> WorkloadGraph:
    """The workload graph verify needs: its nodes only (cheap, and the same after a policy
    change) unless an expectation walks the edges (maxBlastRadius)."""
    if edges:
        return WorkloadGraph.build(conn)
    names, owners, node_class, split, _ = workload_nodes(conn)
    empty = np.zeros(0, dtype=np.int64)
    return WorkloadGraph(
        tuple(names),
        tuple(owners),
        np.array(node_class, dtype=np.int64),
        tuple(split),
        empty,
        empty,
        empty,
        (),
        (),
    )


def _verify(conn: Connectivity, intents: IntentSet) -> VerificationReport:
    edges = any(isinstance(e, MaxBlastRadius) for e in intents.expectations)
    return verify(conn, intents, _skeleton(conn, edges))


@dataclass(slots=True)
class IntentMemo:
    """What reviews on one snapshot share: the intents' verdicts (so they are verified once)
    and the NetworkPolicies by namespace (so a pod review reads only its namespace's). A
    cache only: the answers are the same without it."""

    conn: Connectivity | None = None
    reports: dict[str, VerificationReport] = field(default_factory=dict)
    cluster: Cluster | None = None
    by_namespace: dict[str, NamespaceFacts] = field(default_factory=dict)

    def namespace(self, cluster: Cluster, namespace: str) -> NamespaceFacts:
        if self.cluster is not cluster:
            grouped: dict[str, list[NetworkPolicy]] = {}
            for p in cluster.policies:
                grouped.setdefault(p.namespace, []).append(p)
            self.cluster = cluster
            self.by_namespace = {ns: _facts(ps) for ns, ps in grouped.items()}
        return self.by_namespace.get(namespace) or _NO_FACTS

    def report(self, conn: Connectivity, rule: IntentsRule, key: str) -> VerificationReport:
        if self.conn is not conn:
            self.conn, self.reports = conn, {}
        hit = self.reports.get(key)
        if hit is None:
            hit = self.reports[key] = _verify(conn, _augmented(rule.intents))
        return hit


def _same_rows(a: IntentFinding, b: IntentFinding) -> bool:
    keys_a = [(r.src, r.dst, r.conns) for r in a.rows]
    keys_b = [(r.src, r.dst, r.conns) for r in b.rows]
    return a.total == b.total and all(k in keys_b for k in keys_a)


def _from_intent(rule: Rule, f: IntentFinding, control: str, message: str) -> Finding:
    """A guardrail finding located at the intent, carrying verify's evidence."""
    return replace(
        finding(rule, control, message),
        origin=f.origin,
        details=f.details,
        rows=f.rows,
        total=f.total,
        related=f.related,
        decision=f.decision,
    )


def intent_findings(
    rule: Rule,
    check: IntentsRule,
    before: Connectivity,
    change: Change,
    memo: IntentMemo | None = None,
) -> tuple[list[Finding], Connectivity]:
    """What `change` does to the intents, and the snapshot after it."""
    after = before.apply(change)
    key = rule.name
    old = (memo or IntentMemo()).report(before, check, key)
    new = _verify(after, _augmented(check.intents))
    was = {f.id: f for f in old.findings}
    out = []
    for f in new.findings:
        prior = was.get(f.id)
        if f.holds:
            continue
        if _WIDEN in f.id:
            if prior is not None and not prior.holds and _same_rows(prior, f):
                continue
            allow = f.id.replace(_WIDEN, "").replace("/deny[", "/allow[")
            message = (
                f"{allow} ({f.description.replace('must not reach', 'may reach')} only): the "
                f"change opens connections beyond those ports for {f.total} pair"
                f"{'s' if f.total != 1 else ''}"
            )
            out.append(_from_intent(rule, f, "allowWidened", message))
            continue
        if prior is not None and not prior.holds:
            continue  # already violated: not this change's doing
        message = f"{f.id} ({f.description}) would no longer hold: {f.message}"
        out.append(_from_intent(rule, f, f"{f.kind}Broken", message))
    return out, after


def intent_state_findings(rule: Rule, check: IntentsRule, conn: Connectivity) -> list[Finding]:
    """The intents on a whole snapshot (`microseg check` on manifests): every violation."""
    report = _verify(conn, check.intents)
    return [
        _from_intent(rule, f, f"{f.kind}Violated", f"{f.id} ({f.description}): {f.message}")
        for f in report.violations
    ]
