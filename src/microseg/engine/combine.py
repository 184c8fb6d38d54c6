"""The tier order, written once: which tier's verdict stands for each port atom.

Sources: the network-policy-api AdminNetworkPolicy and BaselineAdminNetworkPolicy
reference (network-policy-api.sigs.k8s.io/reference/spec/) and the Kubernetes
NetworkPolicy reference (kubernetes.io/docs/concepts/services-networking/network-policies/).
Per direction and per port atom, tiers are asked from the top down:

1. Admin tier (ANP, CNP tier Admin): the first matching rule decides. Allow and Deny are
   final; Pass, or no match, hands the atom to the tier below.
2. NetworkPolicy, an *isolating* tier: when some NetworkPolicy of the direction selects
   the endpoint it decides every atom that reaches it: allowed where one of its rules
   allows, denied elsewhere. Tiers below it are then never asked.
3. Baseline tier (BANP, CNP tier Baseline): first match decides; a Pass or no match falls
   to the default.
4. Default: allow.

Any number of first-match tiers fit above or below the isolating one (Calico's ordered
tiers with Pass are first-match tiers whose end-of-tier action is a Deny for the endpoints
they select: `close_tier`). Each tier is given as what it decides, and this module alone
says how decisions stack, in three forms with one meaning:

- packed port words (`stack_packed`), for the allow tables (engine/index/tables.py);
- first-match codes per cell (`stack_codes`), for lint's tables without one rule;
- connection sets (`TierWalk`), for explanations, one query at a time.

The reference evaluator (engine/spec/netpol.py) keeps its own reading of the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from microseg.model.admin import Action
from microseg.model.sets import ConnSet

__all__ = [
    "ALLOW",
    "CODE_OF",
    "DENY",
    "NO_MATCH",
    "PASS",
    "Code",
    "PackedTier",
    "TierWalk",
    "close_tier",
    "fallthrough",
    "hands_down",
    "over_codes",
    "over_packed",
    "stack_codes",
    "stack_packed",
    "walk_tiers",
]


class Code(IntEnum):
    """A first-match tier's answer for one cell and atom. NO_MATCH and PASS both hand the
    atom down; they differ only in what explanations say."""

    NO_MATCH = 0
    ALLOW = 1
    DENY = 2
    PASS = 3


NO_MATCH, ALLOW, DENY, PASS = Code.NO_MATCH, Code.ALLOW, Code.DENY, Code.PASS
CODE_OF = {Action.ALLOW: ALLOW, Action.DENY: DENY, Action.PASS: PASS}

Bits = npt.NDArray[np.uint64]  # port atoms packed into words (engine/index/packed.py)
Mask = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]
Index = npt.NDArray[np.intp]


# -- packed port words -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PackedTier:
    """What one first-match tier decides over some rows of a block: `rows` are positions
    in the block, `allow` and `deny` (disjoint) the atoms its first matching rule allows or
    denies there. Atoms in neither passed or matched nothing."""

    rows: Index
    allow: Bits
    deny: Bits


def _over(below: Bits, tier: PackedTier) -> Bits:
    """A tier over what lies below it: its decisions stand, the rest is the lower answer."""
    return (below & ~tier.deny) | tier.allow


def over_packed(table: Bits, tier: PackedTier) -> None:
    """One first-match tier laid over what lies below it, in place: its decisions stand
    on its rows, the rest keeps the lower answer. Calling it for each tier from the
    bottom up over the default's words stacks a tier list (Calico's: every tier is a
    first-match tier, engine/index/calico_compile.py)."""
    table[tier.rows] = _over(table[tier.rows], tier)


def stack_packed(
    table: Bits,
    isolated: Mask,
    above: Sequence[PackedTier],
    below: Sequence[PackedTier],
    everything: Bits,
) -> None:
    """The final allow words of a block, in place.

    `table[rows, cols, words]` holds on entry what the isolating tier (NetworkPolicy)
    allows; `isolated[rows]` where it isolates. `above` and `below` are the first-match
    tiers over and under it, each top first; `everything` is the default's word."""
    table[~isolated] = everything
    for tier in reversed(below):
        open_ = ~isolated[tier.rows]  # an isolating tier above decides these rows whole
        rows = tier.rows[open_]
        table[rows] = _over(table[rows], PackedTier(rows, tier.allow[open_], tier.deny[open_]))
    for tier in reversed(above):
        table[tier.rows] = _over(table[tier.rows], tier)


# -- first-match codes -------------------------------------------------------------------
def hands_down(codes: Codes) -> Mask:
    """Where a first-match tier leaves the verdict to the tiers below it."""
    down: Mask = (codes == NO_MATCH) | (codes == PASS)
    return down


def over_codes(codes: Codes, below: Mask | np.bool_) -> Mask:
    """A first-match tier's codes over the allow mask of what lies below it."""
    decided: Mask = (codes == ALLOW) | (hands_down(codes) & below)
    return decided


