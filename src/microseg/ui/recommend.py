"""A recommended policy for one workload, from the observed flows, and what it would
break: analyses/synth `recommend` (the least-privilege NetworkPolicy learnt from the flow
window, the same as `microseg recommend` writes for it) replayed by analyses/simulate
against the flows, with only that policy added (`simulate --with` semantics).

Only the workload's namespace is recommended for (the others are excluded), which keeps the
answer quick; the namespace's default deny is shown as a note and not part of the proposal,
since it would isolate every other workload of the namespace too."""

from __future__ import annotations

from dataclasses import dataclass

from microseg.analyses.simulate import simulate
from microseg.analyses.synth import RecommendOptions, recommend
from microseg.analyses.synth.recommend import merge
from microseg.engine import Connectivity, UnknownEndpointError
from microseg.model.flow_window import FlowWindow
from microseg.model.flows import EndpointResolver
from microseg.render.recommend import plan_files
from microseg.ui.models import FlowOut, RecommendOut
from microseg.ui.state import UiState

__all__ = ["RecommendSource", "recommend_for"]


@dataclass
class RecommendSource:
    window: FlowWindow
    resolver: EndpointResolver


def recommend_for(state: UiState, source: RecommendSource, name: str) -> RecommendOut:
    conn = state.conn
    ep = conn.resolve(name)
    workload = next((str(w.key) for w in conn.cluster.workloads if str(w.key) == ep.name), None)
    if workload is None:
        raise UnknownEndpointError(f"{name!r}: recommendations are per workload, not per pod")
    ns = workload.split("/", 1)[0]
    others = tuple(n.name for n in conn.cluster.namespaces if n.name != ns)
    options = RecommendOptions(exclude=others)
    rec = recommend(conn.cluster, source.window, options, conn.options)
    mine = tuple(g for g in rec.generated if g.workload == workload)
    score = next((s for s in rec.proof.workloads if s.workload == workload), None)
    notes = [f.message for f in rec.findings if f.subject == workload]
    if not mine:
        return RecommendOut(
            workload=workload,
            yaml="",
            notes=notes or ["never seen in the flows: nothing to learn a policy from"],
        )
    proposal = Connectivity.build(merge(conn.cluster, mine), conn.options).with_layer(conn.layer)
    report = simulate(conn, source.window.keys, proposal, source.resolver)
    ((_, text, _),) = plan_files(mine, None, mine[0].header)

    breaks = [
        FlowOut(
            src=f.src,
            dst=f.dst,
            protocol=f.protocol,
            port=f.port,
            count=f.count,
            recorded=[f.recorded],
            allowed=False,
        )
        for f in report.newly_denied[:50]
    ]
    return RecommendOut(
        workload=workload,
        yaml=text,
        policies=[f"{g.kind} {g.namespace}/{g.name}" for g in mine],
        newlyDenied=breaks,
        newlyDeniedTotal=report.newly_denied_total,
        newlyAllowedTotal=report.newly_allowed_total,
        observedPeers=score.observed if score is not None else 0,
        allowedPeers=score.allowed if score is not None else 0,
        notes=[
            *notes,
            f"the namespace {ns} also gets a default deny (microseg-default-deny) in the full "
            "recommendation (`microseg recommend`); not part of this proposal, which changes "
            "this workload only",
        ],
    )
