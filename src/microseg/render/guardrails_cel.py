"""The pod rules of a guardrail file as CEL, for ValidatingAdmissionPolicy and Kyverno.

Each expression is true when the object complies, and reads the pod spec through the
policy's variables (`variables.spec`, `variables.meta`: the pod spec and pod metadata of a
Pod or any pod template), so one expression serves every kind. They say what
`analyses/guardrails` says (pss.py, pods.py, images.py), control by control, at the rule's
Pod Security Standards version; a test evaluates them with cel-python on the objects the
checks judge and holds the verdicts equal, case by case. Only the standard CEL library is
used (`has`, `all`, `exists`, `in`, `matches`, `startsWith`, `contains`, `size`), so the
same text runs in the API server and in Kyverno.

Not exportable, and left out with a notice: segmentation (ingress isolation, intents) and
the label keys read from the cluster's policies: they need the engine and a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from microseg.analyses.guardrails import active_controls, registry_regex
from microseg.analyses.guardrails.images import escape_regex
from microseg.analyses.guardrails.pss import (
    ALLOWED_VOLUME_SOURCES,
    DEFAULT_CAPABILITIES,
    Level,
    selinux_types,
    sysctls_allowed,
)
from microseg.model.guardrails import (
    ImageRule,
    LabelsRule,
    PodSecurityRule,
    ReadOnlyRootRule,
    ResourcesRule,
    Rule,
    Scope,
    ServiceAccountTokenRule,
)
from microseg.model.selectors import LabelSelector, Operator

__all__ = ["VARIABLES", "CelCheck", "exportable", "rule_checks", "scope_condition"]

S = "variables.spec"
M = "variables.meta"

_META = (
    "object.kind == 'Pod' ? object.metadata : (object.kind == 'CronJob' ? "
    "object.spec.jobTemplate.spec.template.metadata : object.spec.template.metadata)"
)
# The pod spec and metadata of a Pod or any pod template, and whether it is a Windows pod.
VARIABLES: tuple[tuple[str, str], ...] = (
    (
        "spec",
        "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? "
        "object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)",
    ),
    ("meta", _META),
    ("windows", f"has({S}.os) && has({S}.os.name) && {S}.os.name == 'windows'"),
    (
        "userNamespace",
        f"has({S}.hostUsers) && {S}.hostUsers == false",
    ),
)


@dataclass(frozen=True, slots=True)
class CelCheck:
    """One validation: `expression` true when compliant; `message` when it is not."""

    control: str
    expression: str
    message: str


def lit(text: str) -> str:
    """A CEL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _list(items: object) -> str:
    return "[" + ", ".join(lit(str(i)) for i in sorted(items)) + "]"  # type: ignore[call-overload]


def _each(
    pred: str, groups: tuple[str, ...] = ("containers", "initContainers", "ephemeralContainers")
) -> str:
    """`pred` (over `c`) for every container of the groups; each group is checked alone,
    since the API types containers and ephemeral containers apart."""
    parts = []
    for g in groups:
        body = f"{S}.{g}.all(c, {pred})"
        parts.append(body if g == "containers" else f"(!has({S}.{g}) || {body})")
    return " && ".join(parts)


def _absent_or(base: str, path: str, ok: str) -> str:
    """`base.path` absent or `ok` (written with `X` for the value)."""
    steps = path.split(".")
    guards = " && ".join(f"has({base}.{'.'.join(steps[: i + 1])})" for i in range(len(steps)))
    return f"(!({guards}) || {ok.replace('X', f'{base}.{path}')})"


def _is(base: str, path: str, value: str) -> str:
    """`base.path` present and equal to `value`."""
    steps = path.split(".")
    guards = " && ".join(f"has({base}.{'.'.join(steps[: i + 1])})" for i in range(len(steps)))
    return f"({guards} && {base}.{path} == {value})"


