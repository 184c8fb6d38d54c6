"""Random clusters with Calico objects, for the property tests: tiers (orders, ties,
default actions), Calico NetworkPolicies and GlobalNetworkPolicies with Allow, Deny, Pass
and Log rules, the selector language, notSelector, namespace and service-account
selectors, nets and notNets, ports and notPorts (named too), protocols (ICMP with types
and codes, a numbered one), services, network sets, host endpoints with profiles and
failsafe ports, Kubernetes NetworkPolicies in the default tier, and staged policies."""

from __future__ import annotations

from hypothesis import strategies as st

from microseg.model import (
    Cluster,
    ContainerPort,
    FrozenLabels,
    IPBlockPeer,
    IPSet,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Pod,
    PodPeer,
    PortSpec,
    Protocol,
    Rule,
    Service,
    ServiceAccount,
    Workload,
    WorkloadKey,
)
from microseg.model.calico import (
    CalicoAction,
    CalicoConfig,
    CalicoPolicy,
    CalicoPort,
    CalicoRule,
    EntityRule,
    FailsafePort,
    IcmpMatch,
    NetworkSet,
    Profile,
    ProtocolMatch,
    ServiceAccountMatch,
    ServiceMatch,
    TierSpec,
)
from microseg.model.calico_selector import (
    All,
    And,
    Global,
    Has,
    LabelOp,
    Not,
    Op,
    Or,
    Selector,
)
from microseg.model.netpol import Direction
from microseg.model.objects import NAMESPACE_NAME_LABEL, ServicePort

NAMESPACES = ("ns-a", "ns-b")
VALUES = {"app": ("web", "api", "db"), "tier": ("front", "back")}
NETS = ("10.0.0.0/8", "10.1.0.0/16", "203.0.113.0/24", "198.51.100.0/28", "0.0.0.0/0")
PROBE_ADDRESSES = ("10.1.2.3", "10.200.0.1", "203.0.113.9", "198.51.100.3", "8.8.8.8")
HOST_IPS = ("10.1.9.9", "192.168.7.1")
PROBES: tuple[tuple[Protocol, int], ...] = (
    (Protocol.TCP, 22),
    (Protocol.TCP, 80),
    (Protocol.TCP, 8080),
    (Protocol.TCP, 5432),
    (Protocol.UDP, 53),
    (Protocol.SCTP, 9),
    (Protocol.ICMP, 8 * 256),
    (Protocol.ICMP, 3 * 256 + 1),
    (Protocol.ICMPV6, 128 * 256),
    (Protocol.UDPLITE, 80),
    (Protocol.IP, 47),
)
TIER_NAMES = ("security", "security", "platform", "default", "default")
POLICY_NAMES = ("p1", "p2", "p3")

keys = st.sampled_from(("app", "tier", "env"))


def rare(draw: st.DrawFn, n: int) -> bool:
    """True one time in n."""
    return draw(st.integers(0, n - 1)) == 0


def labels() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALUES.items()})


@st.composite
def selectors(
    draw: st.DrawFn, depth: int = 2, keys: tuple[str, ...] = ("app", "tier", "team", "role")
) -> Selector:
    key = draw(st.sampled_from(keys))
    value = draw(st.sampled_from(("web", "api", "db", "front", "back", "a", "b", "ext")))
    leaf = draw(
        st.sampled_from(
            (
                All(),
                Has(key),
                LabelOp(key, Op.EQ, value),
                LabelOp(key, Op.NE, value),
                LabelOp(key, Op.IN, values=frozenset({value, "api"})),
                LabelOp(key, Op.NOT_IN, values=frozenset({value})),
                LabelOp(key, Op.CONTAINS, value[:1]),
                LabelOp(key, Op.STARTS, value[:2]),
                LabelOp(key, Op.ENDS, value[-1:]),
            )
        )
    )
    if depth == 0:
        return leaf
    form = draw(st.sampled_from(("leaf", "leaf", "not", "and", "or")))
    if form == "not":
        return Not(draw(selectors(depth - 1, keys)))
    if form == "and":
        return And((leaf, draw(selectors(depth - 1, keys))))
    if form == "or":
        return Or((leaf, draw(selectors(depth - 1, keys))))
    return leaf


@st.composite
def namespace_selectors(draw: st.DrawFn) -> Selector:
    return draw(
        st.sampled_from(
            (All(), Global(), LabelOp("team", Op.EQ, "a"), Not(Has("team")), Has("team"))
        )
        | st.just(LabelOp("projectcalico.org/name", Op.EQ, "ns-b"))
    )


