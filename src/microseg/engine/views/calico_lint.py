"""Facts about Calico's tiers for `lint`: rules that match nothing, rules never reached
(everything they match is decided before them), and rules and policies whose removal
changes no connectivity.

Every fact is exact over the index: a rule is *shadowed* when, on every (endpoint, peer,
port atom) cell it matches, a tier above it (an Allow, a Deny, or a tier's end Deny) or an
earlier rule of its own tier (Pass included) has already decided; it is *redundant* when
the tables rebuilt without it allow exactly what they allow with it, over both directions
(connectivity is the source's egress and the destination's ingress together). Only the
rows the rule or policy applies to are rebuilt (engine/index/calico_compile.py `stack`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from microseg.engine.assembly import Index
from microseg.engine.index.calico_compile import CalicoCompiler, Policy
from microseg.engine.index.firstmatch import FirstMatchTier
from microseg.engine.index.packed import Bits, full_word
from microseg.engine.index.tables import DirectionTable, Selection
from microseg.model.admin import AdminRule
from microseg.model.calico import CalicoAction, CalicoPolicy, CalicoRule
from microseg.model.netpol import Direction, NetworkPolicy

__all__ = ["CalicoPolicyFact", "CalicoRuleFact", "calico_lint_facts"]

Rows = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class CalicoRuleFact:
    policy: Policy
    direction: Direction
    index: int
    tier: str
    empty: bool = False
    """The rule's own side or its peer side matches nothing."""
    shadowed: bool = False
    redundant: bool = False


@dataclass(frozen=True, slots=True)
class CalicoPolicyFact:
    policy: Policy
    tier: str
    selects_nothing: bool = False
    redundant: bool = False


def _rows(cc: CalicoCompiler, p: Policy) -> npt.NDArray[np.bool_]:
    if isinstance(p, CalicoPolicy):
        return cc.subjects(p)
    if isinstance(p, NetworkPolicy):
        return cc.rc.policy_targets(p)
    return cc.rc.subject_targets(p.subject)


def _applies(p: Policy, d: Direction) -> bool:
    if isinstance(p, CalicoPolicy):
        return d in p.types
    if isinstance(p, NetworkPolicy):
        return p.affects(d)
    return bool(p.rules(d))


def _without(p: Policy, d: Direction, index: int) -> Policy:
    field = "ingress" if d is Direction.INGRESS else "egress"
    kept = tuple(r for r in p.rules(d) if r.index != index)
    return replace(p, **{field: kept})  # type: ignore[arg-type]


