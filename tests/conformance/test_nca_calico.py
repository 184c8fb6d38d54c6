"""network-config-analyzer's calico_testcases: every query microseg can answer agrees with
NCA's expected number (tests/conformance/nca_calico.py says how each is answered); the
others are listed below with the reason, and a listed difference that starts agreeing
fails the test, so the list stays true."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from microseg.model.calico import CalicoPolicy
from microseg.model.netpol import Direction, NetworkPolicy
from tests.conformance.nca_calico import (
    Config,
    Scheme,
    Signature,
    captured,
    contained,
    equal,
    expected_maps,
    map_signature,
    meets,
    no_policies,
    policies_of,
    signature,
    without,
    without_self,
)

# Query kinds microseg does not answer, and why.
NOT_ANSWERED = {
    "semanticDiff": "NCA's diff output groups peers into firewall rules; `microseg diff` "
    "answers the question in netpol-analyzer's grammar",
    "allCaptured": "multi-layer (Istio, Ingress) configurations only",
}

# Configurations NCA loads and microseg refuses, with microseg's reason (Calico's own).
REFUSED = {
    "np_redundacy": "MS161: a selector with a stray quote (`unique-label == 'x''`), which "
    "Calico's tokenizer refuses (unterminated string); NCA's regular expressions accept it",
    "testcase26-config-1-k8s-calico-istio-ingress-2": "MS160: `namespaceSelector: {}`, a "
    "mapping where Calico expects a selector string",
}
REFUSED_TOPOLOGY = {
    "testcase15-with-ingress-scheme": "MS201: Services with named targetPorts that are not "
    "IANA service names (`my_wbs`, an underscore), which the API server refuses",
    "testcase26-multi-layer-connectivity-scheme": "Istio and Ingress layers",
}

# Schemes whose configurations mix Istio AuthorizationPolicies and Ingress objects into the
# Calico ones: NCA counts its Istio layer and Ingress gateway layer in the same queries
# (its "multi-layer" model), which microseg's mesh layer answers apart.
MULTI_LAYER = {"testcase26-multi-layer-policies": "Istio and Ingress layers mixed in"}

# (scheme, query) -> why microseg's number differs from NCA's, found by hand.
_TIES = (
    "policies without an order: Calico evaluates ties by name (Felix's policy sorter), NCA "
    "2.1.0 in input order; here `testcase15-enable-all-connections` sorts first and allows "
    "everything, so the whole configuration is vacuous in Calico"
)
_SOURCE_PORTS = (
    "a rule with source ports (`source.ports: [80:100]`, `151`): NCA models the client's "
    "source port; microseg takes it to be an ephemeral port (32768-60999, MS170), which such "
    "a rule never matches, so the two policies compared allow the same"
)
_PROFILES = (
    "NCA 2.1.0 reads only a Profile's labelsToApply (PoliciesFinder: 'not supporting "
    "profiles with rules') and lets every pod no policy captures reach and be reached; "
    "microseg applies the Profiles the input gives as Calico does, rules included, and "
    "these kns.* profiles have none, so their pods end in the profiles' deny"
)
DIFFERENT: dict[tuple[str, str], str] = {
    ("testcase18-scheme", "connectivity_map"): _TIES.split("; here")[0]
    + "; here the four kube-system policies have no order, and their names put "
    "`testcase18-equivTo-...` (which denies k8s-app sources) first",
    ("testcase19-scheme", "connectivity_map_with_labels_to_apply"): _PROFILES,
    ("testcase19-scheme", "sanity_np11-global-enable-with-label-to-apply"): _PROFILES
    + " (which makes the default-deny GlobalNetworkPolicy redundant, a finding NCA cannot see)",
    ("testcase15-scheme", "non_vacous_policies"): _TIES,  # the first of two of that name
    ("testcase15-scheme", "equiv_new_TCP-101-104-ver2"): _SOURCE_PORTS,
    ("testcase15-scheme", "non_equiv_1"): _SOURCE_PORTS,
    ("testcase24-scheme", "nonEquiv"): "Calico rewrites `global()` in a namespaceSelector as "
    "`!has(projectcalico.org/namespace)` and `all()` as `has(projectcalico.org/namespace)` "
    "(libcalico-go updateprocessors/rules.go), so `!( global() && all() )` matches every "
    "endpoint and set, the GlobalNetworkSet with role db5 included, and the two "
    "configurations are equivalent; NCA 2.1.0 leaves the global set out of the second",
}


def _root(corpus: Path) -> Path:
    root = corpus / "network-config-analyzer" / "calico_testcases" / "example_policies"
    if not root.is_dir():
        pytest.skip(f"no NCA Calico cases under {root}")
    return root


@dataclass
class Outcome:
    scheme: str
    query: str
    kind: str
    expected: int | None
    ours: int | None
    note: str = ""


class Answers:
    def __init__(self, scheme: Scheme) -> None:
        self.s = scheme
        self._all: dict[str, Signature] = {}
        self._explicit: dict[str, Signature] = {}

    def all(self, c: Config) -> Signature:
        if c.name not in self._all:
            self._all[c.name] = signature(c.conn)
        return self._all[c.name]

    def explicit(self, c: Config) -> Signature:
        if c.name not in self._explicit:
            self._explicit[c.name] = signature(c.conn, captured(c))
        return self._explicit[c.name]

    @staticmethod
    def same_policies(a: Config, b: Config) -> bool:
        assert a.cluster is not None
        assert b.cluster is not None

        # NCA compares the policies, once the topologies compare equal: a Profile's
        # labelsToApply changes the endpoints' labels, so profiles count here.
        def key(c: Config) -> set[str]:
            assert c.cluster is not None
            return set(map(repr, [*policies_of(c.cluster), *c.cluster.calico.profiles]))

        return key(a) == key(b)

    # -- pair queries --------------------------------------------------------------------
    def equivalence(self, names: list[str]) -> int:
        out = 0
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                ca, cb = self.s.config(a), self.s.config(b)
                if self.same_policies(ca, cb):
                    continue
                out += not equal(self.all(ca), self.all(cb))
        return out

    def twoWayContainment(self, names: list[str]) -> int:
        out = 0
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                ca, cb = self.s.config(a), self.s.config(b)
                if self.same_policies(ca, cb):
                    continue
                one, two = (
                    contained(self.all(ca), self.all(cb)),
                    contained(self.all(cb), self.all(ca)),
                )
                out += 3 if one and two else 2 if one else 1 if two else 0
        return out

    def _vs_base(self, names: list[str], f: Callable[[Config, Config], int]) -> int:
        base = self.s.config(names[0])
        return sum(f(self.s.config(n), base) for n in names[1:])

    def containment(self, names: list[str]) -> int:
        return self._vs_base(names, lambda c, b: int(contained(self.all(c), self.all(b))))

    def permits(self, names: list[str]) -> int:
        def one(c: Config, b: Config) -> int:
            if not policies_of(c.cluster):  # type: ignore[arg-type]
                return 0
            return int(not contained(self.explicit(c), self.all(b)))

        return self._vs_base(names, one)

    def forbids(self, names: list[str]) -> int:
        def one(c: Config, b: Config) -> int:
            if not policies_of(c.cluster):  # type: ignore[arg-type]
                return 0
            return int(meets(self.explicit(c), self.all(b)))

        return self._vs_base(names, one)

    def interferes(self, names: list[str]) -> int:
        def one(c: Config, b: Config) -> int:
            if self.same_policies(c, b):
                return 1
            return int(not contained(self.explicit(c), self.explicit(b)))

        return self._vs_base(names, one)

    def pairwiseInterferes(self, names: list[str]) -> int:
        out = 0
        for a in names:
            for b in names:
                if a != b:
                    ca, cb = self.s.config(a), self.s.config(b)
                    out += (
                        1
                        if self.same_policies(ca, cb)
                        else int(not contained(self.explicit(ca), self.explicit(cb)))
                    )
        return out

    # -- one-configuration queries -------------------------------------------------------
    def vacuity(self, names: list[str]) -> int:
        out = 0
        for n in names:
            c = self.s.config(n)
            assert c.cluster is not None
            empty = Config(n + "#none", c.files, no_policies(c.cluster))
            out += int(equal(self.all(c), signature(empty.conn)))
        return out

    def _selected(self, c: Config, p: object) -> np.ndarray:
        conn = c.conn
        if isinstance(p, CalicoPolicy):
            assert conn.calico is not None
            return conn.calico.subjects(p)
        if isinstance(p, NetworkPolicy):
            return conn.rules.policy_targets(p)
        from microseg.engine.index.calico_labels import pod_profiles

        return np.array(
            [bool(r.profiles) and pod_profiles(r)[0] == p.name for r in conn.classes.reps],  # type: ignore[attr-defined]
            dtype=np.bool_,
        )

    def emptiness(self, names: list[str]) -> int:
        out = 0
        for n in names:
            c = self.s.config(n)
            conn = c.conn
            assert conn.calico is not None
            assert c.cluster is not None
            for p in policies_of(c.cluster):
                selected = self._selected(c, p)
                out += not selected.any()  # and its rules are counted too, as NCA does
                for direction in Direction:
                    for rule in p.rules(direction):  # type: ignore[attr-defined]
                        out += self._empty_rule(c, p, rule, selected)
        return out

    def _empty_rule(self, c: Config, p: object, rule: Any, selected: np.ndarray) -> int:
        conn = c.conn
        assert conn.calico is not None
        if isinstance(p, NetworkPolicy):
            peers = conn.rules.rule_peers(rule)
            return int(not peers.any())
        ns = getattr(p, "namespace", "")
        src = conn.calico.entity(rule.source, ns, rule.ip_version)
        dst = conn.calico.entity(rule.destination, ns, rule.ip_version)
        n = conn.n_classes
        if rule.direction is Direction.INGRESS:
            dst = np.concatenate([dst[:n] & selected, np.zeros(len(dst) - n, np.bool_)])
        else:
            src = np.concatenate([src[:n] & selected, np.zeros(len(src) - n, np.bool_)])
        return int(not src.any() or not dst.any())

    def disjointness(self, names: list[str]) -> int:
        out = 0
        for n in names:
            c = self.s.config(n)
            assert c.cluster is not None
            masks = [self._selected(c, p) for p in policies_of(c.cluster)]
            masks = [m for m in masks if m.any()]
            for i in range(len(masks)):
                for j in range(i):
                    out += bool((masks[i] & masks[j]).any())
        return out

    def redundancy(self, names: list[str]) -> int:
        out = 0
        for n in names:
            c = self.s.config(n)
            assert c.cluster is not None
            whole = self.all(c)
            redundant = self._redundant_policies(c)
            out += len(redundant)
            for i, p in enumerate(policies_of(c.cluster)):
                if i not in redundant:
                    out += len(self.redundant_rules(c, p, whole))
        return out

    def redundant_rules(self, c: Config, p: Any, whole: Signature) -> set[tuple[Direction, int]]:
        """Rules whose removal (with every rule equal to it, as NCA removes them) leaves
        the connections equal."""
        from dataclasses import replace

        assert c.cluster is not None
        out: set[tuple[Direction, int]] = set()
        for direction, field_name in ((Direction.INGRESS, "ingress"), (Direction.EGRESS, "egress")):
            rules = p.rules(direction)

            def same(a: Any, b: Any) -> bool:
                return replace(a, index=0) == replace(b, index=0)

            for k in range(len(rules)):
                kept = tuple(r for r in rules if not same(r, rules[k]))
                if len(kept) < len(rules) - 1:
                    out.add((direction, k))
                    continue
                changed = replace(p, **{field_name: kept})
                cluster = _with(without(c.cluster, p), changed)
                if equal(whole, signature(Config("x", [], cluster).conn)):
                    out.add((direction, k))
        return out

    def _redundant_policies(self, c: Config) -> set[int]:
        assert c.cluster is not None
        policies = policies_of(c.cluster)
        out = set()
        if len(policies) > 1:
            whole = self.all(c)
            for i, p in enumerate(policies):
                if equal(whole, signature(Config("x", [], without(c.cluster, p)).conn)):
                    out.add(i)
        return out

    def _conflict(self, c: Config) -> bool:
        """NCA's same-order conflict: two Calico policies of one order (none counts as one
        order) selecting a common endpoint, with Allow and Deny rules facing each other in
        a direction both govern."""
        assert c.cluster is not None
        calico = list(c.cluster.calico.enforced)
        for i, a in enumerate(calico):
            for b in calico[:i]:
                if a.order != b.order:
                    continue
                if not (self._selected(c, a) & self._selected(c, b)).any():
                    continue
                for d in Direction:
                    if d in a.types and d in b.types:
                        acts_a = {r.action.value for r in a.rules(d)}
                        acts_b = {r.action.value for r in b.rules(d)}
                        if ("Deny" in acts_a and "Allow" in acts_b) or (
                            "Allow" in acts_a and "Deny" in acts_b
                        ):
                            return True
        return False

    def sanity(self, names: list[str]) -> int:
        """NCA's SanityQuery: a same-order conflict counts 1 and ends the check; else the
        vacuity, then per policy: empty (and skipped), each empty rule side, redundant (and
        skipped), each redundant rule that is not empty."""
        total = 0
        for n in names:
            c = self.s.config(n)
            assert c.cluster is not None
            policies = policies_of(c.cluster)
            if not policies:
                continue
            if self._conflict(c):
                total += 1
                continue
            vacuous = bool(self.vacuity([n]))
            issues = int(vacuous)
            redundant = self._redundant_policies(c)
            whole = self.all(c)
            for i, p in enumerate(policies):
                selected = self._selected(c, p)
                if not selected.any():
                    issues += 1
                    continue
                empty: set[tuple[Direction, int]] = set()
                for d in Direction:
                    for k, rule in enumerate(p.rules(d)):  # type: ignore[attr-defined]
                        sides = self._empty_sides(c, p, rule, selected)
                        issues += sides
                        if sides:
                            empty.add((d, k))
                if vacuous:
                    continue
                if i in redundant:
                    issues += 1
                    continue
                issues += len(self.redundant_rules(c, p, whole) - empty)
            total += issues
        return total

    def _empty_sides(self, c: Config, p: object, rule: Any, selected: np.ndarray) -> int:
        """How many of a rule's sides are empty (NCA explains each)."""
        conn = c.conn
        assert conn.calico is not None
        if isinstance(p, NetworkPolicy):
            return int(not conn.rules.rule_peers(rule).any())
        ns = getattr(p, "namespace", "")
        src = conn.calico.entity(rule.source, ns, rule.ip_version).copy()
        dst = conn.calico.entity(rule.destination, ns, rule.ip_version).copy()
        n = conn.n_classes
        if rule.direction is Direction.INGRESS:
            dst[:n] &= selected
            dst[n:] = False
        else:
            src[:n] &= selected
            src[n:] = False
        return int(not src.any()) + int(not dst.any())


