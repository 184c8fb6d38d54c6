"""`microseg audit`: posture findings (network, identity and mesh, pod security, RBAC)
with evidence and remediation, mapped to compliance frameworks kept as data
(`frameworks/*.yaml`), scored per namespace and overall, with the trend against a previous
report.

- `findings`: the finding, evidence, remediation and check types, and the code catalogue.
- `network`, `identity`, `pods`, `rbac_findings`: one module per area, each built on the
  analysis that already answers its question (exposure, verify, blast radius, identity,
  the guardrails' Pod Security Standards); `rbac`: effective permissions per subject.
- `frameworks`: the YAML files, checked, and each control's pass / fail / not assessable.
- `score`, `run`: scores, trend, and the whole audit.

Pure: no I/O but reading the package's own framework files.
"""

from microseg.analyses.audit.findings import (
    CODES,
    Category,
    Check,
    Evidence,
    Finding,
    Patch,
    Remediation,
    Severity,
)
from microseg.analyses.audit.frameworks import (
    CIS_VERSIONS,
    FRAMEWORK_IDS,
    INPUTS,
    ControlResult,
    FrameworkResult,
    Status,
    framework_ids,
    load_framework,
)
from microseg.analyses.audit.pods import AuditedWorkload, Locate
from microseg.analyses.audit.rbac import Permissions, RbacIndex, Request, rule_matches
from microseg.analyses.audit.run import AuditOptions, AuditReport, run_audit
from microseg.analyses.audit.score import CLUSTER_SCOPE, Baseline, Score, Trend

__all__ = [
    "CIS_VERSIONS",
    "CLUSTER_SCOPE",
    "CODES",
    "FRAMEWORK_IDS",
    "INPUTS",
    "AuditOptions",
    "AuditReport",
    "AuditedWorkload",
    "Baseline",
    "Category",
    "Check",
    "ControlResult",
    "Evidence",
    "Finding",
    "FrameworkResult",
    "Locate",
    "Patch",
    "Permissions",
    "RbacIndex",
    "Remediation",
    "Request",
    "Score",
    "Severity",
    "Status",
    "Trend",
    "framework_ids",
    "load_framework",
    "rule_matches",
    "run_audit",
]