class _Checker:
    def __init__(self, conn: Index) -> None:
        assert conn.calico is not None
        self.conn = conn
        self.cc = conn.calico

    def _table(self, d: Direction) -> DirectionTable:
        return self.conn.ingress if d is Direction.INGRESS else self.conn.egress

    def changes(self, d: Direction, rows: Rows, stack: tuple[FirstMatchTier, ...]) -> bool:
        """Whether the connectivity of `rows` (endpoints of direction `d`) differs under
        `stack`: the changed direction's cells, combined with the other direction's."""
        table = self._table(d)
        old = table.block(rows, None)
        new = replace(table, calico=stack, _cache={}).block(rows, None)
        if np.array_equal(old, new):
            return False
        c = self.conn.n_classes
        other = self._table(Direction.EGRESS if d is Direction.INGRESS else Direction.INGRESS)
        theirs = other.block(None, rows).transpose(1, 0, 2)  # [rows, classes, words]
        if not np.array_equal(old[:, :c] & theirs, new[:, :c] & theirs):
            return True
        return not np.array_equal(old[:, c:], new[:, c:])

    def reached(self, p: Policy, d: Direction, index: int, rows: Rows, peers: Rows) -> bool:
        """Whether some cell the rule matches is still undecided when it is reached."""
        cc, rc = self.cc, self.cc.rc
        r_sel, c_sel = Selection(rows, cc.n_classes), Selection(peers, cc.n_peers)
        everything = full_word(len(cc.ports))
        decided: Bits = np.zeros((len(rows), len(peers), rc.n_words), dtype=np.uint64)
        for tier in cc.stack(d, stop=(p, index)):
            packed = tier.packed(rc, cc.n_classes, d, r_sel, c_sel, rc.n_words, everything)
            if packed is not None:
                decided[packed.rows] |= packed.allow | packed.deny
        words = self._rule_words(p, d, index, rows, peers)
        return bool((words & ~decided).any())

    def _rule_words(self, p: Policy, d: Direction, index: int, rows: Rows, peers: Rows) -> Bits:
        cc = self.cc
        rule = next(r for r in p.rules(d) if r.index == index)
        if isinstance(rule, CalicoRule):
            match = cc.port_match(cc.rule_ports(rule))
        else:
            match = cc.k8s_ports(rule.ports)
        return np.broadcast_to(
            match.words(cc.rc, cc.n_classes, d, rows, peers),
            (len(rows), len(peers), cc.rc.n_words),
        )

    def cells(self, p: Policy, d: Direction, index: int) -> tuple[Rows, Rows]:
        cc = self.cc
        rule = next(r for r in p.rules(d) if r.index == index)
        if isinstance(rule, CalicoRule):
            assert isinstance(p, CalicoPolicy)
            rows, peers = cc.rule_cells(rule, p.namespace, cc.subjects(p))
            return np.flatnonzero(rows), np.flatnonzero(peers)
        return np.flatnonzero(_rows(cc, p)), cc.rc.peer_index(rule.peers)


def calico_lint_facts(
    conn: Index,
) -> tuple[tuple[CalicoRuleFact, ...], tuple[CalicoPolicyFact, ...]]:
    """Facts for every policy in Calico's tiers (enforced ones; staged policies change
    nothing), in tier order."""
    check = _Checker(conn)
    cc = check.cc
    rule_facts: list[CalicoRuleFact] = []
    policy_facts: list[CalicoPolicyFact] = []
    for plan in cc.plans:
        for m in plan.members:
            p = m.policy
            subjects = _rows(cc, p)
            tier = plan.tier.name
            if not subjects.any():
                policy_facts.append(CalicoPolicyFact(p, tier, selects_nothing=True))
                continue
            rows = np.flatnonzero(subjects)
            directions = [d for d in Direction if _applies(p, d)]
            redundant = all(
                not check.changes(d, rows, cc.stack(d, swap=(p, None))) for d in directions
            )
            policy_facts.append(CalicoPolicyFact(p, tier, redundant=redundant))
            if redundant:
                continue
            for d in directions:
                for rule in p.rules(d):
                    if isinstance(p, CalicoPolicy) and (
                        rule.action is CalicoAction.LOG or rule.http is not None  # type: ignore[union-attr]
                    ):
                        continue  # decides nothing in the tables (a record, an L7 condition)
                    if isinstance(p, CalicoPolicy) and not cc.rule_applies(rule):  # type: ignore[arg-type]
                        # source ports no client connection has (calico_ports.py)
                        rule_facts.append(CalicoRuleFact(p, d, rule.index, tier, empty=True))
                        continue
                    if isinstance(rule, AdminRule) and rule.domain_names:
                        continue
                    r, q = check.cells(p, d, rule.index)
                    if not len(r) or not len(q):
                        rule_facts.append(CalicoRuleFact(p, d, rule.index, tier, empty=True))
                        continue
                    if not check.reached(p, d, rule.index, r, q):
                        rule_facts.append(CalicoRuleFact(p, d, rule.index, tier, shadowed=True))
                        continue
                    stack = cc.stack(d, swap=(p, _without(p, d, rule.index)))
                    if not check.changes(d, r, stack):
                        rule_facts.append(CalicoRuleFact(p, d, rule.index, tier, redundant=True))
    return tuple(rule_facts), tuple(policy_facts)
