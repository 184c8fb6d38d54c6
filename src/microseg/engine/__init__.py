"""The connectivity engine: pure computation over the model; no I/O, no printing.

This is the engine's face: analyses, render and the adapters import from here only
(import-linter holds them to it), so the parts behind it can change shape freely.
- Build and ask: `Connectivity` (the facade), `Endpoint`, `UnknownEndpointError`.
- Answers: `Decision`, `Trace`, `Step` (typed: `StepKind`, `PolicyKind`, and a
  `MeshDetail` with its `MeshCause` for mesh steps), `Verdict`, `Tier`, `Layer`,
  `MeshVerdict`, `NetworkSide`, `NetworkSplit`.
- The tier order (engine/combine.py): `Code` and its members, `CODE_OF`, `over_codes`,
  `fallthrough`.
- Readers over a built index for analyses that count or compare whole tables: workload
  graphs and nodes, blocks of the combined tables, packed port words, atoms, the rule
  compiler and direction tables, primary networks, the ingress controller's ports, L7
  conditions on edges, and the mesh's policy applicability.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from microseg.engine.assembly import Endpoint
    from microseg.engine.combine import (
        ALLOW,
        CODE_OF,
        DENY,
        NO_MATCH,
        Code,
        fallthrough,
        hands_down,
        over_codes,
    )
    from microseg.engine.connectivity import Connectivity, UnknownEndpointError
    from microseg.engine.index.atoms import IPAtoms, PortAtoms
    from microseg.engine.index.gcpause import paused_gc
    from microseg.engine.index.networks import NetworkIsolation
    from microseg.engine.index.packed import Bits, full_word, n_words, pack, unpack
    from microseg.engine.index.rules import RuleCompiler
    from microseg.engine.index.tables import DirectionTable
    from microseg.engine.mesh.linkerd_match import (
        Authz,
        LinkerdIndex,
        PortPolicy,
        identity_matches,
    )
    from microseg.engine.mesh.match import (
        applies_to,
        effective_mode,
        inert_mesh_policies,
        istio_match,
        mode_source,
        pod_mesh_mode,
    )
    from microseg.engine.options import EngineOptions, HostNetwork
    from microseg.engine.query import (
        Decision,
        Layer,
        MeshCause,
        MeshDetail,
        MeshVerdict,
        NetworkSide,
        NetworkSplit,
        PolicyKind,
        Step,
        StepKind,
        Tier,
        Trace,
        Verdict,
    )
    from microseg.engine.views.blocks import (
        chunks,
        from_external_block,
        incoming_block,
        materialise_if_small,
        pair_block,
        to_external_block,
    )
    from microseg.engine.views.calico_lint import (
        CalicoPolicyFact,
        CalicoRuleFact,
        calico_lint_facts,
    )
    from microseg.engine.views.edge_conditions import (
        EdgeConditions,
        PairConditions,
        edge_conditions,
        external_conditions,
    )
    from microseg.engine.views.ingress import pod_ports, service_target_ports
    from microseg.engine.views.workload import (
        INGRESS_CONTROLLER_NAME,
        WorkloadGraph,
        same_behaviour,
        workload_nodes,
    )

__all__ = [
    "ALLOW",
    "CODE_OF",
    "DENY",
    "INGRESS_CONTROLLER_NAME",
    "NO_MATCH",
    "Authz",
    "Bits",
    "CalicoPolicyFact",
    "CalicoRuleFact",
    "Code",
    "Connectivity",
    "Decision",
    "DirectionTable",
    "EdgeConditions",
    "Endpoint",
    "EngineOptions",
    "HostNetwork",
    "IPAtoms",
    "Layer",
    "LinkerdIndex",
    "MeshCause",
    "MeshDetail",
    "MeshVerdict",
    "NetworkIsolation",
    "NetworkSide",
    "NetworkSplit",
    "PairConditions",
    "PolicyKind",
    "PortAtoms",
    "PortPolicy",
    "RuleCompiler",
    "Step",
    "StepKind",
    "Tier",
    "Trace",
    "UnknownEndpointError",
    "Verdict",
    "WorkloadGraph",
    "applies_to",
    "calico_lint_facts",
    "chunks",
    "edge_conditions",
    "effective_mode",
    "external_conditions",
    "fallthrough",
    "from_external_block",
    "full_word",
    "hands_down",
    "identity_matches",
    "incoming_block",
    "inert_mesh_policies",
    "istio_match",
    "materialise_if_small",
    "mode_source",
    "n_words",
    "over_codes",
    "pack",
    "pair_block",
    "paused_gc",
    "pod_mesh_mode",
    "pod_ports",
    "same_behaviour",
    "service_target_ports",
    "to_external_block",
    "unpack",
    "workload_nodes",
]

# Each name's module, imported on first use (PEP 562): importing one submodule (the
# engine options the CLI reads, say) no longer loads every other one, and numpy with them.
_HOME = {
    "ALLOW": "microseg.engine.combine",
    "Authz": "microseg.engine.mesh.linkerd_match",
    "Bits": "microseg.engine.index.packed",
    "CODE_OF": "microseg.engine.combine",
    "CalicoPolicyFact": "microseg.engine.views.calico_lint",
    "CalicoRuleFact": "microseg.engine.views.calico_lint",
    "Code": "microseg.engine.combine",
    "Connectivity": "microseg.engine.connectivity",
    "DENY": "microseg.engine.combine",
    "Decision": "microseg.engine.query",
    "DirectionTable": "microseg.engine.index.tables",
    "EdgeConditions": "microseg.engine.views.edge_conditions",
    "Endpoint": "microseg.engine.assembly",
    "EngineOptions": "microseg.engine.options",
    "HostNetwork": "microseg.engine.options",
    "INGRESS_CONTROLLER_NAME": "microseg.engine.views.workload",
    "IPAtoms": "microseg.engine.index.atoms",
    "Layer": "microseg.engine.query",
    "LinkerdIndex": "microseg.engine.mesh.linkerd_match",
    "MeshCause": "microseg.engine.query",
    "MeshDetail": "microseg.engine.query",
    "MeshVerdict": "microseg.engine.query",
    "NO_MATCH": "microseg.engine.combine",
    "NetworkIsolation": "microseg.engine.index.networks",
    "NetworkSide": "microseg.engine.query",
    "NetworkSplit": "microseg.engine.query",
    "PairConditions": "microseg.engine.views.edge_conditions",
    "PolicyKind": "microseg.engine.query",
    "PortAtoms": "microseg.engine.index.atoms",
    "PortPolicy": "microseg.engine.mesh.linkerd_match",
    "RuleCompiler": "microseg.engine.index.rules",
    "Step": "microseg.engine.query",
    "StepKind": "microseg.engine.query",
    "Tier": "microseg.engine.query",
    "Trace": "microseg.engine.query",
    "UnknownEndpointError": "microseg.engine.connectivity",
    "Verdict": "microseg.engine.query",
    "WorkloadGraph": "microseg.engine.views.workload",
    "applies_to": "microseg.engine.mesh.match",
    "calico_lint_facts": "microseg.engine.views.calico_lint",
    "chunks": "microseg.engine.views.blocks",
    "edge_conditions": "microseg.engine.views.edge_conditions",
    "effective_mode": "microseg.engine.mesh.match",
    "external_conditions": "microseg.engine.views.edge_conditions",
    "fallthrough": "microseg.engine.combine",
    "from_external_block": "microseg.engine.views.blocks",
    "full_word": "microseg.engine.index.packed",
    "hands_down": "microseg.engine.combine",
    "identity_matches": "microseg.engine.mesh.linkerd_match",
    "incoming_block": "microseg.engine.views.blocks",
    "inert_mesh_policies": "microseg.engine.mesh.match",
    "istio_match": "microseg.engine.mesh.match",
    "materialise_if_small": "microseg.engine.views.blocks",
    "mode_source": "microseg.engine.mesh.match",
    "n_words": "microseg.engine.index.packed",
    "over_codes": "microseg.engine.combine",
    "pack": "microseg.engine.index.packed",
    "pair_block": "microseg.engine.views.blocks",
    "paused_gc": "microseg.engine.index.gcpause",
    "pod_mesh_mode": "microseg.engine.mesh.match",
    "pod_ports": "microseg.engine.views.ingress",
    "same_behaviour": "microseg.engine.views.workload",
    "service_target_ports": "microseg.engine.views.ingress",
    "to_external_block": "microseg.engine.views.blocks",
    "unpack": "microseg.engine.index.packed",
    "workload_nodes": "microseg.engine.views.workload",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