def fallthrough(isolated: Mask, isolating_allow: Mask, below: Sequence[Codes]) -> Mask:
    """What the tiers above the isolating one hand their undecided cells to: the isolating
    tier's allow mask on the rows it isolates (`isolated[rows]`), elsewhere the tiers
    below it (top first) over the default."""
    acc: Mask | None = None  # the default: everything allowed
    for codes in reversed(below):
        acc = (codes != DENY) if acc is None else over_codes(codes, acc)
    if acc is None:
        acc = np.ones(isolating_allow.shape, dtype=np.bool_)
    out: Mask = np.where(isolated[:, None, None], isolating_allow, acc)
    return out


def stack_codes(
    above: Sequence[Codes], isolated: Mask, isolating_allow: Mask, below: Sequence[Codes]
) -> Mask:
    """The allow mask of cells `[rows, cols, atoms]`, from each first-match tier's codes
    (top first) and the isolating tier's allow mask."""
    acc = fallthrough(isolated, isolating_allow, below)
    for codes in reversed(above):
        acc = over_codes(codes, acc)
    return acc


def close_tier(codes: Codes, selected: Mask, end: Code) -> Codes:
    """A tier's codes with its end-of-tier action on the rows it selects: cells no rule
    matched get `end` there (Calico: a tier that selects an endpoint and has no matching
    rule ends in its defaultAction, Deny unless Pass)."""
    out = codes.copy()
    out[(out == NO_MATCH) & selected[:, None, None]] = end
    return out


# -- connection sets, for explanations -------------------------------------------------
_ALL = ConnSet.all()
_NONE = ConnSet.none()


# Set algebra with the trivial cases answered first. ConnSet is canonical (sets.py), so
# these return what the full operation would; they matter because most queries combine a
# rule's ports with "everything still undecided" or "nothing allowed yet", and the general
# operation walks every protocol's intervals (B4: about a third of a query's time).
def meet(a: ConnSet, b: ConnSet) -> ConnSet:
    if not a or not b:
        return _NONE
    if b == _ALL:
        return a
    if a == _ALL:
        return b
    return a & b


def join(a: ConnSet, b: ConnSet) -> ConnSet:
    if not a:
        return b
    if not b:
        return a
    return a | b


def minus(a: ConnSet, b: ConnSet) -> ConnSet:
    if not a or not b:
        return a
    if b == _ALL:
        return _NONE
    return a - b


@dataclass(slots=True)
class TierWalk:
    """One query's walk down the tiers: what is still undecided, what is allowed so far,
    and whether an isolating tier has spoken (then no lower tier is asked)."""

    undecided: ConnSet = _ALL
    allowed: ConnSet = _NONE
    isolated: bool = False
    tier_open: ConnSet = _ALL
    """What the current first-match tier may still decide."""

    def start_first_match(self) -> None:
        """A first-match tier begins: its rules see what no tier above decided."""
        self.tier_open = self.undecided

    def first_match(self, rule_conns: ConnSet, code: Code) -> ConnSet:
        """The part of a rule's connections it decides in its tier (the first match), and
        its effect: Allow and Deny are final, Pass hands the part to the tier below."""
        part = meet(rule_conns, self.tier_open)
        if not part:
            return part
        self.tier_open = minus(self.tier_open, part)
        if code is not PASS:
            self.undecided = minus(self.undecided, part)
            if code is ALLOW:
                self.allowed = join(self.allowed, part)
        return part

    def isolating_allow(self, rule_conns: ConnSet) -> ConnSet:
        """The part of an isolating tier's allow rule that reaches it (rules of this tier
        add up: every one that matches is a reason)."""
        return meet(rule_conns, self.undecided)

    def isolate(self, allowed: ConnSet) -> ConnSet:
        """The isolating tier decides all that reached it: `allowed` is allowed, the rest
        denied (returned). Lower tiers are not asked after this."""
        denied = minus(self.undecided, allowed)
        self.allowed = join(self.allowed, allowed)
        self.undecided = _NONE
        self.isolated = True
        return denied

    def default(self) -> ConnSet:
        """What the default allows: all that no tier decided."""
        rest = self.undecided
        self.allowed = join(self.allowed, rest)
        self.undecided = _NONE
        return rest


TierStep = Callable[[TierWalk], None]


def walk_tiers(
    above: Sequence[TierStep],
    isolating: Callable[[TierWalk], bool],
    below: Sequence[TierStep],
    default: Callable[[ConnSet], None],
) -> TierWalk:
    """One query down the tiers in order: the first-match tiers above, the isolating tier
    (which says whether it isolates the endpoint), then, only if it did not, the tiers
    below and the default, which gets what is left (possibly nothing)."""
    walk = TierWalk()
    for tier in above:
        walk.start_first_match()
        tier(walk)
    if isolating(walk):
        return walk
    for tier in below:
        walk.start_first_match()
        tier(walk)
    default(walk.default())
    return walk