def _pss(control: str, version: tuple[int, int]) -> str:
    psc = f"{S}.securityContext"
    if control == "windowsHostProcess":
        return f"!{_is(S, 'securityContext.windowsOptions.hostProcess', 'true')} && " + _each(
            f"!{_is('c', 'securityContext.windowsOptions.hostProcess', 'true')}"
        )
    if control == "hostNamespaces":
        return " && ".join(f"!{_is(S, f, 'true')}" for f in ("hostNetwork", "hostPID", "hostIPC"))
    if control == "privileged":
        return _each(f"!{_is('c', 'securityContext.privileged', 'true')}")
    if control == "capabilities_baseline":
        return _each(
            _absent_or(
                "c",
                "securityContext.capabilities.add",
                f"X.all(a, a in {_list(DEFAULT_CAPABILITIES)})",
            )
        )
    if control == "hostPathVolumes":
        return f"(!has({S}.volumes) || {S}.volumes.all(v, !has(v.hostPath)))"
    if control == "hostPorts":
        return _each("(!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0))")
    if control == "appArmorProfile":
        ok = "X in ['RuntimeDefault', 'Localhost']"
        prefix = "container.apparmor.security.beta.kubernetes.io/"
        annotations = (
            f"(!has({M}.annotations) || {M}.annotations.all(k, !k.startsWith({lit(prefix)}) || "
            f"{M}.annotations[k] == '' || {M}.annotations[k] == 'runtime/default' || "
            f"{M}.annotations[k].startsWith('localhost/')))"
        )
        return " && ".join(
            [
                _absent_or(S, "securityContext.appArmorProfile.type", ok),
                _each(_absent_or("c", "securityContext.appArmorProfile.type", ok)),
                annotations,
            ]
        )
    if control == "seLinuxOptions":
        types = _list(selinux_types(version))

        def opts(base: str) -> str:
            so = f"{base}.securityContext.seLinuxOptions"
            ok = (
                f"(!has({so}.type) || {so}.type in {types}) && "
                f"(!has({so}.user) || {so}.user == '') && (!has({so}.role) || {so}.role == '')"
            )
            return f"(!(has({base}.securityContext) && has({so})) || ({ok}))"

        return opts(S) + " && " + _each(opts("c"))
    if control in ("procMount", "procMount_restricted"):
        check = _each(_absent_or("c", "securityContext.procMount", "X == 'Default'"))
        if control == "procMount" and version >= (1, 35):
            return f"variables.userNamespace || ({check})"
        return check
    if control == "seccompProfile_baseline":
        ok = "(has(X.type) && X.type in ['RuntimeDefault', 'Localhost'])"
        return (
            _absent_or(S, "securityContext.seccompProfile", ok)
            + " && "
            + _each(_absent_or("c", "securityContext.seccompProfile", ok))
        )
    if control == "sysctls":
        allowed = _list(sysctls_allowed(version))
        return _absent_or(
            S, "securityContext.sysctls", f"X.all(x, has(x.name) && x.name in {allowed})"
        )
    if control == "hostProbesAndHostLifecycle":
        preds = []
        for handler in (
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle.postStart",
            "lifecycle.preStop",
        ):
            for action in ("httpGet", "tcpSocket"):
                preds.append(_absent_or("c", f"{handler}.{action}.host", "X == ''"))
        return _each(" && ".join(preds))
    if control == "restrictedVolumes":
        has_any = " || ".join(f"has(v.{s})" for s in sorted(ALLOWED_VOLUME_SOURCES))
        return f"(!has({S}.volumes) || {S}.volumes.all(v, {has_any} || size(v) == 1))"
    if control == "allowPrivilegeEscalation":
        return (
            "variables.windows || ("
            + _each(_is("c", "securityContext.allowPrivilegeEscalation", "false"))
            + ")"
        )
    if control == "runAsNonRoot":
        pod_true = _is(S, "securityContext.runAsNonRoot", "true")
        pod_false = _is(S, "securityContext.runAsNonRoot", "false")
        each = _each(
            f"(has(c.securityContext) && has(c.securityContext.runAsNonRoot)) ? "
            f"c.securityContext.runAsNonRoot == true : {pod_true}"
        )
        check = f"!{pod_false} && {each}"
        return f"variables.userNamespace || ({check})" if version >= (1, 35) else check
    if control == "runAsUser":
        check = f"!{_is(S, 'securityContext.runAsUser', '0')} && " + _each(
            f"!{_is('c', 'securityContext.runAsUser', '0')}"
        )
        return f"variables.userNamespace || ({check})" if version >= (1, 35) else check
    if control == "seccompProfile_restricted":
        good = "X.type in ['RuntimeDefault', 'Localhost']"
        pod_set = f"(has({psc}) && has({psc}.seccompProfile))"
        pod_ok = f"(!{pod_set} || (has({psc}.seccompProfile.type) && {psc}.seccompProfile.type in ['RuntimeDefault', 'Localhost']))"
        each = _each(
            "(has(c.securityContext) && has(c.securityContext.seccompProfile)) ? "
            f"(has(c.securityContext.seccompProfile.type) && {good.replace('X', 'c.securityContext.seccompProfile')}) : {pod_set}"
        )
        return f"variables.windows || ({pod_ok} && {each})"
    if control == "capabilities_restricted":
        caps = "c.securityContext.capabilities"
        each = _each(
            f"has(c.securityContext) && has({caps}) && has({caps}.drop) && 'ALL' in {caps}.drop && "
            f"(!has({caps}.add) || {caps}.add.all(a, a == 'NET_BIND_SERVICE'))"
        )
        return f"variables.windows || ({each})"
    raise ValueError(f"no CEL for control {control}")


def _qualified(image: str) -> str:
    """images.qualified in CEL: the domain made explicit."""
    return (
        f"(({image}.matches('^[^/]*[.:][^/]*/') || {image}.startsWith('localhost/')) ? {image} : "
        f"({image}.contains('/') ? 'docker.io/' + {image} : 'docker.io/library/' + {image}))"
    )


