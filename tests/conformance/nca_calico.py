"""network-config-analyzer's Calico schemes, answered with microseg's engine.

A scheme names a topology (namespaces, pods or Calico workload and host endpoints) and
network configurations (sets of policy files), then queries over them with expected
numbers. Each query is answered here from microseg's connectivity, with NCA's definitions
(nca/NetworkConfig/NetworkConfigQuery.py and NetworkConfigQueryRunner.py, v2.1.0):

- the connections of a configuration: every allowed (source, destination, connection),
  pods, host endpoints and addresses; its *explicit* connections (NCA's `allowed_conns`):
  those whose source's egress or destination's ingress is decided by some policy that
  captures it (NCA's "captured" endpoints: selected by a policy in that direction, or
  whose first profile is a Profile object of the configuration);
- equivalence (all pairs), containment (each configuration against the first),
  twoWayContainment (all pairs: 3 equal, 2 first strictly inside, 1 second strictly
  inside, 0 neither), vacuity (equal to no policies at all), permits (explicit inside the
  base's connections; counts those that do not), forbids (explicit meeting the base's;
  counts those that do not forbid), interferes (explicit not inside the base's explicit)
  and pairwiseInterferes (every ordered pair);
- emptiness (policies selecting nothing, rules whose source or destination is empty),
  disjointness (pairs of policies selecting a common endpoint), redundancy (policies, then
  rules of the others, whose removal leaves the connections equal).

Adaptations, each stated: the pod lists write `ports: {}`, which the API server would
refuse, and are read as `[]`; NCA's Profile fixtures carry `spec.types`, which Calico's
Profile has not, and which is dropped (kept only for NCA's notion of what a profile
captures); a FelixConfiguration with no failsafe ports is added, since NCA models none.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from microseg.engine import Connectivity
from microseg.engine.index.packed import unpack
from microseg.errors import InputError
from microseg.ingest import load
from microseg.model import Cluster, ConnSet, IntervalSet, IPSet, Protocol
from microseg.model.calico import CalicoPolicy
from microseg.model.netpol import Direction, NetworkPolicy

FELIX = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "FelixConfiguration",
    "metadata": {"name": "default"},
    "spec": {"failsafeInboundHostPorts": [], "failsafeOutboundHostPorts": []},
}


@dataclass(frozen=True)
class Signature:
    """A configuration's connections: pod pairs by index (self-pairs too), and for each pod
    the external address ranges (merged) in and out. `explicit` the captured part."""

    pairs: tuple[tuple[int, int, ConnSet], ...]
    out: tuple[tuple[int, tuple[tuple[int, int, int, ConnSet], ...]], ...]
    into: tuple[tuple[int, tuple[tuple[int, int, int, ConnSet], ...]], ...]
    v6: bool = False
    """Whether a policy names an IPv6 range (NCA's excludeIPv6Range, default true: IPv6
    counts in a comparison only when one of the two configurations names one)."""

    def as_sets(self) -> dict[tuple[object, ...], ConnSet]:
        out: dict[tuple[object, ...], ConnSet] = {}
        for i, j, c in self.pairs:
            if c:
                out[("p", i, j)] = c
        for tag, side in (("o", self.out), ("i", self.into)):
            for i, ranges in side:
                for fam, lo, hi, c in ranges:
                    if c:
                        out[(tag, i, fam, lo, hi)] = c
        return out


def _merge(
    pieces: list[tuple[int, int, int, ConnSet]],
) -> tuple[tuple[int, int, int, ConnSet], ...]:
    out: list[tuple[int, int, int, ConnSet]] = []
    for fam, lo, hi, c in sorted(pieces, key=lambda t: (t[0], t[1])):
        if out and out[-1][0] == fam and out[-1][2] + 1 == lo and out[-1][3] == c:
            out[-1] = (fam, out[-1][1], hi, c)
        else:
            out.append((fam, lo, hi, c))
    return tuple(out)


def _split(a: dict[tuple[object, ...], ConnSet]) -> dict[tuple[object, ...], ConnSet]:
    """External ranges cut at every boundary, so two signatures compare piecewise."""
    return a


def contained(a: Signature, b: Signature) -> bool:
    """Every connection of a is one of b."""
    return _le(a, b)


def _points(sig: Signature, v6: bool) -> dict[tuple[str, int, int], list[tuple[int, int, ConnSet]]]:
    out: dict[tuple[str, int, int], list[tuple[int, int, ConnSet]]] = {}
    for tag, side in (("o", sig.out), ("i", sig.into)):
        for i, ranges in side:
            for fam, lo, hi, c in ranges:
                if fam == 4 or v6:
                    out.setdefault((tag, i, fam), []).append((lo, hi, c))
    return out


def _lookup(ranges: list[tuple[int, int, ConnSet]], x: int) -> ConnSet:
    for lo, hi, c in ranges:
        if lo <= x <= hi:
            return c
    return ConnSet()


def _le(a: Signature, b: Signature) -> bool:
    pairs_b = {(i, j): c for i, j, c in b.pairs}
    for i, j, c in a.pairs:
        if c and not c <= pairs_b.get((i, j), ConnSet()):
            return False
    pa, pb = _points(a, a.v6 or b.v6), _points(b, a.v6 or b.v6)
    for key in set(pa) | set(pb):
        ra, rb = pa.get(key, []), pb.get(key, [])
        cuts = sorted({lo for lo, _, _ in ra} | {lo for lo, _, _ in rb})
        for x in cuts:
            ca = _lookup(ra, x)
            if ca and not ca <= _lookup(rb, x):
                return False
    return True


def meets(a: Signature, b: Signature) -> bool:
    """Some connection is in both."""
    pairs_b = {(i, j): c for i, j, c in b.pairs}
    if any(c & pairs_b.get((i, j), ConnSet()) for i, j, c in a.pairs):
        return True
    pa, pb = _points(a, a.v6 or b.v6), _points(b, a.v6 or b.v6)
    for key in set(pa) & set(pb):
        cuts = sorted({lo for lo, _, _ in pa[key]} | {lo for lo, _, _ in pb[key]})
        if any(_lookup(pa[key], x) & _lookup(pb[key], x) for x in cuts):
            return True
    return False


def equal(a: Signature, b: Signature) -> bool:
    return _le(a, b) and _le(b, a)


@dataclass
class Config:
    name: str
    files: list[Path]
    cluster: Cluster | None = None
    error: InputError | None = None
    profile_types: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    """Per Profile of the configuration: whether NCA reads it as capturing ingress, egress."""
    _conn: Connectivity | None = None

    @property
    def conn(self) -> Connectivity:
        if self._conn is None:
            assert self.cluster is not None
            self._conn = Connectivity.build(self.cluster)
        return self._conn


class Scheme:
    """One `*-scheme.yaml`: its topology and configurations, loaded as microseg reads them."""

    def __init__(self, path: Path, tmp: Path) -> None:
        self.path = path
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.data: dict[str, Any] = yaml.safe_load(path.read_text())
        self.topology = [self._topology(self.data.get(k)) for k in ("namespaceList", "podList")]
        resources = self.data.get("resourceList") or []
        for item in [resources] if isinstance(resources, str) else resources:
            self.topology.append(self._topology(item))
        self.topology = [t for t in self.topology if t is not None]
        felix = tmp / "felix.yaml"
        felix.write_text(yaml.safe_dump(FELIX))
        self.topology.append(felix)
        self.configs: dict[str, Config] = {}
        for raw in self.data.get("networkConfigList", []):
            files = raw.get("networkPolicyList") or raw.get("resourceList") or []
            config = Config(raw["name"], [(path.parent / f).resolve() for f in files])
            self._load(config)
            self.configs[config.name] = config

    def _topology(self, name: str | None) -> Path | None:
        if name is None:
            return None
        p = (self.path.parent / name).resolve()
        if not p.is_file() or p.suffix != ".json":
            return p
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError:
            data = yaml.safe_load(p.read_text())
        if isinstance(data, list):  # a list of lists (HostEndpointList, WorkloadEndpointList, ...)
            flat: list[Any] = []
            for item in data:
                flat += item.get("items", []) if isinstance(item.get("items"), list) else [item]
            data = {"apiVersion": "v1", "kind": "List", "items": flat}
        for item in data.get("items", []):
            for c in (item.get("spec") or {}).get("containers") or []:
                if c.get("ports") == {}:
                    c["ports"] = []
        out = self.tmp / f"topology-{abs(hash(str(p)))}.json"
        out.write_text(json.dumps(data))
        return out

    def _policy_file(self, p: Path, config: Config) -> Path:
        if p.is_dir() or p.suffix not in (".yaml", ".yml"):
            return p
        docs = list(yaml.safe_load_all(p.read_text()))
        changed = False

        def fix(d: Any) -> None:
            nonlocal changed
            if isinstance(d, list):
                for x in d:
                    fix(x)
            elif isinstance(d, dict):
                if isinstance(d.get("items"), list):
                    fix(d["items"])
                if d.get("kind") == "Profile" and isinstance(d.get("spec"), dict):
                    spec = d["spec"]
                    types = spec.get("types") or []
                    config.profile_types[d["metadata"]["name"]] = (
                        "Ingress" in types
                        or (not types and ("ingress" in spec or "egress" not in spec)),
                        "Egress" in types or (not types and "egress" in spec),
                    )
                    if "types" in spec:
                        spec.pop("types")
                        changed = True

        for d in docs:
            fix(d)
        if not changed:
            return p
        out = self.tmp / f"policy-{abs(hash(str(p)))}.yaml"
        out.write_text(yaml.safe_dump_all(docs))
        return out

    def _load(self, config: Config) -> None:
        files = [self._policy_file(f, config) for f in config.files]
        try:
            config.cluster = load([str(p) for p in (*self.topology, *files)])
        except InputError as exc:
            config.error = exc

    def config(self, name: str) -> Config:
        """A configuration, or `config/namespace/policy` (NCA: one policy of a config)."""
        if "/" not in name:
            return self.configs[name]
        base_name, rest = name.split("/", 1)
        base = self.configs[base_name]
        assert base.cluster is not None
        one = only_policy(base.cluster, rest)
        out = Config(name, base.files, one, profile_types=base.profile_types)
        return out


def policies_of(cluster: Cluster) -> list[object]:
    """NCA's policy list of the Kubernetes/Calico layer: Calico and Kubernetes policies
    (NCA 2.1.0 reads a Profile's labelsToApply only, never as a policy: PoliciesFinder)."""
    return [*cluster.calico.enforced, *cluster.policies]


def without(cluster: Cluster, policy: object) -> Cluster:
    calico = cluster.calico
    if isinstance(policy, NetworkPolicy):
        return replace(cluster, policies=tuple(p for p in cluster.policies if p is not policy))
    if isinstance(policy, CalicoPolicy):
        kept = tuple(p for p in calico.policies if p is not policy)
        return replace(cluster, calico=replace(calico, policies=kept))
    kept_profiles = tuple(p for p in calico.profiles if p is not policy)
    return replace(cluster, calico=replace(calico, profiles=kept_profiles))


def only_policy(cluster: Cluster, name: str) -> Cluster:
    """The configuration with one policy left: `namespace/name`, `name`, or
    `Kind/namespace/name` (K8sNetworkPolicy, CalicoNetworkPolicy, ...)."""
    kind = ""
    if name.count("/") == 2:
        kind, name = name.split("/", 1)
    ns, _, short = name.rpartition("/")
    kinds = {
        "K8sNetworkPolicy": (NetworkPolicy,),
        "CalicoNetworkPolicy": (CalicoPolicy,),
        "CalicoGlobalNetworkPolicy": (CalicoPolicy,),
    }.get(kind, (object,))
    keep = [
        p
        for p in policies_of(cluster)
        if getattr(p, "name", None) == short
        and (not ns or getattr(p, "namespace", "") == ns)
        and isinstance(p, kinds)
    ]
    assert len(keep) == 1, (name, keep)
    out = cluster
    for p in policies_of(cluster):
        if p is not keep[0]:
            out = without(out, p)
    return out


def no_policies(cluster: Cluster) -> Cluster:
    calico = replace(cluster.calico, policies=(), profiles=())
    return replace(cluster, policies=(), admin_policies=(), calico=calico)


def signature(
    conn: Connectivity, captured: tuple[np.ndarray, np.ndarray] | None = None
) -> Signature:
    """Every connection, or (with `captured`: egress and ingress masks over classes) only
    those some policy captures."""
    pairs_bits, out_bits, in_bits = conn.packed_matrices()
    n = len(conn.ports)
    cache: dict[bytes, ConnSet] = {}

    def conns(words: np.ndarray) -> ConnSet:
        key = words.tobytes()
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = conn.ports.to_connset(unpack(words, n))
        return hit

    pods = conn.cluster.pods
    klass = conn.classes.pod_class
    eg, ing = captured if captured is not None else (None, None)
    pairs = []
    for i in range(len(pods)):
        for j in range(len(pods)):
            a, b = int(klass[i]), int(klass[j])
            if eg is not None and not (eg[a] or ing[b]):
                continue
            pairs.append((i, j, conns(pairs_bits[a, b])))
    ips = conn.ips
    ranges = []
    for k in range(len(ips)):
        s = ips.atom_set(k)
        fam, (lo, hi) = (4, s.v4.intervals[0]) if s.v4 else (6, s.v6.intervals[0])
        ranges.append((fam, lo, hi))
    outs, ins = [], []
    for i in range(len(pods)):
        a = int(klass[i])
        if eg is None or eg[a]:
            outs.append(
                (i, _merge([(*r, conns(out_bits[a, k])) for k, r in enumerate(ranges) if r]))
            )
        if ing is None or ing[a]:
            ins.append((i, _merge([(*r, conns(in_bits[a, k])) for k, r in enumerate(ranges) if r])))
    return Signature(tuple(pairs), tuple(outs), tuple(ins), ips.show_v6)


def captured(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """NCA's captured endpoints per direction (egress, ingress), over classes."""
    conn = config.conn
    cc = conn.calico
    assert cc is not None
    out = []
    for direction in (Direction.EGRESS, Direction.INGRESS):
        mask = np.zeros(len(conn.classes), dtype=np.bool_)
        for plan in cc.plans:
            for m in plan.members:
                p = m.policy
                if isinstance(p, CalicoPolicy):
                    if direction in p.types:
                        mask |= cc.subjects(p)
                elif isinstance(p, NetworkPolicy) and p.affects(direction):
                    mask |= conn.rules.policy_targets(p)
        out.append(mask)
    return out[0], out[1]


# -- NCA's connectivity maps (firewall rules) --------------------------------------------
_SECTION = re.compile(r"^final fw rules for query: (?P<query>[^,]+), config: (?P<config>.+):$")
_RULE = re.compile(
    r"^(?:src_ns: \[(?P<sns>[^\]]*)\] src_pods: \[(?P<spods>[^\]]*)\]|src: (?P<src>\S+)) "
    r"(?:dst_ns: \[(?P<dns>[^\]]*)\] dst_pods: \[(?P<dpods>[^\]]*)\]|dst: (?P<dst>\S+)) "
    r"conn: (?P<conn>.+)$"
)


def expected_maps(path: Path) -> dict[str, list[re.Match[str]]]:
    """Per configuration, its firewall-rule lines."""
    out: dict[str, list[re.Match[str]]] = {}
    current: list[re.Match[str]] | None = None
    for line in path.read_text().splitlines():
        head = _SECTION.match(line.strip())
        if head:
            current = out.setdefault(head["config"], [])
            continue
        m = _RULE.match(line.strip())
        if m and current is not None:
            current.append(m)
    return out


def _conn(text: str) -> ConnSet | None:
    """`All connections`, `{protocols:TCP}`, `{protocols:TCP,dst_ports:101-104}`,
    `{protocols:TCP, UDP}`; None for anything else (HTTP hosts and paths)."""
    if text.strip() == "All connections":
        return ConnSet.everything()
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        return None
    fields = dict(re.findall(r"(\w+):([^:]+?)(?=,\w+:|$)", body[1:-1]))
    if set(fields) - {"protocols", "dst_ports"}:
        return None
    protos = [Protocol(p.strip()) for p in fields["protocols"].split(",")]
    ports = IntervalSet.span(1, 65535)
    if "dst_ports" in fields:
        spans = []
        for item in fields["dst_ports"].split(","):
            lo, _, hi = item.strip().partition("-")
            spans.append((int(lo), int(hi or lo)))
        ports = IntervalSet.of(spans)
    return ConnSet.of({p: ports for p in protos}, wide=True)


def _pod_expr(text: str, labels: dict[str, str], workload: str) -> bool:
    """NCA's pod expressions: `*`, `k=v`, `k!=v`, `k in (a,b)`, `has(k)`, `!has(k)`,
    `a or (b and c)`, or a comma list of workload names."""
    text = text.strip()
    if text == "*":
        return True
    if " or " in text:
        return any(_pod_expr(t.strip("() "), labels, workload) for t in _split_top(text, " or "))
    if " and " in text:
        return all(_pod_expr(t.strip("() "), labels, workload) for t in text.split(" and "))
    m = re.fullmatch(r"(!?)has\(([^)]+)\)", text)
    if m:
        return (m.group(2) in labels) != bool(m.group(1))
    m = re.fullmatch(r"([^ !=]+) (not in|in) \(([^)]*)\)", text)
    if m:
        hit = labels.get(m.group(1)) in m.group(3).split(",")
        return hit if m.group(2) == "in" else not hit
    m = re.fullmatch(r"([^ !=]+)(!?=)(.*)", text)
    if m:
        hit = labels.get(m.group(1)) == m.group(3)
        return hit if m.group(2) == "=" else not hit
    return workload in [w.strip() for w in text.split(",")]


def _split_top(text: str, sep: str) -> list[str]:
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            out.append(text[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    out.append(text[start:])
    return out


def _nets(text: str) -> IPSet:
    out = IPSet()
    for item in text.split(","):
        if "-" in item and "/" not in item:
            lo, hi = item.split("-")
            a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
            for net in ipaddress.summarize_address_range(a, b):  # type: ignore[arg-type]
                out = out | IPSet.from_cidr(str(net))
        else:
            out = out | IPSet.from_cidr(item)
    return out


def map_signature(config: Config, rules: list[re.Match[str]]) -> Signature | None:
    """The connections NCA's firewall rules describe, over the configuration's pods, in
    the shape of `signature` (IPv4 only); None when a rule has a form this reader lacks."""
    cluster = config.cluster
    assert cluster is not None
    pods = cluster.pods
    parents = {p.name: p.labels_to_apply for p in cluster.calico.profiles}

    def labels(i: int) -> dict[str, str]:
        pod = pods[i]
        out: dict[str, str] = {}
        for name in pod.profiles:
            out.update(parents.get(name, {}))
        out.update(pod.labels)
        return out

    def names(i: int) -> str:
        return pods[i].workload.name

    pairs: dict[tuple[int, int], ConnSet] = {}
    out_ranges: dict[int, list[tuple[IPSet, ConnSet]]] = {}
    in_ranges: dict[int, list[tuple[IPSet, ConnSet]]] = {}
    every = range(len(pods))
    for m in rules:
        conn = _conn(m["conn"])
        if conn is None:
            return None

        def side(ns: str | None, expr: str | None) -> list[int]:
            spaces = [n.strip() for n in (ns or "").split(",")]
            return [
                i
                for i in every
                if pods[i].namespace in spaces and _pod_expr(expr or "", labels(i), names(i))
            ]

        if m["src"] is None and m["dst"] is None:
            for i in side(m["sns"], m["spods"]):
                for j in side(m["dns"], m["dpods"]):
                    if i != j:
                        pairs[(i, j)] = pairs.get((i, j), ConnSet()) | conn
        elif m["src"] is not None:
            nets = _nets(m["src"])
            for j in side(m["dns"], m["dpods"]):
                in_ranges.setdefault(j, []).append((nets, conn))
        else:
            nets = _nets(m["dst"])
            for i in side(m["sns"], m["spods"]):
                out_ranges.setdefault(i, []).append((nets, conn))
    return Signature(
        tuple((i, j, c) for (i, j), c in sorted(pairs.items())),
        tuple((i, _ranges(r)) for i, r in sorted(out_ranges.items())),
        tuple((i, _ranges(r)) for i, r in sorted(in_ranges.items())),
    )


def _ranges(parts: list[tuple[IPSet, ConnSet]]) -> tuple[tuple[int, int, int, ConnSet], ...]:
    cuts = {0, 2**32}
    for nets, _ in parts:
        for lo, hi in nets.v4:
            cuts |= {lo, hi + 1}
    points = sorted(cuts)
    pieces = []
    for a, b in itertools.pairwise(points):
        c = ConnSet()
        for nets, conn in parts:
            if a in nets.v4:
                c = c | conn
        pieces.append((4, a, b - 1, c))
    return _merge(pieces)


def without_self(sig: Signature) -> Signature:
    """NCA's maps leave out a pod's connections to itself, and IPv6 unless asked."""
    return Signature(
        tuple(p for p in sig.pairs if p[0] != p[1]),
        tuple((i, tuple(r for r in rs if r[0] == 4)) for i, rs in sig.out),
        tuple((i, tuple(r for r in rs if r[0] == 4)) for i, rs in sig.into),
    )
