"""The user-defined network model: names and the primary network lookup (model/networks.py)."""

from __future__ import annotations

from microseg.model.networks import (
    NetworkKind,
    NetworkRole,
    Networks,
    Topology,
    UserDefinedNetwork,
)
from microseg.model.selectors import LabelSelector


def test_qualified_names_and_primary_lookup() -> None:
    udn = UserDefinedNetwork(
        NetworkKind.UDN, "net", Topology.LAYER2, NetworkRole.PRIMARY, namespace="blue"
    )
    cudn = UserDefinedNetwork(
        NetworkKind.CUDN,
        "shared",
        Topology.LAYER3,
        NetworkRole.SECONDARY,
        namespace_selector=LabelSelector.everything(),
    )
    assert udn.qualified_name == "blue/net"
    assert udn.is_primary
    assert cudn.qualified_name == "shared"
    assert not cudn.is_primary
    networks = Networks((udn, cudn), (("blue", udn),))
    assert networks.primary_of("blue") is udn
    assert networks.primary_of("green") is None
    assert networks.primary_map() == {"blue": udn}
    assert networks
    assert not Networks((cudn,), ())
