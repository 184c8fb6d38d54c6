"""One way to say "this field of this document is invalid", for every reader.

Readers raise `FieldError` (code, field path, message) wherever they find a bad field, or
let pydantic raise where a schema validates the document; `field_diagnostic` and
`diagnostics_from` turn either into a `Diagnostic` located at the field's own line, so a
user sees the same shape of message whichever reader found the problem.
"""

from __future__ import annotations

import ipaddress
import re
import reprlib
from typing import Any

from pydantic import ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.documents import Document, FieldPath

__all__ = [
    "FieldError",
    "diagnostics_from",
    "field_diagnostic",
    "format_path",
    "get_typed",
    "ip_address",
]

_ALIASES = {"from_": "from", "except_": "except"}


_EXPECTED = {
    "int_type": "an integer",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
}


class FieldError(Exception):
    """A field of the document being read is invalid. Raised deep inside a reader, where
    the code and path are known but the document may not be; the reader's caller, which
    holds the document, locates it with `field_diagnostic`."""

    def __init__(self, code: str, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.path = path
        self.message = message

    def under(self, base: FieldPath) -> FieldError:
        """The same error for a check that ran on a sub-object found at `base`."""
        return FieldError(self.code, (*base, *self.path), self.message)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def ip_address(value: object, path: FieldPath, code: str) -> str:
    """`value` when it is one IP address (pod and host IPs, node addresses): anything else
    is a located error here rather than a ValueError deep in the engine."""
    if isinstance(value, str):
        if _IPV4.fullmatch(value):  # one C call for the usual case; ipaddress for the rest
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            pass
        else:
            return value
    raise FieldError(
        code, path, f"expected an IP address (no prefix length), got {_describe(value)}"
    )


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring, _SHORT.maxother = 80, 80


def shown(value: object) -> str:
    """A value from the input as a message quotes it: bounded in depth and length, so a
    deeply nested or huge value cannot recurse without end or flood the terminal."""
    return _SHORT.repr(value)


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null or empty)"
    return f"{type(value).__name__} {shown(value)}"


def format_path(path: FieldPath) -> str:
    """`("spec", "ingress", 0, "ports", 1, "port")` as `spec.ingress[0].ports[1].port`."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            step = _ALIASES.get(step, step)
            out += f".{step}" if out else step
    return out


def field_diagnostic(
    doc: Document, err: FieldError, severity: Severity = Severity.ERROR
) -> Diagnostic:
    """`err` as a diagnostic at the line of its field (composing a JSON file's positions if
    need be: diagnostics are rare, loading is not); a document-wide error (empty path)
    points at the document itself."""
    origin = doc.origin()
    if err.path:
        origin = Origin(
            origin.file,
            origin.document,
            doc.line_of(err.path, exact=True),
            origin.kind,
            origin.namespace,
            origin.name,
        )
    return Diagnostic(severity, err.code, err.message, origin, format_path(err.path))


def get_typed(data: Any, path: FieldPath, kind: type, default: Any, code: str) -> Any:
    """The value at `path` if it has type `kind`, `default` if it is absent or null; a
    FieldError (at the first step that is not a mapping, or at the value) otherwise. A
    bool is not an int here, as it is not in the Kubernetes API."""
    cur = data
    for i, step in enumerate(path):
        if not isinstance(cur, dict):
            raise FieldError(code, path[:i], f"expected a mapping, got {type(cur).__name__}")
        cur = cur.get(step)
        if cur is None:
            return default
    if not isinstance(cur, kind) or (kind is int and isinstance(cur, bool)):
        raise FieldError(
            code, path, f"expected {kind.__name__}, got {type(cur).__name__} {shown(cur)}"
        )
    return cur


def _field_error(err: Any, code: str) -> FieldError:
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
    return FieldError(code, path, message)


def diagnostics_from(exc: ValidationError, doc: Document, code: str) -> list[Diagnostic]:
    """A pydantic schema's errors, each as the FieldError a hand-written check would raise."""
    out = [field_diagnostic(doc, _field_error(err, code)) for err in exc.errors(include_url=False)]
    return _dedupe(out)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A union-typed field reports one error per member; keep the most specific per path."""
    seen: dict[str, Diagnostic] = {}
    for d in diags:
        if d.field not in seen:
            seen[d.field] = d
    return list(seen.values())
