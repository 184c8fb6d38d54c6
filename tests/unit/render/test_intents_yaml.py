"""render/intents.py: what it writes, load_intents reads back as the same intents."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from microseg.ingest.intents import load_intents
from microseg.model.intent import FlowIntent, FlowKind, GroupSpec, parse_intent_port
from microseg.model.selectors import LabelSelector, Operator, Requirement
from microseg.render.intents import intent_yaml
from tests.conftest import DEMO


def _read(tmp: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp / "i.yaml"
    path.write_text(text)
    intents, _ = load_intents([str(path)])
    return intents


def test_demo_intents_round_trip(tmp_path: Path) -> None:
    demo, _ = load_intents([str(DEMO / "intents.yaml")])
    back = _read(tmp_path, intent_yaml("shop", demo.groups, demo.flows, "a comment"))
    assert back.groups == demo.groups
    assert back.flows == demo.flows


names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
values = st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True)
requirements = st.one_of(
    st.builds(lambda k, v: Requirement(k, Operator.IN, frozenset([v])), names, values),
    st.builds(
        lambda k, vs: Requirement(k, Operator.NOT_IN, frozenset(vs)),
        names,
        st.sets(values, min_size=1, max_size=3),
    ),
    st.builds(lambda k: Requirement(k, Operator.EXISTS), names),
    st.builds(lambda k: Requirement(k, Operator.DOES_NOT_EXIST), names),
)
selectors = st.lists(requirements, max_size=3, unique_by=lambda r: (r.key, r.operator)).map(
    lambda rs: LabelSelector(tuple(rs))
)
ports = st.sampled_from(["TCP/80", "UDP/53", "TCP/8000-8080", "TCP/http", "SCTP/3868"])


@settings(max_examples=40, deadline=None)
@given(
    namespace=st.none() | names,
    selector=st.none() | selectors,
    ns_selector=st.none() | selectors,
    kind=st.sampled_from(FlowKind),
    flow_ports=st.lists(ports, max_size=3, unique=True),
)
def test_any_pod_group_and_flow_round_trip(
    tmp_path_factory,
    namespace,
    selector,
    ns_selector,
    kind,
    flow_ports,  # type: ignore[no-untyped-def]
) -> None:
    if namespace is not None:
        ns_selector = None  # one or the other (MS400 otherwise)
    elif selector is None and ns_selector is None:
        namespace = "shop"
    group = GroupSpec("g", namespace=namespace, selector=selector, namespace_selector=ns_selector)
    flow = FlowIntent(
        kind, "t", 0, "g", "internet", tuple(parse_intent_port(p) for p in flow_ports)
    )
    back = _read(tmp_path_factory.mktemp("rt"), intent_yaml("t", [group], [flow]))
    (g,) = back.groups

    def same(sel: LabelSelector | None) -> frozenset[Requirement] | None:
        return None if sel is None else frozenset(sel.requirements)  # ANDed: order is free

    assert g.namespace == namespace
    assert same(g.namespace_selector) == same(ns_selector)
    assert same(g.selector) == same(selector)
    assert back.flows == (flow,)
