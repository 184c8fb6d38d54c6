"""The rules on a workload's pods: Pod Security Standards, images, labels, resources, a
read-only root filesystem, and the service account token. Pure functions of the
`WorkloadObject` (and, for the label keys the segmentation selects on, the snapshot's
NetworkPolicies)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from microseg.analyses.guardrails.findings import Finding, finding
from microseg.analyses.guardrails.images import has_tag, parse_image, registry_allowed
from microseg.analyses.guardrails.pss import Level, evaluate_pod_security
from microseg.model.guardrails import (
    ImageRule,
    LabelsRule,
    PodSecurityRule,
    ReadOnlyRootRule,
    ResourcesRule,
    Rule,
    ServiceAccountTokenRule,
)
from microseg.model.netpol import NetworkPolicy
from microseg.model.podspec import WorkloadObject
from microseg.model.selectors import Operator

__all__ = ["POD_RULES", "pod_findings", "segmentation_keys"]

POD_RULES = (
    PodSecurityRule,
    ImageRule,
    LabelsRule,
    ResourcesRule,
    ReadOnlyRootRule,
    ServiceAccountTokenRule,
)


def _pod_security(rule: Rule, check: PodSecurityRule, obj: WorkloadObject) -> Iterator[Finding]:
    version = f"v{check.version[0]}.{check.version[1]}"
    for v in evaluate_pod_security(obj.pod, Level(check.level), check.version):
        message = f"{v.message} [{check.level}:{version} {v.title}]"
        yield finding(rule, v.control, message, v.path)


def _images(rule: Rule, check: ImageRule, obj: WorkloadObject) -> Iterator[Finding]:
    pod = obj.pod
    for c in pod.containers:
        if not c.image:
            continue
        at = pod.spec_field(*c.path, "image")
        ref = parse_image(c.image)
        who = f"container {c.name!r}"
        if not registry_allowed(ref, check.registries):
            allowed = ", ".join(check.registries)
            yield finding(
                rule,
                "registry",
                f"{who} image {c.image!r} is not from an approved registry ({allowed})",
                at,
            )
        if check.require_digest and "@" not in c.image:
            yield finding(
                rule, "digest", f"{who} image {c.image!r} is not pinned by digest (@sha256:...)", at
            )
        tagged = has_tag(c.image)
        if check.disallow_untagged and not tagged and "@" not in c.image:
            yield finding(
                rule,
                "untagged",
                f"{who} image {c.image!r} has no tag or digest (it means :latest)",
                at,
            )
        if tagged and ref.tag in check.disallowed_tags:
            yield finding(
                rule, "tag", f"{who} image {c.image!r} uses the disallowed tag {ref.tag!r}", at
            )


def segmentation_keys(policies: Iterable[NetworkPolicy]) -> list[str]:
    """Label keys NetworkPolicies select their pods by (the keys a podSelector requires to
    be present or to have a value), in first-use order."""
    keys: list[str] = []
    for p in policies:
        for r in p.pod_selector.requirements:
            if r.operator in (Operator.IN, Operator.EXISTS) and r.key not in keys:
                keys.append(r.key)
    return keys


def _labels(
    rule: Rule, check: LabelsRule, obj: WorkloadObject, keys: tuple[str, ...] | None
) -> Iterator[Finding]:
    pod = obj.pod
    at = pod.meta_field("labels")
    for key in check.required:
        if key not in pod.labels:
            yield finding(rule, "required", f"pods have no label {key!r} (required)", at)
    if check.segmentation_keys and keys is not None:
        for key in keys:
            if key not in pod.labels and key not in check.required:
                yield finding(
                    rule,
                    "segmentation",
                    f"pods have no label {key!r}, which the NetworkPolicies of namespace "
                    f"{obj.namespace} select pods by: no policy written for those labels applies to them",
                    at,
                )


def _resources(rule: Rule, check: ResourcesRule, obj: WorkloadObject) -> Iterator[Finding]:
    pod = obj.pod
    for c in pod.containers:
        if c.group == "ephemeralContainers":
            continue  # the API forbids resources on ephemeral containers
        for kind, wanted, have in (
            ("requests", check.requests, c.requests),
            ("limits", check.limits, c.limits),
        ):
            missing = [r for r in wanted if r not in have]
            if missing:
                yield finding(
                    rule,
                    kind,
                    f"container {c.name!r} sets no {kind} for {', '.join(missing)}",
                    pod.spec_field(*c.path, "resources", kind),
                )


def _read_only_root(rule: Rule, obj: WorkloadObject) -> Iterator[Finding]:
    pod = obj.pod
    for c in pod.containers:
        if c.security is None or c.security.read_only_root_filesystem is not True:
            yield finding(
                rule,
                "readOnlyRootFilesystem",
                f"container {c.name!r} must set securityContext.readOnlyRootFilesystem=true",
                pod.spec_field(*c.path, "securityContext", "readOnlyRootFilesystem"),
            )


def _token(rule: Rule, check: ServiceAccountTokenRule, obj: WorkloadObject) -> Iterator[Finding]:
    pod = obj.pod
    if pod.automount_token is False:
        return
    if "true" in (pod.annotations.get(check.annotation), obj.annotations.get(check.annotation)):
        return
    yield finding(
        rule,
        "automountServiceAccountToken",
        "pods mount the service account token: set automountServiceAccountToken: false, or "
        f'annotate {check.annotation}: "true" where the API token is needed',
        pod.spec_field("automountServiceAccountToken"),
    )


def pod_findings(rule: Rule, obj: WorkloadObject, keys: tuple[str, ...] | None) -> list[Finding]:
    """What `rule` finds on `obj` (empty for a rule that is not about pods); `keys`: the
    label keys the policies of its namespace select on (None: no snapshot)."""
    check = rule.check
    if isinstance(check, PodSecurityRule):
        return list(_pod_security(rule, check, obj))
    if isinstance(check, ImageRule):
        return list(_images(rule, check, obj))
    if isinstance(check, LabelsRule):
        return list(_labels(rule, check, obj, keys))
    if isinstance(check, ResourcesRule):
        return list(_resources(rule, check, obj))
    if isinstance(check, ReadOnlyRootRule):
        return list(_read_only_root(rule, obj))
    if isinstance(check, ServiceAccountTokenRule):
        return list(_token(rule, check, obj))
    return []
