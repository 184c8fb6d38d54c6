"""Hypothesis strategies for small random clusters built straight from model objects.

Label, port and address vocabularies are tiny on purpose, so selectors, named ports and
ipBlocks collide often and every corner of the semantics gets exercised.
"""

from __future__ import annotations

from hypothesis import strategies as st

from microseg.errors import Origin, Severity
from microseg.ingest.networks import resolve_networks
from microseg.model import (
    Action,
    AdminPolicy,
    AdminRule,
    AdminTier,
    Cluster,
    ContainerPort,
    Direction,
    FrozenLabels,
    IPBlockPeer,
    IPSet,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Node,
    NodePeer,
    Operator,
    Pod,
    PodPeer,
    PortSpec,
    Requirement,
    Rule,
    Subject,
    Workload,
    WorkloadKey,
)
from microseg.model.networks import (
    PRIMARY_UDN_LABEL,
    NetworkKind,
    NetworkRole,
    Networks,
    Topology,
    UserDefinedNetwork,
)
from microseg.model.sets import BASE_PROTOCOLS

NAMESPACES = ("ns-a", "ns-b", "ns-c")
LABEL_VALUES = {"app": ("web", "api", "db"), "tier": ("front", "back")}
NS_LABEL_VALUES = {"env": ("prod", "dev"), "team": ("x", "y")}
PORT_NUMBERS = (53, 80, 443, 8080)
PORT_NAMES = ("http", "dns", "db")
CIDRS = ("10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24", "0.0.0.0/0", "2001:db8::/32", "::/0")
EXCEPTS = {
    "10.0.0.0/8": ("10.1.0.0/16", "10.2.3.0/24"),
    "0.0.0.0/0": ("10.0.0.0/8",),
    "::/0": ("2001:db8::/32",),
}
HOST_IPS = ("", "10.1.2.3", "192.168.1.7")
PROBE_ADDRESSES = (
    "10.0.0.1",
    "10.1.2.3",
    "10.2.3.4",
    "192.168.1.5",
    "8.8.8.8",
    "2001:db8::1",
    "2001:db9::1",
)

protocols = st.sampled_from(list(BASE_PROTOCOLS))


