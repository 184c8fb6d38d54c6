"""The query path's shortcuts (engine/explain/netpol.py, engine/connectivity.py `resolve`) give
exactly what the general operations give: the set-algebra shortcuts equal ConnSet's own
operations, a rule's peers hold a column exactly when its union mask does, and a name that
cannot be an address still resolves as before while addresses and CIDRs still parse."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microseg.engine import Connectivity
from microseg.engine.combine import join as _join
from microseg.engine.combine import meet as _meet
from microseg.engine.combine import minus as _minus
from microseg.engine.connectivity import _may_be_address
from microseg.engine.explain.netpol import _matches_all
from microseg.ingest import load
from microseg.model import ConnSet, Protocol
from microseg.model.sets import BASE_PROTOCOLS, IntervalSet

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo"


@st.composite
def conn_sets(draw: st.DrawFn) -> ConnSet:
    """Empty, everything, or a few ranges per protocol (ports near a small set of values so
    that intersections and differences are not always trivial)."""
    kind = draw(st.sampled_from(["none", "all", "some", "some"]))
    if kind == "none":
        return ConnSet.none()
    if kind == "all":
        return ConnSet.all()
    out = ConnSet.none()
    for protocol in draw(st.lists(st.sampled_from(list(BASE_PROTOCOLS)), max_size=3)):
        lo = draw(st.sampled_from([1, 53, 80, 443, 8080, 9000, 65535]))
        hi = draw(st.integers(min_value=lo, max_value=min(65535, lo + 2000)))
        out = out | ConnSet.of({protocol: IntervalSet.span(lo, hi)})
    return out


@given(conn_sets(), conn_sets())
def test_set_shortcuts_equal_the_full_operations(a: ConnSet, b: ConnSet) -> None:
    assert _meet(a, b) == a & b
    assert _join(a, b) == a | b
    assert _minus(a, b) == a - b


@pytest.fixture(scope="module")
def demo() -> Connectivity:
    return Connectivity.build(load([str(DEMO)]))


def test_rule_matches_every_column_as_its_union_mask_says(demo: Connectivity) -> None:
    rc = demo.rules
    rules = [r for p in demo.cluster.policies for r in (*p.ingress, *p.egress)]
    assert rules
    n = rc.n_peers
    column_sets = [[c] for c in range(n)] + [[0, n - 1], list(range(n)), []]
    checked = 0
    for rule in rules:
        mask = rc.rule_peers(rule)
        for columns in column_sets:
            expected = bool(columns) and all(bool(mask[c]) for c in columns)
            assert _matches_all(rc, rule, columns) is expected
            checked += expected
    assert checked  # some rule matched some column: the test is not vacuous


@pytest.mark.parametrize(
    ("text", "maybe"),
    [
        ("shop/postgres", False),
        ("shop/postgres[StatefulSet]", False),
        ("8.8.8.8", True),
        ("10.0.0.0/8", True),
        ("fd00::/8", True),
        ("2001:db8::1", True),
        ("shop", True),  # no `/`: parsed as an address first, as before
    ],
)
def test_may_be_address(text: str, maybe: bool) -> None:
    assert _may_be_address(text) is maybe


def test_resolve_names_and_addresses(demo: Connectivity) -> None:
    workload = demo.resolve("shop/postgres")
    assert workload.klass is not None
    assert workload.name == "shop/postgres[StatefulSet]"
    assert demo.resolve("shop/postgres[StatefulSet]") == workload
    single = demo.resolve("8.8.8.8")
    assert single.klass is None
    assert single.name == "8.8.8.8"
    cidr = demo.resolve("10.1.2.3/8")
    assert cidr.name == "10.0.0.0/8"
    assert cidr.addresses is not None


def test_reach_after_shortcuts_matches_reference_style_answer(demo: Connectivity) -> None:
    """The README's example: webapp reaches postgres on TCP 5432 only, explained by the
    egress rule and the ingress rule named there."""
    d = demo.reach("frontend/webapp", "shop/postgres")
    assert d.allowed == ConnSet.single(Protocol.TCP, 5432)
    assert [s.policy for s in d.egress.steps if s.conns == d.allowed] == ["frontend/webapp-egress"]
    assert "shop/postgres-allow-shop-tenant" in [s.policy for s in d.ingress.steps]
