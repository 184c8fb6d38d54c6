"""LabelIndex: compiled selectors agree with LabelSelector.matches, row by row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microseg.engine.index.compile import LabelIndex
from microseg.model.selectors import LabelSelector, Operator, Requirement

ROWS = [
    {"app": "web", "tier": "frontend"},
    {"app": "db"},
    {},
    {"app": "web", "env": "prod"},
    {"tier": ""},
]


def req(key: str, op: Operator, *values: str) -> Requirement:
    return Requirement(key, op, frozenset(values))


def expected(selector: LabelSelector, rows: list[dict[str, str]]) -> list[bool]:
    return [selector.matches(r) for r in rows]


@pytest.mark.parametrize(
    ("selector", "hits"),
    [
        (LabelSelector(), [True, True, True, True, True]),
        (LabelSelector.from_labels({"app": "web"}), [True, False, False, True, False]),
        (LabelSelector((req("app", Operator.IN, "web", "db"),)), [True, True, False, True, False]),
        (LabelSelector((req("app", Operator.NOT_IN, "web"),)), [False, True, True, False, True]),
        (LabelSelector((req("tier", Operator.EXISTS),)), [True, False, False, False, True]),
        (LabelSelector((req("tier", Operator.DOES_NOT_EXIST),)), [False, True, True, True, False]),
        (LabelSelector((req("tier", Operator.IN, ""),)), [False, False, False, False, True]),
        # a key no row has
        (LabelSelector((req("zone", Operator.IN, "a"),)), [False] * 5),
        (LabelSelector((req("zone", Operator.NOT_IN, "a"),)), [True] * 5),
        (LabelSelector((req("zone", Operator.EXISTS),)), [False] * 5),
        (LabelSelector((req("zone", Operator.DOES_NOT_EXIST),)), [True] * 5),
        # a value no row has, under a known key
        (LabelSelector((req("app", Operator.IN, "api"),)), [False] * 5),
        (LabelSelector((req("app", Operator.NOT_IN, "api"),)), [True] * 5),
        # requirements are ANDed
        (
            LabelSelector((req("app", Operator.IN, "web"), req("env", Operator.DOES_NOT_EXIST))),
            [True, False, False, False, False],
        ),
    ],
)
def test_label_index_cases(selector: LabelSelector, hits: list[bool]) -> None:
    index = LabelIndex(ROWS)
    mask = index.match(selector)
    assert mask.dtype == np.bool_
    assert mask.tolist() == hits
    assert hits == expected(selector, ROWS)


def test_match_is_memoised_and_read_only() -> None:
    index = LabelIndex(ROWS)
    sel = LabelSelector.from_labels({"app": "web"})
    first = index.match(sel)
    again = index.match(LabelSelector.from_labels({"app": "web"}))
    assert again is first
    assert not first.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first[0] = False
    # a different selector is computed afresh
    assert index.match(LabelSelector()) is not first


def test_empty_rows() -> None:
    index = LabelIndex([])
    assert index.size == 0
    assert index.match(LabelSelector.from_labels({"a": "b"})).shape == (0,)
    assert index.match(LabelSelector()).shape == (0,)


KEYS = ["app", "tier", "env", "k8s.io/name"]
VALUES = ["", "a", "b", "c"]

label_maps = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4)
requirements = st.builds(
    Requirement,
    st.sampled_from([*KEYS, "absent"]),
    st.sampled_from(list(Operator)),
    st.frozensets(st.sampled_from([*VALUES, "zzz"]), max_size=3),
)
selectors = st.lists(requirements, max_size=4).map(lambda rs: LabelSelector(tuple(rs)))


@given(st.lists(label_maps, max_size=12), st.lists(selectors, min_size=1, max_size=5))
def test_label_index_equals_selector_matches(
    rows: list[dict[str, str]], sels: list[LabelSelector]
) -> None:
    index = LabelIndex(rows)
    for sel in sels:
        mask = index.match(sel)
        assert mask.shape == (len(rows),)
        assert mask.tolist() == expected(sel, rows)