def labels(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(
        st.sampled_from(list(vocab)), st.sampled_from(sum(vocab.values(), ())), max_size=2
    ).map(lambda d: {k: v for k, v in d.items() if v in vocab[k]})


def requirement(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Requirement]:
    key = st.sampled_from(list(vocab))
    return st.one_of(
        st.builds(
            lambda k, vs: Requirement(k, Operator.IN, frozenset(vs)),
            key,
            st.sets(st.sampled_from(sum(vocab.values(), ())), min_size=1, max_size=2),
        ),
        st.builds(
            lambda k, vs: Requirement(k, Operator.NOT_IN, frozenset(vs)),
            key,
            st.sets(st.sampled_from(sum(vocab.values(), ())), min_size=1, max_size=2),
        ),
        st.builds(lambda k: Requirement(k, Operator.EXISTS), key),
        st.builds(lambda k: Requirement(k, Operator.DOES_NOT_EXIST), key),
    )


def selector(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[LabelSelector]:
    return st.lists(requirement(vocab), max_size=2).map(lambda rs: LabelSelector(tuple(rs)))


# Strategies are built once: constructing them inside every draw dominates the run time.
POD_LABELS = labels(LABEL_VALUES)
NS_LABELS = labels(NS_LABEL_VALUES)
POD_SELECTORS = selector(LABEL_VALUES)
NS_SELECTORS = selector(NS_LABEL_VALUES)


def container_ports() -> st.SearchStrategy[tuple[ContainerPort, ...]]:
    port = st.builds(
        ContainerPort, protocols, st.sampled_from(PORT_NUMBERS), st.sampled_from(("", *PORT_NAMES))
    )
    return st.lists(port, max_size=3).map(tuple)


CONTAINER_PORTS = container_ports()


@st.composite
def pods(draw: st.DrawFn, index: int) -> Pod:
    ns = draw(st.sampled_from(NAMESPACES))
    name = f"pod-{index}"
    host = draw(st.integers(0, 6)) == 0
    host_ip = draw(st.sampled_from(HOST_IPS)) if host else ""
    return Pod(
        namespace=ns,
        name=name,
        labels=FrozenLabels(draw(POD_LABELS)),
        workload=WorkloadKey(ns, name, "Pod"),
        ports=draw(CONTAINER_PORTS),
        host_network=host,
        host_ip=host_ip,
    )


@st.composite
def _ip_block(draw: st.DrawFn) -> IPBlockPeer:
    cidr = draw(st.sampled_from(CIDRS))
    options = EXCEPTS.get(cidr, ())
    excepts = tuple(draw(st.sets(st.sampled_from(options), max_size=2))) if options else ()
    addresses = IPSet.from_cidr(cidr)
    for e in excepts:
        addresses = addresses - IPSet.from_cidr(e)
    return IPBlockPeer(cidr, tuple(sorted(excepts)), addresses)


IP_BLOCKS = _ip_block()
PEERS = {
    ns: st.one_of(
        st.builds(lambda s, ns=ns: PodPeer(s, namespace=ns), POD_SELECTORS),
        st.builds(lambda s, n: PodPeer(s, namespace_selector=n), POD_SELECTORS, NS_SELECTORS),
        IP_BLOCKS,
    )
    for ns in NAMESPACES
}


def peer(namespace: str) -> st.SearchStrategy[PodPeer | IPBlockPeer]:
    return PEERS[namespace]


def port_spec() -> st.SearchStrategy[PortSpec]:
    return st.one_of(
        st.builds(PortSpec, protocols),
        st.builds(lambda p, n: PortSpec(p, n, n), protocols, st.sampled_from(PORT_NUMBERS)),
        st.builds(
            lambda p, a, b: PortSpec(p, min(a, b), max(a, b)),
            protocols,
            st.sampled_from(PORT_NUMBERS),
            st.integers(1, 65535),
        ),
        st.builds(lambda p, n: PortSpec(p, name=n), protocols, st.sampled_from(PORT_NAMES)),
    )


PORT_LISTS = st.none() | st.lists(port_spec(), min_size=1, max_size=2).map(tuple)


@st.composite
def rules(draw: st.DrawFn, namespace: str, direction: Direction) -> tuple[Rule, ...]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        peers = draw(st.none() | st.lists(peer(namespace), min_size=1, max_size=2).map(tuple))
        ports = draw(PORT_LISTS)
        if (
            direction is Direction.EGRESS
            and peers
            and ports
            and any(p.name for p in ports)
            and any(isinstance(x, IPBlockPeer) for x in peers)
        ):
            ports = tuple(p for p in ports if not p.name) or None  # the loader rejects this mix
        out.append(Rule(peers, ports, i))
    return tuple(out)


@st.composite
def policies(draw: st.DrawFn, index: int) -> NetworkPolicy:
    ns = draw(st.sampled_from(NAMESPACES))
    types = draw(st.sets(st.sampled_from(list(Direction)), min_size=1))
    return NetworkPolicy(
        namespace=ns,
        name=f"np-{index}",
        pod_selector=draw(POD_SELECTORS),
        policy_types=frozenset(types),
        ingress=draw(rules(ns, Direction.INGRESS)) if Direction.INGRESS in types else (),
        egress=draw(rules(ns, Direction.EGRESS)) if Direction.EGRESS in types else (),
    )


NODES = (
    Node("node-a", FrozenLabels({"zone": "a", "role": "worker"}), ("10.1.2.3",)),
    Node("node-b", FrozenLabels({"zone": "b"}), ("192.168.1.7", "2001:db8::7")),
)
NODE_SELECTORS = selector({"zone": ("a", "b"), "role": ("worker",)})
ACTIONS = st.sampled_from(list(Action))


def subject() -> st.SearchStrategy[Subject]:
    return st.one_of(
        st.builds(Subject, NS_SELECTORS),
        st.builds(Subject, NS_SELECTORS, POD_SELECTORS),
    )


def admin_peer(direction: Direction) -> st.SearchStrategy[PodPeer | IPBlockPeer | NodePeer]:
    pods = st.builds(lambda p, n: PodPeer(p, namespace_selector=n), POD_SELECTORS, NS_SELECTORS)
    if direction is Direction.INGRESS:
        return pods
    networks = st.sampled_from(CIDRS).map(lambda c: IPBlockPeer(c, (), IPSet.from_cidr(c)))
    return st.one_of(pods, networks, st.builds(NodePeer, NODE_SELECTORS))


ADMIN_PORTS = st.none() | st.lists(
    st.one_of(
        st.builds(lambda p, n: PortSpec(p, n, n), protocols, st.sampled_from(PORT_NUMBERS)),
        st.builds(
            lambda p, a, b: PortSpec(p, min(a, b), max(a, b)),
            protocols,
            st.sampled_from(PORT_NUMBERS),
            st.integers(1, 65535),
        ),
        # a namedPort matches the container port of that name whatever its protocol
        st.sampled_from(PORT_NAMES).map(
            lambda n: tuple(PortSpec(p, name=n) for p in BASE_PROTOCOLS)
        ),
    ),
    min_size=1,
    max_size=2,
).map(lambda items: tuple(x for i in items for x in (i if isinstance(i, tuple) else (i,))))


@st.composite
def admin_rules(draw: st.DrawFn, direction: Direction, baseline: bool) -> tuple[AdminRule, ...]:
    out = []
    actions = st.sampled_from([Action.ALLOW, Action.DENY]) if baseline else ACTIONS
    for i in range(draw(st.integers(0, 3))):
        peers = tuple(draw(st.lists(admin_peer(direction), min_size=1, max_size=2)))
        ports = draw(ADMIN_PORTS)
        if any(not isinstance(p, PodPeer) for p in peers) and ports and any(p.name for p in ports):
            ports = tuple(p for p in ports if not p.name) or None
        out.append(AdminRule(f"r{i}", draw(actions), direction, peers, ports, i))
    return tuple(out)


@st.composite
def admin_policies(draw: st.DrawFn) -> tuple[AdminPolicy, ...]:
    out = []
    priorities = draw(st.lists(st.integers(0, 1000), max_size=3, unique=True))
    for i, priority in enumerate(priorities):
        out.append(
            AdminPolicy(
                "AdminNetworkPolicy",
                f"anp-{i}",
                AdminTier.ADMIN,
                priority,
                draw(subject()),
                draw(admin_rules(Direction.INGRESS, False)),
                draw(admin_rules(Direction.EGRESS, False)),
            )
        )
    if draw(st.booleans()):
        out.append(
            AdminPolicy(
                "BaselineAdminNetworkPolicy",
                "default",
                AdminTier.BASELINE,
                0,
                draw(subject()),
                draw(admin_rules(Direction.INGRESS, True)),
                draw(admin_rules(Direction.EGRESS, True)),
            )
        )
    return tuple(out)


TOPOLOGIES = st.sampled_from([Topology.LAYER2, Topology.LAYER3])
CUDN_LABEL = {"udn": "blue"}
"""The label a generated CUDN selects its namespaces by, when it does not use NS_SELECTORS."""


def _udn(name: str, topology: Topology, role: NetworkRole, namespace: str) -> UserDefinedNetwork:
    """A UDN as ingest/networks.py builds it (origin: the document's kind, namespace, name)."""
    origin = Origin(kind="UserDefinedNetwork", namespace=namespace, name=name)
    return UserDefinedNetwork(NetworkKind.UDN, name, topology, role, namespace, None, origin)


def _cudn(name: str, topology: Topology, selector: LabelSelector) -> UserDefinedNetwork:
    """A Primary CUDN as ingest/networks.py builds it."""
    origin = Origin(kind="ClusterUserDefinedNetwork", name=name)
    return UserDefinedNetwork(
        NetworkKind.CUDN, name, topology, NetworkRole.PRIMARY, "", selector, origin
    )


@st.composite
def networks(
    draw: st.DrawFn, namespaces: tuple[Namespace, ...]
) -> tuple[tuple[Namespace, ...], Networks]:
    """About one cluster in four puts one or two namespaces on primary user-defined networks:
    a UDN in each, one CUDN selecting them, or a UDN in one and a CUDN in the other.

    Namespaces on a primary network carry PRIMARY_UDN_LABEL (OVN-Kubernetes uses a primary
    network only for namespaces created with it); a CUDN may also select a namespace
    without it, which stays on the default network, and a Secondary network may be added,
    which changes nothing. The result is checked against ingest's own resolution.
    """
    if draw(st.integers(0, 3)) != 3:  # shrinks towards the default network only
        return namespaces, Networks()
    chosen = draw(st.lists(st.sampled_from(NAMESPACES), min_size=1, max_size=2, unique=True))
    shape = draw(st.sampled_from(("udn", "cudn", "both") if len(chosen) == 2 else ("udn", "cudn")))
    extra: dict[str, dict[str, str]] = {n: {} for n in NAMESPACES}
    for n in chosen:
        extra[n][PRIMARY_UDN_LABEL] = ""  # the value netpol-analyzer's inputs use
    nets: list[UserDefinedNetwork] = []
    cudn_namespaces: list[str] = []
    if shape == "udn":
        for n in chosen:
            name = draw(
                st.sampled_from(("net-a", "net-b"))
            )  # one name in two namespaces: two networks
            nets.append(_udn(name, draw(TOPOLOGIES), NetworkRole.PRIMARY, n))
    elif shape == "both":
        nets.append(_udn("net-a", draw(TOPOLOGIES), NetworkRole.PRIMARY, chosen[0]))
        cudn_namespaces = [chosen[1]]
    else:
        cudn_namespaces = list(chosen)
        others = [n for n in NAMESPACES if n not in chosen]
        if draw(st.booleans()):
            cudn_namespaces.append(draw(st.sampled_from(others)))  # selected, but not labelled
    for n in cudn_namespaces:
        extra[n].update(CUDN_LABEL)
    if cudn_namespaces:
        by_labels = shape == "both" or draw(st.booleans())
        cudn_selector = LabelSelector.from_labels(CUDN_LABEL) if by_labels else draw(NS_SELECTORS)
        nets.append(_cudn("shared", draw(TOPOLOGIES), cudn_selector))
    if draw(st.booleans()):
        n = draw(st.sampled_from(NAMESPACES))
        nets.append(_udn("side", draw(TOPOLOGIES), NetworkRole.SECONDARY, n))
    out = tuple(
        Namespace(ns.name, FrozenLabels({**ns.labels, **extra[ns.name]})) for ns in namespaces
    )
    primary: dict[str, UserDefinedNetwork] = {}
    for net in nets:
        if not net.is_primary:
            continue
        for ns in out:
            on = (
                net.namespace == ns.name
                if net.namespace_selector is None
                else net.namespace_selector.matches(ns.labels)
            )
            if on and PRIMARY_UDN_LABEL in ns.labels:
                primary[ns.name] = net
    result = Networks(tuple(nets), tuple(sorted(primary.items(), key=lambda kv: kv[0])))
    resolved, notes = resolve_networks(nets, {ns.name: ns for ns in out})
    assert resolved == result, (resolved, result)
    assert not any(d.severity is Severity.ERROR for d in notes), notes
    return out, result


@st.composite
def clusters(
    draw: st.DrawFn, max_pods: int = 6, max_policies: int = 4, tiers: bool = True
) -> Cluster:
    namespaces = tuple(
        Namespace(
            n, FrozenLabels({**draw(labels(NS_LABEL_VALUES)), "kubernetes.io/metadata.name": n})
        )
        for n in NAMESPACES
    )
    namespaces, udns = draw(networks(namespaces))
    pod_list = tuple(draw(pods(i)) for i in range(draw(st.integers(1, max_pods))))
    policy_list = tuple(draw(policies(i)) for i in range(draw(st.integers(0, max_policies))))
    return Cluster(
        namespaces=namespaces,
        workloads=tuple(Workload(p.workload) for p in pod_list),
        pods=pod_list,
        policies=policy_list,
        admin_policies=draw(admin_policies()) if tiers else (),
        nodes=NODES,
        networks=udns,
    )


def probe_ports(cluster: Cluster) -> list[int]:
    """Ports where verdicts can change: every boundary the cluster mentions, and neighbours."""
    points = {1, 65535, *PORT_NUMBERS}
    rules = [r for p in cluster.policies for r in p.ingress + p.egress]
    rules += [r for p in cluster.admin_policies for r in p.ingress + p.egress]
    for rule in rules:
        for spec in rule.ports or ():
            points.update((spec.start, spec.end))
    out = set()
    for p in points:
        out.update(x for x in (p - 1, p, p + 1) if 1 <= x <= 65535)
    return sorted(out)
