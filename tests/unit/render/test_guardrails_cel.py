"""The exported ValidatingAdmissionPolicies evaluated with a CEL interpreter (cel-python) on
the objects `check` judges: for every case, the controls the CEL rejects are the controls
the checks report, rule by rule (Pod Security Standards at both levels and several
versions, images, labels, resources, read-only root, token, exemptions)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import celpy
import pytest

from microseg.analyses.guardrails import ReviewContext, review
from microseg.errors import Origin
from microseg.ingest.podspec import parse_workload
from microseg.model.admission import Operation, ReviewRequest
from microseg.model.guardrails import (
    GuardrailSet,
    ImageRule,
    LabelsRule,
    Mode,
    PodSecurityRule,
    ReadOnlyRootRule,
    ResourcesRule,
    Rule,
    Scope,
    ServiceAccountTokenRule,
)
from microseg.model.selectors import LabelSelector, Operator, Requirement
from microseg.render.guardrails_export import vap_objects

from ..analyses.guardrails._objects import restricted_spec, wrap
from ..analyses.guardrails.test_pss import CASES

_env = celpy.Environment()
_programs: dict[str, Any] = {}


def _eval(expr: str, activation: dict[str, Any]) -> Any:
    prog = _programs.get(expr)
    if prog is None:
        prog = _programs[expr] = _env.program(_env.compile(expr))
    return prog.evaluate(activation)


def cel_verdict(policy: dict[str, Any], obj: dict[str, Any], namespace: str) -> set[str] | None:
    """The controls whose validation fails (None: a matchCondition leaves the object out)."""
    spec = policy["spec"]
    cel_obj = celpy.json_to_cel(obj)
    request = celpy.json_to_cel({"namespace": namespace, "operation": "CREATE"})
    for cond in spec.get("matchConditions", ()):
        result = _eval(cond["expression"], {"object": cel_obj, "request": request})
        assert isinstance(result, celpy.celtypes.BoolType), (cond["expression"], result)
        if not result:
            return None
    variables: dict[str, Any] = {}
    for v in spec["variables"]:
        variables[v["name"]] = _eval(
            v["expression"],
            {
                "object": cel_obj,
                "variables": celpy.celtypes.MapType(
                    {celpy.celtypes.StringType(k): val for k, val in variables.items()}
                ),
            },
        )
    act = {
        "object": cel_obj,
        "variables": celpy.celtypes.MapType(
            {celpy.celtypes.StringType(k): v for k, v in variables.items()}
        ),
    }
    failed = set()
    for validation in spec["validations"]:
        result = _eval(validation["expression"], act)
        assert isinstance(result, celpy.celtypes.BoolType), (validation["expression"], result)
        if not result:
            failed.add(validation["message"].split(":", 1)[0].split("/", 1)[1])
    return failed


def check_verdict(
    rule: Rule, guardrails: GuardrailSet, obj: dict[str, Any], namespace: str
) -> set[str] | None:
    workload = parse_workload(obj, Origin(), namespace)
    request = ReviewRequest("u", Operation.CREATE, obj["kind"], namespace, "app", workload)
    result = review(request, ReviewContext(replace(guardrails, rules=(rule,))))
    from microseg.analyses.guardrails import exempt
    from microseg.model.admission import object_labels

    if exempt(rule, guardrails, namespace, object_labels(workload)):
        return None
    return {f.control for f in result.findings}


def agree(
    rule: Rule, obj: dict[str, Any], namespace: str = "shop", guardrails: GuardrailSet | None = None
) -> set[str] | None:
    guardrails = guardrails or GuardrailSet((rule,))
    policy = next(
        o
        for o in vap_objects(replace(guardrails, rules=(rule,)))[0]
        if o["kind"] == "ValidatingAdmissionPolicy"
    )
    expected = check_verdict(rule, guardrails, obj, namespace)
    assert cel_verdict(policy, obj, namespace) == expected
    return expected


# Each case names the version its variant needs; v1.34 (before the user-namespace and
# procMount changes) is checked on every case too.
VERSIONS = [(1, 34), (1, 36)]


@pytest.mark.parametrize("kind", ["Pod", pytest.param("CronJob", marks=pytest.mark.slow)])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_pod_security_agrees(case: Any, kind: str) -> None:
    spec = restricted_spec()
    case.change(spec)
    obj = wrap(kind, spec, case.meta)
    for level in ("baseline", "restricted"):
        for version in {case.version, *VERSIONS}:
            rule = Rule("pss", PodSecurityRule(level, version))
            agree(rule, obj)


def _image_obj(kind: str, image: str) -> dict[str, Any]:
    spec = restricted_spec()
    spec["containers"][0]["image"] = image
    spec["initContainers"] = [{"name": "init", "image": "ghcr.io/acme/init:2"}]
    return wrap(kind, spec)


IMAGES = [
    "ghcr.io/acme/app:1.0",
    "ghcr.io/acme/app",
    "ghcr.io/acme/app:latest",
    "ghcr.io/acme/app@sha256:" + "a" * 64,
    "ghcr.io/acme/app:1.0@sha256:" + "b" * 64,
    "nginx",
    "nginx:latest",
    "library/nginx:1.27",
    "docker.io/library/nginx:1.27",
    "localhost:5000/app",
    "localhost:5000/app:dev",
    "localhost/app:1",
    "registry.example.com/team/app:2",
    "registry.example.com.evil.io/app:2",
    "registry.example.com:443/app:2",
    "quay.io/x/y:v1",
]
IMAGE_RULES = [
    ImageRule(("ghcr.io/acme/",)),
    ImageRule(("registry.example.com", "docker.io/library/*"), require_digest=False),
    ImageRule(("ghcr.io/acme/*",), require_digest=True, disallowed_tags=("latest", "dev")),
    ImageRule((), disallow_untagged=False, disallowed_tags=()),
    ImageRule(("quay.io/?/y*",), disallow_untagged=True),
]


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("index", range(len(IMAGE_RULES)))
def test_images_agree(image: str, index: int) -> None:
    rule = Rule("images", IMAGE_RULES[index])
    if not rule_has_checks(rule):
        return
    for kind in ("Pod", "Job"):
        agree(rule, _image_obj(kind, image))


def rule_has_checks(rule: Rule) -> bool:
    from microseg.render.guardrails_cel import rule_checks

    return bool(rule_checks(rule))


def _other_obj(kind: str, change: str) -> dict[str, Any]:
    spec = restricted_spec()
    meta: dict[str, Any] = {"labels": {"app": "app", "team": "a"}}
    c = spec["containers"][0]
    if change == "limits":
        c["resources"] = {"requests": {"cpu": "1", "memory": "1Mi"}, "limits": {"memory": "2Mi"}}
    elif change == "no-limits":
        c["resources"] = {"requests": {"cpu": "1"}}
    elif change == "init-no-limits":
        c["resources"] = {"requests": {"cpu": "1", "memory": "1Mi"}, "limits": {"memory": "2Mi"}}
        spec["initContainers"] = [{"name": "i", "image": "x:1"}]
    elif change == "ephemeral":
        c["resources"] = {"requests": {"cpu": "1", "memory": "1Mi"}, "limits": {"memory": "2Mi"}}
        spec["ephemeralContainers"] = [
            {"name": "e", "image": "x:1", "securityContext": {"readOnlyRootFilesystem": True}}
        ]
    elif change == "read-only":
        c["securityContext"]["readOnlyRootFilesystem"] = True
    elif change == "no-team":
        meta["labels"] = {"app": "app"}
    elif change == "no-labels":
        meta["labels"] = {}
    elif change == "token-off":
        spec["automountServiceAccountToken"] = False
    elif change == "token-annotated":
        meta["annotations"] = {"microseg.dev/automount-service-account-token": "true"}
    elif change == "token-annotated-false":
        meta["annotations"] = {"microseg.dev/automount-service-account-token": "false"}
    return wrap(kind, spec, meta)


OTHER_RULES = [
    LabelsRule(("app", "team")),
    ResourcesRule(("cpu", "memory"), ("memory",)),
    ResourcesRule((), ("memory",)),
    ReadOnlyRootRule(),
    ServiceAccountTokenRule(),
]
CHANGES = [
    "none",
    "limits",
    "no-limits",
    "init-no-limits",
    "ephemeral",
    "read-only",
    "no-team",
    "no-labels",
    "token-off",
    "token-annotated",
    "token-annotated-false",
]


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("index", range(len(OTHER_RULES)))
def test_pod_rules_agree(change: str, index: int) -> None:
    rule = Rule("r", OTHER_RULES[index])
    for kind in ("Pod", "StatefulSet", "CronJob"):
        agree(rule, _other_obj(kind, change))


def _selector(*reqs: tuple[str, Operator, tuple[str, ...]]) -> LabelSelector:
    return LabelSelector(tuple(Requirement(k, op, frozenset(v)) for k, op, v in reqs))


SCOPES = [
    Scope(("kube-*",)),
    Scope(("shop",)),
    Scope((), _selector(("team", Operator.IN, ("a", "b")))),
    Scope((), _selector(("team", Operator.NOT_IN, ("a",)))),
    Scope((), _selector(("exempt", Operator.EXISTS, ()))),
    Scope(("s?op",), _selector(("team", Operator.DOES_NOT_EXIST, ()))),
]


@pytest.mark.parametrize("namespace", ["shop", "kube-system", "payments"])
@pytest.mark.parametrize("index", range(len(SCOPES)))
def test_exemptions_agree(namespace: str, index: int) -> None:
    rule = Rule("pss", PodSecurityRule("baseline", (1, 36)), Mode.ENFORCE, SCOPES[index])
    spec = restricted_spec()
    spec["hostNetwork"] = True
    for labels in ({"app": "x", "team": "a"}, {"app": "x"}, {"exempt": ""}):
        for kind in ("Pod", "Deployment"):
            obj = wrap(kind, copy.deepcopy(spec), {"labels": labels})
            agree(rule, obj, namespace)
    file_wide = GuardrailSet((rule,), Scope(("pay*",)))
    agree(rule, wrap("Pod", spec), "payments", file_wide)
