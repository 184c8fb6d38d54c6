"""Calico's label selector language: a parser with located errors, and its meaning.

The grammar and the meaning of each operator follow Calico's selector reference
(docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors) and, where the
page is silent, the behaviour of Calico's own tokenizer and parser (libcalico-go
lib/selector/tokenizer and parser), so that a selector Calico accepts parses here and one
it refuses is refused with the character where it fails:

    expr     := and ("||" and)*                 lowest precedence
    and      := unary ("&&" unary)*
    unary    := "!"* primary                    leading "!"s collapse
    primary  := "has(" LABEL ")" | "all()" | "global()" | "(" expr ")"
              | LABEL ("==" | "!=" | "contains" | "starts with" | "ends with") STRING
              | LABEL ("in" | "not in") "{" [STRING ("," STRING)* [","]] "}"
    LABEL    := [A-Za-z0-9_./-]+                STRING := '...' | "..." (no escapes)

Whitespace is spaces and tabs; the empty selector means `all()`. `k != 'v'` and
`k not in {...}` match a resource without label `k`; `contains`, `starts with` and
`ends with` need it. `global()` matches everything on its own: its meaning is in how a
rule's `namespaceSelector` scopes the rule's selector (model/calico.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "All",
    "And",
    "Global",
    "Has",
    "LabelOp",
    "Not",
    "Op",
    "Or",
    "Selector",
    "SelectorSyntaxError",
    "parse_selector",
]


class SelectorSyntaxError(ValueError):
    """A selector Calico would refuse. `position` is the 0-based offset of the character
    where parsing failed (the length of the text when it ended too early)."""

    def __init__(self, text: str, position: int, reason: str) -> None:
        self.text = text
        self.position = position
        self.reason = reason
        found = repr(text[position]) if position < len(text) else "the end"
        super().__init__(
            f"invalid selector {text!r}: at character {position + 1} ({found}): {reason}"
        )


# -- the syntax tree ---------------------------------------------------------------------
class Op:
    """The label operators of `LabelOp`."""

    EQ = "=="
    NE = "!="
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    STARTS = "starts with"
    ENDS = "ends with"


@dataclass(frozen=True, slots=True)
class All:
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "all()"


@dataclass(frozen=True, slots=True)
class Global:
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "global()"


@dataclass(frozen=True, slots=True)
class Has:
    key: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels

    def __str__(self) -> str:
        return f"has({self.key})"


def _quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


@dataclass(frozen=True, slots=True)
class LabelOp:
    """`key op value`; `values` holds the set of `in` and `not in`."""

    key: str
    op: str
    value: str = ""
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.key)
        if got is None:
            return self.op in (Op.NE, Op.NOT_IN)
        return _TEST[self.op](got, self)

    def __str__(self) -> str:
        if self.op in (Op.IN, Op.NOT_IN):
            inside = ", ".join(_quote(v) for v in sorted(self.values))
            return f"{self.key} {self.op} {{{inside}}}"
        return f"{self.key} {self.op} {_quote(self.value)}"


_TEST: dict[str, Callable[[str, LabelOp], bool]] = {
    Op.EQ: lambda got, n: got == n.value,
    Op.NE: lambda got, n: got != n.value,
    Op.IN: lambda got, n: got in n.values,
    Op.NOT_IN: lambda got, n: got not in n.values,
    Op.CONTAINS: lambda got, n: n.value in got,
    Op.STARTS: lambda got, n: got.startswith(n.value),
    Op.ENDS: lambda got, n: got.endswith(n.value),
}


@dataclass(frozen=True, slots=True)
class Not:
    operand: Selector

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.matches(labels)

    def __str__(self) -> str:
        return f"!{self.operand}"


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Selector, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(o.matches(labels) for o in self.operands)

    def __str__(self) -> str:
        return "(" + " && ".join(str(o) for o in self.operands) + ")"


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Selector, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return any(o.matches(labels) for o in self.operands)

    def __str__(self) -> str:
        return "(" + " || ".join(str(o) for o in self.operands) + ")"


Selector = All | Global | Has | LabelOp | Not | And | Or


# -- transformations the policy conversions need (model/calico.py) ----------------------
def prefixed(node: Selector, prefix: str) -> Selector:
    """Every label name with `prefix` in front: how a namespaceSelector (`pcns.`) and a
    service-account selector (`pcsa.`) become selectors over an endpoint's inherited
    labels (libcalico-go updateprocessors/selectors.go, parseSelectorAttachPrefix)."""
    match node:
        case Has(key):
            return Has(prefix + key)
        case LabelOp(key, op, value, values):
            return LabelOp(prefix + key, op, value, values)
        case Not(operand):
            return Not(prefixed(operand, prefix))
        case And(operands):
            return And(tuple(prefixed(o, prefix) for o in operands))
        case Or(operands):
            return Or(tuple(prefixed(o, prefix) for o in operands))
    return node


def replaced(node: Selector, old: type[All] | type[Global], new: Selector) -> Selector:
    """Every `all()` (or `global()`) node replaced by `new`, as Calico's conversions
    rewrite the selector text (`all()` in a namespaceSelector becomes
    `has(projectcalico.org/namespace)`, `global()` its negation)."""
    if isinstance(node, old):
        return new
    match node:
        case Not(operand):
            return Not(replaced(operand, old, new))
        case And(operands):
            return And(tuple(replaced(o, old, new) for o in operands))
        case Or(operands):
            return Or(tuple(replaced(o, old, new) for o in operands))
    return node


def uses_global(node: Selector) -> bool:
    match node:
        case Global():
            return True
        case Not(operand):
            return uses_global(operand)
        case And(operands) | Or(operands):
            return any(uses_global(o) for o in operands)
    return False


def label_keys(node: Selector) -> set[str]:
    """Every label name the selector reads."""
    match node:
        case Has(key) | LabelOp(key, _, _, _):
            return {key}
        case Not(operand):
            return label_keys(operand)
        case And(operands) | Or(operands):
            return set().union(*(label_keys(o) for o in operands))
    return set()


def conjunction(*parts: Selector) -> Selector:
    """`a && b && ...`, flattened; `all()` parts drop out."""
    flat: list[Selector] = []
    for p in parts:
        if isinstance(p, And):
            flat.extend(p.operands)
        elif not isinstance(p, All):
            flat.append(p)
    if not flat:
        return All()
    return flat[0] if len(flat) == 1 else And(tuple(flat))


# -- tokens ------------------------------------------------------------------------------
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_WHITESPACE = " \t"


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    """One of: label, str, (, ), {, }, ",", ==, !=, !, &&, ||, in, not in, contains,
    starts with, ends with, has, all, global, eof."""
    value: str
    at: int


def _label_at(text: str, i: int) -> int:
    """The end of the label starting at i (i itself when there is none)."""
    j = i
    while j < len(text) and text[j] in _LABEL_CHARS:
        j += 1
    return j


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _word(text: str, i: int, word: str) -> bool:
    return text.startswith(word, i)


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    simple = {"(": "(", ")": ")", "{": "{", "}": "}", ",": ","}
    while True:
        i = _skip(text, i)
        if i >= len(text):
            out.append(_Tok("eof", "", i))
            return out
        c = text[i]
        after_label = bool(out) and out[-1].kind == "label"
        if c in simple:
            out.append(_Tok(simple[c], c, i))
            i += 1
        elif c in "\"'":
            end = text.find(c, i + 1)
            if end < 0:
                raise SelectorSyntaxError(text, i, "unterminated string")
            out.append(_Tok("str", text[i + 1 : end], i))
            i = end + 1
        elif c == "=":
            if not _word(text, i, "=="):
                raise SelectorSyntaxError(text, i, "expected ==")
            out.append(_Tok("==", "==", i))
            i += 2
        elif c == "!":
            if _word(text, i, "!="):
                out.append(_Tok("!=", "!=", i))
                i += 2
            else:
                out.append(_Tok("!", "!", i))
                i += 1
        elif c in "&|":
            if not _word(text, i, c * 2):
                raise SelectorSyntaxError(text, i, f"expected {c * 2}")
            out.append(_Tok(c * 2, c * 2, i))
            i += 2
        elif after_label:
            i = _operator(text, i, out)
        elif _word(text, i, "has("):
            j = _skip(text, i + 4)
            end = _label_at(text, j)
            if end == j:
                raise SelectorSyntaxError(text, j, "expected a label name in has(...)")
            k = _skip(text, end)
            if not _word(text, k, ")"):
                raise SelectorSyntaxError(text, k, "expected ) to close has(")
            out.append(_Tok("has", text[j:end], i))
            i = k + 1
        elif _word(text, i, "all(") or _word(text, i, "global("):
            name = "all" if text[i] == "a" else "global"
            k = _skip(text, i + len(name) + 1)
            if not _word(text, k, ")"):
                raise SelectorSyntaxError(text, k, f"expected ) after {name}(")
            out.append(_Tok(name, name, i))
            i = k + 1
        else:
            end = _label_at(text, i)
            if end == i:
                raise SelectorSyntaxError(text, i, "unexpected character")
            out.append(_Tok("label", text[i:end], i))
            i = end


def _operator(text: str, i: int, out: list[_Tok]) -> int:
    """The operator after a label: contains, starts with, ends with, not in, in."""
    for word, kind in (("contains", "contains"),):
        if _word(text, i, word):
            out.append(_Tok(kind, word, i))
            return i + len(word)
    for first, kind in (("starts", "starts with"), ("ends", "ends with"), ("not", "not in")):
        if _word(text, i, first):
            j = _skip(text, i + len(first))
            second = kind.split()[1]
            if not _word(text, j, second):
                raise SelectorSyntaxError(text, j, f"expected {kind!r} after label")
            out.append(_Tok(kind, kind, i))
            return j + len(second)
    if _word(text, i, "in"):
        out.append(_Tok("in", "in", i))
        return i + 2
    raise SelectorSyntaxError(
        text,
        i,
        "expected an operator after the label (==, !=, in, not in, contains, starts with, ends with)",
    )


# -- the parser --------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.k = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.k]

    def fail(self, reason: str, tok: _Tok | None = None) -> SelectorSyntaxError:
        return SelectorSyntaxError(self.text, (tok or self.tok).at, reason)

    def expr(self) -> Selector:
        parts = [self.conj()]
        while self.tok.kind == "||":
            self.k += 1
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def conj(self) -> Selector:
        parts = [self.unary()]
        while self.tok.kind == "&&":
            self.k += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Selector:
        negated = False
        while self.tok.kind == "!":
            negated = not negated
            self.k += 1
        node = self.primary()
        return Not(node) if negated else node

    def primary(self) -> Selector:
        tok = self.tok
        if tok.kind == "has":
            self.k += 1
            return Has(tok.value)
        if tok.kind == "all":
            self.k += 1
            return All()
        if tok.kind == "global":
            self.k += 1
            return Global()
        if tok.kind == "(":
            self.k += 1
            node = self.expr()
            if self.tok.kind != ")":
                raise self.fail("expected )")
            self.k += 1
            return node
        if tok.kind == "label":
            return self.comparison(tok)
        if tok.kind == "eof":
            raise self.fail("unexpected end of the selector: expected an expression")
        raise self.fail(f"unexpected {tok.value!r}: expected an expression")

    def comparison(self, label: _Tok) -> Selector:
        self.k += 1
        op = self.tok
        if op.kind in ("in", "not in"):
            self.k += 1
            if self.tok.kind != "{":
                raise self.fail(f"expected {{ after {op.kind!r}")
            self.k += 1
            values: list[str] = []
            while self.tok.kind == "str":
                values.append(self.tok.value)
                self.k += 1
                if self.tok.kind != ",":
                    break
                self.k += 1
            if self.tok.kind != "}":
                raise self.fail("expected a quoted string or } in the set")
            self.k += 1
            return LabelOp(label.value, op.kind, values=frozenset(values))
        if op.kind not in ("==", "!=", "contains", "starts with", "ends with"):
            if op.kind == "eof":
                raise self.fail("unexpected end of the selector: expected an operator")
            raise self.fail(f"expected an operator after label {label.value!r}")
        self.k += 1
        if self.tok.kind != "str":
            raise self.fail(f"expected a quoted string after {op.kind!r}")
        value = self.tok.value
        self.k += 1
        return LabelOp(label.value, op.kind, value)


@lru_cache(maxsize=1 << 14)
def parse_selector(text: str) -> Selector:
    """The selector's syntax tree; raises SelectorSyntaxError. Memoised: policy sets
    repeat the same selectors many times."""
    parser = _Parser(text)
    if parser.tok.kind == "eof":
        return All()
    node = parser.expr()
    if parser.tok.kind != "eof":
        raise parser.fail(f"unexpected {parser.tok.value!r} after a complete expression")
    return node
