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
            self.errors.extend(_at_keys(doc, diagnostics_from(exc, doc, CODE_INVALID)))
            return
        if doc.file not in self.files:
            self.files.append(doc.file)
        name = raw.metadata.name
        spec = raw.spec
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
            self.expectations.append(
                DefaultDeny(name, self.ref(g, doc, path), _origin(doc, path, name))
            )
        for i, g in enumerate(expect.noInternetEgress or ()):
            path = (*base, "noInternetEgress", i)
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


def load_intents(paths: Iterable[str]) -> tuple[IntentSet, tuple[Diagnostic, ...]]:
    """Every intent document in `paths`. Raises InputError with all errors found; returns
    the set and the warnings: documents that are not objects, and Kubernetes objects found
    among the intents (skipped, so that a folder of manifests and intents can be given)."""
    paths = list(paths)
    b = _Builder()
    warnings: list[Diagnostic] = []
    for item in read_paths(list(paths)):
        if isinstance(item, Diagnostic):
            (b.errors if item.severity is Severity.ERROR else warnings).append(item)
            continue
        b.add(item)
    b.check_refs()
    warnings += b.skipped
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
