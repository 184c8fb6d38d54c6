"""Reading files into Kubernetes documents, each with its file, index and line.

YAML goes through PyYAML's C parser when present; we compose the node tree and construct
from it ourselves, so line numbers stay available for diagnostics and explanations without a
second parse. JSON goes through the standard C decoder. A YAML alias bomb is refused before
anything walks the expanded tree.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.yaml_events import Unusual, event_documents

__all__ = ["MAX_INPUT_BYTES", "Document", "FieldPath", "read_paths"]

FieldPath = tuple[str | int, ...]

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_RESOLVED_CAP = 200_000
_resolved: dict[str, str] = {}  # implicit scalar text -> tag, shared by every load


_DEFAULT_TAGS = {yaml.ScalarNode: _STR, yaml.SequenceNode: _SEQ, yaml.MappingNode: _MAP}


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader with a memo for implicit scalar tags.

    libyaml calls back into Python's `resolve` for every scalar, which tries up to a dozen
    regular expressions on it; manifests repeat the same few thousand keys and values, and
    without path resolvers (this class has none) the tag depends on the text alone."""

    tags = _resolved  # the memo, read directly by ingest/yaml_events.py for plain scalars

    def resolve(self, kind: type, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:  # collections pass a bare bool
            tag = _resolved.get(value)
            if tag is None:
                if len(_resolved) > _RESOLVED_CAP:
                    _resolved.clear()
                tag = _resolved[value] = super().resolve(kind, value, (True, False))
            return tag
        # Without path resolvers, PyYAML's answer for the rest is its default tag per kind.
        return _DEFAULT_TAGS[kind]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # only path resolvers use these, and this class has none

    def ascend_resolver(self) -> None:
        pass


MANIFEST_SUFFIXES = {".yaml", ".yml", ".json"}
MAX_EXPANDED_NODES = 2_000_000
# Far beyond any real manifest (CRD schemas nest a few dozen levels), and low enough that
# neither libyaml's own limit (1,000 levels in the PyYAML served now) nor Python's recursion
# is ever reached first: the guard below decides, whatever the parser does.
MAX_DEPTH = 100
_DEEP_INDENT = re.compile(rf"^[ \t-]{{{MAX_DEPTH}}}", re.MULTILINE)


class LazyTree:
    """A file's YAML node tree, composed only when a diagnostic needs a line number: JSON is
    parsed by the fast decoder, which keeps no positions."""

    __slots__ = ("_nodes", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._nodes: list[yaml.Node] | None = None

    def node(self, index: int) -> yaml.Node | None:
        if self._nodes is None:
            try:
                self._nodes = list(yaml.compose_all(self._text, Loader=_Loader))
            except (yaml.YAMLError, RecursionError):
                self._nodes = []
        return self._nodes[index] if index < len(self._nodes) else None


@dataclass(slots=True)
class Document:
    """One Kubernetes object as read, before validation."""

    data: dict[str, Any]
    file: str
    index: int
    line: int | None
    node: yaml.Node | None = None
    base_path: FieldPath = ()
    tree: LazyTree | None = None

    def origin(self) -> Origin:
        meta = self.data.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        return Origin(
            file=self.file,
            document=self.index,
            line=self.line,
            kind=str(self.data.get("kind", "")),
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
        )

    def line_of(self, path: FieldPath, exact: bool = False) -> int | None:
        """The line of the deepest node along `path` (1-based); the document's line if none.
        `exact` composes a JSON file's positions when needed (for diagnostics only)."""
        node = self.node
        if node is None and exact and self.tree is not None:
            node = self.tree.node(self.index)
        if node is None:
            return self.line
        line = node.start_mark.line + 1
        for step in self.base_path + path:
            child = _child(node, step)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line


def _child(node: yaml.Node, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == step:
                return v  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]  # type: ignore[no-any-return]
    return None


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes a full traversal would visit, counting every alias use; linear in distinct nodes."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a cycle counts once and stops here
    total = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo) + _expanded_size(v, memo)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            total += _expanded_size(v, memo)
    memo[key] = total
    return total


class _ReadError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


def _error(code: str, message: str, file: str, line: int | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, Origin(file=file, line=line))


def _too_deep(file: str, line: int | None) -> Diagnostic:
    return _error("MS003", f"YAML nests deeper than {MAX_DEPTH} levels; refused", file, line)


def _nests_deeper_than(text: str, limit: int) -> bool:
    """Whether the collections nest deeper than `limit`, from the event stream (which needs
    no recursion). It stops at the first event past the limit: libyaml checks its pending
    simple keys on every token, so parsing a pathologically deep document to its end costs
    time quadratic in its depth (two minutes for 100,000 levels)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limit:
                return True
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return False


def _might_nest_deeply(text: str) -> bool:
    # Block nesting needs indentation at least as deep; flow nesting needs brackets.
    if text.count("[") + text.count("{") > MAX_DEPTH:
        return True
    return _DEEP_INDENT.search(text) is not None


Parsed = tuple[Any, int | None, yaml.Node | None, list[int] | None, list[yaml.Node | None] | None]
"""A document's value, line and node tree, and for a list its items' lines and trees."""


def _yaml_documents(text: str, file: str) -> Iterator[Parsed]:
    # libyaml's composer recurses in C, so a deeply nested document would crash the process
    # rather than raise: measure the depth from events first when the text could nest deeply.
    try:
        if _might_nest_deeply(text) and _nests_deeper_than(text, MAX_DEPTH):
            raise _ReadError(_too_deep(file, None))
    except yaml.YAMLError:
        pass  # reported with its line by the real parse below
    with _yaml_errors(file):
        loader = _Loader(text)
        try:
            docs = event_documents(loader)  # the fast path (ingest/yaml_events.py)
        except Unusual:
            docs = None
        finally:
            loader.dispose()
    if docs is not None:
        for d in docs:
            yield d.data, d.line, d.node, d.item_lines, d.item_nodes
        return
    for data, line, node in _composed_documents(text, file):
        yield data, line, node, None, None


@contextmanager
def _yaml_errors(file: str) -> Iterator[None]:
    """Parser errors as located MS002 (MS003 for nesting) diagnostics."""
    try:
        yield
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if "nesting depth" in problem:  # a parser with a limit of its own, below ours
            raise _ReadError(_too_deep(file, line)) from exc
        raise _ReadError(_error("MS002", f"invalid YAML: {problem}", file, line)) from exc
    except yaml.YAMLError as exc:
        raise _ReadError(_error("MS002", f"invalid YAML: {exc}", file)) from exc
    except RecursionError as exc:
        raise _ReadError(_too_deep(file, None)) from exc


def _composed_documents(text: str, file: str) -> Iterator[tuple[Any, int, yaml.Node]]:
    """Through PyYAML's composer: for what the event path leaves to it (anchors, merge keys,
    non-string keys, tagged collections)."""
    loader = _Loader(text)
    has_aliases = "*" in text and "&" in text
    with _yaml_errors(file):
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                if has_aliases and _expanded_size(node, {}) > MAX_EXPANDED_NODES:
                    raise _ReadError(
                        _error(
                            "MS003",
                            f"document expands to more than {MAX_EXPANDED_NODES:,} nodes "
                            "through YAML aliases (an alias bomb?); refused",
                            file,
                            node.start_mark.line + 1,
                        )
                    )
                data = _construct(loader, node, fast=not has_aliases)
                yield data, node.start_mark.line + 1, node
        finally:
            loader.dispose()


def _construct(loader: Any, node: yaml.Node, fast: bool) -> Any:
    """The document's Python value, as `construct_document` would give it.

    PyYAML's constructor costs several Python calls per node. Plain strings, maps with
    string keys, sequences, decimal ints and nulls, which make up nearly all of a manifest,
    are built here directly; any other node (bools, floats, merge keys, tagged or non-string
    keys, ...) goes to PyYAML's own constructor, so the result is the same. Documents with
    anchors take PyYAML's path whole, since aliases share one object between places."""
    if not fast:
        return loader.construct_document(node)
    fallback = loader.construct_object

    def build(n: yaml.Node) -> Any:
        tag = n.tag
        cls = type(n)
        if cls is yaml.ScalarNode:
            if tag == _STR:
                return n.value
            if tag == _INT:
                v = n.value
                if v.isdigit() and v.isascii() and (v[0] != "0" or v == "0"):
                    return int(v)  # YAML 1.1: a leading 0 means octal; PyYAML decides those
            elif tag == _NULL:
                return None
        elif cls is yaml.MappingNode:
            if tag == _MAP:
                out: dict[str, Any] = {}
                for k, v in n.value:
                    if k.tag != _STR or type(k) is not yaml.ScalarNode:
                        break  # a merge key or a non-string key: PyYAML's rules
                    out[k.value] = build(v)
                else:
                    return out
        elif cls is yaml.SequenceNode and tag == _SEQ:
            return [build(v) for v in n.value]
        return fallback(n, deep=True)

    try:
        return build(node)
    except RecursionError:
        return loader.construct_document(node)  # PyYAML's constructor does not recurse
    finally:
        loader.constructed_objects = {}
        loader.recursive_objects = {}
        loader.state_generators = []
        loader.deep_construct = False


