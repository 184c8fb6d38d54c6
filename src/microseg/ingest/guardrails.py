"""Guardrail files to a `GuardrailSet`, every problem located (file:line, field path).

Codes: MS600 an invalid field (unknown field, bad mode, level, version, registry, label
key, ...); MS601 a rule name used twice, an intents rule whose files cannot be read (their
own MS400-MS402 errors follow); MS602 a document that is not a Guardrails (a warning for
Kubernetes objects among the files; an error when the files hold no Guardrails at all).
Errors are collected across files and raised together as one `InputError`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from microseg.errors import Diagnostic, InputError, Origin, Severity
from microseg.ingest.documents import Document, FieldPath, read_paths
from microseg.ingest.guardrails_schema import GUARDRAILS_KIND, RawGuardrails, RawRule, RawScope
from microseg.ingest.intents import _at_keys, _key_line, _user_paths, load_intents
from microseg.ingest.netpols import selector_from_raw
from microseg.ingest.validation import diagnostics_from, format_path
from microseg.model.guardrails import (
    GuardrailSet,
    ImageRule,
    IngressIsolationRule,
    IntentsRule,
    LabelsRule,
    Mode,
    PodSecurityRule,
    ReadOnlyRootRule,
    ResourcesRule,
    Rule,
    RuleCheck,
    Scope,
    ServiceAccountTokenRule,
    parse_pss_version,
)

__all__ = ["CODE_INVALID", "CODE_KIND", "CODE_REFERENCE", "load_guardrails"]

CODE_INVALID = "MS600"
CODE_REFERENCE = "MS601"
CODE_KIND = "MS602"


def _scope(raw: RawScope | None) -> Scope:
    if raw is None:
        return Scope()
    labels = selector_from_raw(raw.labels) if raw.labels is not None else None  # type: ignore[arg-type]
    return Scope(tuple(raw.namespaces or ()), labels)


def _merge(a: Scope, b: Scope) -> Scope:
    return Scope((*a.namespaces, *b.namespaces), a.labels or b.labels)


class _Builder:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.exempt = Scope()
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.files: list[str] = []
        self.names: dict[str, Rule] = {}

    def error(self, code: str, message: str, doc: Document, path: FieldPath) -> None:
        line = _key_line(doc, path) or doc.line_of(path, exact=True)
        origin = Origin(doc.file, doc.index, line, GUARDRAILS_KIND)
        self.errors.append(Diagnostic(Severity.ERROR, code, message, origin, format_path(path)))

    def add(self, doc: Document) -> None:
        api = str(doc.data.get("apiVersion", ""))
        if not api.startswith("microseg.dev/"):
            self.warnings.append(
                Diagnostic(
                    Severity.WARNING,
                    CODE_KIND,
                    f"{doc.data.get('kind')} {api} is not a Guardrails document; skipped",
                    Origin(doc.file, doc.index, doc.line, str(doc.data.get("kind", ""))),
                )
            )
            return
        if doc.data.get("kind") != GUARDRAILS_KIND:
            if doc.data.get("kind") == "SegmentationIntent":
                return  # intents beside the guardrails; an intents rule names their files
            self.error(
                CODE_KIND,
                f"expected kind {GUARDRAILS_KIND} (apiVersion microseg.dev/v1alpha1), got "
                f"{doc.data.get('kind')!r}",
                doc,
                ("kind",),
            )
            return
        try:
            raw = RawGuardrails.model_validate(doc.data)
        except ValidationError as exc:
            diags = _user_paths(doc, diagnostics_from(exc, doc, CODE_INVALID))
            self.errors.extend(_at_keys(doc, diags))
            return
        if doc.file not in self.files:
            self.files.append(doc.file)
        self.exempt = _merge(self.exempt, _scope(raw.spec.exempt))
        for i, rule in enumerate(raw.spec.rules):
            path: FieldPath = ("spec", "rules", i)
            if rule.name in self.names:
                first = self.names[rule.name].origin.location()
                self.error(
                    CODE_REFERENCE,
                    f"rule {rule.name!r} defined twice (first at {first}); rule names must be unique",
                    doc,
                    (*path, "name"),
                )
                continue
            check = self._check(rule, doc, path)
            if check is None:
                continue
            origin = Origin(doc.file, doc.index, doc.line_of(path), GUARDRAILS_KIND, "", rule.name)
            made = Rule(rule.name, check, Mode(rule.mode), _scope(rule.exempt), origin)
            self.names[rule.name] = made
            self.rules.append(made)

    def _check(self, rule: RawRule, doc: Document, path: FieldPath) -> RuleCheck | None:
        if rule.podSecurity is not None:
            p = rule.podSecurity
            return PodSecurityRule(p.level, parse_pss_version(p.version))
        if rule.images is not None:
            im = rule.images
            return ImageRule(
                tuple(im.registries or ()),
                im.requireDigest,
                tuple(im.disallowTags),
                im.disallowUntagged,
            )
        if rule.labels is not None:
            return LabelsRule(tuple(rule.labels.required), rule.labels.segmentationKeys)
        if rule.resources is not None:
            return ResourcesRule(tuple(rule.resources.requests), tuple(rule.resources.limits))
        if rule.readOnlyRootFilesystem is not None:
            return ReadOnlyRootRule()
        if rule.serviceAccountToken is not None:
            return ServiceAccountTokenRule(rule.serviceAccountToken.allowAnnotation)
        if rule.ingressIsolation is not None:
            return IngressIsolationRule()
        assert rule.intents is not None
        base = Path(doc.file).parent if not doc.file.startswith("<") else Path(".")
        files = [str(base / f) for f in rule.intents.files]
        try:
            intents, notes = load_intents(files)
        except InputError as exc:
            self.error(
                CODE_REFERENCE,
                f"rule {rule.name!r}: the intent files have {len(exc.diagnostics)} error(s), shown below",
                doc,
                (*path, "intents", "files"),
            )
            self.errors.extend(exc.diagnostics)
            return None
        self.warnings.extend(notes)
        return IntentsRule(intents, tuple(files))


def load_guardrails(paths: list[str]) -> tuple[GuardrailSet, tuple[Diagnostic, ...]]:
    """Every Guardrails document in `paths`. Raises InputError with all errors found;
    returns the set and the warnings."""
    b = _Builder()
    for item in read_paths(list(paths)):
        if isinstance(item, Diagnostic):
            (b.errors if item.severity is Severity.ERROR else b.warnings).append(item)
            continue
        b.add(item)
    if not b.files and not b.errors:
        b.errors.append(
            Diagnostic(
                Severity.ERROR,
                CODE_KIND,
                "no Guardrails document (apiVersion microseg.dev/v1alpha1) in the guardrail files",
                Origin(file=", ".join(paths)),
            )
        )
    if b.errors:
        raise InputError(b.errors)
    return GuardrailSet(tuple(b.rules), b.exempt, tuple(b.files)), tuple(b.warnings)
