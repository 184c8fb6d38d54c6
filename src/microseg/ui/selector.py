"""The label selector grammar of `kubectl get -l` for the page's label filter:
`app=web`, `app==web`, `tier!=db`, `env in (prod,staging)`, `env notin (dev)`, `app`
(exists), `!legacy` (does not exist), comma-separated and ANDed (apimachinery
labels.Parse; https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/,
"Label selectors")."""

from __future__ import annotations

import re

from microseg.model.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    label_key_error,
    label_value_error,
)

__all__ = ["parse_selector"]

_SET = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^()]*)\)\s*$")
_EQ = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced ')'")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise ValueError("unbalanced '('")
    parts.append("".join(cur))
    return parts


def _check(key: str, values: list[str]) -> None:
    error = label_key_error(key) or next(
        (e for e in (label_value_error(v) for v in values) if e), None
    )
    if error:
        raise ValueError(error)


def parse_selector(text: str) -> LabelSelector:
    """Raises ValueError saying what was expected."""
    reqs: list[Requirement] = []
    for part in _split(text):
        if not part.strip():
            raise ValueError(f"{text!r}: an empty requirement")
        if m := _SET.match(part):
            key, op, raw = m.groups()
            values = [v.strip() for v in raw.split(",") if v.strip()]
            if not values:
                raise ValueError(f"{part.strip()!r}: a set needs at least one value")
            _check(key, values)
            operator = Operator.IN if op == "in" else Operator.NOT_IN
            reqs.append(Requirement(key, operator, frozenset(values)))
        elif m := _EQ.match(part):
            key, op, value = m.groups()
            _check(key, [value])
            operator = Operator.NOT_IN if op == "!=" else Operator.IN
            reqs.append(Requirement(key, operator, frozenset([value])))
        elif m := _EXISTS.match(part):
            neg, key = m.groups()
            _check(key, [])
            reqs.append(Requirement(key, Operator.DOES_NOT_EXIST if neg else Operator.EXISTS))
        else:
            raise ValueError(
                f"{part.strip()!r}: expected key=value, key!=value, key in (a,b), "
                "key notin (a,b), key or !key"
            )
    return LabelSelector(tuple(reqs))
