"""The connectivity engine: pure computation over the model; no I/O, no printing."""

from microseg.engine.connectivity import Connectivity, Endpoint, UnknownEndpointError
from microseg.engine.query import Decision, Step, Tier, Trace, Verdict
from microseg.engine.workload_view import WorkloadGraph

__all__ = [
    "Connectivity",
    "Decision",
    "Endpoint",
    "Step",
    "Tier",
    "Trace",
    "UnknownEndpointError",
    "Verdict",
    "WorkloadGraph",
]