@st.composite
def entity_rules(draw: st.DrawFn, side: str, protocol: ProtocolMatch | None) -> EntityRule:
    """Mostly one or two conditions, so that rules match often enough to decide."""
    port_protocol = protocol is not None and protocol.protocol in (
        Protocol.TCP,
        Protocol.UDP,
        Protocol.SCTP,
        Protocol.UDPLITE,
    )
    fields: dict[str, object] = {}
    weighted = (
        ("none",) * 12
        + ("selector",) * 3
        + ("not_selector",) * 2
        + ("nets",) * 2
        + ("namespace_selector", "not_nets", "accounts", "services")
    )
    forms = draw(st.lists(st.sampled_from(weighted), min_size=1, max_size=2))
    if "services" in forms:
        ns = draw(st.sampled_from(NAMESPACES))
        return EntityRule(services=ServiceMatch(draw(st.sampled_from(("web", "db"))), ns))
    for form in forms:
        if form == "selector":
            fields["selector"] = draw(selectors(depth=1))
        elif form == "not_selector":
            fields["not_selector"] = draw(selectors(depth=0))
        elif form == "namespace_selector":
            fields["namespace_selector"] = draw(namespace_selectors())
        elif form == "nets":
            fields["nets"] = _nets(draw(st.lists(st.sampled_from(NETS), min_size=1, max_size=2)))
        elif form == "not_nets":
            fields["not_nets"] = _nets([draw(st.sampled_from(NETS))])
        elif form == "accounts":
            fields["service_accounts"] = ServiceAccountMatch(
                tuple(draw(st.lists(st.sampled_from(("default", "sa1")), max_size=1))),
                draw(st.none() | st.just(LabelOp("role", Op.EQ, "ci"))),
            )
    port = st.sampled_from(
        (
            CalicoPort(80, 80),
            CalicoPort(8000, 9000),
            CalicoPort(5432, 5432),
            CalicoPort(name="http"),
            CalicoPort(name="dns"),
            CalicoPort(1, 1024),
        )
    )
    if side == "destination" and port_protocol:
        if draw(st.integers(0, 2)) == 0:
            fields["ports"] = tuple(draw(st.lists(port, min_size=1, max_size=2)))
        if draw(st.integers(0, 4)) == 0:
            fields["not_ports"] = (draw(port),)
    if side == "source" and port_protocol and draw(st.integers(0, 9)) == 0:
        fields["ports"] = (draw(st.sampled_from((CalicoPort(1, 65535), CalicoPort(1, 1024)))),)
    return EntityRule(**fields)  # type: ignore[arg-type]


def _nets(cidrs: list[str] | None) -> IPSet | None:
    if cidrs is None:
        return None
    out = IPSet()
    for c in cidrs:
        out = out | IPSet.from_cidr(c)
    return out


@st.composite
def protocols(draw: st.DrawFn) -> ProtocolMatch | None:
    if draw(st.booleans()):
        return None
    return draw(
        st.sampled_from(
            (
                ProtocolMatch(Protocol.TCP),
                ProtocolMatch(Protocol.UDP),
                ProtocolMatch(Protocol.ICMP),
                ProtocolMatch(Protocol.SCTP),
                ProtocolMatch(Protocol.IP, 47),
            )
        )
    )


@st.composite
def rules(draw: st.DrawFn, direction: Direction, index: int) -> CalicoRule:
    action = draw(
        st.sampled_from(
            (
                CalicoAction.ALLOW,
                CalicoAction.ALLOW,
                CalicoAction.DENY,
                CalicoAction.DENY,
                CalicoAction.PASS,
                CalicoAction.LOG,
            )
        )
    )
    if draw(st.integers(0, 3)) == 0:  # a catch-all rule: order then decides everything
        return CalicoRule(action=action, direction=direction, index=index)
    protocol = draw(protocols())
    not_protocol = None if protocol is not None else draw(st.none() | protocols())
    icmp = not_icmp = None
    if protocol is not None and protocol.protocol is Protocol.ICMP:
        icmp = draw(st.none() | st.sampled_from((IcmpMatch(8), IcmpMatch(3, 1), IcmpMatch(3))))
        not_icmp = draw(st.none() | st.just(IcmpMatch(3, 1)))
    source = draw(entity_rules("source", protocol))
    destination = draw(entity_rules("destination", protocol))
    return CalicoRule(
        action=action,
        direction=direction,
        index=index,
        protocol=protocol,
        not_protocol=not_protocol,
        icmp=icmp,
        not_icmp=not_icmp,
        source=source,
        destination=destination,
    )


