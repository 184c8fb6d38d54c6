"""`--format linkerd`: per workload in Linkerd's mesh and observed TCP port, a `Server`
with the `AuthorizationPolicy` objects that admit the callers the flows show
(https://linkerd.io/2/reference/authorization-policy/):

- callers in Linkerd's mesh by identity: a `MeshTLSAuthentication` with `identityRefs` to
  their ServiceAccounts, required by an AuthorizationPolicy targeting the Server;
  workloads sharing a service account share that identity (a warning names them);
- callers outside the mesh (unmeshed pods, external and node addresses) are
  unauthenticated: a `NetworkAuthentication` with their addresses (aggregated as for
  NetworkPolicy ipBlocks), required by a second AuthorizationPolicy; an unmeshed caller
  whose address the input does not give is admitted from the cluster networks, which
  hold every pod address (warning);
- a Server denies what no authorization admits, so the observed port is closed to everyone
  else; the workload's other ports keep its default inbound policy, and a note says to set
  `config.linkerd.io/default-inbound-policy: deny` (an annotation, not a policy object) to
  close them.
The mesh governs TCP only; UDP and SCTP flows are left to NetworkPolicy (a note counts
them). Workloads outside Linkerd's mesh get nothing: a warning lists them.
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
from microseg.engine import LinkerdIndex
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd import (
    LinkerdAuthorizationPolicy,
    LinkerdRef,
    MeshTLSAuthentication,
    Network,
    NetworkAuthentication,
    Server,
)
from microseg.model.selectors import LabelSelector
from microseg.model.sets import Protocol

__all__ = ["generate", "in_linkerd"]

Note = tuple[str, str, str, str]
GROUP = "policy.linkerd.io"


def in_linkerd(cluster: Cluster, index: LinkerdIndex) -> dict[int, bool]:
    """Per workload index: whether its first non-host-network pod runs Linkerd's proxy."""
    by_key = {w.key: i for i, w in enumerate(cluster.workloads)}
    out: dict[int, bool] = {}
    for pod in cluster.pods:
        i = by_key.get(pod.workload)
        if i is None or i in out or pod.host_network:
            continue
        out[i] = index.member(pod)
    return out


def _unmeshed_addresses(cluster: Cluster, workload: int) -> list[str]:
    key = cluster.workloads[workload].key
    return sorted({p.ips[0] for p in cluster.pods if p.workload == key and p.ips})


