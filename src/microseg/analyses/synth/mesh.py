"""`--format istio`: an AuthorizationPolicy per workload in the mesh, with the identities of
the callers the flows show (istio.io/latest/docs/reference/config/security/authorization-policy/).

- A caller in the mesh by its `principals`, `<trust domain>/ns/<ns>/sa/<service account>`
  (the SPIFFE identity its sidecar presents under mTLS); several workloads sharing one
  service account share that principal, so the rule admits all of them: a warning names
  them, and the proof counts what they add.
- A caller outside the mesh has no principal: `notPrincipals: ["*"]` admits plaintext
  callers (only where PeerAuthentication lets plaintext in), with a warning.
- External and node addresses by `ipBlocks`, aggregated like NetworkPolicy ipBlocks.
- Ports as numbers (the destination workload's ports: what the sidecar sees); the mesh
  governs TCP only, so UDP and SCTP flows are left to NetworkPolicy (a note counts them).
- Per namespace with such workloads, `microseg-allow-nothing` (an ALLOW policy with no
  rules): every workload of the namespace denies what no policy allows.
Workloads outside the mesh get nothing (an AuthorizationPolicy would not apply to them):
a warning lists them.
"""

from __future__ import annotations

from collections import defaultdict

from microseg.analyses.simulate import PROTO_LIST
from microseg.analyses.synth.build import BuildContext, policy_name
from microseg.analyses.synth.cidrs import aggregate
from microseg.analyses.synth.labels import Choice, stable_labels
from microseg.analyses.synth.needs import resolvers
from microseg.analyses.synth.observe import Learnt
from microseg.analyses.synth.types import Generated
from microseg.engine import pod_mesh_mode
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.mesh import (
    AuthorizationPolicy,
    AuthzAction,
    AuthzRule,
    MeshMode,
    Operation,
    Source,
    principal,
)
from microseg.model.sets import Protocol

__all__ = ["ALLOW_NOTHING", "Note", "generate", "in_mesh"]

ALLOW_NOTHING = "microseg-allow-nothing"
Note = tuple[str, str, str, str]
_PLAIN = "plaintext"


def in_mesh(cluster: Cluster, host_network_as_node: bool = True) -> dict[int, bool]:
    """Per workload index: whether its first selectable pod runs in the mesh."""
    index = {w.key: i for i, w in enumerate(cluster.workloads)}
    out: dict[int, bool] = {}
    for pod in cluster.pods:
        i = index.get(pod.workload)
        if i is None or i in out or (pod.host_network and host_network_as_node):
            continue
        out[i] = cluster.mesh.assume_mesh or pod_mesh_mode(cluster, pod) is not MeshMode.NONE
    return out


