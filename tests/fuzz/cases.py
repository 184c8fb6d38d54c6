"""Fuzz cases: a seed cluster (tests/fuzz/seeds.py), a few mutations of its documents
(tests/fuzz/mutations.py), an encoding per file (now and then damaged: a byte order mark,
UTF-16, stray Latin-1 bytes, truncation, flipped bytes, anchors, Python tags, tabs,
duplicate keys, a Helm template, binary, nothing), odd filesystem entries, stdin, and a
command line to run on it.

The long run (tests/fuzz/run.py) draws from the same strategy with a seed per worker.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.fuzz.mutations import MUTATIONS, Draw, State, hostile_text
from tests.fuzz.seeds import Seed, seeds

__all__ = ["Case", "cases", "encode"]

# -- files ------------------------------------------------------------------------------

PLAIN = ("yaml", "json", "json-ascii", "yaml-flow")
ENCODINGS = (
    "bom",
    "utf16",
    "crlf",
    "latin1-bytes",
    "truncate",
    "byte-flip",
    "anchors",
    "python-tag",
    "tabs",
    "dup-keys",
    "template",
    "binary",
    "empty",
)


_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yaml(docs: list[Any], flow: bool = False) -> str:
    try:
        return yaml.dump_all(
            docs, Dumper=_Dumper, default_flow_style=flow, allow_unicode=True, width=10**6
        )
    except (yaml.YAMLError, RecursionError, ValueError, UnicodeEncodeError):
        return _json(docs)


_ORIGINALS: dict[str, tuple[tuple[str, bytes], ...]] = {}


def _original(seed: Seed) -> tuple[tuple[str, bytes], ...]:
    """A seed's files as plain YAML (the old side of `diff`), made once per seed."""
    out = _ORIGINALS.get(seed.name)
    if out is None:
        out = _ORIGINALS[seed.name] = tuple(
            (name.rsplit(".", 1)[0] + ".yaml", _yaml(list(docs)).encode())
            for name, docs in seed.files
        )
    return out


def _json(docs: list[Any], ascii_only: bool = False) -> str:
    """One JSON document: several go into a v1 List, as `kubectl get -o json` writes them."""
    doc = docs[0] if len(docs) == 1 else {"apiVersion": "v1", "kind": "List", "items": docs}
    try:
        return json.dumps(doc, ensure_ascii=ascii_only)
    except (RecursionError, ValueError):
        return "{}"


def encode(draw: Draw, docs: list[Any], name: str, damage: bool = True) -> tuple[str, bytes, str]:
    """`(file name, bytes, how)`: the documents serialised (YAML or JSON), then, with
    `damage`, perhaps damaged or re-encoded."""
    how = draw(st.sampled_from(ENCODINGS if damage else PLAIN))
    stem = name.rsplit(".", 1)[0]
    if how.startswith("json"):
        return (
            f"{stem}.json",
            _json(docs, how == "json-ascii").encode("utf-8", "surrogatepass"),
            how,
        )
    text = _yaml(docs, flow=how == "yaml-flow")
    raw = text.encode("utf-8", "surrogatepass")
    if how == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif how == "utf16":
        raw = text.encode("utf-16", "surrogatepass")
    elif how == "crlf":
        raw = raw.replace(b"\n", b"\r\n")
    elif how == "latin1-bytes":
        at = draw(st.integers(0, max(0, len(raw))))
        raw = raw[:at] + b"\xe9\xff\xfe" + raw[at:]
    elif how == "truncate":
        raw = raw[: draw(st.integers(0, max(0, len(raw))))]
    elif how == "byte-flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    elif how == "anchors":
        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        depth = draw(st.integers(1, 9))
        raw = ("\n".join(bomb.splitlines()[: depth + 1]) + "\n---\n").encode() + raw
    elif how == "python-tag":
        raw = b"x: !!python/object/apply:os.system ['true']\ny: !!binary aGVsbG8=\n---\n" + raw
    elif how == "tabs":
        raw = raw.replace(b"  ", b"\t")
    elif how == "dup-keys":
        raw = raw.replace(b"kind:", b"kind: Pod\nkind:", 1)
    elif how == "template":
        raw = b"metadata:\n  name: {{ .Values.name }}\n---\n" + raw
    elif how == "binary":
        raw = bytes(draw(st.binary(max_size=64)))
    elif how == "empty":
        raw = b""
    return f"{stem}.yaml", raw, how