def _json_documents(text: str, file: str) -> Iterator[Parsed]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _ReadError(_error("MS002", f"invalid JSON: {exc.msg}", file, exc.lineno)) from exc
    except RecursionError as exc:
        raise _ReadError(_error("MS003", "JSON nesting too deep; refused", file)) from exc
    yield data, 1, None, None, None


_LIST_KIND = re.compile(r"^[A-Za-z]*List$")


def _not_an_object(message: str, file: str, index: int, line: int | None) -> Diagnostic:
    return Diagnostic(
        Severity.WARNING, "MS004", message, Origin(file=file, document=index, line=line)
    )


def _split(
    data: Any,
    file: str,
    index: int,
    line: int | None,
    node: yaml.Node | None,
    item_lines: list[int] | None = None,
    item_nodes: list[yaml.Node | None] | None = None,
) -> Iterator[Document | Diagnostic]:
    """One raw document to its objects, flattening `List` kinds (v1/List, PodList, ...).
    `item_lines` and `item_nodes`: each item's line and node tree, when the reader gives
    them apart (ingest/yaml_events.py); an item without a tree finds its exact lines
    through the file's LazyTree and its path `items[i]`."""
    if data is None:
        return
    if not isinstance(data, dict):
        yield _not_an_object(
            f"document {index} is not a Kubernetes object (a {type(data).__name__}); skipped",
            file,
            index,
            line,
        )
        return
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and _LIST_KIND.match(kind) and isinstance(items, list):
        items_node = _child(node, "items") if node is not None else None
        for i, item in enumerate(items):
            own: yaml.Node | None = None
            if item_lines is not None and item_nodes is not None:
                item_line: int | None = item_lines[i]
                own = item_nodes[i]
            else:
                item_node = _child(items_node, i) if items_node is not None else None
                item_line = item_node.start_mark.line + 1 if item_node is not None else line
            if isinstance(item, dict):
                if "kind" not in item and kind != "List":
                    # A typed list (PodList) leaves the kind off its items, and the
                    # apiVersion, which decides how the kind is read (ingest/manifests.py).
                    item = {
                        "apiVersion": data.get("apiVersion"),
                        **item,
                        "kind": kind[: -len("List")],
                    }
                if not isinstance(item.get("kind"), str):
                    yield _not_an_object(
                        f"items[{i}] of document {index} has no kind; skipped",
                        file,
                        index,
                        item_line,
                    )
                    continue
                if own is not None:
                    yield Document(item, file, index, item_line, own)
                else:
                    yield Document(item, file, index, item_line, node, ("items", i))
            else:
                yield _not_an_object(
                    f"items[{i}] of document {index} is not a Kubernetes object; skipped",
                    file,
                    index,
                    item_line,
                )
        return
    if not isinstance(kind, str) or "apiVersion" not in data:
        yield _not_an_object(
            f"document {index} has no kind/apiVersion: not a Kubernetes object; skipped",
            file,
            index,
            line,
        )
        return
    yield Document(data, file, index, line, node)


