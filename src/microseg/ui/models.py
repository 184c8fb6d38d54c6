"""The JSON API's response and request bodies. Field names are the JSON names (camelCase,
as the rest of microseg's JSON); every response carries `apiVersion` and `kind`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "API_VERSION",
    "BlastHitOut",
    "BlastOut",
    "DraftIntent",
    "EdgeDetail",
    "EdgeOut",
    "EdgePair",
    "EndpointSpec",
    "ErrorOut",
    "Explanation",
    "FindingOut",
    "FlowOut",
    "GraphOut",
    "IntentDrafts",
    "IntentsOut",
    "NodeOut",
    "Origin",
    "PolicyOut",
    "PortRange",
    "RecommendOut",
    "SearchOut",
    "StepOut",
    "Summary",
    "TraceOut",
    "WorkloadOut",
]

API_VERSION = "microseg.dev/v1alpha1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Origin(_Model):
    file: str
    line: int | None = None


class PortRange(_Model):
    protocol: Literal["TCP", "UDP", "SCTP"]
    start: int
    end: int


class ErrorOut(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["Error"] = "Error"
    message: str
    diagnostics: list[str] = []


class Summary(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["UiSummary"] = "UiSummary"
    inputs: list[str]
    diffInputs: list[str] | None = None
    flows: str | None = None
    intents: str | None = Field(None, description="The intent file saves go to, if any.")
    layer: str
    workloads: int
    namespaces: int
    pods: int
    edges: int
    notes: list[str] = []
    intentsHold: int = 0
    intentsViolated: int = 0
    observedKeys: int | None = None
    recommend: bool = Field(
        False, description="Whether a recommended policy can be offered (`microseg recommend`)."
    )
    recommendNote: str = ""


class NodeOut(_Model):
    id: str
    kind: Literal["namespace", "workload", "peer", "outside"]
    label: str
    name: str
    parent: str | None = None
    namespace: str | None = None
    expanded: bool = False
    workloads: int = 0
    pods: int = 0
    ingressIsolated: Literal["all", "some", "none", "n/a"] = "n/a"
    egressIsolated: Literal["all", "some", "none", "n/a"] = "n/a"
    guarded: bool = False
    internalEdges: int = 0
    labels: dict[str, str] = {}
    diff: Literal["added", "removed"] | None = None
    workloadKind: str = ""


class EdgeOut(_Model):
    id: str
    source: str
    target: str
    layer: Literal[
        "allowed", "observed", "attempted", "violating", "blocked", "added", "removed", "changed"
    ]
    pairs: int
    conn: str
    conn2: str | None = None
    ports: list[PortRange] = Field([], description="The first ranges of `conn` (at most 8).")
    colour: str = Field(description="The key edges are coloured by: a port, DNS, All, ...")
    weight: int = 0
    intents: list[str] = []
    verdicts: list[str] = []
    violating: bool = False


class GraphOut(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["SegmentationGraph"] = "SegmentationGraph"
    mode: Literal["policy", "diff"]
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    expanded: list[str]
    truncated: bool = False
    message: str = ""


class StepOut(_Model):
    tier: str
    effect: str
    conn: str
    label: str
    policy: str | None = None
    rule: int | None = None
    ruleName: str | None = None
    origin: Origin | None = None
    kind: str | None = None
    detail: str | None = None


class TraceOut(_Model):
    endpoint: str
    external: bool
    isolated: bool
    policies: list[str]
    guardrails: list[str]
    allowed: str
    steps: list[StepOut]


class Explanation(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["EdgeExplanation"] = "EdgeExplanation"
    src: str
    dst: str
    verdict: str
    requested: str | None = None
    allowed: str
    partial: bool = False
    layer: str = "network"
    egress: TraceOut
    ingress: TraceOut
    mesh: list[StepOut] = []
    text: str = Field(description="The explanation as `microseg reach` prints it.")
    note: str = ""
    intents: list[str] = []
    observed: list[FlowOut] = []


class FlowOut(_Model):
    src: str
    dst: str
    protocol: str
    port: int
    count: int
    recorded: list[str]
    allowed: bool


class EdgePair(_Model):
    src: str
    dst: str
    srcEndpoint: str = Field(description="What /api/explain takes for the source.")
    dstEndpoint: str
    conn: str
    conn2: str | None = None
    weight: int = 0
    intents: list[str] = []


class EdgeDetail(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["EdgeDetail"] = "EdgeDetail"
    source: str
    target: str
    layer: str
    total: int
    pairs: list[EdgePair]


class PolicyOut(_Model):
    kind: str
    name: str
    scope: list[str]
    origin: Origin


class WorkloadOut(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["WorkloadDetail"] = "WorkloadDetail"
    name: str
    namespace: str
    workloadKind: str
    pods: int
    labels: dict[str, str]
    ingressIsolated: bool
    egressIsolated: bool
    guarded: bool
    policies: list[PolicyOut]
    serviceAccount: str = ""
    spiffeId: str = ""
    mesh: str = ""
    mtls: str = ""
    callers: list[str] = []
    inbound: int = 0
    outbound: int = 0
    reachesPublic: bool = False
    reachableFromPublic: bool = False


class RecommendOut(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["WorkloadRecommendation"] = "WorkloadRecommendation"
    workload: str
    yaml: str = Field(description="The policy as `microseg recommend` writes it.")
    policies: list[str] = []
    newlyDenied: list[FlowOut] = Field([], description="Observed flows it would deny (simulate).")
    newlyDeniedTotal: int = 0
    newlyAllowedTotal: int = 0
    observedPeers: int = 0
    allowedPeers: int = 0
    notes: list[str] = []


class BlastHitOut(_Model):
    workload: str
    hops: int
    path: list[str]


class BlastOut(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["BlastRadius"] = "BlastRadius"
    sources: list[str]
    hops: int | None
    reachable: list[BlastHitOut]
    namespaces: dict[str, int] = Field(description="Per namespace, the fewest hops to it.")


class SearchOut(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["SearchResult"] = "SearchResult"
    workloads: list[str]
    namespaces: list[str]
    total: int


class EndpointSpec(_Model):
    """One end of a drawn intent: a workload, a namespace, pods by labels (in a namespace,
    or in every namespace), or a group by name (built in: internet, cluster, kube-dns)."""

    type: Literal["workload", "namespace", "labels", "group"]
    workload: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    group: str | None = None


class DraftIntent(_Model):
    kind: Literal["allow", "deny"]
    src: EndpointSpec = Field(alias="from")
    dst: EndpointSpec = Field(alias="to")
    ports: list[str] = []


class IntentDrafts(_Model):
    intents: list[DraftIntent] = Field(max_length=500)


class FindingOut(_Model):
    id: str
    kind: str
    description: str
    status: Literal["holds", "violated"]
    origin: Origin
    drawn: bool = False
    message: str = ""
    total: int = 0
    flows: list[dict[str, str]] = []
    explanation: str = ""
    related: list[str] = []


class IntentsOut(_Model):
    apiVersion: str = API_VERSION
    kind: Literal["IntentsCheck"] = "IntentsCheck"
    path: str | None
    saved: bool = False
    yaml: str
    drafts: list[DraftIntent]
    findings: list[FindingOut]
    holds: int
    violated: int
    notes: list[str] = []
