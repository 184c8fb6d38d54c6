"""UserDefinedNetwork / ClusterUserDefinedNetwork documents (`k8s.ovn.org/v1`) to model
objects, and the primary network each namespace gets.

Validation follows the CRDs (UserDefinedNetwork and ClusterUserDefinedNetwork
[k8s.ovn.org/v1], https://docs.redhat.com/en/documentation/openshift_container_platform/4.21/html/network_apis/userdefinednetwork-k8s-ovn-org-v1)
and the rules OVN-Kubernetes enforces on top (OpenShift "About user-defined networks",
https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/networking/primary-networks),
the same ones netpol-analyzer refuses (its udn_bad_path_test_* and cudn_bad_test_1 cases):

- MS150 (error): `topology` is not one the CRD allows; the layer section does not match
  the topology (`layer2` is required when topology is Layer2 and forbidden otherwise, and
  likewise `layer3`); `role` is not Primary or Secondary; a network named `default` (the
  name of the cluster's default network); a UDN in namespace `default` or `openshift-*`
  (those namespaces stay on the default network).
- MS151 (error): a namespace with two primary networks (a namespace has at most one), or two
  networks of one kind with the same name.
- MS152 (warning): a network that changes nothing the analysis sees: a Secondary one (an
  extra interface; the primary network and its isolation stay), a primary network whose
  namespace is not declared with the label `k8s.ovn.org/primary-user-defined-network`
  (OVN-Kubernetes only uses a primary UDN for namespaces created with it), or a CUDN whose
  selector matches no namespace.
"""

from __future__ import annotations

from pydantic import ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.documents import Document, FieldPath
from microseg.ingest.netpols import selector_from_raw
from microseg.ingest.networks_schema import (
    RawClusterUserDefinedNetwork,
    RawNetworkSpec,
    RawUserDefinedNetwork,
)
from microseg.ingest.validation import FieldError, diagnostics_from, field_diagnostic
from microseg.model.networks import (
    PRIMARY_UDN_LABEL,
    NetworkKind,
    NetworkRole,
    Networks,
    Topology,
    UserDefinedNetwork,
)
from microseg.model.objects import Namespace

__all__ = ["NETWORK_KINDS", "parse_network", "resolve_networks"]

NETWORK_KINDS = ("UserDefinedNetwork", "ClusterUserDefinedNetwork")

_LAYERS = {Topology.LAYER2: "layer2", Topology.LAYER3: "layer3", Topology.LOCALNET: "localnet"}


_CODE = "MS150"


def _bad(path: FieldPath, message: str) -> FieldError:
    return FieldError(_CODE, path, message)


def _topology_and_role(
    spec: RawNetworkSpec, base: FieldPath, kind: NetworkKind
) -> tuple[Topology, NetworkRole]:
    allowed = [Topology.LAYER2, Topology.LAYER3]
    if kind is NetworkKind.CUDN:
        allowed.append(Topology.LOCALNET)
    names = " or ".join(t.value for t in allowed)
    if spec.topology is None:
        raise _bad((*base, "topology"), f"required field is missing (expected {names})")
    topology = next((t for t in allowed if t.value == spec.topology), None)
    if topology is None:
        raise _bad((*base, "topology"), f"expected {names}, got {spec.topology!r}")
    own = _LAYERS[topology]
    # CRD x-validations: spec.layer2 is required when topology is Layer2 and forbidden
    # otherwise; the same for layer3 (and, on a CUDN, localnet).
    for other in ("layer2", "layer3", "localnet"):
        if other != own and getattr(spec, other) is not None:
            raise _bad(
                (*base, other),
                f"forbidden when topology is {topology.value} (expected {own})",
            )
    layer = getattr(spec, own)
    if layer is None:
        raise _bad((*base, own), f"required when topology is {topology.value}")
    if layer.role is None:
        raise _bad(
            (*base, own, "role"), "required field is missing (expected Primary or Secondary)"
        )
    role = next((r for r in NetworkRole if r.value == layer.role), None)
    if role is None:
        raise _bad((*base, own, "role"), f"expected Primary or Secondary, got {layer.role!r}")
    if topology is Topology.LOCALNET and role is NetworkRole.PRIMARY:
        raise _bad((*base, own, "role"), "a Localnet network can only be Secondary")
    return topology, role


