"""Calico's selector language: every operator, precedence, and located syntax errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microseg.model.calico_selector import (
    All,
    And,
    Global,
    Has,
    LabelOp,
    Not,
    Op,
    Or,
    Selector,
    SelectorSyntaxError,
    conjunction,
    parse_selector,
    prefixed,
    replaced,
)

LABELS = {"app": "web", "tier": "frontend", "env": "prod-eu", "x/y.z": "1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("   ", True),
        ("all()", True),
        ("!all()", False),
        ("global()", True),
        ("app == 'web'", True),
        ('app == "web"', True),
        ("app == 'api'", False),
        ("missing == ''", False),
        ("app != 'api'", True),
        ("missing != 'x'", True),
        ("has(app)", True),
        ("!has(app)", False),
        ("has( missing )", False),
        ("!has(missing)", True),
        ("tier in {'frontend', 'backend'}", True),
        ("tier in {}", False),
        ("tier in {'a',}", False),
        ("missing in {'a'}", False),
        ("tier not in {'frontend'}", False),
        ("missing not in {'a'}", True),
        ("env contains 'od-e'", True),
        ("env starts with 'prod'", True),
        ("env starts  with 'eu'", False),
        ("env ends with '-eu'", True),
        ("missing contains ''", False),
        ("x/y.z == '1'", True),
        ("app == 'web' && tier == 'frontend'", True),
        ("app == 'api' || tier == 'frontend'", True),
        ("!(app == 'web' && has(missing))", True),
        ("!!has(app)", True),
        ("app == 'api' || app == 'web' && has(missing)", False),
        ("(app == 'api' || app == 'web') && has(tier)", True),
    ],
)
def test_meaning(text: str, expected: bool) -> None:
    assert parse_selector(text).matches(LABELS) is expected


def test_precedence_from_the_reference() -> None:
    # The reference's own example: `!` binds tighter than `&&`, which binds tighter than `||`.
    sel = parse_selector(
        "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}"
    )
    assert sel == Or(
        (
            Not(Has("my-label")),
            And(
                (
                    LabelOp("my-label", Op.STARTS, "prod"),
                    LabelOp("role", Op.IN, values=frozenset({"frontend", "business"})),
                )
            ),
        )
    )
    assert sel.matches({})
    assert sel.matches({"my-label": "prod-1", "role": "business"})
    assert not sel.matches({"my-label": "dev", "role": "business"})


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("app == web", 7, "expected a quoted string"),
        ("app = 'web'", 4, "expected =="),
        ("app == 'web", 7, "unterminated string"),
        ("has(app", 7, "expected )"),
        ("has()", 4, "expected a label name"),
        ("app == 'a' &", 11, "expected &&"),
        ("app == 'a' | b", 11, "expected ||"),
        ("(app == 'a'", 11, "expected )"),
        ("app == 'a')", 10, "unexpected ')'"),
        ("app", 3, "expected an operator"),
        ("app >= 'a'", 4, "expected an operator after the label"),
        ("app in 'a'", 7, "expected {"),
        ("app in {'a' 'b'}", 12, "expected a quoted string or }"),
        ("app starts 'x'", 11, "expected 'starts with'"),
        ("&& has(a)", 0, "unexpected '&&'"),
        ("has(a) &&", 9, "unexpected end"),
        ("a == 'b'\n", 8, "unexpected character"),
        ("all(x)", 4, "expected ) after all("),
        ("$app == 'a'", 0, "unexpected character"),
    ],
)
def test_errors_name_the_character(text: str, position: int, reason: str) -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        parse_selector(text)
    assert info.value.position == position, str(info.value)
    assert reason in str(info.value)
    assert f"at character {position + 1}" in str(info.value)


def test_prefix_and_replacement_follow_calicos_conversions() -> None:
    ns = parse_selector("team == 'a' && !has(x) || all()")
    pre = prefixed(ns, "pcns.")
    assert str(pre) == '((pcns.team == "a" && !has(pcns.x)) || all())'
    swapped = replaced(pre, All, Has("projectcalico.org/namespace"))
    assert str(swapped).endswith("has(projectcalico.org/namespace))")
    assert replaced(Global(), Global, Not(Has("n"))) == Not(Has("n"))
    assert conjunction(All(), Has("a"), All()) == Has("a")
    assert conjunction(All()) == All()


# -- round trip: the canonical text parses back to the same tree -------------------------
KEYS = st.sampled_from(["a", "b", "x.y/z", "k-1"])
VALUES = st.sampled_from(["", "v", "w 1", "it's"])


def _leaf() -> st.SearchStrategy[Selector]:
    return st.one_of(
        st.just(All()),
        st.just(Global()),
        KEYS.map(Has),
        st.builds(LabelOp, KEYS, st.sampled_from([Op.EQ, Op.NE, Op.CONTAINS]), VALUES),
        st.builds(
            lambda k, op, vs: LabelOp(k, op, values=frozenset(vs)),
            KEYS,
            st.sampled_from([Op.IN, Op.NOT_IN]),
            st.lists(VALUES, max_size=3),
        ),
    )


selectors = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        inner.map(Not).filter(lambda n: not isinstance(n.operand, Not)),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)


@given(selectors, st.dictionaries(KEYS, VALUES, max_size=3))
def test_text_round_trip_keeps_the_meaning(node: Selector, labels: dict[str, str]) -> None:
    again = parse_selector(str(node))
    assert again.matches(labels) == node.matches(labels)
    assert str(parse_selector(str(again))) == str(again)
