"""Label selector semantics and label key/value validation (apimachinery rules)."""

from __future__ import annotations

import pytest

from microseg.model.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    label_key_error,
    label_value_error,
)

WEB = {"app": "web", "tier": "frontend"}
DB = {"app": "db"}
BARE: dict[str, str] = {}


def req(key: str, op: Operator, *values: str) -> Requirement:
    return Requirement(key, op, frozenset(values))


# --- Requirement -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requirement", "labels", "expected"),
    [
        # In: the key must be present with one of the values
        (req("app", Operator.IN, "web"), WEB, True),
        (req("app", Operator.IN, "web", "db"), DB, True),
        (req("app", Operator.IN, "api"), WEB, False),
        (req("app", Operator.IN, "web"), BARE, False),
        (req("app", Operator.IN), WEB, False),
        # NotIn: matches when the key is absent, or present with another value
        (req("app", Operator.NOT_IN, "web"), WEB, False),
        (req("app", Operator.NOT_IN, "web"), DB, True),
        (req("app", Operator.NOT_IN, "web"), BARE, True),
        (req("tier", Operator.NOT_IN, "frontend"), DB, True),
        (req("app", Operator.NOT_IN, "web", "db"), DB, False),
        # Exists / DoesNotExist look only at the key
        (req("tier", Operator.EXISTS), WEB, True),
        (req("tier", Operator.EXISTS), DB, False),
        (req("tier", Operator.EXISTS), {"tier": ""}, True),
        (req("tier", Operator.DOES_NOT_EXIST), WEB, False),
        (req("tier", Operator.DOES_NOT_EXIST), DB, True),
        (req("tier", Operator.DOES_NOT_EXIST), BARE, True),
        # the empty value is a value like any other
        (req("tier", Operator.IN, ""), {"tier": ""}, True),
        (req("tier", Operator.IN, ""), BARE, False),
    ],
)
def test_requirement_matches(
    requirement: Requirement, labels: dict[str, str], expected: bool
) -> None:
    assert requirement.matches(labels) is expected


def test_requirements_are_case_sensitive() -> None:
    assert not req("app", Operator.IN, "Web").matches(WEB)
    assert not req("App", Operator.EXISTS).matches(WEB)


# --- LabelSelector ---------------------------------------------------------------------------


def test_empty_selector_matches_everything() -> None:
    sel = LabelSelector.everything()
    assert sel.is_empty()
    assert sel == LabelSelector()
    for labels in (WEB, DB, BARE):
        assert sel.matches(labels)


def test_requirements_are_anded() -> None:
    sel = LabelSelector((req("app", Operator.IN, "web", "db"), req("tier", Operator.EXISTS)))
    assert not sel.is_empty()
    assert sel.matches(WEB)
    assert not sel.matches(DB)  # app matches, tier missing
    assert not sel.matches(BARE)


def test_not_in_and_does_not_exist_select_pods_without_the_key() -> None:
    sel = LabelSelector(
        (req("env", Operator.NOT_IN, "prod"), req("debug", Operator.DOES_NOT_EXIST))
    )
    assert sel.matches(BARE)
    assert sel.matches({"env": "dev"})
    assert not sel.matches({"env": "prod"})
    assert not sel.matches({"debug": "true"})


def test_from_labels_is_match_labels() -> None:
    sel = LabelSelector.from_labels({"tier": "frontend", "app": "web"})
    # folded into sorted one-value In requirements
    assert sel.requirements == (
        req("app", Operator.IN, "web"),
        req("tier", Operator.IN, "frontend"),
    )
    assert sel.matches(WEB)
    assert sel.matches({**WEB, "extra": "x"})
    assert not sel.matches({"app": "web"})
    assert LabelSelector.from_labels({}) == LabelSelector.everything()


def test_selectors_are_hashable_values() -> None:
    a = LabelSelector.from_labels({"app": "web"})
    b = LabelSelector((req("app", Operator.IN, "web"),))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        (LabelSelector(), "{}"),
        (LabelSelector.from_labels({"app": "web", "tier": "fe"}), "app=web,tier=fe"),
        (LabelSelector((req("app", Operator.IN, "b", "a"),)), "app in (a,b)"),
        (LabelSelector((req("env", Operator.NOT_IN, "prod"),)), "env notin (prod)"),
        (LabelSelector((req("env", Operator.NOT_IN, "x", "prod"),)), "env notin (prod,x)"),
        (LabelSelector((req("tier", Operator.EXISTS),)), "tier"),
        (LabelSelector((req("tier", Operator.DOES_NOT_EXIST),)), "!tier"),
        (
            LabelSelector((req("app", Operator.IN, "web"), req("debug", Operator.DOES_NOT_EXIST))),
            "app=web,!debug",
        ),
    ],
)
def test_selector_str_uses_kubectl_syntax(selector: LabelSelector, text: str) -> None:
    assert str(selector) == text


# --- label keys and values -------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "app",
        "a",
        "A",
        "9",
        "app.kubernetes.io/name",
        "kubernetes.io/metadata.name",
        "k8s-app",
        "My_Key.v-2",
        "x" * 63,
        "example.com/" + "x" * 63,
        ("a" * 61 + ".") * 4 + "b/name",  # 249-character prefix
        "a" * 253 + "/name",
        "1.2.3/x",
    ],
)
def test_valid_label_keys(key: str) -> None:
    assert label_key_error(key) is None


@pytest.mark.parametrize(
    ("key", "part"),
    [
        ("", "name"),
        ("x" * 64, "name"),
        ("-app", "name"),
        ("app-", "name"),
        ("_app", "name"),
        ("app.", "name"),
        ("my app", "name"),
        ("app$", "name"),
        ("example.com/", "name"),
        ("example.com/" + "x" * 64, "name"),
        ("/app", "prefix"),
        ("Example.com/app", "prefix"),
        ("exa_mple.com/app", "prefix"),
        ("-example.com/app", "prefix"),
        ("example..com/app", "prefix"),
        ("a/b/c", "prefix"),
        ("a" * 254 + "/name", "prefix"),
    ],
)
def test_invalid_label_keys_say_which_part_is_wrong(key: str, part: str) -> None:
    err = label_key_error(key)
    assert err is not None
    assert repr(key) in err
    assert part in err


@pytest.mark.parametrize("key", ["app\n", "example.com/app\n", "example.com\n/app", "app\nx"])
def test_label_key_with_newline_is_invalid(key: str) -> None:
    # A trailing newline must not slip through a `^...$` regex (Python `$` matches before "\n").
    assert label_key_error(key) is not None


@pytest.mark.parametrize("value", ["", "web", "v1.2.3", "A_b-C.d", "0", "x" * 63, "2024-01-01"])
def test_valid_label_values(value: str) -> None:
    assert label_value_error(value) is None


@pytest.mark.parametrize(
    "value", ["x" * 64, "-web", "web-", ".web", "web.", "a b", "a/b", "ü", "web:1"]
)
def test_invalid_label_values(value: str) -> None:
    err = label_value_error(value)
    assert err is not None
    assert repr(value) in err
    assert "63" in err


@pytest.mark.parametrize("value", ["web\n", "v1\n"])
def test_label_value_with_trailing_newline_is_invalid(value: str) -> None:
    assert label_value_error(value) is not None
