"""The part of Go's text/template (pkg.go.dev/text/template) that SPIRE's ClusterSPIFFEID
templates use, parsed and rendered statically.

Supported: text, actions `{{ ... }}` with the `{{-` / `-}}` trim markers, comments
`{{/* */}}`, field chains (`.PodMeta.Labels.app`), string literals, the functions `index`,
`print`, `printf` (`%s`, `%v`, `%d`, `%%`) and pipelines `x | f`. A map key that is
absent prints `<no value>` (text/template's default `missingkey`), `index` of one gives the
empty string. Control actions (`if`, `range`, `with`, variables) are refused as
`TemplateError`: microseg reports the template as one it cannot render rather than guess.

Values unknown before a pod is scheduled (its UID, node, or the name of a pod a controller
has yet to create) are `Unknown`: they render as `<PodMeta.UID>` and mark the result as
not exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Rendered", "TemplateError", "Unknown", "parse", "render"]


class TemplateError(ValueError):
    """A template microseg cannot parse or render."""


@dataclass(frozen=True, slots=True)
class Unknown:
    path: str


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    exact: bool


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\||\(|\)|[^\s|()]+)')
_CONTROL = {
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
}
_FUNCS = {"index", "print", "printf"}
Node = tuple[str, Any]


def parse(text: str) -> list[Node]:
    """The template as ("text", str) and ("pipe", commands) nodes; raises TemplateError."""
    out: list[Node] = []
    pos = 0
    for m in _ACTION.finditer(text):
        chunk = text[pos : m.start()]
        if m.group(1):
            chunk = chunk.rstrip()
        if out and out[-1][0] == "trim":
            chunk = chunk.lstrip()
            out.pop()
        if chunk:
            out.append(("text", chunk))
        body = m.group(2).strip()
        if not (body.startswith("/*") and body.endswith("*/")):
            out.append(("pipe", _pipeline(body)))
        if m.group(3):
            out.append(("trim", None))
        pos = m.end()
    rest = text[pos:]
    if out and out[-1][0] == "trim":
        rest = rest.lstrip()
        out.pop()
    if "{{" in rest or "}}" in rest:
        raise TemplateError("unclosed or stray action delimiter")
    if rest:
        out.append(("text", rest))
    return out


def _pipeline(body: str) -> list[list[str]]:
    if not body:
        raise TemplateError("empty action")
    tokens = _TOKEN.findall(body)
    if "".join(tokens).replace(" ", "") != body.replace(" ", "").replace("\n", "").replace(
        "\t", ""
    ):
        raise TemplateError(f"cannot parse {{{{{body}}}}}")
    commands: list[list[str]] = [[]]
    for tok in tokens:
        if tok == "|":
            commands.append([])
        elif tok in ("(", ")"):
            raise TemplateError("parenthesised pipelines are not supported")
        else:
            commands[-1].append(tok)
    for cmd in commands:
        if not cmd:
            raise TemplateError(f"missing command in {{{{{body}}}}}")
        head = cmd[0]
        if head in _CONTROL or head.startswith("$"):
            raise TemplateError(f"{head!r}: control actions and variables are not supported")
        if not head.startswith((".", '"', "`")) and head not in _FUNCS:
            raise TemplateError(f"function {head!r} is not supported")
    return commands


def _literal(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    return bytes(token[1:-1], "utf-8").decode("unicode_escape")


def _field(data: Mapping[str, Any], chain: str) -> Any:
    value: Any = data
    path = ""
    for name in chain.strip(".").split(".") if chain != "." else []:
        path = f"{path}.{name}" if path else name
        if isinstance(value, Unknown):
            return Unknown(f"{value.path}.{name}")
        if isinstance(value, dict):
            if name in value:
                value = value[name]
            elif value.get("__struct__"):
                return Unknown(path)  # a field of the real struct that is not modelled
            else:
                return "<no value>"
        else:
            raise TemplateError(f"can't evaluate field {name} in {path}")
    return value


def _arg(data: Mapping[str, Any], token: str) -> Any:
    if token.startswith(('"', "`")):
        return _literal(token)
    if token.startswith("."):
        return _field(data, token)
    raise TemplateError(f"unsupported argument {token!r}")


def _call(name: str, args: list[Any]) -> Any:
    if name == "index":
        if not args:
            raise TemplateError("index needs an argument")
        value = args[0]
        for key in args[1:]:
            if isinstance(value, Unknown):
                return value
            if not isinstance(value, dict):
                raise TemplateError("index of a value that is not a map")
            value = value.get(str(key), "")
        return value
    if name == "print":
        return "".join(_show(a) for a in args)
    fmt = args[0] if args else ""
    if not isinstance(fmt, str):
        raise TemplateError("printf needs a format string")
    rest = list(args[1:])

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        if not rest:
            return "%!" + m.group(0)[1] + "(MISSING)"
        return _show(rest.pop(0))

    return re.sub(r"%[svd%]", sub, fmt)


def _show(value: Any) -> str:
    if isinstance(value, Unknown):
        return f"<{value.path}>"
    if isinstance(value, dict):
        return (
            "map["
            + " ".join(f"{k}:{v}" for k, v in sorted(value.items()) if k != "__struct__")
            + "]"
        )
    return str(value)


def render(nodes: list[Node], data: Mapping[str, Any]) -> Rendered:
    """The template applied to `data` (nested dicts; a dict with `__struct__` stands for a
    Go struct, whose unmodelled fields are Unknown rather than missing)."""
    parts: list[str] = []
    exact = True
    for kind, value in nodes:
        if kind == "text":
            parts.append(value)
            continue
        result: Any = None
        for i, cmd in enumerate(value):
            head, args = cmd[0], cmd[1:]
            if head in _FUNCS:
                values = [_arg(data, a) for a in args] + ([result] if i else [])
                if head != "index" and any(isinstance(v, Unknown) for v in values):
                    exact = False
                result = _call(head, values)
            else:
                if args or i:
                    raise TemplateError(f"{head!r} takes no arguments")
                result = _arg(data, head)
        if isinstance(result, Unknown):
            exact = False
        parts.append(_show(result))
    return Rendered("".join(parts), exact)