def _with(cluster: Any, policy: Any) -> Any:
    from dataclasses import replace

    if isinstance(policy, NetworkPolicy):
        return replace(cluster, policies=(*cluster.policies, policy))
    calico = cluster.calico
    if isinstance(policy, CalicoPolicy):
        return replace(cluster, calico=replace(calico, policies=(*calico.policies, policy)))
    return replace(cluster, calico=replace(calico, profiles=(*calico.profiles, policy)))


def _outcomes(root: Path, tmp: Path) -> list[Outcome]:
    out: list[Outcome] = []
    for path in sorted(root.glob("*/*scheme*.yaml")):
        if path.stem in REFUSED_TOPOLOGY or path.parent.name in MULTI_LAYER:
            continue
        scheme = Scheme(path, tmp / path.stem)
        answers = Answers(scheme)
        seen: dict[str, int] = {}
        for raw in scheme.data.get("queries", []):
            q = dict(raw)
            seen[q["name"]] = seen.get(q["name"], 0) + 1
            if seen[q["name"]] > 1:  # a scheme may reuse a query name
                q["name"] = f"{q['name']}#{seen[q['name']]}"
            kind = next(
                k
                for k in q
                if k
                not in (
                    "name",
                    "expected",
                    "outputConfiguration",
                    "expectedOutput",
                    "expectedNotExecuted",
                    "expectedOutputs",
                )
            )
            names = q[kind]
            expected = q.get("expected")
            if kind in NOT_ANSWERED:
                out.append(Outcome(path.stem, q["name"], kind, expected, None, NOT_ANSWERED[kind]))
                continue
            refused = [n for n in names if n.split("/")[0] in REFUSED]
            if refused:
                out.append(
                    Outcome(
                        path.stem,
                        q["name"],
                        kind,
                        expected,
                        None,
                        REFUSED[refused[0].split("/")[0]],
                    )
                )
                continue
            if kind == "connectivityMap":
                out.append(_map_outcome(path, scheme, q, names))
                continue
            ours = getattr(answers, kind)(names)
            out.append(Outcome(path.stem, q["name"], kind, expected, ours))
    return out


