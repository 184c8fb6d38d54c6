"""`lint` on an input with Calico objects: every policy sits in Calico's ordered tiers
(Kubernetes NetworkPolicies in the default tier, admin policies in theirs), so the
findings come from the engine's facts over those tiers (engine calico_lint_facts), with the
codes of analyses/lint.py:

- ML003: a policy that selects no endpoint (its rules are not examined);
- ML002: a policy whose removal changes no connectivity (its rules are not listed);
- ML004: a rule whose own side or peer side matches nothing;
- ML005: a rule never reached: on every cell it matches, a tier above it or an earlier
  rule of its tier (a Pass included) has decided;
- ML001: a rule whose removal changes no connectivity.
"""

from __future__ import annotations

from microseg.analyses.lint import Finding, LintReport
from microseg.engine import Connectivity, calico_lint_facts
from microseg.errors import Origin
from microseg.model.admin import AdminPolicy
from microseg.model.calico import CalicoPolicy
from microseg.model.netpol import Direction, NetworkPolicy

__all__ = ["lint_calico"]

Policy = CalicoPolicy | NetworkPolicy | AdminPolicy


def _label(p: Policy) -> str:
    if isinstance(p, NetworkPolicy):
        return f"NP {p.ref}"
    if isinstance(p, AdminPolicy):
        return f"{p.short_kind} {p.name}"
    return f"{p.short_kind} {p.ref}"


def _rule_origin(p: Policy, d: Direction, index: int) -> Origin:
    rule = next(r for r in p.rules(d) if r.index == index)
    return rule.origin


def lint_calico(conn: Connectivity) -> LintReport:
    rules, policies = calico_lint_facts(conn)
    out: list[Finding] = []
    for pf in policies:
        name = _label(pf.policy)
        if pf.selects_nothing:
            out.append(
                Finding(
                    "ML003",
                    f"{name} (tier {pf.tier}) selects no endpoint of the input",
                    name,
                    pf.policy.origin,
                    "spec.selector",
                )
            )
        elif pf.redundant:
            out.append(
                Finding(
                    "ML002",
                    f"removing {name} (tier {pf.tier}) changes no connectivity",
                    name,
                    pf.policy.origin,
                )
            )
    for rf in rules:
        name = _label(rf.policy)
        field = f"spec.{rf.direction.value.lower()}[{rf.index}]"
        rule = f"{rf.direction.value.lower()} rule {rf.index} of {name}"
        origin = _rule_origin(rf.policy, rf.direction, rf.index)
        if rf.empty:
            code, text = (
                "ML004",
                f"{rule} matches nothing: its source or destination selects no endpoint or address",
            )
        elif rf.shadowed:
            code, text = (
                "ML005",
                f"{rule} is never reached: tiers above it and earlier rules of tier "
                f"{rf.tier} decide everything it matches",
            )
        else:
            code, text = "ML001", f"removing {rule} changes no connectivity"
        out.append(Finding(code, text, name, origin, field, rf.index, rf.direction))
    findings = sorted(out, key=lambda f: (f.origin.file, f.origin.line or 0, f.field, f.code))
    members = [p for plan_policies in (policies,) for p in plan_policies]
    n_rules = sum(len(pf.policy.ingress) + len(pf.policy.egress) for pf in members)
    return LintReport(tuple(findings), len(members), n_rules)
