"""YAML documents built straight from the parser's events, without a node tree per file.

Composing a node tree costs most of a YAML read: libyaml calls back into Python to resolve
every scalar's tag and to create every node, and the tree of a 50 MB `List` holds millions
of nodes at once (1.5 GB or more) before anything is built from it. The event stream costs a
seventh of that. Here values are built from events with an explicit stack (no recursion),
and a node tree is kept only where line numbers inside an object serve more than
diagnostics: rules of policies, intents, anything but the bulk kinds below, whose
diagnostics find their exact lines by composing the file again (documents.LazyTree), which
only a file with problems pays for.

Anything this builder does not reproduce exactly as PyYAML's safe constructor would
(anchors and aliases, merge keys, non-string keys, collections with explicit tags) raises
`Unusual` and the caller reads the file through the composing path instead; so do
scalars it does not build itself, which go to PyYAML's own constructor one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["BULK_KINDS", "Parsed", "Unusual", "event_documents"]

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"

BULK_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicationController",
        "Service",
        "ServiceAccount",
        "Node",
        "Namespace",
        "Endpoints",
        "EndpointSlice",
        "ConfigMap",
        "Secret",
        "Event",
    }
)
"""Kinds read for their fields only: no explanation quotes a line inside them."""


class Unusual(Exception):
    """The text uses YAML this builder leaves to PyYAML's composer."""


@dataclass(slots=True)
class Parsed:
    """One document: its value, its line, its node tree when kept, and for a document whose
    root has an `items` sequence, each item's line and node tree when kept."""

    data: Any
    line: int
    node: yaml.Node | None
    item_lines: list[int] | None = None
    item_nodes: list[yaml.Node | None] | None = None


@dataclass(slots=True)
class _Frame:
    value: Any  # dict or list being filled
    key: str | None = None  # a mapping's pending key
    has_key: bool = False
    unit: int = 0  # 1: the root, 2: an item of the root's `items`
    items: bool = False  # this sequence is the root's `items`


@dataclass(slots=True)
class _Unit:
    """The events of one root or item, kept to compose its node tree if its kind asks."""

    events: list[Any] = field(default_factory=list)