def _image_checks(rule: ImageRule) -> list[CelCheck]:
    img = "c.image"
    skip = "!has(c.image) || c.image == '' || "
    out = []
    if rule.registries:
        alts = " || ".join(
            f"{cand}.matches({lit(registry_regex(p))})"
            for p in rule.registries
            for cand in (img, _qualified(img))
        )
        out.append(
            CelCheck(
                "registry",
                _each(f"{skip}{alts}"),
                f"images must come from {', '.join(rule.registries)}",
            )
        )
    if rule.require_digest:
        out.append(
            CelCheck(
                "digest", _each(f"{skip}{img}.contains('@')"), "images must be pinned by digest"
            )
        )
    if rule.disallow_untagged:
        tagged = f"{img}.matches('^[^@]*:[^/@]*(@.*)?$')"
        out.append(
            CelCheck(
                "untagged",
                _each(f"{skip}{img}.contains('@') || {tagged}"),
                "images must have a tag or digest",
            )
        )
    for tag in rule.disallowed_tags:
        pattern = f"^[^@]*:{escape_regex(tag)}(@.*)?$"
        out.append(
            CelCheck(
                "tag",
                _each(f"{skip}!{img}.matches({lit(pattern)})"),
                f"images must not use the tag {tag!r}",
            )
        )
    return out


def rule_checks(rule: Rule) -> list[CelCheck]:
    """The CEL of a rule, one validation per control ([] when nothing is exportable)."""
    check = rule.check
    if isinstance(check, PodSecurityRule):
        return [
            CelCheck(
                c.id, _pss(c.id, check.version), f"Pod Security Standards {check.level}: {c.title}"
            )
            for c, _ in active_controls(Level(check.level), check.version)
        ]
    if isinstance(check, ImageRule):
        return _image_checks(check)
    if isinstance(check, LabelsRule):
        return [
            CelCheck(
                "required",
                f"has({M}.labels) && {lit(k)} in {M}.labels",
                f"pods must carry the label {k}",
            )
            for k in check.required
        ]
    if isinstance(check, ResourcesRule):
        out = []
        for kind, names in (("requests", check.requests), ("limits", check.limits)):
            for name in names:
                pred = f"has(c.resources) && has(c.resources.{kind}) && {lit(name)} in c.resources.{kind}"
                out.append(
                    CelCheck(
                        kind,
                        _each(pred, ("containers", "initContainers")),
                        f"containers must set {kind}.{name}",
                    )
                )
        return out
    if isinstance(check, ReadOnlyRootRule):
        return [
            CelCheck(
                "readOnlyRootFilesystem",
                _each(_is("c", "securityContext.readOnlyRootFilesystem", "true")),
                "containers must set securityContext.readOnlyRootFilesystem: true",
            )
        ]
    if isinstance(check, ServiceAccountTokenRule):
        key = lit(check.annotation)
        annotated = " || ".join(
            f"(has({m}.annotations) && {key} in {m}.annotations && {m}.annotations[{key}] == 'true')"
            for m in (M, "object.metadata")
        )
        return [
            CelCheck(
                "automountServiceAccountToken",
                f"{_is(S, 'automountServiceAccountToken', 'false')} || {annotated}",
                f'pods must set automountServiceAccountToken: false (or annotate {check.annotation}: "true")',
            )
        ]
    return []


def exportable(rule: Rule) -> bool:
    return bool(rule_checks(rule))


def _selector(sel: LabelSelector, labels: str) -> str:
    parts = []
    for r in sel.requirements:
        key = lit(r.key)
        present = f"(has({labels}) && {key} in {labels})"
        if r.operator is Operator.IN:
            parts.append(f"({present} && {labels}[{key}] in {_list(r.values)})")
        elif r.operator is Operator.NOT_IN:
            parts.append(f"(!{present} || !({labels}[{key}] in {_list(r.values)}))")
        elif r.operator is Operator.EXISTS:
            parts.append(present)
        else:
            parts.append(f"!{present}")
    return " && ".join(parts) or "true"


def _glob(pattern: str) -> str:
    return "^" + "".join({"*": ".*", "?": "."}.get(ch) or escape_regex(ch) for ch in pattern) + "$"


def scope_condition(scopes: tuple[Scope, ...]) -> str | None:
    """A CEL condition true when the object is NOT exempt (a matchCondition), or None."""
    parts = []
    for scope in scopes:
        for ns in scope.namespaces:
            parts.append(f"request.namespace.matches({lit(_glob(ns))})")
        if scope.labels is not None:
            parts.append(f"({_selector(scope.labels, 'object.metadata.labels')})")
            parts.append(f"({_selector(scope.labels, f'({_META}).labels')})")
    return f"!({' || '.join(parts)})" if parts else None
