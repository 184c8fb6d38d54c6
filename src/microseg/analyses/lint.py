"""`lint`: facts about the policies that a person should look at, each with file and line.

| code  | name                   | what it says                                                  |
| ----- | ---------------------- | ------------------------------------------------------------- |
| ML001 | redundant-rule         | removing the rule alone changes no connectivity               |
| ML002 | redundant-policy       | removing the policy changes no connectivity                   |
| ML003 | selects-no-pod         | the policy's podSelector / subject selects no pod             |
| ML004 | peer-matches-nothing   | a from/to peer matches no pod, namespace or node of the input |
| ML005 | shadowed-admin-rule    | earlier admin/baseline rules decide everything the rule matches|
|       |                        | (with Calico objects: earlier rules and tiers, lint_calico.py)|
| ML006 | named-port-unresolved  | no pod the rule applies to has a container port of that name  |
| ML010-ML013 | Linkerd's Servers and authorizations (lint_linkerd.py)              |

Redundancy is the definition itself, decided exactly (lint_redundancy.py): "connectivity"
is every allowed (protocol, port) between two endpoints, and between an endpoint and every
external address. Each finding is about removing that one rule or policy alone: two rules
that duplicate each other are both reported, and removing both would change connectivity.

To say each thing once: a policy that selects no pod is ML003 (not ML002) and its rules are
not examined; the rules of a redundant policy are not listed again; an admin rule never
reached is ML005 rather than ML001; a rule all of whose peers match nothing is ML004 on
each peer rather than ML001; a rule all of whose ports are unresolved named ports is ML006
rather than ML001. Admin rules with `domainNames` peers get no redundancy finding: what
they match cannot be known statically (MS120).

Connectivity here is the network layer (NetworkPolicy and the guardrail tiers): what an
Istio AuthorizationPolicy denies on top is not taken into account, so a rule whose traffic
only the mesh blocks is not called redundant. The `{ingress-controller}` (when the input
has Ingress or Route objects) counts as an endpoint on every port, and a pod built from a
workload template as several replicas that may talk to each other.

A policy that selects no pod today may be meant for pods to come, and a peer likewise: lint
reports facts; the user decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.lint_linkerd import linkerd_findings
from microseg.analyses.lint_redundancy import OPEN, UNIQUE, Effects, PolicyKey, RuleKey, analyse
from microseg.analyses.lint_tables import DirectionContext, Index, port_block
from microseg.engine import Connectivity
from microseg.errors import Origin, Severity
from microseg.model.admin import AdminPolicy, AdminRule, AdminTier
from microseg.model.netpol import (
    Direction,
    NetworkPolicy,
    NodePeer,
    Peer,
    PodPeer,
    PortSpec,
    Rule,
)

__all__ = ["CODES", "Finding", "LintReport", "lint"]

CODES: dict[str, tuple[str, Severity]] = {
    "ML001": ("redundant-rule", Severity.WARNING),
    "ML002": ("redundant-policy", Severity.WARNING),
    "ML003": ("selects-no-pod", Severity.NOTICE),
    "ML004": ("peer-matches-nothing", Severity.NOTICE),
    "ML005": ("shadowed-admin-rule", Severity.WARNING),
    "ML006": ("named-port-unresolved", Severity.WARNING),
    "ML010": ("linkerd-server-no-pod", Severity.NOTICE),
    "ML011": ("linkerd-unused-authorization", Severity.WARNING),
    "ML012": ("linkerd-admits-everyone", Severity.WARNING),
    "ML013": ("linkerd-probe-unrouted", Severity.WARNING),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact. `policy` reads `NP shop/allow-api` or `ANP protect-payments`; `rule` is the
    rule's index in its direction, `field` the path of what the finding is about."""

    code: str
    message: str
    policy: str
    origin: Origin
    field: str = ""
    rule: int | None = None
    direction: Direction | None = None

    @property
    def name(self) -> str:
        return CODES[self.code][0]

    @property
    def severity(self) -> Severity:
        return CODES[self.code][1]