MAX_INPUT_BYTES = 1 << 30
"""The default cap on one input file or stdin (1 GiB; B3's 150,000 pods are 139 MB): a
path to /dev/zero or a runaway generator is refused, not read until memory runs out.
`read_paths(max_bytes=...)` (the CLI's --max-input-size) sets another."""


def _too_large(file: str, limit: int) -> Diagnostic:
    return _error(
        "MS001",
        f"larger than the input size limit ({limit:,} bytes; --max-input-size sets it); refused",
        file,
    )


def _files(path: Path, skipped: list[Diagnostic]) -> list[Path]:
    """The manifests under a folder, in order. Entries that are not regular files (FIFOs,
    devices, sockets, dangling links) are skipped with a notice each: reading a FIFO would
    block forever and a device never ends. Links to folders are not followed, as `kubectl
    apply -R` does not (Go's filepath.Walk "does not follow symbolic links",
    https://pkg.go.dev/path/filepath#Walk), so that a loop cannot recurse; each gets a notice
    rather than silence, and so does a folder that cannot be listed."""
    out = []

    def unreadable(exc: OSError) -> None:
        where = exc.filename or str(path)
        skipped.append(_notice(str(where), f"skipped: cannot list ({exc.strerror or exc})"))

    for top, dirs, names in os.walk(path, onerror=unreadable):
        for d in dirs:
            if os.path.islink(os.path.join(top, d)):
                link = Path(top) / d
                skipped.append(_notice(str(link), "skipped: a link to a folder is not followed"))
        for name in names:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in MANIFEST_SUFFIXES:
                continue
            p = Path(top) / name
            try:
                mode = p.stat().st_mode
            except OSError as exc:  # a dangling link, a loop, no permission
                skipped.append(_notice(str(p), f"skipped: cannot stat ({exc.strerror or exc})"))
                continue
            if stat.S_ISREG(mode):
                out.append(p)
            elif not stat.S_ISDIR(mode):
                msg = "skipped: not a regular file (a FIFO or a device?)"
                skipped.append(_notice(str(p), msg))
    return sorted(out)