@st.composite
def calico_policies(draw: st.DrawFn, tiers: list[str]) -> CalicoPolicy:
    glob = draw(st.booleans())
    namespace = "" if glob else draw(st.sampled_from(NAMESPACES))
    types = draw(
        st.sampled_from(
            (
                frozenset({Direction.INGRESS}),
                frozenset({Direction.EGRESS}),
                frozenset({Direction.INGRESS, Direction.EGRESS}),
                frozenset({Direction.INGRESS, Direction.EGRESS}),
            )
        )
    )
    ingress = (
        tuple(draw(rules(Direction.INGRESS, i)) for i in range(draw(st.integers(0, 3))))
        if Direction.INGRESS in types
        else ()
    )
    egress = (
        tuple(draw(rules(Direction.EGRESS, i)) for i in range(draw(st.integers(0, 3))))
        if Direction.EGRESS in types
        else ()
    )
    selector = draw(
        st.sampled_from((All(), All(), LabelOp("app", Op.EQ, "web"), Has("tier")))
        | selectors(depth=1, keys=("app", "tier"))
    )
    text = "" if isinstance(selector, All) and draw(st.booleans()) else str(selector)
    host = glob and draw(st.integers(0, 5)) == 0
    untracked = host and draw(st.booleans())
    return CalicoPolicy(
        kind="GlobalNetworkPolicy" if glob else "NetworkPolicy",
        name=draw(st.sampled_from(POLICY_NAMES)),
        namespace=namespace,
        tier=draw(st.sampled_from(tiers)),
        order=draw(st.sampled_from((None, 10.0, 10.0, 500.0, 1000.0))),
        selector=selector,
        selector_text=text,
        types=types,
        ingress=ingress,
        egress=() if (host and not untracked) else egress,
        namespace_selector=draw(namespace_selectors()) if glob and rare(draw, 4) else None,
        service_account_selector=LabelOp("role", Op.EQ, "ci") if rare(draw, 8) else None,
        do_not_track=untracked,
        pre_dnat=host and not untracked,
        apply_on_forward=host,
    )


@st.composite
def k8s_policies(draw: st.DrawFn) -> NetworkPolicy:
    namespace = draw(st.sampled_from(NAMESPACES))
    app = draw(st.sampled_from(VALUES["app"]))
    peer = draw(
        st.sampled_from(
            (
                None,
                (PodPeer(LabelSelector.from_labels({"app": "web"}), namespace=namespace),),
                (
                    PodPeer(
                        LabelSelector(), namespace_selector=LabelSelector.from_labels({"team": "a"})
                    ),
                ),
                (IPBlockPeer("10.0.0.0/8", (), IPSet.from_cidr("10.0.0.0/8")),),
            )
        )
    )
    ports = draw(
        st.sampled_from(
            (None, (PortSpec(Protocol.TCP, 80, 80),), (PortSpec(Protocol.TCP, name="http"),))
        )
    )
    direction = draw(st.sampled_from(list(Direction)))
    rules_ = tuple(Rule(peer, ports, i) for i in range(draw(st.integers(0, 2))))
    return NetworkPolicy(
        namespace,
        draw(st.sampled_from(("np1", "np2"))),
        LabelSelector.from_labels({"app": app}),
        frozenset({direction}),
        rules_ if direction is Direction.INGRESS else (),
        rules_ if direction is Direction.EGRESS else (),
    )