@dataclass(frozen=True, slots=True)
class LintReport:
    findings: tuple[Finding, ...]
    policies: int
    rules: int


def _label(policy: NetworkPolicy | AdminPolicy) -> str:
    if isinstance(policy, NetworkPolicy):
        return f"NP {policy.ref}"
    return f"{policy.short_kind} {policy.name}"


def _rule_field(direction: Direction, index: int) -> str:
    return f"spec.{direction.value.lower()}[{index}]"


def _peer_word(direction: Direction) -> str:
    return "from" if direction is Direction.INGRESS else "to"


def _ports(specs: tuple[PortSpec, ...]) -> str:
    return ",".join(
        f"{s.protocol.value}/{s.name or (s.start if s.start == s.end else f'{s.start}-{s.end}')}"
        for s in specs
    )


class _Linter:
    def __init__(self, conn: Connectivity) -> None:
        self.conn = conn
        # Whether an admin tier exists: ML002's wording names it only then.
        self.has_admin = any(p.tier is AdminTier.ADMIN for p in conn.cluster.admin_policies)
        self.rc = conn.rules
        self.cluster = conn.cluster
        self.contexts = {d: DirectionContext(conn, d) for d in Direction}
        self.effects: Effects = analyse(conn, contexts=self.contexts)
        self.out: list[Finding] = []

    def add(
        self,
        code: str,
        message: str,
        policy: NetworkPolicy | AdminPolicy,
        origin: Origin,
        field: str = "",
        rule: int | None = None,
        direction: Direction | None = None,
    ) -> None:
        self.out.append(Finding(code, message, _label(policy), origin, field, rule, direction))

    # -- peers and named ports -------------------------------------------------------
    def peer_note(self, peer: Peer) -> str | None:
        """Why a peer matches nothing, or None when it matches something."""
        if self.rc.peer_mask(peer).any():
            return None
        if isinstance(peer, PodPeer):
            if peer.namespace is not None:
                return (
                    f"no pod in namespace {peer.namespace} matches podSelector {peer.pod_selector}"
                )
            assert peer.namespace_selector is not None
            ns = self.rc.ns_labels.match(peer.namespace_selector)
            if not ns.any():
                return f"namespaceSelector {peer.namespace_selector} matches no namespace"
            return (
                f"no pod matches podSelector {peer.pod_selector} in the {int(ns.sum())} "
                f"namespace(s) namespaceSelector {peer.namespace_selector} matches"
            )
        if isinstance(peer, NodePeer):
            return f"nodeSelector {peer.selector} matches no Node address in the input"
        return f"ipBlock {peer.cidr} minus its excepts holds no address"

    def unresolved(self, specs: tuple[PortSpec, ...], where: Index, by_name: bool) -> list[str]:
        """Named ports that no class in `where` (class indices) resolves: `TCP/http`, or
        `http` when `by_name` (an admin namedPort matches the name whatever the protocol)."""
        names: dict[str, list[PortSpec]] = {}
        for s in specs:
            if s.name:
                names.setdefault(s.name if by_name else f"{s.protocol.value}/{s.name}", []).append(
                    s
                )
        out = []
        for key, group in names.items():
            if not any((self.rc.named_atoms(s.protocol, s.name)[where] >= 0).any() for s in group):
                out.append(key)
        return out

    def rule_checks(
        self,
        policy: NetworkPolicy | AdminPolicy,
        rule: Rule | AdminRule,
        direction: Direction,
        targets: Index,
    ) -> tuple[bool, bool]:
        """ML004 and ML006 for one rule (`targets`: the policy's, as class indices);
        returns (every peer dead, every port unresolved)."""
        field = _rule_field(direction, rule.index)
        word = _peer_word(direction)
        admin = isinstance(rule, AdminRule)
        dead = 0
        for j, peer in enumerate(rule.peers or ()):
            note = self.peer_note(peer)
            if note is None:
                continue
            dead += 1
            path = f"{field}.{word}" if admin else f"{field}.{word}[{j}]"
            message = f"{note}; the peer allows nothing"
            if _is_cluster_dns(peer):
                message += (
                    " (the cluster DNS pods are rarely in manifests: pass "
                    "--assume-system-pods to add them)"
                )
            self.add("ML004", message, policy, rule.origin, path, rule.index, direction)
        all_dead = bool(rule.peers) and dead == len(rule.peers or ())
        if not rule.ports or all_dead:
            return all_dead, False
        if direction is Direction.INGRESS:
            where = targets
        else:  # the peer classes: the rule's sorted peer columns below the addresses
            cols = self.contexts[direction].peers(rule)
            where = cols[: np.searchsorted(cols, self.rc.n_classes)]
        if not len(where):
            return all_dead, False
        missing = self.unresolved(rule.ports, where, admin)
        on = "the pods the policy selects" if direction is Direction.INGRESS else "the peer pods"
        for name in missing:
            self.add(
                "ML006",
                f"named port {name} is not a container port of any of {on}; it allows nothing",
                policy,
                rule.origin,
                f"{field}.ports",
                rule.index,
                direction,
            )
        keys = {s.name if admin else f"{s.protocol.value}/{s.name}" for s in rule.ports}
        every = all(s.name for s in rule.ports) and len(missing) == len(keys)
        return all_dead, every

    def iso_count(self, d: Direction) -> npt.NDArray[np.int64]:
        """Per class, how many NetworkPolicies isolate it in direction `d`."""
        counts: npt.NDArray[np.int64] = self.contexts[d].iso_count
        return counts

    # -- policies --------------------------------------------------------------------
    def netpol(self, i: int, policy: NetworkPolicy) -> None:
        # Class indices, not a mask: a mask per policy costs the classes each (50,000
        # policies over 30,000 classes), and the engine's memoised masks 1.5 GB.
        targets = self.rc.policy_target_index(policy)
        if not len(targets):
            self.add(
                "ML003",
                f"podSelector {policy.pod_selector} selects no pod in namespace "
                f"{policy.namespace}; the policy has no effect",
                policy,
                policy.origin,
                "spec.podSelector",
            )
            return
        whole = PolicyKey(False, i) not in self.effects.changed_policies
        if whole:
            alone = any((self.iso_count(d)[targets] == 1).any() for d in policy.policy_types)
            why = (
                "the pods only it isolates get the same from the baseline tier or the default"
                if alone
                else "every pod it selects is isolated by other policies too"
                + (
                    (
                        ", and what it allows is allowed by them or decided by the admin tier"
                        if self.has_admin
                        else ", and what it allows is allowed by them"
                    )
                    if policy.ingress or policy.egress
                    else ""
                )
            )
            self.add(
                "ML002",
                f"removing the policy changes no connectivity: {why}",
                policy,
                policy.origin,
            )
        for d in Direction:
            for pos, rule in enumerate(policy.rules(d)):
                dead, unresolved = self.rule_checks(policy, rule, d, targets)
                key = RuleKey(False, i, d, pos)
                if whole or dead or unresolved or key in self.effects.changed_rules:
                    continue
                flags = self.effects.np_flags.get(key, 0)
                if not flags & UNIQUE:
                    why = "every connection it allows is also allowed by other rules for the same pods"
                elif not flags & OPEN:
                    why = "what only it allows is decided first by admin-tier rules"
                else:
                    why = "what only it allows is blocked at the other end by that end's policies"
                self.add(
                    "ML001",
                    f"removing the rule changes no connectivity: {why}",
                    policy,
                    rule.origin,
                    _rule_field(d, rule.index),
                    rule.index,
                    d,
                )

    def admin(self, i: int, policy: AdminPolicy) -> None:
        targets = np.flatnonzero(self.rc.subject_targets(policy.subject))
        if not len(targets):
            self.add(
                "ML003",
                "subject selects no pod; the policy has no effect",
                policy,
                policy.origin,
                "spec.subject",
            )
            return
        whole = PolicyKey(True, i) not in self.effects.changed_policies
        if whole:
            self.add(
                "ML002",
                "removing the policy changes no connectivity: where its rules match first, "
                "the lower tiers decide the same",
                policy,
                policy.origin,
            )
        e = self.effects
        for d in Direction:
            rules = policy.rules(d)
            for pos, rule in enumerate(rules):
                dead, unresolved = self.rule_checks(policy, rule, d, targets)
                key = RuleKey(True, i, d, pos)
                if whole or dead or unresolved or rule.domain_names or key in e.changed_rules:
                    continue
                name = rule.name or f"rule {rule.index}"
                if key in e.nonempty and key not in e.reached:
                    self.add(
                        "ML005",
                        f"{name} is shadowed: higher-priority rules ({self.shadowers(i, d, pos)}) "
                        "match everything it matches first, so it never decides",
                        policy,
                        rule.origin,
                        _rule_field(d, rule.index),
                        rule.index,
                        d,
                    )
                    continue
                self.add(
                    "ML001",
                    f"removing {name} changes no connectivity: where it matches first, the "
                    "next matching rule or the lower tiers decide the same",
                    policy,
                    rule.origin,
                    _rule_field(d, rule.index),
                    rule.index,
                    d,
                )

    def shadowers(self, pi: int, d: Direction, pos: int, limit: int = 3) -> str:
        """The earlier rules of the same tier and direction whose matches overlap the rule's:
        blocks are built only over the rows and peers both rules share."""
        ctx = self.contexts[d]
        baseline = self.cluster.admin_policies[pi].tier is AdminTier.BASELINE
        tier = ctx.baseline if baseline else ctx.admin
        me = next(tr for tr in tier.rules if tr.policy == pi and tr.position == pos)
        names = []
        for tr in tier.rules[: me.uid]:
            rows = np.flatnonzero(tier.targets[tr.policy] & tier.targets[pi])
            cols = np.intersect1d(ctx.peers(tr.rule), ctx.peers(me.rule), assume_unique=True)
            if not len(rows) or not len(cols):
                continue
            theirs = port_block(self.rc, tr.rule.ports, d, rows, cols)
            if (theirs & port_block(self.rc, me.rule.ports, d, rows, cols)).any():
                p = self.cluster.admin_policies[tr.policy]
                names.append(f"{_label(p)}/{tr.rule.name or f'rule {tr.rule.index}'}")
        shown = ", ".join(names[:limit])
        return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def lint(conn: Connectivity) -> LintReport:
    """Every finding for the cluster behind `conn`, in input order (file, line)."""
    if conn.calico is not None:
        from microseg.analyses.lint_calico import lint_calico

        return lint_calico(conn)
    linter = _Linter(conn)
    for i, p in enumerate(conn.cluster.policies):
        linter.netpol(i, p)
    for i, ap in enumerate(conn.cluster.admin_policies):
        linter.admin(i, ap)
    for code, message, subject, origin, path in linkerd_findings(conn):
        linter.out.append(Finding(code, message, subject, origin, path))
    findings = sorted(
        linter.out,
        key=lambda f: (f.origin.file, f.origin.line or 0, f.field, f.code),
    )
    rules = sum(len(p.ingress) + len(p.egress) for p in conn.cluster.policies)
    rules += sum(len(p.ingress) + len(p.egress) for p in conn.cluster.admin_policies)
    policies = len(conn.cluster.policies) + len(conn.cluster.admin_policies)
    lk = conn.cluster.linkerd
    policies += len(lk.servers) + len(lk.server_authorizations) + len(lk.authorization_policies)
    return LintReport(tuple(findings), policies, rules)


_DNS_LABELS = {"k8s-app": "kube-dns", "kubernetes.io/metadata.name": "kube-system"}


def _is_cluster_dns(peer: Peer) -> bool:
    """A peer written for the cluster DNS (kube-system pods k8s-app=kube-dns), which
    application manifests do not carry; ML004 then points at --assume-system-pods."""
    if not isinstance(peer, PodPeer) or not peer.pod_selector.matches(_DNS_LABELS):
        return False
    if peer.namespace is not None:
        return peer.namespace == "kube-system"
    assert peer.namespace_selector is not None
    return peer.namespace_selector.matches(_DNS_LABELS)
