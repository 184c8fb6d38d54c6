"""A VerificationReport as SARIF 2.1.0, for code-scanning UIs.

One result per violated intent, located at the intent's file and line, with related
locations at the policies responsible (their origins carry file and line). One rule per
intent kind (allow, deny, domain and each expectation), so that dashboards can group them.
Structure follows the OASIS SARIF 2.1.0 standard (sections 3.13 run, 3.19 tool, 3.27
result, 3.28 location, 3.49 reportingDescriptor); a test validates the output against the
schema that the SARIF multitool ships.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from microseg.analyses.verify import Finding, VerificationReport
from microseg.errors import Origin
from microseg.render.conns import format_conns
from microseg.render.verify import endpoint_label, origin_label

__all__ = ["SARIF_SCHEMA", "report_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULES: tuple[tuple[str, str, str], ...] = (
    ("allow", "MustAllow", "A flow the intents say must be possible is blocked."),
    ("deny", "MustDeny", "A flow the intents say must be impossible is allowed."),
    ("domain", "StrictDomain", "A strict domain has flows that no allow intent covers."),
    ("defaultDeny", "DefaultDeny", "A group's pods are not isolated in both directions."),
    ("noInternetEgress", "NoInternetEgress", "A group reaches public addresses."),
    ("maxBlastRadius", "MaxBlastRadius", "A group reaches more workloads than allowed."),
)
_INDEX = {kind: i for i, (kind, _, _) in enumerate(RULES)}


def _is_file(file: str) -> bool:
    """False for what was not read from a file: `<stdin>` (ingest/documents.py), no file."""
    return bool(file) and not (file.startswith("<") and file.endswith(">"))


def _uri(file: str) -> str:
    """An RFC 3986 URI reference, as artifactLocation.uri must be (SARIF 2.1.0, 3.4.3): a
    `file:` URI for an absolute path, else a relative reference with each segment
    percent-encoded (spaces, `%`, `#`, `?`)."""
    path = Path(file)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix(), safe="/")


def _location(o: Origin) -> dict[str, Any]:
    """A location with a physicalLocation only when the origin is a file: stdin has no URI,
    and a location's properties are all optional (SARIF 2.1.0, 3.28.1), so text read
    from stdin is located by its message (`<stdin>:LINE`) alone."""
    if not _is_file(o.file):
        return {}
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(o.file)}}
    if o.line is not None:
        physical["region"] = {"startLine": o.line}
    return {"physicalLocation": physical}


def _where(o: Origin) -> str:
    """` (<stdin>:12)` for an origin that has no physical location, else nothing."""
    if _is_file(o.file) or not o.file:
        return ""
    return f" ({o.file}:{o.line})" if o.line is not None else f" ({o.file})"


def _result(f: Finding) -> dict[str, Any]:
    text = f"{f.id}: {f.description}{_where(f.origin)}: {f.message}"
    if f.rows:
        first = f.rows[0]
        text += f"; first: {endpoint_label(first.src)} -> {endpoint_label(first.dst)}"
        if first.conns:
            text += f" {format_conns(first.conns)}"
    location = _location(f.origin)
    location["logicalLocations"] = [{"name": f.id, "kind": "object"}]
    result: dict[str, Any] = {
        "ruleId": f"intent/{f.kind}",
        "ruleIndex": _INDEX[f.kind],
        "level": "error",
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"intentId/v1": f.id},
    }
    if f.related:
        result["relatedLocations"] = [
            {"id": i, **_location(o), "message": {"text": origin_label(o) + _where(o)}}
            for i, o in enumerate(f.related, start=1)
        ]
    return result


def report_sarif(report: VerificationReport, version: str) -> str:
    rules = [
        {
            "id": f"intent/{kind}",
            "name": name,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": "error"},
        }
        for kind, name, text in RULES
    ]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "microseg",
                        "version": version,
                        "rules": rules,
                    }
                },
                "results": [_result(f) for f in report.violations],
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