def generate(
    cluster: Cluster,
    learnt: Learnt,
    choices: dict[int, Choice],
    covered: set[int],
    covered_ns: list[str],
    ctx: BuildContext,
    options: object,
) -> tuple[list[Generated], list[Note]]:
    index = LinkerdIndex(cluster)
    mesh = in_linkerd(cluster, index)
    w = learnt.n_workloads
    tcp = PROTO_LIST.index(Protocol.TCP)
    # [dst workload][port] -> meshed caller accounts (ns, sa) / unauthenticated addresses
    accounts: dict[int, dict[int, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    addresses: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    callers: dict[tuple[str, str], set[str]] = defaultdict(set)
    nameless: set[str] = set()
    not_tcp = 0
    pairs = list(
        zip(
            learnt.src.tolist(),
            learnt.dst.tolist(),
            learnt.proto.tolist(),
            learnt.port.tolist(),
            strict=True,
        )
    )
    talkers = sorted({s for s, _, _, _ in pairs if s < w})
    pairs += [(s, r, tcp, 53) for r in resolvers(learnt) if r < w for s in talkers]
    for s, d, pr, pt in pairs:
        if d >= w or d not in covered or not mesh.get(d, False):
            continue
        if pr != tcp:
            not_tcp += 1
            continue
        if s >= w:
            addresses[d][pt].add(learnt.addresses[s - w])
        elif mesh.get(s, False):
            src = cluster.workloads[s]
            who = (src.key.namespace, src.service_account)
            accounts[d][pt].add(who)
            callers[who].add(str(src.key))
        else:
            found = _unmeshed_addresses(cluster, s)
            if not found:
                # Its address is unknown but in the cluster networks (Linkerd requires
                # them to hold every pod address): admit those, and say so.
                nameless.add(str(cluster.workloads[s].key))
                found = [n.cidr for n in cluster.linkerd.cluster_networks]
            addresses[d][pt].update(found)
    out: list[Generated] = []
    notes: list[Note] = []
    names = policy_name(cluster, covered)
    for i in sorted(covered, key=lambda i: cluster.workloads[i].key):
        if not mesh.get(i, False):
            continue
        key = cluster.workloads[i].key
        labels = choices[i].match_labels
        if labels is None:
            first = next((p for p in cluster.pods if p.workload == key), None)
            labels = stable_labels(first.labels) if first is not None else {}
        if not labels:
            notes.append(
                ("MS530", "warning", str(key), "no plain labels to select it by: no Server written")
            )
            continue
        for port in sorted(set(accounts.get(i, {})) | set(addresses.get(i, {}))):
            out += _server_objects(
                ctx,
                str(key),
                key.namespace,
                f"{names[i]}-{port}",
                labels,
                port,
                accounts.get(i, {}).get(port, set()),
                addresses.get(i, {}).get(port, set()),
            )
    outside = sorted(str(cluster.workloads[i].key) for i in covered if not mesh.get(i, False))
    if outside:
        notes.append(
            (
                "MS530",
                "warning",
                f"{len(outside)} workloads",
                "outside Linkerd's mesh, so a Server would not apply: "
                + ", ".join(outside[:10])
                + (" ..." if len(outside) > 10 else ""),
            )
        )
    for (ns, sa), ws in sorted(callers.items()):
        if len(ws) > 1:
            notes.append(
                (
                    "MS524",
                    "warning",
                    f"{ns}/{sa}",
                    f"service account shared by {', '.join(sorted(ws))}: an identity rule for one admits all of them",
                )
            )
    if nameless:
        notes.append(
            (
                "MS524",
                "warning",
                "unmeshed callers",
                f"{len(nameless)} callers outside the mesh without an address in the input "
                f"({', '.join(sorted(nameless)[:5])}): admitted, unauthenticated, from the "
                "cluster networks (any unmeshed pod there); give their pods' addresses to narrow it",
            )
        )
    if out:
        notes.append(
            (
                "MS530",
                "notice",
                "default policy",
                "ports without a Server keep each pod's default inbound policy: annotate the "
                "namespaces config.linkerd.io/default-inbound-policy: deny to close them",
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


def _server_objects(
    ctx: BuildContext,
    workload: str,
    ns: str,
    name: str,
    labels: dict[str, str],
    port: int,
    accounts: set[tuple[str, str]],
    addresses: set[str],
) -> list[Generated]:
    annotations = (*ctx.annotations, ("microseg.dev/workload", workload))

    def made(kind: str, obj_name: str, obj: object, note: str) -> Generated:
        return Generated(
            kind,
            ns,
            obj_name,
            obj,  # type: ignore[arg-type]
            ns,
            workload,
            annotations,
            ((("spec", -1, -1), note),),
            ctx.header,
        )

    server = Server(ns, name, FrozenLabels(), LabelSelector.from_labels(labels), port)
    target = LinkerdRef(GROUP, "Server", name)
    out = [made("Server", name, server, f"{workload} TCP {port}: denied unless authorized below")]
    if accounts:
        refs = tuple(
            LinkerdRef("core", "ServiceAccount", sa, "" if sa_ns == ns else sa_ns)
            for sa_ns, sa in sorted(accounts)
        )
        mtls = MeshTLSAuthentication(ns, name, (), refs)
        out.append(made("MeshTLSAuthentication", name, mtls, f"{len(refs)} caller identities"))
        required = (LinkerdRef(GROUP, "MeshTLSAuthentication", name),)
        policy = LinkerdAuthorizationPolicy(ns, name, target, required)
        out.append(made("AuthorizationPolicy", name, policy, "callers in the mesh"))
    if addresses:
        single = sorted(a for a in addresses if "/" not in a)
        blocks = [cidr for cidr, _ in aggregate(single, 32, 128)]
        blocks += sorted(a for a in addresses if "/" in a)
        net_name = f"{name}-net"
        nets = NetworkAuthentication(ns, net_name, tuple(Network.of(b) for b in blocks))
        out.append(made("NetworkAuthentication", net_name, nets, f"{len(blocks)} caller networks"))
        required = (LinkerdRef(GROUP, "NetworkAuthentication", net_name),)
        policy = LinkerdAuthorizationPolicy(ns, net_name, target, required)
        out.append(
            made(
                "AuthorizationPolicy",
                net_name,
                policy,
                "unauthenticated callers from these networks",
            )
        )
    return out