def _notice(file: str, message: str) -> Diagnostic:
    return Diagnostic(Severity.NOTICE, "MS001", message, Origin(file=file))


def _read_bounded(read: Callable[[int], Any], limit: int) -> tuple[Any, bool]:
    """All of a stream, in chunks (a single `read(limit)` would allocate `limit` bytes up
    front), and whether it held more than `limit` (then reading stops there). Bytes grow
    one buffer in place, so a file costs about its size once, not twice."""
    first = read(1 << 20)
    if isinstance(first, str):  # a text stream (tests, embedding)
        parts, total = [first], len(first)
        while parts[-1]:
            parts.append(read(1 << 20))
            total += len(parts[-1])
            if total > limit:
                return "", True
        return "".join(parts), total > limit
    buf = bytearray(first or b"")
    while len(buf) <= limit:
        chunk = read(1 << 20)
        if not chunk:
            return buf, False
        buf += chunk
    return b"", True


def _read_stdin(limit: int) -> str | Diagnostic:
    stream = sys.stdin
    if stream is None:
        return _error("MS001", "stdin is closed; pass files or folders instead of -", "<stdin>")
    binary = getattr(stream, "buffer", None)
    if binary is None:  # a text stream without bytes underneath (tests, embedding)
        text, over = _read_bounded(stream.read, limit)
        return _too_large("<stdin>", limit) if over else str(text)
    raw, over = _read_bounded(binary.read, limit)
    return _too_large("<stdin>", limit) if over else _decode(raw, "<stdin>")


