"""Intents drawn in the page, kept in the intent file as YAML that `microseg verify` reads.

The file a person gives (`--intents FILE`) is theirs: its text, comments included, is kept
byte for byte. What the page draws goes into one SegmentationIntent document of its own
(`metadata.name: drawn-in-ui`) after a marker line at the end of the file; each save
rewrites only what follows the marker. Every check composes that text, writes it to a
temporary file and reads it with `load_intents`, the reader `verify` uses, so what the page
reports is what `microseg verify` will say of the saved file.

Groups: an end drawn on a workload, a namespace or a set of labels reuses a group of the
file that means the same (same workload, namespace or selector), else gets a new group named
after it (`frontend-webapp`, `ns-shop`, `shop-app-postgres`) in the page's document.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from microseg.analyses.verify import VerificationReport, verify
from microseg.engine import Connectivity, UnknownEndpointError, WorkloadGraph
from microseg.errors import InputError, Origin
from microseg.ingest.intents import load_intents
from microseg.model.intent import (
    BUILTIN_GROUPS,
    FlowIntent,
    FlowKind,
    GroupSpec,
    IntentSet,
    parse_intent_port,
)
from microseg.model.selectors import LabelSelector, Operator
from microseg.render.diagnostics import render_diagnostics
from microseg.render.intents import intent_yaml
from microseg.ui.models import DraftIntent, EndpointSpec

__all__ = ["MARKER", "UI_DOCUMENT", "DraftError", "IntentBook"]

UI_DOCUMENT = "drawn-in-ui"
MARKER = (
    "# --- microseg ui: the intents drawn in the web UI follow; "
    "each save there rewrites everything below this line ---"
)
_NAME_CHARS = re.compile(r"[^a-z0-9]+")


class DraftError(Exception):
    """A drawn intent that cannot be written (an unknown group, a bad port), or an intent
    file that does not read back; `diagnostics` are located lines as the CLI prints them."""

    def __init__(self, message: str, diagnostics: list[str] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


def _slug(text: str) -> str:
    return _NAME_CHARS.sub("-", text.lower()).strip("-")[:50] or "group"


def _labels_of(selector: LabelSelector | None) -> dict[str, str] | None:
    """matchLabels when the selector is only that (what the page draws), else None."""
    if selector is None:
        return None
    out: dict[str, str] = {}
    for r in selector.requirements:
        if r.operator is not Operator.IN or len(r.values) != 1 or r.key in out:
            return None
        out[r.key] = next(iter(r.values))
    return out


def _spec_of(group: GroupSpec) -> EndpointSpec | None:
    """The page's form of a group, when it has one."""
    if group.workload is not None:
        return EndpointSpec(type="workload", workload=group.workload)
    if group.cidrs or group.namespace_selector is not None:
        return None
    labels = _labels_of(group.selector)
    if group.selector is None and group.namespace is not None:
        return EndpointSpec(type="namespace", namespace=group.namespace)
    if labels is not None and labels:
        return EndpointSpec(type="labels", namespace=group.namespace, labels=labels)
    return None


def _same(a: GroupSpec, b: GroupSpec) -> bool:
    return (a.workload, a.namespace, a.namespace_selector, a.selector, a.cidrs) == (
        b.workload,
        b.namespace,
        b.namespace_selector,
        b.selector,
        b.cidrs,
    )


def _read_back(text: str, name: str) -> IntentSet:
    """`text` as `verify --intents` reads it; raises DraftError with located messages."""
    with tempfile.TemporaryDirectory(prefix="microseg-ui-") as tmp:
        path = Path(tmp) / (Path(name).name or "intents.yaml")
        path.write_text(text, encoding="utf-8")
        try:
            intents, _ = load_intents([str(path)])
        except InputError as exc:
            lines = render_diagnostics(exc.diagnostics).replace(str(path), name).splitlines()
            raise DraftError("the intents do not read back", lines) from None
    return _relocated(intents, name)


def _relocated(intents: IntentSet, name: str) -> IntentSet:
    """Origins pointing at the file shown, not the temporary copy that was read."""

    def moved(o: Origin) -> Origin:
        return replace(o, file=name)

    return IntentSet(
        tuple(replace(g, origin=moved(g.origin)) for g in intents.groups),
        tuple(replace(f, origin=moved(f.origin)) for f in intents.flows),
        tuple(replace(d, origin=moved(d.origin)) for d in intents.domains),
        tuple(replace(e, origin=moved(e.origin)) for e in intents.expectations),
        (name,),
    )


