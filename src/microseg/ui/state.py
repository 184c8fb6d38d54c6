"""What one `microseg ui` run serves: the inputs as the engine and the analyses see them,
computed once at start-up (the graph layers) or on first use (identity), and the intents,
which the page may change. Requests that change intents hold `lock`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from microseg.analyses.diff import ConnectivityDiff, comparable, diff_graphs
from microseg.analyses.graphview import (
    ConnTable,
    EdgeSet,
    NodeSpace,
    ObservedFlows,
    WorkloadFacts,
    allowed_edges,
    diff_edges,
    finding_edges,
    observed_edges,
    workload_facts,
)
from microseg.analyses.identity import IdentityReport, identity_report
from microseg.analyses.verify import VerificationReport
from microseg.engine import Connectivity, WorkloadGraph
from microseg.model.flows import EndpointResolver, FlowKeys
from microseg.ui.intents import IntentBook

__all__ = ["DiffSide", "UiState"]


@dataclass
class DiffSide:
    """The other input of `--diff`: its index, graph, and the rows that differ."""

    paths: list[str]
    conn: Connectivity
    graph: WorkloadGraph
    diff: ConnectivityDiff
    space: NodeSpace
    edges: EdgeSet
    base: EdgeSet
    """The first input's allowed edges in `space` (the union of both inputs' nodes)."""


@dataclass
class UiState:
    paths: list[str]
    conn: Connectivity
    graph: WorkloadGraph
    space: NodeSpace
    table: ConnTable
    allowed: EdgeSet
    facts: WorkloadFacts
    book: IntentBook
    violating: EdgeSet = field(default_factory=EdgeSet.empty)
    blocked: EdgeSet = field(default_factory=EdgeSet.empty)
    report: VerificationReport | None = None
    flows_path: str | None = None
    flows: ObservedFlows | None = None
    other: DiffSide | None = None
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _identity: IdentityReport | None = None

    @staticmethod
    def build(
        paths: list[str],
        conn: Connectivity,
        book: IntentBook,
        *,
        graph: WorkloadGraph | None = None,
        diff: tuple[list[str], Connectivity] | None = None,
        flows: tuple[str, FlowKeys, EndpointResolver] | None = None,
    ) -> UiState:
        other_side = None
        if diff is not None:
            conn, other = comparable(conn, diff[1])
            graph = WorkloadGraph.build(conn)
            other_graph = WorkloadGraph.build(other)
            rows = diff_graphs(graph, other_graph)
            union = NodeSpace.build(conn, graph, other_graph.nodes)
            other_side = DiffSide(
                diff[0], other, other_graph, rows, union, EdgeSet.empty(), EdgeSet.empty()
            )
        graph = graph if graph is not None else WorkloadGraph.build(conn)
        space = NodeSpace.build(conn, graph)
        table = ConnTable()
        state = UiState(
            paths,
            conn,
            graph,
            space,
            table,
            allowed_edges(graph, space, table),
            workload_facts(conn, space),
            book,
        )
        if other_side is not None:
            other_side.edges = diff_edges(other_side.diff, other_side.space, table)
            other_side.base = allowed_edges(graph, other_side.space, table)
            state.other = other_side
        if flows is not None:
            state.flows_path = flows[0]
            state.flows = observed_edges(conn, space, flows[1], flows[2], table)
        if graph.split:
            state.notes.append(
                "workloads split into pods because their pods differ in connectivity: "
                + ", ".join(graph.split)
            )
        state.set_report(book.report(conn, graph))
        return state

    def set_report(self, report: VerificationReport | None) -> None:
        self.report = report
        if report is None:
            self.violating, self.blocked = EdgeSet.empty(), EdgeSet.empty()
        else:
            self.violating, self.blocked = finding_edges(report.findings, self.space, self.table)

    def identity(self) -> IdentityReport:
        if self._identity is None:
            self._identity = identity_report(self.conn)
        return self._identity

    def node(self, name: str) -> int | None:
        return self.space.index.get(name)

    def namespace_nodes(self, namespace: str) -> np.ndarray:
        k = self.space.namespaces.index(namespace)
        return np.flatnonzero(self.space.ns_of[: self.space.n_workloads] == k)