def _kind_of(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else ""


def _keeps_node(value: Any, root: Any) -> bool:
    """Whether an object (an item of `root`'s list, if given) is of a kind whose inner
    lines serve explanations. A typed list's items (PodList) take their kind from it."""
    kind = _kind_of(value)
    if not kind and root is not None:
        kind = _kind_of(root).removesuffix("List")
    return kind not in BULK_KINDS


def event_documents(loader: Any) -> list[Parsed]:
    """Every document of the loader's stream. Raises `Unusual` (see the module docstring)
    and whatever the parser raises."""
    out: list[Parsed] = []
    scalar = _ScalarBuilder(loader)
    get = loader.get_event
    get()  # StreamStart
    while not isinstance(loader.peek_event(), yaml.StreamEndEvent):
        get()  # DocumentStart
        out.append(_document(loader, scalar))
        get()  # DocumentEnd
    get()
    return out


def _document(loader: Any, scalar: _ScalarBuilder) -> Parsed:
    """One document's value from its events. The events of the root (less its `items`) and
    of each item are kept apart, so that each can be composed into nodes, or dropped."""
    get = loader.get_event
    resolve = loader.resolve
    stack: list[_Frame] = []
    root_unit = _Unit()
    item_unit: _Unit | None = None
    item_lines: list[int] | None = None
    item_nodes: list[yaml.Node | None] | None = None
    line = 0
    memo: dict[str, str] = getattr(loader, "tags", {})
    scalar_event, str_tag = yaml.ScalarEvent, _STR
    while True:
        event = get()
        cls = type(event)
        unit = item_unit if item_unit is not None else root_unit
        unit.events.append(event)
        opened: _Frame | None = None
        if cls is scalar_event:
            if event.anchor is not None:
                raise Unusual
            tag = event.tag
            if tag is None:  # inlined: nine scalars in ten are plain or quoted strings
                tag = (
                    memo.get(event.value) or scalar.resolve(event) if event.implicit[0] else str_tag
                )
            elif tag == "!":
                tag = scalar.resolve(event)
            value: Any = event.value if tag == str_tag else scalar.build(event, tag)
            scalar.tag = tag
        elif cls is yaml.AliasEvent or getattr(event, "anchor", None) is not None:
            raise Unusual
        elif cls is yaml.MappingStartEvent:
            if event.tag not in (None, "!", _MAP):
                raise Unusual
            opened = _Frame({})
            value = opened.value
        elif cls is yaml.SequenceStartEvent:
            if event.tag not in (None, "!", _SEQ):
                raise Unusual
            opened = _Frame([])
            value = opened.value
        else:  # a collection ends
            frame = stack.pop()
            if frame.unit == 2 and item_unit is not None and item_nodes is not None:
                keep = _keeps_node(frame.value, stack[0].value if stack else None)
                item_nodes.append(_compose(item_unit.events, resolve) if keep else None)
                item_unit = None
            if not stack:
                break
            continue
        if not stack:
            line = event.start_mark.line + 1
            if opened is None:
                return Parsed(value, line, _compose(root_unit.events, resolve))
            opened.unit = 1
            stack.append(opened)
            continue
        parent = stack[-1]
        if type(parent.value) is dict:
            if not parent.has_key:
                if cls is not scalar_event or scalar.tag != _STR:
                    raise Unusual  # merge keys, non-string keys: PyYAML's rules
                parent.key, parent.has_key = value, True
                continue
            assert parent.key is not None
            parent.value[parent.key] = value
            parent.has_key = False
            if parent.unit == 1 and parent.key == "items" and cls is yaml.SequenceStartEvent:
                assert opened is not None
                opened.items = True
                item_lines, item_nodes = [], []
        else:
            parent.value.append(value)
            if parent.items:
                assert item_lines is not None
                assert item_nodes is not None
                item_lines.append(event.start_mark.line + 1)
                if opened is None:
                    item_nodes.append(None)  # not an object: reported with its line
                else:
                    opened.unit = 2
                    unit.events.pop()
                    item_unit = _Unit([event])
        if opened is not None:
            stack.append(opened)
    result = frame.value
    if item_lines is not None:
        # Its items are documents of their own (a List); otherwise, lines inside it are
        # found by composing the file again.
        return Parsed(result, line, None, item_lines, item_nodes)
    node = _compose(root_unit.events, resolve) if _keeps_node(result, None) else None
    return Parsed(result, line, node)


class _ScalarBuilder:
    """Scalars as the safe constructor builds them; strings, decimal ints and nulls here,
    everything else (bools, floats, timestamps, explicit tags) by PyYAML itself."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.tag = ""

    def resolve(self, event: Any) -> str:
        tag: str = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return tag

    def build(self, event: Any, tag: str) -> Any:
        """A scalar whose tag is `tag` (resolved already)."""
        v = event.value
        if tag == _STR:
            return v
        if tag == _INT and v.isdigit() and v.isascii() and (v[0] != "0" or v == "0"):
            return int(v)  # YAML 1.1: a leading 0 means octal; PyYAML decides those
        if tag == _NULL:
            return None
        node = yaml.ScalarNode(tag, v, event.start_mark, event.end_mark, event.style)
        try:
            return self.loader.construct_object(node, deep=True)
        finally:
            self.loader.constructed_objects = {}


def _compose(events: list[Any], resolve: Any) -> yaml.Node | None:
    """The node tree of one unit's events, as PyYAML's composer builds it (no anchors here).
    `resolve` is the loader's tag resolver."""
    stack: list[Any] = []
    root: Any = None
    pending: list[Any] = []  # per open mapping, its key node awaiting a value
    for event in events:
        cls = type(event)
        if cls is yaml.ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(yaml.ScalarNode, event.value, event.implicit)
            node: Any = yaml.ScalarNode(
                tag, event.value, event.start_mark, event.end_mark, style=event.style
            )
        elif cls is yaml.MappingStartEvent:
            node = yaml.MappingNode(
                _MAP if event.tag in (None, "!") else event.tag,
                [],
                event.start_mark,
                None,
                flow_style=event.flow_style,
            )
        elif cls is yaml.SequenceStartEvent:
            node = yaml.SequenceNode(
                _SEQ if event.tag in (None, "!") else event.tag,
                [],
                event.start_mark,
                None,
                flow_style=event.flow_style,
            )
        else:
            done = stack.pop()
            done.end_mark = event.end_mark
            if isinstance(done, yaml.MappingNode):
                pending.pop()
            continue
        if stack:
            parent = stack[-1]
            if isinstance(parent, yaml.MappingNode):
                if pending[-1] is None:
                    pending[-1] = node
                else:
                    parent.value.append((pending[-1], node))
                    pending[-1] = None
            else:
                parent.value.append(node)
        else:
            root = node
        if cls is not yaml.ScalarEvent:
            stack.append(node)
            if cls is yaml.MappingStartEvent:
                pending.append(None)
    return root  # type: ignore[no-any-return]
