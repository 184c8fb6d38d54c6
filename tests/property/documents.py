"""Hypothesis strategies for small random clusters written as raw documents: what a user
would apply with kubectl, so that the property tests exercise ingest (defaults, empty
lists, namespaces, workload templates) as well as the engine.

The vocabularies are tiny on purpose, so selectors, named ports and address blocks collide
often. Every document is valid (ingest's refusals are tested elsewhere); the comments say
which API rule keeps a draw valid.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

Doc = dict[str, Any]

NAMESPACES = ("ns-a", "ns-b", "ns-c")
UNDECLARED = "ns-z"  # pods live here, but no Namespace document declares it
LABELS = {"app": ("web", "api", "db"), "tier": ("front", "back")}
NS_LABELS = {"env": ("prod", "dev"), "team": ("x", "y")}
PORT_NUMBERS = (53, 80, 443, 8080)
PORT_NAMES = ("http", "dns", "db")
PROTOCOLS = ("TCP", "UDP", "SCTP")
CIDRS = ("10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24", "0.0.0.0/0", "2001:db8::/32", "::/0")
EXCEPTS = {
    "10.0.0.0/8": ("10.1.0.0/16", "10.2.3.0/24"),
    "0.0.0.0/0": ("10.0.0.0/8", "192.168.1.128/25"),
    "::/0": ("2001:db8::/32",),
}
# Pod addresses: some inside the blocks above (an ipBlock still never matches a pod), one
# equal to a node's address, and IPv6.
POD_IPS = ("10.1.2.9", "10.244.0.5", "192.168.1.7", "fd00::5")
HOST_IPS = ("10.1.2.3", "192.168.1.7")
PROBE_ADDRESSES = (
    "10.0.0.1",
    "10.1.2.3",
    "10.2.3.4",
    "192.168.1.5",
    "192.168.1.200",
    "8.8.8.8",
    "2001:db8::1",
    "2001:db9::1",
)
CONTROLLERS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
NODES: tuple[Doc, ...] = (
    {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-a", "labels": {"zone": "a", "role": "worker"}},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.1.2.3"}]},
    },
    {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-b", "labels": {"zone": "b"}},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "192.168.1.7"},
                {"type": "ExternalIP", "address": "2001:db8::7"},
                {"type": "Hostname", "address": "node-b"},
            ]
        },
    },
)


def dump(docs: list[Doc]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


# --- selectors ----------------------------------------------------------------------------


def _expression(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Doc]:
    key = st.sampled_from(sorted(vocab))
    values = st.lists(st.sampled_from(sum(vocab.values(), ())), min_size=1, max_size=2, unique=True)
    return st.one_of(
        st.builds(lambda k, vs: {"key": k, "operator": "In", "values": vs}, key, values),
        st.builds(lambda k, vs: {"key": k, "operator": "NotIn", "values": vs}, key, values),
        st.builds(lambda k: {"key": k, "operator": "Exists"}, key),
        st.builds(lambda k: {"key": k, "operator": "DoesNotExist"}, key),
    )


def selector(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Doc]:
    """A LabelSelector: `{}`, matchLabels, matchExpressions, or both; values from the key's
    own vocabulary, so that selectors select something often."""
    labels = st.sampled_from(sorted(vocab)).flatmap(
        lambda k: st.sampled_from(vocab[k]).map(lambda v: {k: v})
    )
    shape = st.sampled_from(("empty", "labels", "labels", "expressions", "both"))

    @st.composite
    def build(draw: st.DrawFn) -> Doc:
        kind = draw(shape)
        out: Doc = {}
        if kind in ("labels", "both"):
            out["matchLabels"] = draw(labels)
        if kind in ("expressions", "both"):
            out["matchExpressions"] = draw(st.lists(_expression(vocab), min_size=1, max_size=2))
        return out

    return build()


POD_SELECTORS = selector(LABELS)
# Namespace selectors may also name namespaces by the label the API server sets on each,
# `kubernetes.io/metadata.name`, which undeclared namespaces carry too.
NS_SELECTORS = selector(
    {**NS_LABELS, "kubernetes.io/metadata.name": (*NAMESPACES, UNDECLARED, "default")}
)


def label_map(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in vocab.items()})


POD_LABELS = label_map(LABELS)


# --- namespaces and endpoints ---------------------------------------------------------------


@st.composite
def _container_ports(draw: st.DrawFn) -> list[Doc]:
    """Container ports with names unique in the pod (the API requires it); a protocol left
    out is TCP."""
    out = []
    names = draw(st.lists(st.sampled_from(("", *PORT_NAMES)), max_size=3))
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            continue
        seen.add(name)
        port: Doc = {"containerPort": draw(st.sampled_from(PORT_NUMBERS))}
        proto = draw(st.sampled_from((None, *PROTOCOLS)))
        if proto is not None:
            port["protocol"] = proto
        if name:
            port["name"] = name
        out.append(port)
    return out


def _namespace_field(draw: st.DrawFn) -> str | None:
    """A namespace, or None: the document leaves it out and lands in `default`."""
    return draw(st.sampled_from((*NAMESPACES, NAMESPACES[0], UNDECLARED, None)))


def _metadata(name: str, namespace: str | None, labels: dict[str, str] | None = None) -> Doc:
    meta: Doc = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return meta


@st.composite
def pod_spec(draw: st.DrawFn, host: bool) -> Doc:
    containers: list[Doc] = [{"name": "main", "image": "i"}]
    ports = draw(_container_ports())
    if ports:
        containers[0]["ports"] = ports
    spec: Doc = {"containers": containers}
    if draw(st.integers(0, 4)) == 0:  # a native sidecar keeps its ports; a plain init, none
        init: Doc = {"name": "side", "image": "i", "ports": draw(_container_ports())}
        if draw(st.booleans()):
            init["restartPolicy"] = "Always"
        spec["initContainers"] = [init]
    if host:
        spec["hostNetwork"] = True
    return spec


@st.composite
def pod(draw: st.DrawFn, index: int) -> Doc:
    host = draw(st.integers(0, 6)) == 0
    doc: Doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(f"p{index}", _namespace_field(draw), draw(POD_LABELS)),
        "spec": draw(pod_spec(host)),
    }
    status: Doc = {}
    if host:
        address = draw(st.sampled_from(("", *HOST_IPS)))
        if address:
            status = {"hostIP": address, "podIP": address}
    else:
        ips = draw(st.lists(st.sampled_from(POD_IPS), max_size=2, unique=True))
        if ips and draw(st.booleans()):
            status = {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}
        elif ips:
            status = {"podIP": ips[0]}
    if status:
        doc["status"] = status
    return doc


@st.composite
def controller(draw: st.DrawFn, index: int) -> Doc:
    """A workload given without its pods: one endpoint built from its template."""
    kind = draw(st.sampled_from(CONTROLLERS))
    labels = draw(POD_LABELS)
    template = {"metadata": {"labels": labels} if labels else {}, "spec": draw(pod_spec(False))}
    spec: Doc = {"template": template}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        spec["selector"] = {"matchLabels": labels}
    if kind == "CronJob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    version = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    return {
        "apiVersion": version,
        "kind": kind,
        "metadata": _metadata(f"w{index}", _namespace_field(draw)),
        "spec": spec,
    }


# --- NetworkPolicy ---------------------------------------------------------------------------


@st.composite
def _ip_block(draw: st.DrawFn) -> Doc:
    cidr = draw(st.sampled_from(CIDRS))
    block: Doc = {"cidr": cidr}
    excepts = draw(st.lists(st.sampled_from(EXCEPTS.get(cidr, ("",))), max_size=2, unique=True))
    excepts = [e for e in excepts if e]
    if excepts:
        block["except"] = excepts
    return {"ipBlock": block}


NP_PEERS = st.one_of(
    st.builds(lambda s: {"podSelector": s}, POD_SELECTORS),
    st.builds(lambda n: {"namespaceSelector": n}, NS_SELECTORS),
    st.builds(lambda s, n: {"podSelector": s, "namespaceSelector": n}, POD_SELECTORS, NS_SELECTORS),
    _ip_block(),
)


def _protocol_field(draw: st.DrawFn, port: Doc) -> Doc:
    proto = draw(st.sampled_from((None, *PROTOCOLS)))
    if proto is not None:
        port["protocol"] = proto
    return port


@st.composite
def np_port(draw: st.DrawFn, named: bool = True) -> Doc:
    shape = draw(
        st.sampled_from(
            ("all", "number", "range", "named") if named else ("all", "number", "range")
        )
    )
    port: Doc = {}
    if shape == "number":
        port["port"] = draw(st.sampled_from(PORT_NUMBERS))
    elif shape == "range":
        lo = draw(st.sampled_from(PORT_NUMBERS))
        port["port"], port["endPort"] = lo, draw(st.integers(lo, 65535))
    elif shape == "named":
        port["port"] = draw(st.sampled_from(PORT_NAMES))
    return _protocol_field(draw, port)


@st.composite
def np_rule(draw: st.DrawFn, direction: str) -> Doc:
    """A rule: `{}`, peers absent / `[]` / listed, ports absent / `[]` / listed."""
    key = "from" if direction == "ingress" else "to"
    rule: Doc = {}
    # Absent and empty lists match everything: drawn less often, or they hide the rest.
    peers_shape = draw(st.sampled_from(("absent", "empty", *["list"] * 4)))
    if peers_shape == "empty":
        rule[key] = []
    elif peers_shape == "list":
        rule[key] = draw(st.lists(NP_PEERS, min_size=1, max_size=2))
    # An egress rule may not name a port for an ipBlock peer (the API server's validation).
    named = not (direction == "egress" and any("ipBlock" in p for p in rule.get(key, [])))
    ports_shape = draw(st.sampled_from(("absent", "empty", *["list"] * 3)))
    if ports_shape == "empty":
        rule["ports"] = []
    elif ports_shape == "list":
        rule["ports"] = draw(st.lists(np_port(named), min_size=1, max_size=2))
    return rule


@st.composite
def network_policy(draw: st.DrawFn, index: int) -> Doc:
    spec: Doc = {}
    if draw(st.integers(0, 4)):
        spec["podSelector"] = draw(POD_SELECTORS)
    else:
        spec["podSelector"] = {}
    types = draw(st.sampled_from(("absent", "empty", "Ingress", "Egress", "both")))
    if types == "empty":
        spec["policyTypes"] = []
    elif types != "absent":
        spec["policyTypes"] = ["Ingress", "Egress"] if types == "both" else [types]
    for direction in ("ingress", "egress"):
        shape = draw(st.sampled_from(("absent", "empty", "rules", "rules")))
        if shape == "empty":
            spec[direction] = []
        elif shape == "rules":
            spec[direction] = draw(st.lists(np_rule(direction), min_size=1, max_size=2))
    namespace = draw(st.sampled_from((*NAMESPACES, None)))
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(f"np{index}", namespace),
        "spec": spec,
    }


# --- the guardrail tiers ----------------------------------------------------------------------

ADMIN_PODS = st.builds(
    lambda p, n: {"namespaceSelector": n, "podSelector": p}, POD_SELECTORS, NS_SELECTORS
)
NODE_SELECTORS = selector({"zone": ("a", "b"), "role": ("worker",)})


def _subject() -> st.SearchStrategy[Doc]:
    return st.one_of(
        st.builds(lambda n: {"namespaces": n}, NS_SELECTORS),
        st.builds(lambda p: {"pods": p}, ADMIN_PODS),
    )


def _admin_peer(direction: str) -> st.SearchStrategy[Doc]:
    pods = st.one_of(
        st.builds(lambda n: {"namespaces": n}, NS_SELECTORS),
        st.builds(lambda p: {"pods": p}, ADMIN_PODS),
    )
    if direction == "ingress":
        return pods
    networks = st.lists(st.sampled_from(CIDRS), min_size=1, max_size=2, unique=True)
    return st.one_of(
        pods,
        networks.map(lambda cs: {"networks": cs}),
        NODE_SELECTORS.map(lambda s: {"nodes": s}),
    )


@st.composite
def _admin_port(draw: st.DrawFn, cnp: bool, named: bool) -> Doc:
    shape = draw(st.sampled_from(("number", "range", "named") if named else ("number", "range")))
    proto = draw(st.sampled_from(PROTOCOLS))
    lo = draw(st.sampled_from(PORT_NUMBERS))
    hi = draw(st.integers(lo, 65535))
    if cnp:
        if shape == "named":
            return {"destinationNamedPort": draw(st.sampled_from(PORT_NAMES))}
        match: Doc = {}
        if shape == "number":
            match["destinationPort"] = {"number": lo}
        elif draw(st.booleans()):
            match["destinationPort"] = {"range": {"start": lo, "end": hi}}
        return {proto.lower(): match}
    if shape == "named":
        return {"namedPort": draw(st.sampled_from(PORT_NAMES))}
    body: Doc = {"port": lo} if shape == "number" else {"start": lo, "end": hi}
    if proto != "TCP" or draw(st.booleans()):  # a protocol left out is TCP
        body["protocol"] = proto
    return {"portNumber" if shape == "number" else "portRange": body}


@st.composite
def _admin_rules(draw: st.DrawFn, direction: str, actions: tuple[str, ...], cnp: bool) -> list[Doc]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        peers = draw(st.lists(_admin_peer(direction), min_size=1, max_size=2))
        rule: Doc = {"name": f"r{i}", "action": draw(st.sampled_from(actions))}
        rule["from" if direction == "ingress" else "to"] = peers
        # A named port cannot go with networks or nodes peers (the CRDs' validation).
        named = not any("networks" in p or "nodes" in p for p in peers)
        if draw(st.booleans()):
            rule["protocols" if cnp else "ports"] = draw(
                st.lists(_admin_port(cnp, named), min_size=1, max_size=2)
            )
        out.append(rule)
    return out


@st.composite
def admin_policies(draw: st.DrawFn) -> list[Doc]:
    out: list[Doc] = []
    priorities = draw(st.lists(st.integers(0, 1000), max_size=3, unique=True))
    for i, priority in enumerate(priorities):
        spec = {
            "priority": priority,
            "subject": draw(_subject()),
            "ingress": draw(_admin_rules("ingress", ("Allow", "Deny", "Pass"), False)),
            "egress": draw(_admin_rules("egress", ("Allow", "Deny", "Pass"), False)),
        }
        out.append(
            {
                "apiVersion": "policy.networking.k8s.io/v1alpha1",
                "kind": "AdminNetworkPolicy",
                "metadata": {"name": f"anp{i}"},
                "spec": spec,
            }
        )
    if draw(st.booleans()):
        spec = {
            "subject": draw(_subject()),
            "ingress": draw(_admin_rules("ingress", ("Allow", "Deny"), False)),
            "egress": draw(_admin_rules("egress", ("Allow", "Deny"), False)),
        }
        out.append(
            {
                "apiVersion": "policy.networking.k8s.io/v1alpha1",
                "kind": "BaselineAdminNetworkPolicy",
                "metadata": {"name": "default"},
                "spec": spec,
            }
        )
    for i in range(draw(st.integers(0, 1))):
        tier = draw(st.sampled_from(("Admin", "Baseline")))
        spec = {
            "tier": tier,
            "priority": draw(st.integers(0, 1000).filter(lambda p: p not in priorities)),
            "subject": draw(_subject()),
            "ingress": draw(_admin_rules("ingress", ("Accept", "Deny", "Pass"), True)),
            "egress": draw(_admin_rules("egress", ("Accept", "Deny", "Pass"), True)),
        }
        out.append(
            {
                "apiVersion": "policy.networking.k8s.io/v1alpha2",
                "kind": "ClusterNetworkPolicy",
                "metadata": {"name": f"cnp{i}"},
                "spec": spec,
            }
        )
    return out


# --- primary user-defined networks -------------------------------------------------------------

PRIMARY_UDN_LABEL = "k8s.ovn.org/primary-user-defined-network"


def _udn(name: str, namespace: str, topology: str, role: str) -> Doc:
    layer = topology.lower()
    return {
        "apiVersion": "k8s.ovn.org/v1",
        "kind": "UserDefinedNetwork",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"topology": topology, layer: {"role": role}},
    }


def _cudn(name: str, selector: Doc, topology: str) -> Doc:
    layer = topology.lower()
    return {
        "apiVersion": "k8s.ovn.org/v1",
        "kind": "ClusterUserDefinedNetwork",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": selector,
            "network": {"topology": topology, layer: {"role": "Primary"}},
        },
    }


@st.composite
def networks(draw: st.DrawFn, ns_labels: dict[str, dict[str, str]]) -> list[Doc]:
    """About one cluster in four puts namespaces on primary networks (labelling them, as
    OVN-Kubernetes needs at creation), sometimes with a Secondary network beside."""
    if not draw(st.sampled_from((False, False, True))):
        return []
    topology = st.sampled_from(("Layer2", "Layer3"))
    chosen = draw(st.lists(st.sampled_from(NAMESPACES), min_size=1, max_size=2, unique=True))
    for n in chosen:
        ns_labels[n][PRIMARY_UDN_LABEL] = ""
    out: list[Doc] = []
    shape = draw(st.sampled_from(("udn", "cudn", "both") if len(chosen) == 2 else ("udn", "cudn")))
    if shape == "udn":
        out += [
            _udn(draw(st.sampled_from(("net-a", "net-b"))), n, draw(topology), "Primary")
            for n in chosen
        ]
    else:
        cudn_ns = chosen[1:] if shape == "both" else chosen
        if shape == "both":
            out.append(_udn("net-a", chosen[0], draw(topology), "Primary"))
        for n in cudn_ns:
            ns_labels[n]["udn"] = "blue"
        if shape == "cudn" and draw(st.booleans()):
            other = draw(st.sampled_from([n for n in NAMESPACES if n not in chosen] or [chosen[0]]))
            ns_labels[other]["udn"] = "blue"  # selected, but created without the label
        out.append(_cudn("shared", {"matchLabels": {"udn": "blue"}}, draw(topology)))
    if draw(st.booleans()):
        out.append(_udn("side", draw(st.sampled_from(NAMESPACES)), draw(topology), "Secondary"))
    return out


# --- a whole cluster -------------------------------------------------------------------------------


@st.composite
def cluster_documents(
    draw: st.DrawFn, max_pods: int = 5, max_policies: int = 4, tiers: bool = True
) -> list[Doc]:
    ns_labels = {n: draw(label_map(NS_LABELS)) for n in NAMESPACES}
    udns = draw(networks(ns_labels))
    docs: list[Doc] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _metadata(n, None, ns_labels[n])}
        for n in NAMESPACES
    ]
    docs += udns
    docs += [draw(pod(i)) for i in range(draw(st.integers(1, max_pods)))]
    docs += [draw(controller(i)) for i in range(draw(st.integers(0, 2)))]
    docs += [draw(network_policy(i)) for i in range(draw(st.integers(0, max_policies)))]
    # Half the clusters have no guardrail tier, so NetworkPolicy alone decides there.
    if tiers and draw(st.booleans()):
        docs += draw(admin_policies())
    docs += list(NODES)
    return docs


def probe_ports(docs: list[Doc]) -> list[int]:
    """Every port number the documents mention, its neighbours, and the ends of the range."""
    points = {1, 65535, *PORT_NUMBERS}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in (
                    "port",
                    "endPort",
                    "start",
                    "end",
                    "number",
                    "containerPort",
                ) and isinstance(v, int):
                    points.add(v)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(docs)
    return sorted({x for p in points for x in (p - 1, p, p + 1) if 1 <= x <= 65535})
