"""Hypothesis strategies for small random clusters built straight from model objects.

Label, port and address vocabularies are tiny on purpose, so selectors, named ports and
ipBlocks collide often and every corner of the semantics gets exercised.
"""

from __future__ import annotations

from hypothesis import strategies as st

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
    Protocol,
    Requirement,
    Rule,
    Subject,
    Workload,
    WorkloadKey,
)

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

protocols = st.sampled_from(list(Protocol))


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
        st.sampled_from(PORT_NAMES).map(lambda n: tuple(PortSpec(p, name=n) for p in Protocol)),
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
    pod_list = tuple(draw(pods(i)) for i in range(draw(st.integers(1, max_pods))))
    policy_list = tuple(draw(policies(i)) for i in range(draw(st.integers(0, max_policies))))
    return Cluster(
        namespaces=namespaces,
        workloads=tuple(Workload(p.workload) for p in pod_list),
        pods=pod_list,
        policies=policy_list,
        admin_policies=draw(admin_policies()) if tiers else (),
        nodes=NODES,
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
