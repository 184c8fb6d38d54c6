"""Policy synthesis: least-privilege policies from observed flows (`recommend`) and from
intents (`generate`), each proven by the engine. Pure functions of the model and engine
results; the YAML is written by render/policy_yaml.py."""

from microseg.analyses.synth.proof import DeniedFlow, Excess, Proof, WorkloadScore
from microseg.analyses.synth.recommend import Finding, Recommendation, RecommendOptions, recommend
from microseg.analyses.synth.rollout import RolloutStep
from microseg.analyses.synth.types import CLUSTER_GROUP, Generated, PolicyFormat

__all__ = [
    "CLUSTER_GROUP",
    "DeniedFlow",
    "Excess",
    "Finding",
    "Generated",
    "PolicyFormat",
    "Proof",
    "RecommendOptions",
    "Recommendation",
    "RolloutStep",
    "WorkloadScore",
    "recommend",
]
