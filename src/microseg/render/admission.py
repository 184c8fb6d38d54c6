"""A ReviewResult as an AdmissionReview response (admission.k8s.io/v1).

kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/,
"Response": the response echoes the request's `uid`; `allowed`; on a denial `status` with
`code` (403), `reason` (Forbidden) and `message`; `warnings` for the user (the API server may
truncate a warning past 256 characters and drops warnings past 4,096 in all, so they are
capped here); `auditAnnotations`, keys the API server prefixes with the webhook's name
(valid label names, at most 63 characters).
"""

from __future__ import annotations

from typing import Any

from microseg.analyses.guardrails import ReviewResult
from microseg.model.guardrails import Mode
from microseg.render.guardrails import finding_line

__all__ = ["ADMISSION_API_VERSION", "MAX_MESSAGE", "admission_response", "error_response"]

ADMISSION_API_VERSION = "admission.k8s.io/v1"
MAX_WARNING = 256
MAX_WARNINGS = 4096
MAX_MESSAGE = 4000
MAX_ANNOTATION = 2000


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _message(lines: list[str]) -> str:
    head = "microseg guardrails denied this object: "
    out = head
    for i, line in enumerate(lines):
        piece = ("; " if i else "") + line
        if len(out) + len(piece) > MAX_MESSAGE - 40:
            return out + f"; ... and {len(lines) - i} more"
        out += piece
    return out


def admission_response(result: ReviewResult) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": result.uid, "allowed": result.allowed}
    denials = [finding_line(f) for f in result.by_mode(Mode.ENFORCE)]
    if not result.allowed:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": _message(denials)}
    warnings, used = [], 0
    for text in [finding_line(f) for f in result.by_mode(Mode.WARN)] + [
        f"microseg: {n}" for n in result.notes
    ]:
        text = _cap(text, MAX_WARNING)
        if used + len(text) > MAX_WARNINGS:
            break
        warnings.append(text)
        used += len(text)
    if warnings:
        response["warnings"] = warnings
    audits: dict[str, list[str]] = {}
    for f in result.by_mode(Mode.AUDIT):
        audits.setdefault(f.rule[:63], []).append(finding_line(f))
    if audits:
        response["auditAnnotations"] = {
            k: _cap("; ".join(v), MAX_ANNOTATION) for k, v in audits.items()
        }
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}


def error_response(uid: str, code: int, message: str) -> dict[str, Any]:
    """A denial that is not the guardrails' verdict: the object could not be read."""
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "AdmissionReview",
        "response": {
            "uid": uid,
            "allowed": False,
            "status": {"code": code, "reason": "BadRequest", "message": _cap(message, MAX_MESSAGE)},
        },
    }
