"""ui/selector.py: the kubectl -l grammar of the page's label filter."""

from __future__ import annotations

import pytest

from microseg.model.selectors import Operator
from microseg.ui.selector import parse_selector


def test_forms() -> None:
    s = parse_selector("app=web, tier!=db,env in (prod, staging),legacy,!canary,x==y")
    got = [(r.key, r.operator, sorted(r.values)) for r in s.requirements]
    assert got == [
        ("app", Operator.IN, ["web"]),
        ("tier", Operator.NOT_IN, ["db"]),
        ("env", Operator.IN, ["prod", "staging"]),
        ("legacy", Operator.EXISTS, []),
        ("canary", Operator.DOES_NOT_EXIST, []),
        ("x", Operator.IN, ["y"]),
    ]
    assert s.matches({"app": "web", "env": "prod", "legacy": "1", "x": "y"})
    assert not s.matches({"app": "web", "env": "dev", "legacy": "1", "x": "y"})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("app in (x", "unbalanced"),
        ("app=", None),
        ("a b c", "expected"),
        ("", "empty"),
        ("bad key!=x", "expected"),
    ],
)
def test_refusals(text: str, words: str | None) -> None:
    if words is None:  # an empty value is a valid label value
        assert parse_selector(text).matches({"app": ""})
        return
    with pytest.raises(ValueError, match=words):
        parse_selector(text)