# -- commands ---------------------------------------------------------------------------


@dataclass
class Case:
    """One run: the input folder's files, the command line (`{in}`, `{old}`, `{intents}`
    stand for the paths the runner gives them), and what the mutations were."""

    seed: str
    args: list[str]
    files: dict[str, bytes]
    fmt: str
    notes: list[str]
    old_files: dict[str, bytes] | None = None
    intents: bytes | None = None
    stdin: bytes | None = None
    stdin_closed: bool = False
    oddities: list[str] = field(default_factory=list)
    """Filesystem entries beside the files: `fifo`, `dangling`, `loop`, `dir.yaml`."""


def _workload(draw: Draw, seed: Seed) -> str:
    return draw(
        st.one_of(
            st.sampled_from(seed.workloads),
            st.sampled_from(seed.workloads).map(lambda w: w + "[Deployment]"),
            st.sampled_from(["*/*", f"{seed.namespaces[0]}/*", "10.0.0.1", "0.0.0.0/0"]),
            hostile_text(),
        )
    )


def _intents(draw: Draw, seed: Seed) -> list[Any]:
    if seed.intents and draw(st.booleans()):
        return [copy.deepcopy(d) for d in seed.intents]
    ns = list(seed.namespaces)
    groups = {f"g{j}": {"namespace": n} for j, n in enumerate(ns[:4])}
    groups["w"] = {"workload": draw(st.sampled_from(seed.workloads))}
    names = [*sorted(groups), "internet", "cluster", "kube-dns"]
    pair = st.fixed_dictionaries(
        {"from": st.sampled_from(names), "to": st.sampled_from(names)},
        optional={
            "ports": st.lists(
                st.sampled_from(["TCP/80", "UDP/53", "TCP/http"]), min_size=1, max_size=2
            )
        },
    )
    spec = {
        "groups": groups,
        "allow": draw(st.lists(pair, max_size=3)),
        "deny": draw(st.lists(pair, max_size=3)),
        "expect": {"defaultDeny": draw(st.lists(st.sampled_from(names), max_size=2))},
    }
    return [
        {
            "apiVersion": "microseg.dev/v1alpha1",
            "kind": "SegmentationIntent",
            "metadata": {"name": "fuzz"},
            "spec": spec,
        }
    ]


COMMON = (
    [],
    [],
    [],
    ["-q"],
    ["--host-network", "pod"],
    ["--layer", "mesh"],
    ["--layer", "both"],
    ["-n", "shop"],
    ["--assume-system-pods"],
    ["--assume-mesh"],
    ["--no-color"],
)


