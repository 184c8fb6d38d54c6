"""Intent files to an `IntentSet`, with every problem located (file:line, field path).

Several files, and several documents per file, merge into one set: groups share one name
space, so one file may define the groups and another state the flows. A reference to a
group that no document defines, a group defined twice, or a group shadowing a built-in is
an error at the line that says it. Errors are collected across all files and raised
together as one `InputError`, as manifests are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from microseg.errors import Diagnostic, InputError, Origin, Severity
from microseg.ingest.documents import Document, FieldPath, read_paths
from microseg.ingest.intent_schema import INTENT_KIND, RawBlast, RawGroup, RawIntent, RawSelector
from microseg.ingest.netpols import selector_from_raw
from microseg.ingest.validation import diagnostics_from, format_path
from microseg.model.intent import (
    BUILTIN_GROUPS,
    INTERNET_GROUP,
    DefaultDeny,
    Domain,
    Expectation,
    FlowIntent,
    FlowKind,
    GroupSpec,
    IntentSet,
    MaxBlastRadius,
    NoInternetEgress,
    parse_intent_port,
)
from microseg.model.selectors import LabelSelector

__all__ = ["CODE_INVALID", "CODE_KIND", "CODE_REFERENCE", "load_intents"]

CODE_INVALID = "MS400"
CODE_REFERENCE = "MS401"
CODE_KIND = "MS402"


def _key_line(doc: Document, path: FieldPath) -> int | None:
    """The line of the key that names the last field of `path` (the value may start on the
    next line, e.g. a block list), or None when the path is not there."""
    node = doc.node
    for i, step in enumerate(path):
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            pair = next((kv for kv in node.value if getattr(kv[0], "value", None) == step), None)
            if pair is None:
                return None
            if i == len(path) - 1:
                return int(pair[0].start_mark.line) + 1
            node = pair[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value)
        ):
            node = node.value[step]
        else:
            return None
    return None


def _at_keys(doc: Document, diags: list[Diagnostic]) -> list[Diagnostic]:
    out = []
    for d in diags:
        path = tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", d.field))
        line = _key_line(doc, path) if d.origin is not None and path else None
        if line is not None and d.origin is not None:
            o = d.origin
            d = Diagnostic(
                d.severity,
                d.code,
                d.message,
                Origin(o.file, o.document, line, o.kind, o.namespace, o.name),
                d.field,
            )
        out.append(d)
    return out


# Pydantic names the member of a union it tried in the error's location (`RawBlast`,
# `list[RawBlast]`); a user knows fields, not our model names.
_MODEL_STEP = re.compile(r"\.(list\[)?Raw[A-Za-z]*\]?(?=[.\[]|$)")


def _user_paths(doc: Document, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Strip model names from field paths, and drop the errors of the union member that
    does not have the shape of the input (a list given where one or several are allowed
    reports "expected a mapping" for the single form too)."""
    out = []
    for d in diags:
        m = _MODEL_STEP.search(d.field)
        if m is None:
            out.append(d)
            continue
        prefix = tuple(
            int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", d.field[: m.start()])
        )
        value: object = doc.data
        for step in prefix:
            if isinstance(value, dict) and isinstance(step, str):
                value = value.get(step)
            elif isinstance(value, list) and isinstance(step, int) and step < len(value):
                value = value[step]
            else:
                value = None
        wants_list = m.group(1) is not None
        if isinstance(value, (list, dict)) and isinstance(value, list) != wants_list:
            continue
        field = d.field[: m.start()] + d.field[m.end() :]
        out.append(Diagnostic(d.severity, d.code, d.message, d.origin, field))
    return out


def _selector(raw: RawSelector | None) -> LabelSelector | None:
    return selector_from_raw(raw) if raw is not None else None  # type: ignore[arg-type]


def _origin(doc: Document, path: FieldPath, name: str) -> Origin:
    return Origin(doc.file, doc.index, doc.line_of(path), "SegmentationIntent", "", name)


def _group(name: str, raw: RawGroup, origin: Origin) -> GroupSpec:
    return GroupSpec(
        name,
        workload=raw.workload,
        namespace=raw.namespace,
        namespace_selector=_selector(raw.namespaceSelector),
        selector=_selector(raw.selector),
        cidrs=tuple(raw.cidr or ()),
        origin=origin,
    )


