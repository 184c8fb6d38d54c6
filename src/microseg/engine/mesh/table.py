"""The fast mesh layer: Istio's verdict for every (destination class, source column, port
atom) at once, built only when the input has PeerAuthentication or AuthorizationPolicy.

Layout matches the NetworkPolicy ingress table (`[dst class, src column, atom]`, source
columns being classes then external IP atoms), so a combined verdict is one `&`. A cell
that the mesh allows only under L7 conditions has a non-zero `cond` id into `verdicts`.

Work is a Python loop over destination classes in the mesh and the rules that apply to
them; every rule is evaluated as numpy vectors over all sources and atoms at once.
mesh_reference.py evaluates the same semantics one request at a time.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.match import (
    STATIC_KEYS,
    applies_to,
    clause_text,
    condition_holds,
    condition_text,
    declared_ports,
    effective_mode,
    http_ports,
    is_http_key,
    operation_l7,
    pod_mesh_mode,
    rule_has_http,
    services_by_namespace,
    sniffs,
    source_l7,
)
from microseg.engine.query import MeshVerdict, ext_authz_condition, http_condition
from microseg.model.cluster import Cluster
from microseg.model.mesh import (
    AuthorizationPolicy,
    AuthzAction,
    AuthzRule,
    Condition,
    MeshMode,
    MtlsMode,
    Source,
    principal,
)
from microseg.model.objects import Pod, Service
from microseg.model.sets import IPSet, Protocol

__all__ = ["MeshTable", "class_modes", "mesh_ip_sets", "mesh_port_ranges", "mesh_quiet_ip_sets"]

Mask = npt.NDArray[np.bool_]


def mesh_port_ranges(cluster: Cluster) -> list[tuple[Protocol, int, int]]:
    """Ports the mesh layers distinguish: Istio's (below) and Linkerd's."""
    out = _istio_port_ranges(cluster) if cluster.has_istio else []
    if cluster.has_linkerd:
        # Linkerd's modules load only for Linkerd input (issue 22: start-up).
        from microseg.engine.mesh.linkerd_table import linkerd_port_ranges

        out += linkerd_port_ranges(cluster)
    return out


def _istio_port_ranges(cluster: Cluster) -> list[tuple[Protocol, int, int]]:
    """Ports Istio distinguishes: rule ports, port-level mTLS, HTTP service ports."""
    ports: set[int] = set()
    for policy in cluster.authorization_policies:
        for rule in policy.rules:
            for op in rule.operations or ():
                ports.update(int(p) for p in (op.ports or ()) + (op.not_ports or ()))
            for c in rule.conditions:
                if c.key == "destination.port":
                    values = (c.values or ()) + (c.not_values or ())
                    ports.update(int(v) for v in values if v.isdigit() and 0 < int(v) < 65536)
    for pa in cluster.peer_authentications:
        ports.update(p for p, _ in pa.port_modes)
    index = services_by_namespace(cluster)
    for pod in cluster.pods:
        ports.update(http_ports(cluster, pod, index))
        ports.update(declared_ports(cluster, pod, index))
    return [(Protocol.TCP, p, p) for p in sorted(ports)]


def _blocks(source: Source) -> tuple[str, ...]:
    return (
        (source.ip_blocks or ())
        + (source.not_ip_blocks or ())
        + (source.remote_ip_blocks or ())
        + (source.not_remote_ip_blocks or ())
    )


def _cidr(block: str) -> str:
    """Istio accepts a bare address as a single-address block."""
    return block if "/" in block else block + ("/128" if ":" in block else "/32")


def _block_set(block: str) -> IPSet:
    return IPSet.from_cidr(_cidr(block))


def mesh_ip_sets(cluster: Cluster) -> list[IPSet]:
    """Address blocks the mesh layers distinguish (Istio's below, and Linkerd's)."""
    out = _istio_ip_sets(cluster) if cluster.has_istio else []
    if cluster.has_linkerd:
        from microseg.engine.mesh.linkerd_table import linkerd_ip_sets

        out += linkerd_ip_sets(cluster)[0]
    return out


def mesh_quiet_ip_sets(cluster: Cluster) -> list[IPSet]:
    """Blocks that cut address atoms without making lists print IPv6 on their own
    (linkerd_table.py `linkerd_ip_sets`)."""
    if not cluster.has_linkerd:
        return []
    from microseg.engine.mesh.linkerd_table import linkerd_ip_sets

    return linkerd_ip_sets(cluster)[1]


def _istio_ip_sets(cluster: Cluster) -> list[IPSet]:
    """Address blocks Istio distinguishes: source blocks and address conditions."""
    out = [
        _block_set(b)
        for p in cluster.authorization_policies
        for r in p.rules
        for s in r.sources or ()
        for b in _blocks(s)
    ]
    for p in cluster.authorization_policies:
        for r in p.rules:
            for c in r.conditions:
                if c.key in ("source.ip", "remote.ip"):
                    out += [_block_set(v) for v in (c.values or ()) + (c.not_values or ())]
    return out


def class_modes(cluster: Cluster, reps: tuple[Pod, ...]) -> tuple[MeshMode, ...]:
    """Per class, the mesh its pods are in: Istio's modes first (a pod in both meshes is
    read as Istio's, ingest warns MS196), then Linkerd's proxy, else none."""
    linkerd = None
    if cluster.has_linkerd:
        from microseg.engine.mesh.linkerd_match import LinkerdIndex

        linkerd = LinkerdIndex(cluster)
    out = []
    for pod in reps:
        mode = pod_mesh_mode(cluster, pod)
        if mode is MeshMode.NONE and linkerd is not None and linkerd.member(pod):
            mode = MeshMode.LINKERD
        out.append(mode)
    return tuple(out)


@dataclass(slots=True)
class _Sources:
    """Per source column: in the mesh, identity strings, and address."""

    n: int
    in_mesh: Mask
    principal: list[str]
    namespace: list[str]
    account: list[str]
    classes: int
    ips: IPAtoms
    address: list[str | None]
    empty: list[str] = field(default_factory=list)
    _index: dict[int, tuple[npt.NDArray[np.str_], npt.NDArray[np.int64]]] = field(
        default_factory=dict
    )
    _masks: dict[Source, tuple[Mask, Mask]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.empty = [""] * self.n

    def pattern(self, values: list[str], patterns: tuple[str, ...]) -> Mask:
        """Istio value matching of `patterns` against each column's identity value; the
        identities of external columns are empty. Patterns are tried once per distinct
        value, then spread to the columns with one numpy take."""
        if not values:
            return np.zeros(0, dtype=np.bool_)
        key = id(values)
        if key not in self._index:
            uniq, inverse = np.unique(np.array(values, dtype=np.str_), return_inverse=True)
            self._index[key] = (uniq, inverse.reshape(-1).astype(np.int64))
        uniq, inverse = self._index[key]
        hits = np.zeros(len(uniq), dtype=np.bool_)
        for p in patterns:
            hits |= _match_all(p, uniq)
        return hits[inverse]

    def blocks(self, blocks: tuple[str, ...]) -> Mask:
        out = np.zeros(self.n, dtype=np.bool_)
        nets = [ipaddress.ip_network(_cidr(b), strict=False) for b in blocks]
        for i in range(self.classes):
            a = self.address[i]
            if a is not None:
                ip = ipaddress.ip_address(a)
                out[i] = any(ip.version == n.version and ip in n for n in nets)
        total = IPSet()
        for b in blocks:
            total = total | _block_set(b)
        out[self.classes :] = self.ips.mask(total)
        return out


def _match_all(pattern: str, values: npt.NDArray[np.str_]) -> Mask:
    """mesh_match.istio_match over an array of values at once."""
    if pattern == "*":
        return np.asarray(values != "", dtype=np.bool_)
    if pattern.endswith("*"):
        return np.asarray(np.char.startswith(values, pattern[:-1]), dtype=np.bool_)
    if pattern.startswith("*"):
        return np.asarray(np.char.endswith(values, pattern[1:]), dtype=np.bool_)
    return np.asarray(values == pattern, dtype=np.bool_)


def _source_masks(src: _Sources, s: Source) -> tuple[Mask, Mask]:
    """Whether source `s` matches each column for mTLS traffic (the column's identity) and
    for plaintext traffic (empty identity). Independent of the destination: memoised."""
    found = src._masks.get(s)
    if found is None:
        found = src._masks[s] = _compute_source_masks(src, s)
    return found


def _compute_source_masks(src: _Sources, s: Source) -> tuple[Mask, Mask]:
    with_id = np.ones(src.n, dtype=np.bool_)
    plain = np.ones(src.n, dtype=np.bool_)
    empty = src.empty
    identity = (
        (s.principals, s.not_principals, src.principal),
        (s.namespaces, s.not_namespaces, src.namespace),
    )
    for positive, negative, values in identity:
        if positive is not None:
            with_id &= src.pattern(values, positive)
            plain &= src.pattern(empty, positive)
        if negative is not None:
            with_id &= ~src.pattern(values, negative)
            plain &= ~src.pattern(empty, negative)
    if s.service_accounts is not None:
        with_id &= np.array([a in s.service_accounts for a in src.account], dtype=np.bool_)
        plain &= False
    if s.not_service_accounts is not None:
        with_id &= np.array([a not in s.not_service_accounts for a in src.account], np.bool_)
    for positive, negative in (
        (s.ip_blocks, s.not_ip_blocks),
        (s.remote_ip_blocks, s.not_remote_ip_blocks),
    ):
        if positive is not None:
            m = src.blocks(positive)
            with_id &= m
            plain &= m
        if negative is not None:
            m = src.blocks(negative)
            with_id &= ~m
            plain &= ~m
    return with_id, plain


@dataclass(frozen=True, slots=True)
class MeshTable:
    allow: npt.NDArray[np.bool_]
    """[dst class, src column, atom]: the mesh lets the request through (maybe conditionally)."""
    cond: npt.NDArray[np.int32]
    """[dst class, src column, atom]: index into `verdicts`; 0 means unconditional."""
    verdicts: tuple[MeshVerdict, ...]
    modes: tuple[MeshMode, ...]
    """Per class: outside the mesh, sidecar or ambient."""

    @staticmethod
    def build(
        cluster: Cluster, classes: EndpointClasses, ports: PortAtoms, ips: IPAtoms
    ) -> MeshTable:
        c, a = len(classes), len(ports)
        n = c + len(ips)
        allow = np.ones((c, n, a), dtype=np.bool_)
        cond = np.zeros((c, n, a), dtype=np.int32)
        modes = class_modes(cluster, classes.reps)
        td = cluster.mesh.trust_domain
        reps = classes.reps
        in_mesh = np.zeros(n, dtype=np.bool_)
        in_mesh[:c] = [m.istio for m in modes]
        src = _Sources(
            n,
            in_mesh,
            [principal(td, p.namespace, p.service_account) for p in reps] + [""] * len(ips),
            [p.namespace for p in reps] + [""] * len(ips),
            [f"{p.namespace}/{p.service_account}" for p in reps] + [""] * len(ips),
            c,
            ips,
            [p.ips[0] if p.ips else None for p in reps],
        )
        tcp = np.array([k for k, (pr, _, _) in enumerate(ports.atoms) if pr is Protocol.TCP])
        los = [ports.atoms[int(k)][1] for k in tcp]
        index: dict[MeshVerdict, int] = {MeshVerdict(True): 0}
        services = services_by_namespace(cluster)
        policies = _policies_by_namespace(cluster)
        for d in range(c):
            if not modes[d].istio or not cluster.has_istio:
                continue  # without Istio policies Istio allows everything (PERMISSIVE)
            ok, ids = _destination(cluster, src, modes[d], reps[d], los, index, services, policies)
            allow[d][:, tcp] = ok
            cond[d][:, tcp] = ids
        if MeshMode.LINKERD in modes:
            from microseg.engine.mesh.linkerd_table import LinkerdLayer

            LinkerdLayer(cluster, classes, ports, ips, modes).fill(allow, cond, index)
        verdicts = tuple(sorted(index, key=index.__getitem__))
        return MeshTable(allow, cond, verdicts, modes)

    def verdict(self, dst: int, src: int, atom: int) -> MeshVerdict:
        if not self.allow[dst, src, atom]:
            return MeshVerdict(False)
        return self.verdicts[int(self.cond[dst, src, atom])]


def _static_mask(rule: AuthzRule, src: _Sources, mtls: Mask, los: list[int]) -> Mask:
    """Where the rule's statically decidable `when` conditions hold (mesh_match.STATIC_KEYS)."""
    out = np.ones(mtls.shape, dtype=np.bool_)
    for c in rule.conditions:
        if c.key == "destination.port":
            out &= np.array([condition_holds(c, p) for p in los], dtype=np.bool_)[None, :]
        elif c.key in ("source.namespace", "source.principal"):
            values = src.namespace if c.key == "source.namespace" else src.principal
            with_id = np.array([condition_holds(c, v) for v in values], dtype=np.bool_)
            plain = np.full(src.n, condition_holds(c, ""), dtype=np.bool_)
            out &= np.where(mtls, with_id[:, None], plain[:, None])
        elif c.key in STATIC_KEYS:  # source.ip, remote.ip
            holds = np.array(
                [condition_holds(c, a, ip=True) for a in src.address]
                + [False] * (src.n - src.classes),
                dtype=np.bool_,
            )
            if src.n > src.classes:
                holds[src.classes :] = _ip_condition(c, src)
            out &= holds[:, None]
    return out


def _ip_condition(c: Condition, src: _Sources) -> Mask:
    """An address condition over the external columns (IP atoms are cut at its blocks)."""
    inside = src.blocks(c.values) if c.values is not None else np.ones(src.n, np.bool_)
    if c.not_values is not None:
        inside = inside & ~src.blocks(c.not_values)
    return inside[src.classes :]


def _policies_by_namespace(cluster: Cluster) -> dict[str, list[AuthorizationPolicy]]:
    """Where a policy can apply: its own namespace, and every namespace from the root one.
    targetRef policies apply nowhere (see mesh_match.applies_to)."""
    out: dict[str, list[AuthorizationPolicy]] = {}
    for p in cluster.authorization_policies:
        if not p.target_refs:
            out.setdefault(p.namespace, []).append(p)
    return out


def _pieces(
    rule: AuthzRule,
    action: AuthzAction,
    src: _Sources,
    mtls: Mask,
    los: list[int],
    http: Mask,
) -> list[tuple[Mask, str]]:
    """(cells, clause) for each way `rule` matches; see mesh_reference.rule_clauses."""
    out: list[tuple[Mask, str]] = []
    skip_tcp = action is AuthzAction.ALLOW and rule_has_http(rule)
    dynamic = [x for x in rule.conditions if x.key not in STATIC_KEYS]
    when_all = [condition_text(x) for x in dynamic]
    when_l4 = [condition_text(x) for x in dynamic if not is_http_key(x.key)]
    static = _static_mask(rule, src, mtls, los)
    for s in rule.sources if rule.sources is not None else (None,):
        if s is None:
            smask = np.ones(mtls.shape, dtype=np.bool_)
        else:
            with_id, plain = _source_masks(src, s)
            smask = np.where(mtls, with_id[:, None], plain[:, None])
        s_l7 = source_l7(s) if s is not None else []
        for o in rule.operations if rule.operations is not None else (None,):
            omask = np.ones(len(los), dtype=np.bool_)
            if o is not None:
                if o.ports is not None:
                    omask &= np.array([str(p) in o.ports for p in los], dtype=np.bool_)
                if o.not_ports is not None:
                    omask &= np.array([str(p) not in o.not_ports for p in los], dtype=np.bool_)
            o_l7 = operation_l7(o) if o is not None else []
            cells = smask & omask[None, :] & static
            http_cells = cells & http[None, :]
            out.append((http_cells, clause_text(s_l7 + o_l7 + when_all)))
            if not skip_tcp:
                out.append((cells & ~http[None, :], clause_text(when_l4)))
    return out


def _destination(
    cluster: Cluster,
    src: _Sources,
    mode: MeshMode,
    pod: Pod,
    los: list[int],
    index: dict[MeshVerdict, int],
    services: dict[str, list[Service]],
    by_namespace: dict[str, list[AuthorizationPolicy]],
) -> tuple[Mask, npt.NDArray[np.int32]]:
    root = cluster.mesh.root_namespace
    m = [effective_mode(cluster, pod, p, mode) for p in los]
    mode_arr = np.array([x is MtlsMode.DISABLE for x in m], dtype=np.bool_)
    strict = np.array([x is MtlsMode.STRICT for x in m], dtype=np.bool_)
    mtls = src.in_mesh[:, None] & ~mode_arr[None, :]
    reject = strict[None, :] & ~mtls
    hp = http_ports(cluster, pod, services) if mode is MeshMode.SIDECAR else frozenset()
    declared = declared_ports(cluster, pod, services)
    http = np.array([p in hp for p in los], dtype=np.bool_)
    sniff = np.array([sniffs(mode, p, hp, declared) for p in los], dtype=np.bool_)
    candidates = by_namespace.get(pod.namespace, []) + by_namespace.get(root, [])
    policies = sorted(
        (p for p in dict.fromkeys(candidates) if applies_to(cluster, p, pod)),
        key=lambda p: p.ref,
    )
    ok, ids = _decide(policies, src, mtls, reject, los, http, index)
    if not sniff.any():
        return ok, ids
    # Ports whose protocol the sidecar detects (explain/mesh_reasons.py `evaluate` says why): where
    # TCP traffic is refused but HTTP traffic would pass, the verdict is HTTP's, on the
    # condition that the traffic is HTTP.
    ok_web, ids_web = _decide(policies, src, mtls, reject, los, http | sniff, index)
    take = sniff[None, :] & ~ok & ok_web
    if take.any():
        verdicts = {i: v for v, i in index.items()}
        relabel = {}
        for k in np.unique(ids_web[take]).tolist():
            v = verdicts[int(k)]
            requires = tuple(http_condition(c) for c in (v.requires or ("",)))
            web = MeshVerdict(True, requires, v.unless)
            relabel[int(k)] = index.setdefault(web, len(index))
        mapped = np.vectorize(relabel.__getitem__, otypes=[np.int32])(ids_web[take])
        ok = ok | take
        ids = ids.copy()
        ids[take] = mapped
    return ok, ids


def _decide(
    policies: list[AuthorizationPolicy],
    src: _Sources,
    mtls: Mask,
    reject: Mask,
    los: list[int],
    http: Mask,
    index: dict[MeshVerdict, int],
) -> tuple[Mask, npt.NDArray[np.int32]]:
    """The verdict per (source column, port atom) when the atoms in `http` carry HTTP."""
    shape = mtls.shape
    deny = np.zeros(shape, dtype=np.bool_)
    unless: dict[str, Mask] = defaultdict(lambda: np.zeros(shape, dtype=np.bool_))
    requires: dict[str, Mask] = defaultdict(lambda: np.zeros(shape, dtype=np.bool_))
    allow_unc = np.zeros(shape, dtype=np.bool_)
    has_allow = False
    for policy in policies:
        action = policy.action
        if action is AuthzAction.AUDIT:
            continue
        has_allow |= action is AuthzAction.ALLOW
        for rule in policy.rules:
            for cells, text in _pieces(rule, action, src, mtls, los, http):
                if not cells.any():
                    continue
                if action is AuthzAction.CUSTOM:
                    unless[ext_authz_condition(policy.provider, text)] |= cells
                elif action is AuthzAction.DENY and not text:
                    deny |= cells
                elif action is AuthzAction.DENY:
                    unless[text] |= cells
                elif not text:
                    allow_unc |= cells
                else:
                    requires[text] |= cells
    granted = allow_unc.copy()
    for cells in requires.values():
        granted |= cells
    ok = ~reject & ~deny & (granted if has_allow else np.ones(shape, dtype=np.bool_))
    names = sorted(requires) if has_allow else []
    need = [requires[t] & ~allow_unc for t in names]
    u_names = sorted(unless)
    columns = [*need, *(unless[t] for t in u_names)]
    ids = np.zeros(shape, dtype=np.int32)
    if columns:
        sig = np.stack(columns, axis=-1) & ok[..., None]
        flat = sig.reshape(-1, len(columns))
        rows, inverse = np.unique(flat, axis=0, return_inverse=True)
        row_ids = np.zeros(len(rows), dtype=np.int32)
        for r, row in enumerate(rows):
            req = tuple(t for t, hit in zip(names, row[: len(names)], strict=True) if hit)
            unl = tuple(t for t, hit in zip(u_names, row[len(names) :], strict=True) if hit)
            verdict = MeshVerdict(True, req, unl)
            row_ids[r] = index.setdefault(verdict, len(index))
        ids = row_ids[inverse.reshape(-1)].reshape(shape)
    return ok, ids