@dataclass
class IntentBook:
    """The intent file (`path`, None: nowhere to save) as the page edits it: `base` is the
    person's text, `drafts` the page's intents, `own` the groups the page's document
    defines, and `current` everything as last read back."""

    path: str | None
    base: str = ""
    drafts: list[DraftIntent] = field(default_factory=list)
    own: dict[str, GroupSpec] = field(default_factory=dict)
    current: IntentSet = field(default_factory=IntentSet)
    base_groups: dict[str, GroupSpec] = field(default_factory=dict)
    text: str = ""

    @property
    def shown_name(self) -> str:
        return self.path if self.path is not None else "intents.yaml"

    @staticmethod
    def open(path: str | None) -> IntentBook:
        """The book for `path`: an existing file is read (errors raise DraftError), a
        missing one starts empty and is created by the first save."""
        book = IntentBook(path)
        if path is None or not Path(path).exists():
            return book
        text = Path(path).read_text(encoding="utf-8")
        at = text.find(MARKER)
        book.base = text if at < 0 else text[:at]
        book.text = text
        if _has_content(book.base):
            base = _read_back(book.base, book.shown_name)
            book.base_groups = {g.name: g for g in base.groups}
        if _has_content(text):
            book.current = _read_back(text, book.shown_name)
        book.own = {g.name: g for g in book.current.groups if g.name not in book.base_groups}
        for f in book.current.flows:
            if f.intent == UI_DOCUMENT:
                book.drafts.append(
                    DraftIntent.model_validate(
                        {
                            "kind": f.kind.value,
                            "from": book._endpoint(f.src),
                            "to": book._endpoint(f.dst),
                            "ports": [str(p) for p in f.ports],
                        }
                    )
                )
        return book

    def _endpoint(self, name: str) -> EndpointSpec:
        group = self.own.get(name)
        spec = _spec_of(group) if group is not None else None
        return spec if spec is not None else EndpointSpec(type="group", group=name)

    # -- composing ------------------------------------------------------------------
    def compose(self, drafts: list[DraftIntent], conn: Connectivity) -> str:
        """The whole file text with `drafts` as the page's document."""
        groups: dict[str, GroupSpec] = {}
        flows: list[FlowIntent] = []
        counters = {FlowKind.ALLOW: 0, FlowKind.DENY: 0}
        for d in drafts:
            kind = FlowKind(d.kind)
            src = self._group_for(d.src, groups, conn)
            dst = self._group_for(d.dst, groups, conn)
            try:
                ports = tuple(parse_intent_port(p) for p in d.ports)
            except ValueError as exc:
                raise DraftError(f"ports: {exc}") from None
            flows.append(FlowIntent(kind, UI_DOCUMENT, counters[kind], src, dst, ports))
            counters[kind] += 1
        if not flows:
            return self.base
        doc = intent_yaml(
            UI_DOCUMENT,
            list(groups.values()),
            flows,
            "Drawn in `microseg ui`; checked with: microseg verify PATH --intents THIS-FILE",
        )
        base = self.base
        if base and not base.endswith("\n"):
            base += "\n"
        return f"{base}{MARKER}\n---\n{doc}"

    def _group_for(
        self, spec: EndpointSpec, groups: dict[str, GroupSpec], conn: Connectivity
    ) -> str:
        if spec.type == "group":
            name = spec.group or ""
            if name in BUILTIN_GROUPS or name in self.base_groups:
                return name
            if name in self.own:
                groups[name] = self.own[name]
                return name
            known = sorted({*BUILTIN_GROUPS, *self.base_groups, *self.own})
            raise DraftError(f"unknown group {name!r}; groups: {', '.join(known)}")
        wanted = self._spec_group(spec, conn)
        for existing in self.base_groups.values():
            if _same(existing, wanted) or _same_workload(existing, wanted, conn):
                return existing.name
        for existing in groups.values():
            if _same(existing, wanted):
                return existing.name
        name = wanted.name
        taken = {*BUILTIN_GROUPS, *self.base_groups, *groups}
        k = 2
        while name in taken:
            name, k = f"{wanted.name}-{k}", k + 1
        groups[name] = replace(wanted, name=name)
        return name

    @staticmethod
    def _spec_group(spec: EndpointSpec, conn: Connectivity) -> GroupSpec:
        if spec.type == "workload":
            if not spec.workload:
                raise DraftError("a workload end needs `workload` (ns/name or ns/name[Kind])")
            return GroupSpec(_slug(spec.workload.split("[")[0]), workload=spec.workload)
        if spec.type == "namespace":
            if not spec.namespace:
                raise DraftError("a namespace end needs `namespace`")
            return GroupSpec(_slug("ns-" + spec.namespace), namespace=spec.namespace)
        labels = spec.labels or {}
        if not labels:
            raise DraftError("a labels end needs at least one label")
        selector = LabelSelector.from_labels(labels)
        words = [spec.namespace or "", *(f"{k}-{v}" for k, v in sorted(labels.items()))]
        return GroupSpec(
            _slug("-".join(w for w in words if w)), namespace=spec.namespace, selector=selector
        )

    # -- checking and saving ----------------------------------------------------------
    def check(
        self, drafts: list[DraftIntent], conn: Connectivity, graph: WorkloadGraph
    ) -> tuple[str, IntentSet, VerificationReport | None]:
        text = self.compose(drafts, conn)
        intents = _read_back(text, self.shown_name) if _has_content(text) else IntentSet()
        report = verify(conn, intents, graph) if intents.count() else None
        return text, intents, report

    def save(self, drafts: list[DraftIntent], conn: Connectivity) -> str:
        """Write the file (atomically: a temporary file beside it, then a rename)."""
        if self.path is None:
            raise DraftError("no intent file: start `microseg ui` with --intents FILE to save")
        text = self.compose(drafts, conn)
        _read_back(text, self.shown_name)  # never write what verify would refuse
        target = Path(self.path)
        fd, tmp = tempfile.mkstemp(prefix=".microseg-ui-", dir=str(target.parent.resolve()))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return text

    def report(self, conn: Connectivity, graph: WorkloadGraph) -> VerificationReport | None:
        return verify(conn, self.current, graph) if self.current.count() else None


def _same_workload(existing: GroupSpec, wanted: GroupSpec, conn: Connectivity) -> bool:
    """`frontend/webapp` and `frontend/webapp[Deployment]` name one workload."""
    if existing.workload is None or wanted.workload is None:
        return False
    try:
        return conn.resolve(existing.workload).name == conn.resolve(wanted.workload).name
    except UnknownEndpointError:
        return False


def _has_content(text: str) -> bool:
    return any(
        line.strip() and not line.lstrip().startswith("#") and line.strip() != "---"
        for line in text.splitlines()
    )