class _Builder:
    def __init__(self) -> None:
        self.groups: dict[str, GroupSpec] = {}
        self.flows: list[FlowIntent] = []
        self.domains: list[Domain] = []
        self.expectations: list[Expectation] = []
        self.refs: list[tuple[str, Document, FieldPath]] = []
        self.errors: list[Diagnostic] = []
        self.files: list[str] = []
        self.skipped: list[Diagnostic] = []
        self.flow_docs: list[tuple[FlowIntent, Document, FieldPath]] = []
        self.pods_only: list[tuple[str, str, Document, FieldPath]] = []
        self.names: dict[str, Document] = {}
        self.empty_docs: list[Document] = []

    def error(self, code: str, message: str, doc: Document, path: FieldPath) -> None:
        line = _key_line(doc, path) or doc.line_of(path, exact=True)
        origin = Origin(doc.file, doc.index, line, "SegmentationIntent")
        self.errors.append(Diagnostic(Severity.ERROR, code, message, origin, format_path(path)))

    def ref(self, name: str, doc: Document, path: FieldPath) -> str:
        self.refs.append((name, doc, path))
        return name

    def add(self, doc: Document) -> None:
        api = str(doc.data.get("apiVersion", ""))
        if not api.startswith("microseg.dev/"):
            # A Kubernetes object beside the intents (e.g. `--intents examples/demo`): skipped.
            self.skipped.append(
                Diagnostic(
                    Severity.WARNING,
                    CODE_KIND,
                    f"{doc.data.get('kind')} {api} is not a SegmentationIntent; skipped",
                    Origin(doc.file, doc.index, doc.line, str(doc.data.get("kind", ""))),
                )
            )
            return
        if doc.data.get("kind") != INTENT_KIND:
            self.error(
                CODE_KIND,
                f"expected kind {INTENT_KIND} (apiVersion microseg.dev/v1alpha1), got "
                f"{doc.data.get('kind')!r}",
                doc,
                ("kind",),
            )
            return
        try:
            raw = RawIntent.model_validate(doc.data)
        except ValidationError as exc:
            diags = _user_paths(doc, diagnostics_from(exc, doc, CODE_INVALID))
            self.errors.extend(_at_keys(doc, diags))
            return
        if doc.file not in self.files:
            self.files.append(doc.file)
        name = raw.metadata.name
        spec = raw.spec
        states = bool(spec.allow or spec.deny or spec.domains or spec.expect)
        if states and name in self.names:
            # intent ids are `name/section[i]`: two documents of one name that both state
            # intents would share them (a document of groups only has no ids)
            earlier = self.names[name]
            self.error(
                CODE_REFERENCE,
                f"intent document {name!r} defined twice (first at {earlier.file}:"
                f"{earlier.line}); "
                "documents that state intents need distinct metadata.name",
                doc,
                ("metadata", "name"),
            )
            return
        if states:
            self.names[name] = doc
        else:
            self.empty_docs.append(doc)
        for gname, graw in (spec.groups or {}).items():
            path: FieldPath = ("spec", "groups", gname)
            if gname in BUILTIN_GROUPS:
                self.error(
                    CODE_REFERENCE, f"group {gname!r} is built in; choose another name", doc, path
                )
                continue
            if gname in self.groups:
                first = self.groups[gname].origin.location()
                self.error(
                    CODE_REFERENCE, f"group {gname!r} defined twice (first at {first})", doc, path
                )
                continue
            self.groups[gname] = _group(gname, graw, _origin(doc, path, name))
        for section, kind in (("allow", FlowKind.ALLOW), ("deny", FlowKind.DENY)):
            for i, flow in enumerate(getattr(spec, section) or ()):
                path = ("spec", section, i)
                self.flows.append(
                    FlowIntent(
                        kind,
                        name,
                        i,
                        self.ref(flow.from_, doc, (*path, "from")),
                        self.ref(flow.to, doc, (*path, "to")),
                        tuple(parse_intent_port(str(p)) for p in flow.ports or ()),
                        _origin(doc, path, name),
                    )
                )
                self.flow_docs.append((self.flows[-1], doc, path))
        seen = {d.name for d in self.domains}
        for i, dom in enumerate(spec.domains or ()):
            path = ("spec", "domains", i)
            if dom.name in seen:
                self.error(
                    CODE_REFERENCE, f"domain {dom.name!r} defined twice", doc, (*path, "name")
                )
                continue
            seen.add(dom.name)
            members = tuple(
                self.ref(m, doc, (*path, "members", j)) for j, m in enumerate(dom.members)
            )
            self.domains.append(
                Domain(name, i, dom.name, members, dom.isolation, _origin(doc, path, name))
            )
        self._expect(raw, doc, name)

    def _expect(self, raw: RawIntent, doc: Document, name: str) -> None:
        expect = raw.spec.expect
        if expect is None:
            return
        base: FieldPath = ("spec", "expect")
        for i, g in enumerate(expect.defaultDeny or ()):
            path = (*base, "defaultDeny", i)
            self.pods_only.append((g, "defaultDeny", doc, path))
            self.expectations.append(
                DefaultDeny(name, self.ref(g, doc, path), _origin(doc, path, name))
            )
        for i, g in enumerate(expect.noInternetEgress or ()):
            path = (*base, "noInternetEgress", i)
            self.pods_only.append((g, "noInternetEgress", doc, path))
            self.expectations.append(
                NoInternetEgress(name, self.ref(g, doc, path), _origin(doc, path, name))
            )
        blasts = expect.maxBlastRadius
        single = isinstance(blasts, RawBlast)
        items: list[RawBlast] = [blasts] if isinstance(blasts, RawBlast) else list(blasts or ())
        for i, b in enumerate(items):
            path = (*base, "maxBlastRadius") if single else (*base, "maxBlastRadius", i)
            self.expectations.append(
                MaxBlastRadius(
                    name,
                    i,
                    self.ref(b.from_, doc, (*path, "from")),
                    b.hops,
                    b.atMost,
                    _origin(doc, path, name),
                )
            )

    def check_refs(self) -> None:
        known = set(self.groups) | set(BUILTIN_GROUPS)
        for name, doc, path in self.refs:
            if name not in known:
                choices = ", ".join(sorted(known))
                self.error(
                    CODE_REFERENCE,
                    f"undefined group {name!r}; defined: {choices}",
                    doc,
                    path,
                )
        # Between two external ranges no policy of the cluster applies: nothing to verify.
        external = {INTERNET_GROUP} | {n for n, g in self.groups.items() if g.cidrs}
        for flow, doc, path in self.flow_docs:
            if flow.src in external and flow.dst in external:
                self.error(
                    CODE_REFERENCE,
                    f"{flow.src} and {flow.dst} are both external addresses: no policy of the "
                    "cluster applies between them; one end must be a group of pods",
                    doc,
                    path,
                )
        # Isolation and egress are properties of pods; addresses have neither.
        for group, what, doc, path in self.pods_only:
            if group in external:
                self.error(
                    CODE_REFERENCE,
                    f"{what} needs a group of pods; {group} is external addresses",
                    doc,
                    path,
                )

    def no_intents(self) -> list[Diagnostic]:
        """A warning when the documents state no intent: `PASS all 0 intents hold` would
        read as a pass although nothing was checked."""
        if self.flows or self.domains or self.expectations or not self.files:
            return []
        d = self.empty_docs[0] if self.empty_docs else None
        origin = (
            Origin(d.file, d.index, d.line, "SegmentationIntent")
            if d is not None
            else Origin(file=", ".join(self.files))
        )
        message = (
            "no intent (allow, deny, domains or expect) in the intent files: nothing to verify"
        )
        return [Diagnostic(Severity.WARNING, CODE_KIND, message, origin)]


