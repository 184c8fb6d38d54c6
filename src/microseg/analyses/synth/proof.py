"""The proof every generated set comes with: the engine evaluates the cluster plus the set.

(a) Observed flows denied: every learnt row (a key, one per Service backend) is replayed
with `simulate.lookup` on the new Connectivity; a key is denied when any of its rows is.
Each denied key is explained with `reach`, and its cause read from the explanation: a
NetworkPolicy isolation in a namespace the set covers is a bug of the generator (the set
must allow what it learnt), while a guardrail tier above NetworkPolicy (ANP Deny), another
primary network, the mesh, or policies of a namespace left out are outside the set's reach.

(b) Over-permission: per workload, the (peer workload, protocol, port) units the new
tables allow against those observed, in both directions, over pod classes: blocks of the
combined packed tables (`pair_block`), their port atoms weighted by atom width through a
per-byte lookup table, summed with numpy. The least-privilege score is observed / allowed.
External addresses are counted apart (address x port units), never in the score.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.simulate import PROTO_LIST, FlowRows, lookup
from microseg.analyses.synth.observe import Learnt
from microseg.engine import (
    Connectivity,
    Decision,
    Endpoint,
    MeshCause,
    Tier,
    Verdict,
    from_external_block,
    pair_block,
    to_external_block,
    unpack,
)
from microseg.model.sets import ConnSet, IntervalSet, IPSet, Protocol

__all__ = [
    "MAX_DENIED",
    "DeniedFlow",
    "Excess",
    "Proof",
    "WorkloadScore",
    "classify",
    "prove",
    "subset",
]

MAX_DENIED = 200
MAX_EXCESS = 8
"""Excess peers listed per workload and direction (the largest first); all are counted."""
BLOCK_CELLS = 4_000_000
Ints = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class DeniedFlow:
    src: str
    dst: str
    protocol: str
    port: int
    count: int
    cause: str
    """`policy` (a bug: the generated set fails to allow it), `guardrail`, `network`,
    `mesh`, `outside` (policies of a namespace the set does not cover)."""
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class Excess:
    """Allowed and never observed: `direction` egress is workload -> peer."""

    peer: str
    direction: str
    conns: ConnSet
    units: int


@dataclass(frozen=True, slots=True)
class WorkloadScore:
    workload: str
    observed: int
    allowed: int
    excess_peers: int
    excess: tuple[Excess, ...] = ()
    external_observed: int = 0
    external_allowed: int = 0

    @property
    def score(self) -> float:
        return self.observed / self.allowed if self.allowed else 1.0


@dataclass(frozen=True, slots=True)
class Proof:
    layer: str
    checked_keys: int
    checked_records: int
    denied_total: int
    failures: int
    """Denied keys caused by the generated set itself (must be 0)."""
    denied: tuple[DeniedFlow, ...]
    observed: int
    allowed: int
    workloads: tuple[WorkloadScore, ...]
    external_observed: int = 0
    external_allowed: int = 0

    @property
    def holds(self) -> bool:
        return self.failures == 0

    @property
    def score(self) -> float:
        return self.observed / self.allowed if self.allowed else 1.0


def subset(rows: FlowRows, keep: Bool) -> FlowRows:
    return FlowRows(
        rows.key[keep],
        rows.src_pod[keep],
        rows.src_ip[keep],
        rows.dst_pod[keep],
        rows.dst_ip[keep],
        rows.proto[keep],
        rows.port[keep],
        rows.skip[keep],
        rows.ips,
        rows.resolved,
    )


def _endpoint(conn: Connectivity, rows: FlowRows, pod: int, ip: int) -> Endpoint:
    if pod >= 0:
        p = conn.cluster.pods[pod]
        return Endpoint(str(p.workload), klass=int(conn.classes.pod_class[pod]))
    address = rows.ips[ip]
    return Endpoint(address, addresses=IPSet.from_cidr(str(ipaddress.ip_network(address))))


_NO_MATCH = (MeshCause.NO_ALLOW_MATCH, MeshCause.LINKERD_DENIED)


def classify(
    decision: Decision, protocol: Protocol, port: int, covered: set[str], mesh_set: bool = False
) -> str:
    """Why a flow is denied, from the engine's explanation (see the module docstring).
    `mesh_set`: the set is AuthorizationPolicies (its failures are the mesh's no-match)."""
    if decision.networks is not None:
        return "network"
    for step in decision.mesh:
        if step.effect is not Verdict.DENY or not step.conns.contains(protocol, port):
            continue
        if mesh_set and step.mesh is not None and step.mesh.cause in _NO_MATCH:
            namespace = decision.dst.split("/", 1)[0]
            return "policy" if namespace in covered else "outside"
        return "mesh"
    for trace in (decision.egress, decision.ingress):
        if trace.external or trace.allowed.contains(protocol, port):
            continue
        for step in trace.steps:
            if not step.conns.contains(protocol, port) or step.effect is not Verdict.DENY:
                continue
            if step.tier in (Tier.ADMIN, Tier.BASELINE):
                return "guardrail"
        namespace = trace.endpoint.split("/", 1)[0]
        return "policy" if namespace in covered and not mesh_set else "outside"
    return "mesh"


def _check(
    conn: Connectivity, learnt: Learnt, covered_ns: set[str], mesh_set: bool
) -> tuple[int, int, int, int, tuple[DeniedFlow, ...]]:
    """(keys checked, their records, keys denied, failures, the denied keys explained)."""
    rows = learnt.rows
    keys_of = rows.key
    keep = learnt.row_edge >= 0
    sub = subset(rows, keep)
    lk = lookup(conn, sub)
    n_keys = int(keys_of.max()) + 1 if len(keys_of) else 0
    checked = np.zeros(n_keys, np.bool_)
    checked[sub.key] = True
    denied_key = np.zeros(n_keys, np.bool_)
    denied_key[sub.key[~lk.allowed]] = True
    first_row = np.full(n_keys, -1, np.int64)
    bad = np.flatnonzero(~lk.allowed)[::-1]
    first_row[sub.key[bad]] = bad
    denied = np.flatnonzero(denied_key)
    denied = denied[np.argsort(-learnt.key_count[denied], kind="stable")]
    out: list[DeniedFlow] = []
    failures = 0
    for k in denied.tolist():
        r = int(first_row[k])
        proto = PROTO_LIST[int(sub.proto[r])]
        port = int(sub.port[r])
        src = _endpoint(conn, sub, int(sub.src_pod[r]), int(sub.src_ip[r]))
        dst = _endpoint(conn, sub, int(sub.dst_pod[r]), int(sub.dst_ip[r]))
        decision = conn.reach(src, dst, ConnSet.single(proto, port))
        cause = classify(decision, proto, port, covered_ns, mesh_set)
        failures += cause == "policy"
        if len(out) < MAX_DENIED:
            count = int(learnt.key_count[k])
            out.append(DeniedFlow(src.name, dst.name, proto.value, port, count, cause, decision))
    records = int(learnt.key_count[: len(checked)][checked].sum())
    return int(checked.sum()), records, len(denied), failures, tuple(out)


def _luts(conn: Connectivity) -> npt.NDArray[np.int64]:
    """[byte position, byte value] -> ports in the atoms that byte's set bits stand for."""
    widths = np.array([hi - lo + 1 for _, lo, hi in conn.ports.atoms], np.int64)
    n_bytes = ((len(widths) + 63) // 64) * 8
    padded = np.zeros(n_bytes * 8, np.int64)
    padded[: len(widths)] = widths
    bits = (np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1
    per = padded.reshape(n_bytes, 8)
    out: npt.NDArray[np.int64] = (bits[None, :, :] * per[:, None, :]).sum(axis=2)
    return out


def _count(block: npt.NDArray[np.uint64], luts: npt.NDArray[np.int64]) -> Ints:
    raw = np.ascontiguousarray(block).view(np.uint8)
    out = np.zeros(raw.shape[:-1], np.int64)
    for j in range(raw.shape[-1]):
        out += luts[j][raw[..., j]]
    return out


@dataclass(frozen=True, slots=True)
class _Layout:
    """Workloads with selectable pods, their classes (first: `rep`), and which count their
    pairs with themselves (two or more pods, or a template standing for its replicas)."""

    workloads: Ints
    rep: Ints
    extra: dict[int, list[int]]
    multi: Bool


def _layout(conn: Connectivity, host_network_as_node: bool) -> _Layout:
    cluster = conn.cluster
    index = {w.key: i for i, w in enumerate(cluster.workloads)}
    classes: dict[int, list[int]] = defaultdict(list)
    pods: dict[int, int] = defaultdict(int)
    template: set[int] = set()
    pc = conn.classes.pod_class
    for i, pod in enumerate(cluster.pods):
        if pod.host_network and host_network_as_node:
            continue
        w = index.get(pod.workload)
        if w is None:
            continue
        c = int(pc[i])
        if c not in classes[w]:
            classes[w].append(c)
        pods[w] += 1
        if pod.from_template:
            template.add(w)
    ws = np.array(sorted(classes), np.int64)
    rep = np.array([classes[int(w)][0] for w in ws], np.int64)
    extra = {k: classes[int(w)][1:] for k, w in enumerate(ws.tolist()) if len(classes[w]) > 1}
    multi = np.array([pods[int(w)] > 1 or int(w) in template for w in ws], np.bool_)
    return _Layout(ws, rep, extra, multi)


def _block(conn: Connectivity, lay: _Layout, rows: Ints) -> npt.NDArray[np.uint64]:
    """Packed [rows, all workloads, words]: OR over each workload's classes."""
    out = pair_block(conn, lay.rep[rows], lay.rep)
    for r, k in enumerate(rows.tolist()):
        for c in lay.extra.get(k, ()):
            out[r] |= pair_block(conn, np.array([c]), lay.rep)[0]
    for k, cs in lay.extra.items():
        for c in cs:
            out[:, k] |= pair_block(conn, lay.rep[rows], np.array([c]))[:, 0]
    return out


def prove(
    conn: Connectivity,
    learnt: Learnt,
    covered: set[int],
    host_network_as_node: bool = True,
    mesh_set: bool = False,
) -> Proof:
    """`covered`: indices of `cluster.workloads` the set writes policies for."""
    cluster = conn.cluster
    covered_ns = {cluster.workloads[i].key.namespace for i in covered}
    covered_ns |= {w.key.namespace for w in cluster.workloads if w.key.namespace in covered_ns}
    checked, records, denied_total, failures, denied = _check(conn, learnt, covered_ns, mesh_set)
    lay = _layout(conn, host_network_as_node)
    n = len(lay.workloads)
    pos = {int(w): k for k, w in enumerate(lay.workloads.tolist())}
    luts = _luts(conn)
    words = max(1, (len(conn.ports) + 63) // 64)
    allowed = np.zeros((n, n), np.int64)
    keep_bits = n * n * words * 8 <= 256 * 2**20
    bits = np.zeros((n, n, words), np.uint64) if keep_bits else None
    step = max(1, BLOCK_CELLS // max(1, n))
    for lo in range(0, n, step):
        rows = np.arange(lo, min(n, lo + step))
        block = _block(conn, lay, rows)
        allowed[rows] = _count(block, luts)
        if bits is not None:
            bits[rows] = block
    diag = np.arange(n)
    allowed[diag[~lay.multi], diag[~lay.multi]] = 0
    # observed units: distinct (src workload, dst workload, protocol, port)
    observed = np.zeros((n, n), np.int64)
    obs_ports: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    both = (learnt.src < learnt.n_workloads) & (learnt.dst < learnt.n_workloads)
    for s, d, pr, pt in zip(
        learnt.src[both].tolist(),
        learnt.dst[both].tolist(),
        learnt.proto[both].tolist(),
        learnt.port[both].tolist(),
        strict=True,
    ):
        a, b = pos.get(s), pos.get(d)
        if a is None or b is None or (a == b and not lay.multi[a]):
            continue
        observed[a, b] += 1
        obs_ports[(a, b)].append((pr, pt))
    observed = np.minimum(observed, allowed)
    mine = np.array([int(w) in covered for w in lay.workloads.tolist()], np.bool_)
    touch = mine[:, None] | mine[None, :]
    ext_obs, ext_allowed = _external(conn, lay, learnt, pos, luts)
    names = [str(cluster.workloads[int(w)].key) for w in lay.workloads.tolist()]
    scores = []
    excess = allowed - observed
    memo: dict[object, ConnSet] = {}
    for k in np.flatnonzero(mine).tolist():
        out_ex = np.flatnonzero(excess[k] > 0)
        in_ex = np.flatnonzero(excess[:, k] > 0)
        listed: list[Excess] = []
        for direction, cells in (("egress", out_ex), ("ingress", in_ex)):
            vals = excess[k, cells] if direction == "egress" else excess[cells, k]
            top = cells[np.argsort(-vals, kind="stable")[:MAX_EXCESS]]
            for j in top.tolist():
                a, b = (k, j) if direction == "egress" else (j, k)
                listed.append(
                    Excess(
                        names[j],
                        direction,
                        _excess_conns(conn, bits, a, b, obs_ports, memo),
                        int(excess[a, b]),
                    )
                )
        self_cell = int(allowed[k, k])
        scores.append(
            WorkloadScore(
                names[k],
                int(observed[k].sum() + observed[:, k].sum() - observed[k, k]),
                int(allowed[k].sum() + allowed[:, k].sum() - self_cell),
                len(set(out_ex.tolist()) | set(in_ex.tolist())),
                tuple(listed),
                int(ext_obs[k]),
                int(ext_allowed[k]),
            )
        )
    return Proof(
        conn.layer.value,
        checked,
        records,
        denied_total,
        failures,
        denied,
        int(observed[touch].sum()),
        int(allowed[touch].sum()),
        tuple(sorted(scores, key=lambda s: s.workload)),
        int(sum(ext_obs[k] for k in np.flatnonzero(mine).tolist())),
        int(sum(ext_allowed[k] for k in np.flatnonzero(mine).tolist())),
    )


def _excess_conns(
    conn: Connectivity,
    bits: npt.NDArray[np.uint64] | None,
    a: int,
    b: int,
    obs: dict[tuple[int, int], list[tuple[int, int]]],
    memo: dict[object, ConnSet],
) -> ConnSet:
    """Allowed minus observed for one cell; cells repeat both, so results are memoised."""
    if bits is None:
        return ConnSet()
    raw = bits[a, b].tobytes()
    observed = tuple(sorted(obs.get((a, b), ())))
    got = memo.get((raw, observed))
    if got is not None:
        return got
    allowed = memo.get(raw)
    if allowed is None:
        allowed = memo[raw] = conn.ports.to_connset(unpack(bits[a, b], len(conn.ports)))
    seen: dict[Protocol, list[tuple[int, int]]] = defaultdict(list)
    for pr, pt in observed:
        seen[PROTO_LIST[pr]].append((pt, pt))
    got = memo[(raw, observed)] = allowed - ConnSet.of(
        {p: IntervalSet.of(v) for p, v in seen.items()}
    )
    return got


def _external(
    conn: Connectivity,
    lay: _Layout,
    learnt: Learnt,
    pos: dict[int, int],
    luts: npt.NDArray[np.int64],
) -> tuple[list[int], list[int]]:
    """Per workload: observed and allowed (address, port) units with external addresses,
    both directions (Python integers: IPv6 ranges overflow any fixed width)."""
    n = len(lay.workloads)
    sizes = [hi - lo + 1 for lo, hi in conn.ips.v4] + [hi - lo + 1 for lo, hi in conn.ips.v6]
    allowed = [0] * n
    if len(conn.ips):
        step = max(1, BLOCK_CELLS // max(1, len(conn.ips)))
        for lo in range(0, n, step):
            rows = np.arange(lo, min(n, lo + step))
            for block in (
                to_external_block(conn, lay.rep[rows]),
                from_external_block(conn, lay.rep[rows]),
            ):
                counts = _count(block, luts)
                for r, row in zip(rows.tolist(), counts, strict=True):
                    hit = np.flatnonzero(row)
                    allowed[r] += sum(int(row[h]) * sizes[int(h)] for h in hit.tolist())
    observed = [0] * n
    w = learnt.n_workloads
    for mine, other in ((learnt.src, learnt.dst), (learnt.dst, learnt.src)):
        ext = (mine < w) & (other >= w)
        for e in mine[ext].tolist():
            k = pos.get(e)
            if k is not None:
                observed[k] += 1
    return observed, allowed
