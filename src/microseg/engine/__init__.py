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
from microseg.engine.mesh.linkerd_match import Authz, LinkerdIndex, PortPolicy, identity_matches
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
from microseg.engine.views.workload import INGRESS_CONTROLLER_NAME, WorkloadGraph, workload_nodes

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
    "service_target_ports",
    "to_external_block",
    "unpack",
    "workload_nodes",
]
