"""Hypothesis strategies for hostile inputs: a seed cluster (tests/fuzz/seeds.py), a few
mutations of its documents, an encoding per file, and a command line to run on it.

Every random choice is a hypothesis draw, so a failing case shrinks to a small one (fewer
mutations, simpler values), and the long run (tests/fuzz/run.py) draws from the same
strategies with a seed per worker. The mutations are what an attacker or a broken
generator feeds a tool: values of the wrong type, deep nesting, names with control
characters, bidi overrides, terminal escapes and markup, addresses that are not
addresses, ports out of range, huge numbers and strings, wrong or missing kinds, lists of
lists, duplicated objects and rules, and files in odd encodings or not text at all.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.fuzz.seeds import Seed, seeds

__all__ = ["Case", "cases"]

Draw = st.DrawFn

HOSTILE = (
    "\x1b[2J\x1b[H",
    "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07",
    "\x1b]0;title\x07",
    "evil\u202etxt.exe",
    "\u2066isolate\u2069",
    "line\nbreak",
    "carriage\rreturn",
    "tab\tbed",
    "p[/]",
    "p[bold]X",
    "[link=https://evil.example]x[/link]",
    "a|b|c",
    '=HYPERLINK("https://evil.example")',
    "+1+1",
    "-2",
    "@SUM(A1)",
    'quo"te',
    "back\\slash",
    "comma,value",
    "nul\x00byte",
    "del\x7f",
    "c1\x85\x9b",
    "sep\u2028arator",
    "{ingress-controller}",
    "0.0.0.0/0",
    "x[External]",
    "ns/name[Deployment]",
    "<script>alert(1)</script>",
    "]]><!--",
    "&amp;&#0;",
    "😀🏳️‍🌈",
    "ﬁ\u0301",
    "a" * 300,
    "",
    " ",
    ".",
    "..",
    "a/b",
    "*",
    "kube-system",
)
ADDRESSES = (
    "0.0.0.0/0",
    "::/0",
    "300.1.1.1",
    "abc",
    "10.0.0.0/255.0.0.0",
    "1.2.3.4/33",
    "1.2.3.4/-1",
    "fe80::1%eth0",
    "::ffff:1.2.3.4",
    "01.02.03.04",
    "1.2.3",
    "1.2.3.4.5",
    "10.0.0.1/32",
    "2001:db8::/129",
    "",
    " 10.0.0.1",
    "10.0.0.1\n",
    "1e3.0.0.1",
    "0x7f.0.0.1",
)
PORTS: tuple[Any, ...] = (
    0,
    -1,
    65535,
    65536,
    2**31,
    2**64,
    10**30,
    80.0,
    80.5,
    "80",
    "http",
    "",
    "a" * 16,
    "TCP",
    True,
    None,
    [80],
    {"x": 1},
)
PROTOCOLS = ("TCP", "UDP", "SCTP", "tcp", "ICMP", "", "TCP ", 6)
KINDS = (
    "Pod",
    "Deployment",
    "NetworkPolicy",
    "Namespace",
    "Service",
    "List",
    "PodList",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "AuthorizationPolicy",
    "PeerAuthentication",
    "Ingress",
    "Route",
    "Node",
    "UserDefinedNetwork",
    "ClusterUserDefinedNetwork",
    "VirtualMachine",
    "SegmentationIntent",
    "Unknown",
    "",
)
API_VERSIONS = (
    "v1",
    "apps/v1",
    "networking.k8s.io/v1",
    "policy.networking.k8s.io/v1alpha1",
    "security.istio.io/v1",
    "k8s.ovn.org/v1",
    "projectcalico.org/v3",
    "bogus/v0",
    "",
)


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=12),
        st.tuples(st.sampled_from(HOSTILE), st.text(max_size=6)).map("".join),
    )


def values() -> st.SearchStrategy[Any]:
    """Any JSON-ish value, of every type, including the extremes."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, -1, 2**63, 10**400 // 10**370, 65536]),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.text(max_size=6), inner, max_size=3),
        ),
        max_leaves=6,
    )


@dataclass
class State:
    """The documents per file, while mutations edit them."""

    seed: Seed
    files: dict[str, list[Any]]
    notes: list[str] = field(default_factory=list)


Path_ = tuple[Any, ...]