def _command(draw: Draw, seed: Seed) -> tuple[list[str], str]:
    command = draw(
        st.sampled_from(
            [
                "connectivity",
                "connectivity",
                "stats",
                "lint",
                "exposure",
                "identity",
                "blast-radius",
                "reach",
                "diff",
                "verify",
            ]
        )
    )
    extra = list(draw(st.sampled_from(COMMON)))
    if command == "connectivity":
        fmt = draw(st.sampled_from(["txt", "json", "csv", "md", "dot"]))
        args = ["connectivity", "{in}", "-o", fmt]
        if draw(st.integers(0, 4)) == 0:
            args += ["--focus-workload", _workload(draw, seed)]
    elif command in ("stats", "exposure", "identity"):
        fmt = draw(st.sampled_from(["text", "json"]))
        args = [command, "{in}", "-o", fmt]
    elif command == "lint":
        fmt = draw(st.sampled_from(["text", "json", "sarif"]))
        args = ["lint", "{in}", "-o", fmt]
    elif command == "blast-radius":
        fmt = draw(st.sampled_from(["text", "json", "dot"]))
        args = ["blast-radius", "{in}", "--from", _workload(draw, seed), "-o", fmt]
        if draw(st.booleans()):
            args += ["--hops", str(draw(st.sampled_from([1, 2, 0, -1, 10**20])))]
    elif command == "reach":
        fmt = draw(st.sampled_from(["text", "json"]))
        args = ["reach", "{in}", "--from", _workload(draw, seed), "--to", _workload(draw, seed)]
        args += ["-o", fmt]
        if draw(st.booleans()):
            args += ["--port", draw(st.sampled_from(["TCP/80", "UDP/53", "TCP/http", "x"]))]
    elif command == "diff":
        fmt = draw(st.sampled_from(["txt", "json", "csv", "md"]))
        args = ["diff", "{old}", "{in}", "-o", fmt]
    else:
        fmt = draw(st.sampled_from(["text", "json", "sarif", "junit"]))
        args = ["verify", "{in}", "--intents", "{intents}", "-o", fmt]
    return args + extra, fmt


def _mutate(draw: Draw, s: State) -> str:
    """One mutation; one that cannot be made (a deep copy of a document nested past
    Python's recursion, say) is noted and skipped: the generator's limits are not the
    tool's defects."""
    mutation = draw(st.sampled_from(MUTATIONS))
    try:
        return mutation(draw, s)
    except (RecursionError, ValueError, TypeError, KeyError, IndexError) as exc:
        return f"{mutation.__name__} skipped: {type(exc).__name__}"


@st.composite
def cases(draw: Draw, max_mutations: int = 4, every: int = 1) -> Case:
    """`every`: seed from one corpus case in so many (tests/fuzz/seeds.py)."""
    all_seeds = seeds(every)
    seed = draw(st.sampled_from(all_seeds))
    s = State(seed, {name: [copy.deepcopy(d) for d in docs] for name, docs in seed.files})
    notes = [f"seed {seed.name}"]
    for _ in range(draw(st.integers(0, max_mutations))):
        notes.append(_mutate(draw, s))
    args, fmt = _command(draw, seed)
    files: dict[str, bytes] = {}
    # One file in three cases is damaged or oddly encoded: damage in every file would make
    # every case a rejection at the first read, and the renderers would never be reached.
    names = sorted(s.files)
    damaged = draw(st.sampled_from(names)) if draw(st.integers(0, 2)) == 0 else None
    for name in names:
        fname, raw, how = encode(draw, s.files[name], name, damage=name == damaged)
        files[fname] = raw
        if how != "yaml":
            notes.append(f"encode {name} {how}")
    case = Case(seed.name, args, files, fmt, notes)
    if "{old}" in args:
        case.old_files = dict(_original(seed))
    if "{intents}" in args:
        docs = _intents(draw, seed)
        if draw(st.booleans()):
            sub = State(seed, {"intents.yaml": docs})
            notes.append(_mutate(draw, sub))
            docs = sub.files["intents.yaml"]
        case.intents = encode(draw, docs, "intents.yaml", damage=draw(st.booleans()))[1]
    how_in = draw(st.integers(0, 9))
    if how_in == 0:  # everything on stdin, as one YAML stream
        plain = "\n---\n".join(_yaml(s.files[name]) for name in names)
        case.stdin = plain.encode("utf-8", "surrogatepass")
        case.args = ["-" if a == "{in}" else a for a in case.args]
        notes.append("stdin")
    elif how_in == 1:
        case.args = ["-" if a == "{in}" else a for a in case.args]
        case.stdin_closed = draw(st.booleans())
        case.stdin = None if case.stdin_closed else bytes(draw(st.binary(max_size=32)))
        notes.append("stdin closed" if case.stdin_closed else "stdin bytes")
    elif how_in == 2:
        case.oddities = draw(st.lists(st.sampled_from(["fifo", "dangling", "loop", "dir.yaml"])))
        notes += [f"oddity {o}" for o in case.oddities]
    return case
