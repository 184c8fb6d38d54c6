"""Guardrails at admission and in CI: the rules of a guardrail file (model/guardrails.py)
judged on one object at a time by `review`, the pure function under both `microseg check`
and the admission webhook.

- `pss`: the Pod Security Standards, one control per row, for any Pod or pod template
  (reused by audits: `evaluate_pod_security` gives field-located violations).
- `pods`: images, labels, resources, read-only root filesystem, service account token.
- `segmentation`: ingress isolation of new workloads, and policy changes checked against
  the segmentation intents through the engine (`Connectivity.apply`).
- `review`, `check`: the decision on one object, and on a folder of manifests.

Pure: no I/O; the adapters (cli, webhook) read inputs with `microseg.ingest` and print with
`microseg.render`.
"""

from microseg.analyses.guardrails.check import CheckReport, ObjectReview, check_manifests
from microseg.analyses.guardrails.findings import Finding
from microseg.analyses.guardrails.images import (
    has_tag,
    parse_image,
    qualified,
    registry_allowed,
    registry_regex,
)
from microseg.analyses.guardrails.pss import (
    CONTROLS,
    LATEST,
    Control,
    Level,
    PssViolation,
    active_controls,
    evaluate_pod_security,
)
from microseg.analyses.guardrails.review import (
    ReviewContext,
    ReviewResult,
    exempt,
    policy_change,
    review,
)
from microseg.analyses.guardrails.segmentation import IntentMemo, isolating_policies

__all__ = [
    "CONTROLS",
    "LATEST",
    "CheckReport",
    "Control",
    "Finding",
    "IntentMemo",
    "Level",
    "ObjectReview",
    "PssViolation",
    "ReviewContext",
    "ReviewResult",
    "active_controls",
    "check_manifests",
    "evaluate_pod_security",
    "exempt",
    "has_tag",
    "isolating_policies",
    "parse_image",
    "policy_change",
    "qualified",
    "registry_allowed",
    "registry_regex",
    "review",
]