def _unique(paths: list[str]) -> list[str]:
    """The paths in order, each file once: the same file given twice is read once."""
    seen: set[Path] = set()
    out = []
    for p in paths:
        key = Path(p).resolve() if p != "-" else Path("-")
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def load_intents(paths: Iterable[str]) -> tuple[IntentSet, tuple[Diagnostic, ...]]:
    """Every intent document in `paths`. Raises InputError with all errors found; returns
    the set and the warnings: documents that are not objects, and Kubernetes objects found
    among the intents (skipped, so that a folder of manifests and intents can be given)."""
    paths = _unique(list(paths))
    b = _Builder()
    warnings: list[Diagnostic] = []
    for item in read_paths(list(paths)):
        if isinstance(item, Diagnostic):
            (b.errors if item.severity is Severity.ERROR else warnings).append(item)
            continue
        b.add(item)
    b.check_refs()
    warnings += b.skipped
    warnings += b.no_intents()
    if not b.files and not b.errors:
        b.errors.append(
            Diagnostic(
                Severity.ERROR,
                CODE_KIND,
                "no SegmentationIntent document in the intent files",
                Origin(file=", ".join(paths)),
            )
        )
    if b.errors:
        raise InputError(b.errors)
    return (
        IntentSet(
            tuple(b.groups.values()),
            tuple(b.flows),
            tuple(b.domains),
            tuple(b.expectations),
            tuple(b.files),
        ),
        tuple(warnings),
    )
