"""Object names the API server would refuse, said once per object as a warning.

microseg keeps names as given (renderers escape them per format, render/escape.py), but a
name Kubernetes' own validation rejects means the manifest was never applied, or was
written to mislead: the reader should know. The rules are apimachinery's
(k8s.io/apimachinery/pkg/util/validation, and each kind's ValidateObjectMeta name function
in the API reference): namespaces are RFC 1123 labels, Services RFC 1035 labels, most other
objects RFC 1123 subdomains.
"""

from __future__ import annotations

import re
from typing import Any

from microseg.errors import Diagnostic, Severity
from microseg.ingest.documents import Document
from microseg.ingest.validation import FieldError, field_diagnostic, shown

__all__ = ["name_warnings"]

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

_RULES = {
    "label": (_LABEL, 63, "an RFC 1123 label (lowercase letters, digits and '-', at most 63)"),
    "1035": (
        _LABEL_1035,
        63,
        "an RFC 1035 label (lowercase letters, digits and '-', starting with a letter, at most 63)",
    ),
    "subdomain": (
        _SUBDOMAIN,
        253,
        "an RFC 1123 subdomain (lowercase letters, digits, '-' and '.', at most 253)",
    ),
}
_NAME_RULE = {"Namespace": "label", "Service": "1035"}


def _valid(value: str, rule: str) -> bool:
    pattern, limit, _ = _RULES[rule]
    return len(value) <= limit and pattern.fullmatch(value) is not None


def name_warnings(doc: Document) -> list[Diagnostic]:
    """MS205 for a `metadata.name` or `metadata.namespace` the API server would refuse."""
    meta: Any = doc.data.get("metadata")
    if not isinstance(meta, dict):
        return []
    out = []
    kind = str(doc.data.get("kind"))
    for field, rule in (
        ("name", _NAME_RULE.get(kind, "subdomain")),
        ("namespace", "label"),
    ):
        value = meta.get(field)
        if isinstance(value, str) and value and not _valid(value, rule):
            message = (
                f"{kind} {field} {shown(value)} is not {_RULES[rule][2]}: the API server "
                "would refuse it"
            )
            err = FieldError("MS205", ("metadata", field), message)
            out.append(field_diagnostic(doc, err, Severity.WARNING))
    return out