def _paths(doc: Any, limit: int = 2000) -> list[Path_]:
    """Every path to a value in `doc` (iteratively; documents are already nested)."""
    out: list[Path_] = []
    stack: list[tuple[Path_, Any]] = [((), doc)]
    while stack and len(out) < limit:
        path, value = stack.pop()
        if path:
            out.append(path)
        if isinstance(value, dict):
            stack += [((*path, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [((*path, i), v) for i, v in enumerate(value)]
    out.sort(key=repr)
    return out


def _get(doc: Any, path: Path_) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _pick_doc(draw: Draw, s: State) -> tuple[str, int]:
    name = draw(st.sampled_from(sorted(s.files)))
    docs = s.files[name]
    if not docs:
        docs.append({})
    return name, draw(st.integers(0, len(docs) - 1))


def _pick_path(draw: Draw, s: State, want: set[str] | None = None) -> tuple[str, int, Path_] | None:
    name, i = _pick_doc(draw, s)
    paths = _paths(s.files[name][i])
    if want is not None:
        paths = [p for p in paths if p and p[-1] in want]
    if not paths:
        return None
    return name, i, draw(st.sampled_from(paths))


def m_retype(draw: Draw, s: State) -> str:
    hit = _pick_path(draw, s)
    if hit is None:
        return "retype: nothing"
    name, i, path = hit
    s.files[name][i] = _set(s.files[name][i], path, draw(values()))
    return f"retype {name}#{i} {path!r}"


def m_delete(draw: Draw, s: State) -> str:
    hit = _pick_path(draw, s)
    if hit is None:
        return "delete: nothing"
    name, i, path = hit
    parent = _get(s.files[name][i], path[:-1])
    del parent[path[-1]]
    return f"delete {name}#{i} {path!r}"


NAME_KEYS = {"name", "namespace", "serviceAccountName", "nodeName", "hostname", "service"}


def m_name(draw: Draw, s: State) -> str:
    """A hostile name, namespace, label key or value, selector or port name."""
    name, i = _pick_doc(draw, s)
    doc = s.files[name][i]
    choice = draw(st.sampled_from(["field", "label-key", "label-value"]))
    paths = _paths(doc)
    text = draw(hostile_text())
    if choice == "field":
        named = [p for p in paths if p and p[-1] in NAME_KEYS]
        if not named:
            return "name: nothing"
        path = draw(st.sampled_from(named))
        _set(doc, path, text)
        return f"name {name}#{i} {path!r}={text!r}"
    maps = [p for p in paths if p and p[-1] in ("labels", "matchLabels", "selector")]
    maps = [p for p in maps if isinstance(_get(doc, p), dict)]
    if not maps:
        return "label: nothing"
    target = _get(doc, draw(st.sampled_from(maps)))
    if choice == "label-key":
        target[text] = draw(st.sampled_from(["x", text]))
    elif target:
        target[draw(st.sampled_from(sorted(target, key=repr)))] = text
    return f"{choice} {name}#{i} {text!r}"


def m_strings(draw: Draw, s: State) -> str:
    """A string value anywhere (an L7 path, a method, a principal, a port name, an
    annotation) becomes hostile text; still a string, so it passes type checks and reaches
    the renderers more often than a retyped value does."""
    name, i = _pick_doc(draw, s)
    doc = s.files[name][i]
    strings = [p for p in _paths(doc) if isinstance(_get(doc, p), str)]
    if not strings:
        return "strings: nothing"
    path = draw(st.sampled_from(strings))
    text = draw(hostile_text())
    _set(doc, path, draw(st.sampled_from([text, _get(doc, path) + text, text + _get(doc, path)])))
    return f"string {name}#{i} {path!r}={text!r}"


ADDRESS_KEYS = {"cidr", "podIP", "hostIP", "ip", "address", "clusterIP", "except", "networks"}


def m_address(draw: Draw, s: State) -> str:
    hit = _pick_path(draw, s, ADDRESS_KEYS)
    value: Any = draw(st.one_of(st.sampled_from(ADDRESSES), hostile_text()))
    if hit is None:
        # A host-network pod or a node with a bad address, added to the first file.
        name = sorted(s.files)[0]
        s.files[name].append(
            draw(
                st.sampled_from(
                    [
                        {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "metadata": {"name": "hn", "namespace": "default"},
                            "spec": {"hostNetwork": True, "containers": [{"name": "c"}]},
                            "status": {"hostIP": value, "podIP": value},
                        },
                        {
                            "apiVersion": "v1",
                            "kind": "Node",
                            "metadata": {"name": "n1"},
                            "status": {"addresses": [{"type": "InternalIP", "address": value}]},
                        },
                    ]
                )
            )
        )
        return f"address: added object with {value!r}"
    name, i, path = hit
    if isinstance(_get(s.files[name][i], path), list):
        value = [value]
    _set(s.files[name][i], path, value)
    return f"address {name}#{i} {path!r}={value!r}"


PORT_KEYS = {"port", "endPort", "containerPort", "targetPort", "protocol", "hostPort"}


def m_port(draw: Draw, s: State) -> str:
    hit = _pick_path(draw, s, PORT_KEYS)
    if hit is None:
        return "port: nothing"
    name, i, path = hit
    value = draw(st.sampled_from(PROTOCOLS if path[-1] == "protocol" else PORTS))
    _set(s.files[name][i], path, value)
    return f"port {name}#{i} {path!r}={value!r}"


def m_nest(draw: Draw, s: State) -> str:
    hit = _pick_path(draw, s)
    if hit is None:
        return "nest: nothing"
    name, i, path = hit
    depth = draw(st.sampled_from([20, 99, 100, 101, 300, 950, 1100, 5000]))
    wrap = draw(st.sampled_from(["list", "dict"]))
    value: Any = draw(values())
    for _ in range(depth):
        value = [value] if wrap == "list" else {"a": value}
    _set(s.files[name][i], path, value)
    return f"nest {name}#{i} {path!r} {wrap}x{depth}"


def m_kind(draw: Draw, s: State) -> str:
    name, i = _pick_doc(draw, s)
    doc = s.files[name][i]
    if not isinstance(doc, dict):
        s.files[name][i] = doc = {"value": doc}
    what = draw(st.sampled_from(["kind", "apiVersion", "drop-kind", "drop-apiVersion"]))
    if what == "kind":
        doc["kind"] = draw(st.one_of(st.sampled_from(KINDS), values()))
    elif what == "apiVersion":
        doc["apiVersion"] = draw(st.one_of(st.sampled_from(API_VERSIONS), values()))
    else:
        doc.pop(what.removeprefix("drop-"), None)
    return f"{what} {name}#{i}"


def m_list(draw: Draw, s: State) -> str:
    """The file's documents as one List (typed or not), or a List inside a List."""
    name = draw(st.sampled_from(sorted(s.files)))
    kind = draw(st.sampled_from(["List", "PodList", "NetworkPolicyList", "ConfigMapList"]))
    wrapped: Any = {"apiVersion": "v1", "kind": kind, "items": s.files[name]}
    if draw(st.booleans()):
        wrapped = {"apiVersion": "v1", "kind": "List", "items": [wrapped]}
    s.files[name] = [wrapped]
    return f"list {name} {kind}"


def m_duplicate(draw: Draw, s: State) -> str:
    name, i = _pick_doc(draw, s)
    doc = s.files[name][i]
    times = draw(st.sampled_from([1, 2, 50, 300]))
    rules = [p for p in _paths(doc) if p and p[-1] in ("ingress", "egress")]
    rules = [p for p in rules if isinstance(_get(doc, p), list) and _get(doc, p)]
    if rules and draw(st.booleans()):
        target = _get(doc, draw(st.sampled_from(rules)))
        target += [copy.deepcopy(target[0]) for _ in range(times)]
        return f"duplicate rule {name}#{i} x{times}"
    s.files[name] += [copy.deepcopy(doc) for _ in range(min(times, 50))]
    return f"duplicate doc {name}#{i}"


def m_selector(draw: Draw, s: State) -> str:
    hit = _pick_path(draw, s, {"podSelector", "namespaceSelector", "selector", "nodeSelector"})
    if hit is None:
        return "selector: nothing"
    name, i, path = hit
    expr = {
        "key": draw(st.one_of(st.sampled_from(["app", "a/b", "kubernetes.io/x"]), hostile_text())),
        "operator": draw(
            st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "in", "Gt", "", 1])
        ),
        "values": draw(st.one_of(st.lists(hostile_text(), max_size=3), values())),
    }
    _set(s.files[name][i], path, {"matchExpressions": [expr], "matchLabels": draw(values())})
    return f"selector {name}#{i} {path!r}"


def m_huge(draw: Draw, s: State) -> str:
    hit = _pick_path(draw, s)
    if hit is None:
        return "huge: nothing"
    name, i, path = hit
    kind = draw(st.sampled_from(["string", "labels", "list", "number"]))
    value: Any = {
        "string": "x" * 200_000,
        "labels": {f"k{j}": f"v{j}" for j in range(3000)},
        "list": list(range(20_000)),
        "number": 10**4000,
    }[kind]
    _set(s.files[name][i], path, value)
    return f"huge {kind} {name}#{i} {path!r}"


MUTATIONS = (
    m_strings,
    m_strings,
    m_strings,
    m_retype,
    m_delete,
    m_name,
    m_name,
    m_address,
    m_port,
    m_nest,
    m_kind,
    m_list,
    m_duplicate,
    m_selector,
    m_huge,
)

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


@st.composite
def cases(draw: Draw, max_mutations: int = 4, every: int = 1) -> Case:
    """`every`: seed from one corpus case in so many (tests/fuzz/seeds.py)."""
    all_seeds = seeds(every)
    seed = draw(st.sampled_from(all_seeds))
    s = State(seed, {name: [copy.deepcopy(d) for d in docs] for name, docs in seed.files})
    notes = [f"seed {seed.name}"]
    for _ in range(draw(st.integers(0, max_mutations))):
        notes.append(draw(st.sampled_from(MUTATIONS))(draw, s))
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
            notes.append(draw(st.sampled_from(MUTATIONS))(draw, sub))
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