def _parse(doc: Document, kind: NetworkKind) -> UserDefinedNetwork:
    raw: RawUserDefinedNetwork | RawClusterUserDefinedNetwork
    base: FieldPath
    if kind is NetworkKind.UDN:
        raw = RawUserDefinedNetwork.model_validate(doc.data)
        spec, base = raw.spec, ("spec",)
    else:
        raw = RawClusterUserDefinedNetwork.model_validate(doc.data)
        spec, base = raw.spec.network, ("spec", "network")
    name = raw.metadata.name
    if name == "default":
        # `default` names the cluster's own network in OVN-Kubernetes.
        raise _bad(("metadata", "name"), "a user-defined network may not be named 'default'")
    topology, role = _topology_and_role(spec, base, kind)
    o = doc.origin()
    if isinstance(raw, RawClusterUserDefinedNetwork):
        origin = Origin(o.file, o.document, o.line, o.kind, "", name)
        selector = selector_from_raw(raw.spec.namespaceSelector)
        return UserDefinedNetwork(kind, name, topology, role, "", selector, origin)
    namespace = raw.metadata.namespace or "default"
    if namespace == "default" or namespace.startswith("openshift-"):
        raise _bad(
            ("metadata", "namespace"),
            f"a UserDefinedNetwork may not be in namespace {namespace!r}: "
            "the default and openshift-* namespaces stay on the cluster's default network",
        )
    origin = Origin(o.file, o.document, o.line, o.kind, namespace, name)
    return UserDefinedNetwork(kind, name, topology, role, namespace, None, origin)


def parse_network(doc: Document) -> tuple[UserDefinedNetwork | None, list[Diagnostic]]:
    """One UDN or CUDN document; (None, errors) when it is invalid."""
    kind = NetworkKind.UDN if doc.data.get("kind") == "UserDefinedNetwork" else NetworkKind.CUDN
    try:
        return _parse(doc, kind), []
    except ValidationError as exc:
        return None, diagnostics_from(exc, doc, _CODE)
    except FieldError as bad:
        return None, [field_diagnostic(doc, bad)]


def _label(network: UserDefinedNetwork) -> str:
    return f"{network.kind.value} {network.qualified_name}"


def _warn(network: UserDefinedNetwork, message: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, "MS152", f"{_label(network)}: {message}", network.origin)


def _targets(
    network: UserDefinedNetwork, namespaces: dict[str, Namespace]
) -> tuple[list[str], list[Diagnostic]]:
    """The namespaces whose primary network `network` becomes, with warnings for the rest."""
    if network.kind is NetworkKind.UDN:
        candidates = [network.namespace]
    else:
        assert network.namespace_selector is not None
        candidates = [
            n for n, ns in namespaces.items() if network.namespace_selector.matches(ns.labels)
        ]
        if not candidates:
            return [], [_warn(network, "its namespaceSelector matches no namespace of the input")]
    out, notes = [], []
    for name in candidates:
        ns = namespaces.get(name)
        if ns is None or PRIMARY_UDN_LABEL not in ns.labels:
            why = "is not declared" if ns is None else "lacks"
            notes.append(
                _warn(
                    network,
                    f"namespace {name} {why}"
                    + (" with" if ns is None else "")
                    + f" the label {PRIMARY_UDN_LABEL}, so its pods stay on the default network",
                )
            )
            continue
        out.append(name)
    return out, notes


def resolve_networks(
    networks: list[UserDefinedNetwork], namespaces: dict[str, Namespace]
) -> tuple[Networks, list[Diagnostic]]:
    """Each namespace's primary network; errors for namespaces with two of them."""
    notes: list[Diagnostic] = []
    seen: dict[tuple[NetworkKind, str], UserDefinedNetwork] = {}
    primary: dict[str, UserDefinedNetwork] = {}
    kept: list[UserDefinedNetwork] = []
    for network in networks:
        key = (network.kind, network.qualified_name)
        if key in seen:
            first = seen[key].origin.location()
            notes.append(
                Diagnostic(
                    Severity.ERROR,
                    "MS151",
                    f"two {network.kind.value} objects named {network.qualified_name} (first at {first})",
                    network.origin,
                    "metadata.name",
                )
            )
            continue
        seen[key] = network
        kept.append(network)
        if not network.is_primary:
            notes.append(
                _warn(network, "a Secondary network adds an interface; isolation is unchanged")
            )
            continue
        targets, warnings = _targets(network, namespaces)
        notes += warnings
        for name in targets:
            other = primary.get(name)
            if other is not None:
                notes.append(
                    Diagnostic(
                        Severity.ERROR,
                        "MS151",
                        f"namespace {name} has two primary networks: {_label(other)} "
                        f"({other.origin.location()}) and {_label(network)}; "
                        "a namespace has at most one",
                        network.origin,
                    )
                )
                continue
            primary[name] = network
    return Networks(tuple(kept), tuple(sorted(primary.items(), key=lambda kv: kv[0]))), notes
