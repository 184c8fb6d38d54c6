"""Turning pydantic validation errors into located diagnostics."""

from __future__ import annotations

from pydantic import ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.documents import Document, FieldPath

__all__ = ["diagnostics_from", "format_path"]

_ALIASES = {"from_": "from", "except_": "except"}


_EXPECTED = {
    "int_type": "an integer",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
}


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null or empty)"
    return f"{type(value).__name__} {value!r}"


def format_path(path: FieldPath) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            step = _ALIASES.get(step, step)
            out += f".{step}" if out else step
    return out


def diagnostics_from(exc: ValidationError, doc: Document, code: str) -> list[Diagnostic]:
    out = []
    for err in exc.errors(include_url=False):
        path: FieldPath = tuple(
            step
            for step in err["loc"]
            if isinstance(step, int) or not str(step).startswith(("function-", "constrained-"))
        )
        path = tuple(s for s in path if not (isinstance(s, str) and s in ("int", "str", "literal")))
        message = str(err["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] in _EXPECTED:
            message = f"expected {_EXPECTED[err['type']]}, got {_describe(err.get('input'))}"
        origin = doc.origin()
        if path:
            line = doc.line_of(path, exact=True)
            origin = Origin(
                origin.file, origin.document, line, origin.kind, origin.namespace, origin.name
            )
        out.append(Diagnostic(Severity.ERROR, code, message, origin, format_path(path)))
    return _dedupe(out)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A union-typed field reports one error per member; keep the most specific per path."""
    seen: dict[str, Diagnostic] = {}
    for d in diags:
        if d.field not in seen:
            seen[d.field] = d
    return list(seen.values())
