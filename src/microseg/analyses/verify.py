"""`verify`: check segmentation intents against the engine, and say why each one fails.

Every check works over pod classes and the refined atoms of `space.Space` with numpy; only
offending pairs are expanded to workload names, and only up to `MAX_ROWS` per intent.

Semantics (docs/intents.md):
- allow A -> B on P holds when every endpoint of A reaches every endpoint of B, other than
  itself, on all of P (no ports: All Connections). A named port must be a container port of
  each destination; an external destination has none.
- deny A -> B on P holds when no endpoint of A reaches any endpoint of B on any of P.
- Endpoints are WorkloadGraph nodes and external addresses; flows between two external
  addresses are not the cluster's business (no policy of the cluster applies) and are not
  checked. Traffic of a pod to itself is never subject to policy and is not checked, but an
  endpoint standing for several pods (two pods, or a template for its replicas: the rule of
  lint_tables.pods_that_count) pairs with itself, since policy applies between its pods.
- An empty group (a workload missing from the input, a selector that matches nothing) makes
  every intent that uses it a violation: a silent pass would hide a typo.
- A strict domain holds when every allowed connection entering, leaving or inside it (between
  two distinct endpoints, one of them a member) is covered by an allow intent whose `from`
  holds the source and whose `to` holds the destination, on those ports.
- defaultDeny: every pod of the group is isolated for ingress and for egress, as the
  NetworkPolicy API reference defines isolation (some NetworkPolicy of that type selects it).
- noInternetEgress: no pod of the group reaches any public address on any port.
- maxBlastRadius: at most `atMost` workloads are reachable from the group within `hops`; from
  addresses (`internet`, a CIDR group), from the workloads they may connect to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from microseg.analyses.blast import blast_radius, exposed_sources
from microseg.analyses.groups import GroupResolver, Members
from microseg.analyses.space import Space
from microseg.analyses.verify_flows import FlowChecker, FlowRow, Outcome, node_multi
from microseg.engine import Connectivity, Decision, WorkloadGraph
from microseg.errors import Origin
from microseg.model.addresses import PUBLIC
from microseg.model.intent import (
    INTERNET_GROUP,
    DefaultDeny,
    Domain,
    Expectation,
    FlowIntent,
    FlowKind,
    IntentSet,
    MaxBlastRadius,
    NoInternetEgress,
)

__all__ = ["Finding", "FlowRow", "VerificationReport", "verify"]


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one intent. `rows` are the offending flows (at most MAX_ROWS of
    `total`), `decision` explains the first one, `related` are the responsible policies."""

    id: str
    kind: str
    description: str
    origin: Origin
    holds: bool
    message: str = ""
    rows: tuple[FlowRow, ...] = ()
    total: int = 0
    decision: Decision | None = None
    related: tuple[Origin, ...] = ()
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerificationReport:
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.holds)

    @property
    def ok(self) -> bool:
        return not self.violations


def verify(
    conn: Connectivity, intents: IntentSet, graph: WorkloadGraph | None = None
) -> VerificationReport:
    if graph is None:
        # Only maxBlastRadius walks edges; every other check reads the nodes alone.
        blast = any(isinstance(e, MaxBlastRadius) for e in intents.expectations)
        graph = WorkloadGraph.build(conn) if blast else WorkloadGraph.nodes_only(conn)
    resolver = GroupResolver.build(conn, graph)
    names = {g.name for g in intents.groups}
    used = sorted(
        {f.src for f in intents.flows}
        | {f.dst for f in intents.flows}
        | {m for d in intents.domains for m in d.members}
        | {e.src if isinstance(e, MaxBlastRadius) else e.group for e in intents.expectations}
    )
    members = {n: resolver.resolve(n, intents.group(n) if n in names else None) for n in used}
    notes = [f"group {n}: {note}" for n, m in members.items() for note in m.notes]
    ports = [p for f in intents.flows for p in f.ports]
    addresses = [m.addresses for n, m in members.items() if n != INTERNET_GROUP]
    v6 = any(a.v6 for a in addresses)
    space = Space.build(conn, ports, [*addresses, PUBLIC], v6=v6)
    checker = FlowChecker(space, graph, node_multi(space, graph, resolver.node_of_pod))
    findings: list[Finding] = []
    for flow in intents.flows:
        findings.append(_flow(checker, flow, members))
    for domain in intents.domains:
        findings.append(_domain(checker, domain, intents.allows, members))
    for exp in intents.expectations:
        findings.append(_expectation(checker, exp, members))
    return VerificationReport(tuple(findings), tuple(notes))


def _empty(group: Members) -> str:
    why = f" ({'; '.join(group.notes)})" if group.notes else ""
    return f"group {group.name} is empty{why}: nothing to verify, so the intent cannot hold"


def _finding(
    id: str, kind: str, description: str, origin: Origin, outcome: Outcome | None, message: str
) -> Finding:
    if outcome is None:
        return Finding(id, kind, description, origin, False, message)
    holds = not outcome.total
    return Finding(
        id,
        kind,
        description,
        origin,
        holds,
        message if not holds else "",
        outcome.rows,
        outcome.total,
        outcome.decision,
        outcome.related,
    )


