"""Hostile edits of parsed documents, as hypothesis draws (tests/fuzz/cases.py puts them
together with encodings and command lines).

Every random choice is a hypothesis draw, so a failing case shrinks to a small one (fewer
mutations, simpler values). The mutations are what an attacker or a broken generator
feeds a tool: values of the wrong type, deep nesting, names with control characters, bidi
overrides, terminal escapes and markup, addresses that are not addresses, ports out of
range, huge numbers and strings, wrong or missing kinds, lists of lists, duplicated
objects and rules.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.seeds import Seed

__all__ = ["MUTATIONS", "State", "hostile_text", "values"]

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