def _decode(raw: bytes | bytearray, file: str) -> str | Diagnostic:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return _error(
            "MS001", f"cannot read: not UTF-8 text (byte {exc.start}: {exc.reason})", file, line
        )


def _read_file(f: Path, limit: int) -> str | Diagnostic:
    try:
        with f.open("rb") as fh:
            if os.fstat(fh.fileno()).st_size > limit:
                return _too_large(str(f), limit)
            raw, over = _read_bounded(fh.read, limit)  # a file that grows as it is read, too
            if over:
                return _too_large(str(f), limit)
    except OSError as exc:
        return _error("MS001", f"cannot read file: {exc}", str(f))
    return _decode(raw, str(f))


def read_paths(
    paths: list[str], max_bytes: int = MAX_INPUT_BYTES
) -> Iterator[Document | Diagnostic]:
    """Every object in `paths` (files, folders read recursively, or `-` for stdin), in order.

    Problems come out as `Diagnostic` values between the documents; a file that cannot be
    read or parsed yields one error and no documents. `max_bytes`: the largest file (or
    stdin) read; a larger one is an MS001 error.
    """
    for raw in paths:
        if raw == "-":
            text = _read_stdin(max_bytes)
            if isinstance(text, Diagnostic):
                yield text
                continue
            yield from _read_text(text, "<stdin>", json_first=text.lstrip().startswith(("{", "[")))
            continue
        path = Path(raw)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            yield _error("MS001", "no such file or directory", raw)
            continue
        except OSError as exc:
            yield _error("MS001", f"cannot read: {exc.strerror or exc}", raw)
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            yield _error("MS001", "not a regular file or a folder (a FIFO or a device?)", raw)
            continue
        skipped: list[Diagnostic] = []
        files = _files(path, skipped) if stat.S_ISDIR(mode) else [path]
        yield from skipped
        if stat.S_ISDIR(mode) and not files:
            yield Diagnostic(
                Severity.WARNING,
                "MS005",
                "folder has no .yaml, .yml or .json files",
                Origin(file=raw),
            )
        for f in files:
            text = _read_file(f, max_bytes)
            if isinstance(text, Diagnostic):
                yield text
                continue
            yield from _read_text(text, str(f), json_first=f.suffix.lower() == ".json")


HELM_HINT = "render it first: helm template RELEASE CHART | microseg connectivity -"


def _unrendered(text: str, file: str) -> Diagnostic | None:
    """A file that does not parse and holds Go template syntax is a Helm chart's template
    (or another Go template), not a manifest: one MS006 saying how to render it, at the
    first `{{`, instead of a YAML error per file that leaves the user guessing."""
    at = text.find("{{")
    if at < 0:
        return None
    line = text.count("\n", 0, at) + 1
    return _error(
        "MS006",
        f"unrendered template (Go template syntax '{{{{'), not a manifest; {HELM_HINT}",
        file,
        line,
    )


def _read_text(text: str, file: str, json_first: bool) -> Iterator[Document | Diagnostic]:
    """`json_first`: try the fast JSON decoder (.json files, or stdin that looks like JSON);
    stdin falls back to YAML, of which JSON is nearly a subset."""
    try:
        docs: list[Parsed] = list(
            _json_documents(text, file) if json_first else _yaml_documents(text, file)
        )
    except _ReadError as err:
        if json_first and file == "<stdin>":
            try:
                docs = list(_yaml_documents(text, file))
            except _ReadError as err2:
                yield _unrendered(text, file) or err2.diagnostic
                return
        else:
            yield _unrendered(text, file) or err.diagnostic
            return
    tree = LazyTree(text)  # composes only if a diagnostic needs a line no node gives
    for index, (data, line, node, item_lines, item_nodes) in enumerate(docs):
        for item in _split(data, file, index, line, node, item_lines, item_nodes):
            if isinstance(item, Document) and item.node is None:
                item.tree = tree
            yield item