def _flow(checker: FlowChecker, flow: FlowIntent, members: dict[str, Members]) -> Finding:
    src, dst = members[flow.src], members[flow.dst]
    kind = flow.kind.value
    for g in (src, dst):
        if g.empty():
            return _finding(flow.id, kind, flow.describe(), flow.origin, None, _empty(g))
    outcome = checker.flows(src, dst, flow.ports, must_allow=flow.kind is FlowKind.ALLOW)
    n = outcome.total
    pairs = f"{n} pair{'s' if n != 1 else ''}"
    if flow.kind is FlowKind.ALLOW:
        message = f"blocked for {pairs}: the connections shown are not allowed"
    else:
        message = f"allowed for {pairs}: the connections shown are open"
    return _finding(flow.id, kind, flow.describe(), flow.origin, outcome, message)


def _domain(
    checker: FlowChecker,
    domain: Domain,
    allows: tuple[FlowIntent, ...],
    members: dict[str, Members],
) -> Finding:
    inside = [members[m] for m in domain.members]
    for g in inside:
        if g.empty():
            return _finding(domain.id, "domain", domain.describe(), domain.origin, None, _empty(g))
    cover = [(members[a.src], members[a.dst], a.ports) for a in allows]
    outcome = checker.domain(inside, cover)
    message = (
        f"{outcome.total} flow{'s' if outcome.total != 1 else ''} in or out of {domain.name} "
        "that no allow intent covers (over-permission)"
    )
    return _finding(domain.id, "domain", domain.describe(), domain.origin, outcome, message)


def _expectation(checker: FlowChecker, exp: Expectation, members: dict[str, Members]) -> Finding:
    if isinstance(exp, DefaultDeny):
        return _default_deny(checker, exp, members[exp.group])
    if isinstance(exp, NoInternetEgress):
        return _no_internet(checker, exp, members[exp.group])
    return _blast(checker, exp, members[exp.src])


def _default_deny(checker: FlowChecker, exp: DefaultDeny, group: Members) -> Finding:
    kind = "defaultDeny"
    if group.empty() or not group.nodes.any():
        return _finding(exp.id, kind, exp.describe(), exp.origin, None, _empty(group))
    conn = checker.space.conn
    nodes = np.flatnonzero(group.nodes)
    cls = checker.graph.node_class[nodes]
    ing, eg = conn.ingress.isolated[cls], conn.egress.isolated[cls]
    details = []
    for i, node in enumerate(nodes.tolist()):
        open_ = [d for d, iso in (("ingress", ing[i]), ("egress", eg[i])) if not iso]
        if open_:
            details.append(f"{checker.graph.nodes[node]}: not isolated for {' and '.join(open_)}")
    holds = not details
    message = (
        f"{len(details)} of {len(nodes)} endpoint{'s' if len(nodes) != 1 else ''} not isolated "
        "in both directions (no NetworkPolicy of that type selects them)"
    )
    return Finding(
        exp.id,
        kind,
        exp.describe(),
        exp.origin,
        holds,
        "" if holds else message,
        total=len(details),
        details=tuple(details),
    )


def _no_internet(checker: FlowChecker, exp: NoInternetEgress, group: Members) -> Finding:
    kind = "noInternetEgress"
    if not group.nodes.any():
        return _finding(exp.id, kind, exp.describe(), exp.origin, None, _empty(group))
    internet = Members("internet", np.zeros(len(group.nodes), np.bool_), PUBLIC)
    outcome = checker.flows(group, internet, (), must_allow=False)
    message = f"{outcome.total} endpoint-range pair{'s' if outcome.total != 1 else ''} reach public addresses"
    return _finding(exp.id, kind, exp.describe(), exp.origin, outcome, message)


def _blast(checker: FlowChecker, exp: MaxBlastRadius, group: Members) -> Finding:
    kind = "maxBlastRadius"
    if group.empty():
        return _finding(exp.id, kind, exp.describe(), exp.origin, None, _empty(group))
    graph = checker.graph
    sources = np.flatnonzero(group.nodes).tolist()
    entry = ""
    if group.addresses:
        # Addresses hold no foothold themselves: start from the workloads they may connect
        # to, as `blast-radius --from internet|CIDR` does (analyses/blast.resolve_nodes);
        # for `internet`, with the workloads behind an Ingress or Route too.
        exposed = exposed_sources(
            checker.space.conn, graph, group.addresses, ingress=group.name == INTERNET_GROUP
        )
        sources = sorted({*sources, *exposed})
        k = len(sources)
        entry = f", starting from the {k} workload{'s' if k != 1 else ''} {group.name} may reach"
    radius = blast_radius(checker.space.conn, graph, sources, hops=exp.hops, explain=False)
    hits = sorted(radius.reachable, key=lambda h: (h.hops, str(h.workload)))
    details = tuple(
        f"{h.workload} at {h.hops} hop{'s' if h.hops != 1 else ''}: "
        + " -> ".join(str(p) for p in h.path)
        for h in hits
    )
    holds = len(hits) <= exp.at_most
    message = (
        f"{len(hits)} workloads reachable within {exp.hops} hops{entry}; "
        f"at most {exp.at_most} allowed"
    )
    return Finding(
        exp.id,
        kind,
        exp.describe(),
        exp.origin,
        holds,
        "" if holds else message,
        total=len(hits),
        details=details,
    )
