"""AdmissionReview responses: the shape the API server reads, and the limits it applies."""

from __future__ import annotations

from microseg.analyses.guardrails import Finding, ReviewResult
from microseg.model.guardrails import Mode
from microseg.render.admission import MAX_MESSAGE, admission_response, error_response


def _f(mode: Mode, message: str, rule: str = "r") -> Finding:
    return Finding(rule, "images", mode, "registry", message, ("spec", "containers", 0, "image"))


def test_allowed_is_minimal() -> None:
    body = admission_response(ReviewResult("u1", True))
    assert body == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u1", "allowed": True},
    }


def test_denial_warnings_audits() -> None:
    result = ReviewResult(
        "u2",
        False,
        (_f(Mode.ENFORCE, "bad"), _f(Mode.WARN, "w" * 1000), _f(Mode.AUDIT, "a", "audit-rule")),
        ("no cluster snapshot",),
    )
    response = admission_response(result)["response"]
    assert response["status"] == {
        "code": 403,
        "reason": "Forbidden",
        "message": "microseg guardrails denied this object: [r/registry] spec.containers[0].image: bad",
    }
    assert len(response["warnings"]) == 2
    assert all(len(w) <= 256 for w in response["warnings"])
    assert response["warnings"][1] == "microseg: no cluster snapshot"
    assert response["auditAnnotations"] == {
        "audit-rule": "[audit-rule/registry] spec.containers[0].image: a"
    }


def test_long_denials_are_capped() -> None:
    many = tuple(_f(Mode.ENFORCE, f"finding {i} " + "x" * 200) for i in range(100))
    message = admission_response(ReviewResult("u", False, many))["response"]["status"]["message"]
    assert len(message) <= MAX_MESSAGE
    assert message.endswith("more")


def test_error_response() -> None:
    body = error_response("u", 400, "spec: bad")["response"]
    assert body == {
        "uid": "u",
        "allowed": False,
        "status": {"code": 400, "reason": "BadRequest", "message": "spec: bad"},
    }