@st.composite
def calico_clusters(draw: st.DrawFn, max_pods: int = 4, max_policies: int = 7) -> Cluster:
    namespaces = []
    for name in NAMESPACES:
        extra = draw(st.fixed_dictionaries({}, optional={"team": st.sampled_from(("a", "b"))}))
        namespaces.append(Namespace(name, FrozenLabels({**extra, NAMESPACE_NAME_LABEL: name})))
    accounts = [
        ServiceAccount(ns, "sa1", labels=FrozenLabels(draw(st.sampled_from(({}, {"role": "ci"})))))
        for ns in NAMESPACES
    ]
    pods: list[Pod] = []
    workloads: list[Workload] = []
    for i in range(draw(st.integers(1, max_pods))):
        ns = draw(st.sampled_from(NAMESPACES))
        key = WorkloadKey(ns, f"w{i}", "Pod")
        ports = draw(
            st.sampled_from(
                (
                    (),
                    (ContainerPort(Protocol.TCP, 8080, "http"),),
                    (
                        ContainerPort(Protocol.TCP, 80, "http"),
                        ContainerPort(Protocol.UDP, 53, "dns"),
                    ),
                )
            )
        )
        host = draw(st.integers(0, 8)) == 0
        pods.append(
            Pod(
                ns,
                f"w{i}",
                FrozenLabels(draw(labels())),
                key,
                ports,
                host_network=host,
                host_ip="10.1.9.9" if host and draw(st.booleans()) else "",
                service_account=draw(st.sampled_from(("default", "sa1"))),
                # a WorkloadEndpoint's own profiles: none that allows everything
                profiles=("hosts",) if rare(draw, 4) else (),
            )
        )
        workloads.append(Workload(key, service_account=pods[-1].service_account))
    profiles = [
        Profile(
            "hosts",
            FrozenLabels({"role": "host"}),
            ingress=(
                CalicoRule(CalicoAction.ALLOW, Direction.INGRESS, 0, ProtocolMatch(Protocol.TCP)),
            ),
            egress=(
                CalicoRule(CalicoAction.DENY, Direction.EGRESS, 0, ProtocolMatch(Protocol.UDP)),
            ),
        )
    ]
    for i in range(draw(st.integers(0, 2))):
        key = WorkloadKey("", f"hep{i}", "HostEndpoint")
        ips = tuple(draw(st.lists(st.sampled_from(HOST_IPS), max_size=1, unique=True)))
        pods.append(
            Pod(
                "",
                f"hep{i}",
                FrozenLabels(draw(labels())),
                key,
                (ContainerPort(Protocol.TCP, 22, "http"),),
                host_network=True,
                ips=ips,
                host_ip=ips[0] if ips else "",
                profiles=tuple(draw(st.lists(st.just("hosts"), max_size=1))),
            )
        )
        workloads.append(Workload(key))
    network_sets = [
        NetworkSet(
            f"set{i}",
            draw(st.sampled_from(("", *NAMESPACES))),
            FrozenLabels(draw(st.sampled_from(({"role": "ext"}, {"role": "db", "app": "db"}, {})))),
            _nets([draw(st.sampled_from(NETS[:4]))]) or IPSet(),
        )
        for i in range(draw(st.integers(0, 2)))
    ]
    tier_specs = [
        TierSpec(
            "security",
            draw(st.sampled_from((100.0, 2000.0, None))),
            draw(st.sampled_from((CalicoAction.DENY, CalicoAction.PASS))),
        ),
        TierSpec(
            "platform",
            draw(st.sampled_from((100.0, 500.0, None))),
            draw(st.sampled_from((CalicoAction.DENY, CalicoAction.PASS))),
        ),
        TierSpec("default", 1_000_000.0, CalicoAction.DENY, builtin=True),
    ]
    policies: dict[tuple[str, str, str], CalicoPolicy] = {}
    for _ in range(draw(st.integers(1, max_policies))):
        p = draw(calico_policies(list(TIER_NAMES)))
        policies[(p.kind, p.namespace, p.name)] = p
    if rare(draw, 2):
        # Two policies of one tier over the same endpoints, whose first rules disagree:
        # the order (ties broken by name) decides.
        tier = draw(st.sampled_from(TIER_NAMES))
        for name in ("q1", "q2"):
            rule = draw(rules(Direction.INGRESS, 0))
            p = CalicoPolicy(
                "GlobalNetworkPolicy",
                name,
                "",
                tier,
                draw(st.sampled_from((None, 10.0, 10.0))),
                All(),
                frozenset({Direction.INGRESS}),
                ingress=(rule,),
            )
            policies[(p.kind, p.namespace, p.name)] = p
    k8s: dict[tuple[str, str], NetworkPolicy] = {}
    for _ in range(draw(st.integers(0, 2))):
        n = draw(k8s_policies())
        k8s[(n.namespace, n.name)] = n
    services = [
        Service(
            "ns-a",
            "web",
            FrozenLabels({"app": "web"}),
            ports=(ServicePort(Protocol.TCP, 80, "http"),),
        ),
        Service(
            "ns-b",
            "db",
            FrozenLabels({"app": "db"}),
            ports=(ServicePort(Protocol.TCP, 5432, 5432),),
        ),
    ]
    failsafe = draw(st.booleans())
    calico = CalicoConfig(
        present=True,
        tiers=tuple(tier_specs),
        policies=tuple(policies.values()),
        network_sets=tuple(network_sets),
        host_endpoints=(),
        profiles=tuple(profiles),
        **(
            {}
            if failsafe
            else {"failsafe_inbound": (), "failsafe_outbound": (FailsafePort(Protocol.UDP, 53),)}
        ),
    )
    return Cluster(
        namespaces=tuple(namespaces),
        workloads=tuple(workloads),
        pods=tuple(pods),
        policies=tuple(k8s.values()),
        services=tuple(services),
        service_accounts=tuple(accounts),
        calico=calico,
    )