def _map_outcome(path: Path, scheme: Scheme, q: dict[str, Any], names: list[str]) -> Outcome:
    """A connectivity map with an expected output: each configuration's firewall rules
    expanded over the pods (expected 0: no configuration differs)."""
    if "expectedOutput" not in q:
        return Outcome(path.stem, q["name"], "connectivityMap", None, None, "no expected output")
    maps = expected_maps((path.parent / q["expectedOutput"]).resolve())
    differing = 0
    for name in names:
        config = scheme.config(name)
        rules = maps.get(name)
        if rules is None:
            return Outcome(
                path.stem, q["name"], "connectivityMap", None, None, f"no map for {name}"
            )
        theirs = map_signature(config, rules)
        if theirs is None:
            return Outcome(path.stem, q["name"], "connectivityMap", None, None, "HTTP conditions")
        ours = without_self(signature(config.conn))
        differing += not equal(ours, theirs)
    return Outcome(path.stem, q["name"], "connectivityMap", 0, differing)


def test_calico_queries_agree_with_nca(corpus: Path, tmp_path: Path) -> None:
    root = _root(corpus)
    outcomes = _outcomes(root, tmp_path)
    answered = [o for o in outcomes if o.ours is not None]
    wrong = [
        o
        for o in answered
        if o.expected is not None and o.ours != o.expected and (o.scheme, o.query) not in DIFFERENT
    ]
    lines = [f"{o.scheme} {o.query} ({o.kind}): NCA {o.expected}, microseg {o.ours}" for o in wrong]
    listed = [o for o in answered if (o.scheme, o.query) in DIFFERENT]
    unanswered = [o for o in outcomes if o.ours is None]
    print(
        f"NCA calico_testcases: {len(outcomes)} queries, {len(answered)} answered, "
        f"{len(answered) - len(wrong) - len(listed)} agree, {len(listed)} differ for a "
        f"listed reason, {len(unanswered)} not answered (reasons listed)"
    )
    assert not wrong, "\n".join(lines)
    stale = [o for o in answered if (o.scheme, o.query) in DIFFERENT and o.ours == o.expected]
    assert not stale, stale
    assert len(answered) >= 200