def generate(
    cluster: Cluster,
    learnt: Learnt,
    choices: dict[int, Choice],
    covered: set[int],
    covered_ns: list[str],
    ctx: BuildContext,
    options: object,
) -> tuple[list[Generated], list[Note]]:
    notes: list[Note] = []
    mesh = in_mesh(cluster)
    w = learnt.n_workloads
    td = cluster.mesh.trust_domain
    tcp = PROTO_LIST.index(Protocol.TCP)
    sources: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    addresses: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    callers: dict[str, set[str]] = defaultdict(set)
    plaintext: set[str] = set()
    not_tcp = 0
    talkers: set[int] = set()
    edges = zip(
        learnt.src.tolist(),
        learnt.dst.tolist(),
        learnt.proto.tolist(),
        learnt.port.tolist(),
        strict=True,
    )
    pairs = [(s, d, pr, pt) for s, d, pr, pt in edges]
    talkers = {s for s, _, _, _ in pairs if s < w}
    dns = [r for r in resolvers(learnt) if r < w]
    pairs += [(s, r, tcp, 53) for r in dns for s in sorted(talkers)]
    for s, d, pr, pt in pairs:
        if d >= w or d not in covered or not mesh.get(d, False):
            continue
        if pr != tcp:
            not_tcp += 1
            continue
        if s >= w:
            addresses[d][learnt.addresses[s - w]].add(pt)
        elif mesh.get(s, False):
            src = cluster.workloads[s]
            who = principal(td, src.key.namespace, src.service_account)
            sources[d][who].add(pt)
            callers[who].add(str(src.key))
        else:
            sources[d][_PLAIN].add(pt)
            plaintext.add(str(cluster.workloads[s].key))
    out: list[Generated] = []
    names = policy_name(cluster, covered)
    outside = sorted(str(cluster.workloads[i].key) for i in covered if not mesh.get(i, False))
    for ns in covered_ns:
        mine = sorted(
            (i for i in covered if cluster.workloads[i].key.namespace == ns and mesh.get(i, False)),
            key=lambda i: cluster.workloads[i].key,
        )
        if not mine:
            continue
        nothing = AuthorizationPolicy(ns, ALLOW_NOTHING, AuthzAction.ALLOW, None, ())
        note = (
            ("spec", -1, -1),
            f"every workload of {ns} in the mesh: no request unless another policy allows it",
        )
        out.append(
            Generated(
                "AuthorizationPolicy",
                ns,
                ALLOW_NOTHING,
                nothing,
                ns,
                "",
                ctx.annotations,
                (note,),
                ctx.header,
            )
        )
        for i in mine:
            got = _policy(
                cluster, i, names[i], choices[i], sources.get(i, {}), addresses.get(i, {}), ctx
            )
            if got is None:
                notes.append(
                    (
                        "MS530",
                        "warning",
                        str(cluster.workloads[i].key),
                        "no plain labels to select it by (AuthorizationPolicy takes matchLabels only): no policy written",
                    )
                )
                continue
            out.append(got)
    if outside:
        notes.append(
            (
                "MS530",
                "warning",
                f"{len(outside)} workloads",
                "outside the mesh, so an AuthorizationPolicy would not apply: "
                + ", ".join(outside[:10])
                + (" ..." if len(outside) > 10 else ""),
            )
        )
    for who, ws in sorted(callers.items()):
        if len(ws) > 1:
            notes.append(
                (
                    "MS524",
                    "warning",
                    who,
                    f"shared by {', '.join(sorted(ws))}: a rule for one admits all of them (identity rules are coarser than the network rules)",
                )
            )
    if plaintext:
        notes.append(
            (
                "MS524",
                "warning",
                "plaintext callers",
                f'{len(plaintext)} callers outside the mesh ({", ".join(sorted(plaintext)[:5])}) are admitted as any plaintext caller (notPrincipals: ["*"]) on their ports',
            )
        )
    if not_tcp:
        notes.append(
            (
                "MS530",
                "notice",
                "udp/sctp",
                f"{not_tcp} learnt UDP or SCTP edges: the mesh governs TCP only, left to NetworkPolicy",
            )
        )
    return out, notes


def _policy(
    cluster: Cluster,
    i: int,
    name: str,
    choice: Choice,
    sources: dict[str, set[int]],
    addresses: dict[str, set[int]],
    ctx: BuildContext,
) -> Generated | None:
    w = cluster.workloads[i].key
    labels = choice.match_labels
    if labels is None:
        first = next((p for p in cluster.pods if p.workload == w), None)
        labels = stable_labels(first.labels) if first is not None else {}
    if not labels:
        return None
    by_ports: dict[frozenset[int], list[Source]] = defaultdict(list)
    per_who: dict[frozenset[int], list[str]] = defaultdict(list)
    for who, seen in sources.items():
        per_who[frozenset(seen)].append(who)
    for ports, whos in per_who.items():
        named = sorted(x for x in whos if x != _PLAIN)
        if named:
            by_ports[ports].append(Source(principals=tuple(named)))
        if _PLAIN in whos:
            by_ports[ports].append(Source(not_principals=("*",)))
    per_ports: dict[frozenset[int], list[str]] = defaultdict(list)
    for ip, seen in addresses.items():
        per_ports[frozenset(seen)].append(ip)
    for ports, ips in per_ports.items():
        blocks = [cidr for cidr, _ in aggregate(ips, 32, 128)]
        by_ports[ports].append(Source(ip_blocks=tuple(blocks)))
    rules = []
    for k, chosen in enumerate(sorted(by_ports, key=lambda p: sorted(p))):
        ops = (Operation(ports=tuple(str(p) for p in sorted(chosen))),)
        rules.append(AuthzRule(k, tuple(by_ports[chosen]), ops))
    policy = AuthorizationPolicy(
        w.namespace, name, AuthzAction.ALLOW, FrozenLabels(labels), tuple(rules)
    )
    note = (("spec", -1, -1), f"{w}: its callers by identity ({len(rules)} rules)")
    return Generated(
        "AuthorizationPolicy",
        w.namespace,
        name,
        policy,
        w.namespace,
        str(w),
        (*ctx.annotations, ("microseg.dev/workload", str(w))),
        (note,),
        ctx.header,
    )
