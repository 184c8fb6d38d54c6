"""The segmentation graph a person looks at: workloads, the namespaces they sit in and the
address classes they talk to, with edge layers (allowed, observed, denied but attempted,
intent violations, diff rows) aggregated to whatever level of detail is shown.

Pure functions of engine and analysis results (WorkloadGraph, verify findings, flow keys
replayed by analyses/simulate.py, diff rows); numpy over node and edge arrays, never a loop
over pod pairs. The web UI (microseg.ui) is its adapter; nothing here knows about HTTP.
"""

from microseg.analyses.graphview.aggregate import AggEdges, View, aggregate, display_ids
from microseg.analyses.graphview.edges import (
    ConnTable,
    EdgeSet,
    allowed_edges,
    diff_edges,
    finding_edges,
)
from microseg.analyses.graphview.observed import ObservedFlows, observed_edges
from microseg.analyses.graphview.space import (
    EXTERNAL_GROUPS,
    NodeSpace,
    external_group,
    group_of_class,
)
from microseg.analyses.graphview.workload import (
    PolicyRef,
    WorkloadFacts,
    node_policies,
    workload_facts,
)

__all__ = [
    "EXTERNAL_GROUPS",
    "AggEdges",
    "ConnTable",
    "EdgeSet",
    "NodeSpace",
    "ObservedFlows",
    "PolicyRef",
    "View",
    "WorkloadFacts",
    "aggregate",
    "allowed_edges",
    "diff_edges",
    "display_ids",
    "external_group",
    "finding_edges",
    "group_of_class",
    "node_policies",
    "observed_edges",
    "workload_facts",
]
