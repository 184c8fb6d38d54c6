"""What an audit finds: typed findings with a stable code, a severity, the subject, the
evidence (what decided it, and the file and line), and a remediation (a generated policy,
a patch to a field, a replacement Role, or a step to take). `render/` turns them into text,
JSON, SARIF and the HTML report; the frameworks (frameworks/*.yaml) name the codes.

`CODES` is the catalogue: every code an analysis may emit, with its title, category and
default severity. A finding's id is `CODE:subject`, stable across runs, so a later report
can say which findings are new and which were resolved (score.py, `--baseline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.analyses.synth.types import Generated
from microseg.errors import Origin
from microseg.model.podspec import FieldPath
from microseg.model.sets import ConnSet

__all__ = [
    "CODES",
    "Category",
    "Check",
    "CodeInfo",
    "Evidence",
    "Finding",
    "Patch",
    "Remediation",
    "Severity",
]


class Severity(Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def weight(self) -> int:
        """How much a failed check of this severity counts in a score (score.py)."""
        return _WEIGHT[self]


_RANK = {s: i for i, s in enumerate(Severity)}
_WEIGHT = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 3,
    Severity.HIGH: 6,
    Severity.CRITICAL: 10,
}


class Category(Enum):
    NETWORK = "network"
    IDENTITY = "identity"
    POD = "pod-security"
    RBAC = "rbac"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    title: str
    category: Category
    severity: Severity


N, ID, P, R = Category.NETWORK, Category.IDENTITY, Category.POD, Category.RBAC
CRIT, HIGH, MED, LOW, INFO = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.INFO,
)

CODES: dict[str, CodeInfo] = {
    # network (analyses/audit/network.py)
    "AUD-NET-001": CodeInfo("Namespace without default-deny ingress", N, HIGH),
    "AUD-NET-002": CodeInfo("Namespace without default-deny egress", N, MED),
    "AUD-NET-003": CodeInfo("Workload selected by no NetworkPolicy", N, HIGH),
    "AUD-NET-004": CodeInfo("Workload exposed to the internet through an entry point", N, HIGH),
    "AUD-NET-005": CodeInfo("Policies admit public addresses", N, MED),
    "AUD-NET-006": CodeInfo("Unrestricted internet egress", N, MED),
    "AUD-NET-007": CodeInfo("Namespace open to every other namespace", N, MED),
    "AUD-NET-008": CodeInfo("Cross-tenant path", N, HIGH),
    "AUD-NET-009": CodeInfo("Segmentation intent violated", N, HIGH),
    "AUD-NET-010": CodeInfo("Lateral movement from the internet beyond the hop threshold", N, HIGH),
    # identity and mesh (analyses/audit/identity.py)
    "AUD-IDN-001": CodeInfo("Workload outside the mesh", ID, MED),
    "AUD-IDN-002": CodeInfo("mTLS not STRICT", ID, HIGH),
    "AUD-IDN-003": CodeInfo("AuthorizationPolicy admits every principal", ID, HIGH),
    "AUD-IDN-004": CodeInfo("Service account shared by several workloads", ID, MED),
    # pod security (analyses/audit/pods.py)
    "AUD-POD-001": CodeInfo("Privileged container", P, CRIT),
    "AUD-POD-002": CodeInfo("Host PID namespace shared", P, HIGH),
    "AUD-POD-003": CodeInfo("Host IPC namespace shared", P, HIGH),
    "AUD-POD-004": CodeInfo("Host network namespace shared", P, HIGH),
    "AUD-POD-005": CodeInfo("Privilege escalation allowed", P, MED),
    "AUD-POD-006": CodeInfo("Container may run as root", P, MED),
    "AUD-POD-007": CodeInfo("Capabilities not dropped or added", P, MED),
    "AUD-POD-008": CodeInfo("HostPath volume", P, HIGH),
    "AUD-POD-009": CodeInfo("Host port", P, MED),
    "AUD-POD-010": CodeInfo("Windows HostProcess container", P, CRIT),
    "AUD-POD-011": CodeInfo("Seccomp profile not set", P, MED),
    "AUD-POD-012": CodeInfo("Other Pod Security Standards violation", P, MED),
    "AUD-POD-013": CodeInfo("Image from an unapproved registry", P, HIGH),
    "AUD-POD-014": CodeInfo("Image tagged latest or untagged", P, LOW),
    "AUD-POD-015": CodeInfo("No resource limits", P, LOW),
    "AUD-POD-016": CodeInfo("Root filesystem writable", P, LOW),
    "AUD-POD-017": CodeInfo("Service account token mounted without need", P, MED),
    "AUD-POD-018": CodeInfo("Namespace without Pod Security Admission enforcement", P, MED),
    "AUD-POD-019": CodeInfo("Workload in the default namespace", P, LOW),
    "AUD-POD-020": CodeInfo("Secret exposed as an environment variable", P, LOW),
    # RBAC (analyses/audit/rbac_findings.py)
    "AUD-RBAC-001": CodeInfo("cluster-admin or equivalent", R, CRIT),
    "AUD-RBAC-002": CodeInfo("Wildcard in a Role or ClusterRole", R, MED),
    "AUD-RBAC-003": CodeInfo("Can read Secrets", R, HIGH),
    "AUD-RBAC-004": CodeInfo("Can exec, attach or port-forward into pods", R, HIGH),
    "AUD-RBAC-005": CodeInfo("Can create pods or workloads", R, HIGH),
    "AUD-RBAC-006": CodeInfo("Can escalate, bind or impersonate", R, CRIT),
    "AUD-RBAC-007": CodeInfo("Can use the nodes/proxy subresource", R, CRIT),
    "AUD-RBAC-008": CodeInfo("Can create service account tokens", R, HIGH),
    "AUD-RBAC-009": CodeInfo("Can create PersistentVolumes", R, MED),
    "AUD-RBAC-010": CodeInfo("Can approve certificate signing requests", R, HIGH),
    "AUD-RBAC-011": CodeInfo("Can change admission webhook configurations", R, HIGH),
    "AUD-RBAC-012": CodeInfo("Permissions granted to everyone or to system:masters", R, HIGH),
    "AUD-RBAC-013": CodeInfo("Service account holds more than its workloads use", R, MED),
    "AUD-RBAC-014": CodeInfo("Default service account actively used", R, MED),
    "AUD-RBAC-015": CodeInfo("Binding to a role missing from the input", R, LOW),
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact behind a finding: what it says, and where it is written."""

    text: str
    origin: Origin | None = None
    conns: ConnSet | None = None
    """The connections the fact is about (rendered after the text)."""

    @property
    def location(self) -> str:
        return self.origin.location() if self.origin is not None else ""


@dataclass(frozen=True, slots=True)
class Patch:
    """Set `path` of the object at `origin` (kind/namespace/name in it) to `value`; `None`
    as the value removes the field.

    `keys` names the list items the path goes through by their merge key (position in
    `path` of the index, key field, key value: a container by its `name`, a port by its
    `containerPort`): with every index keyed, the patch is rendered as a strategic merge
    patch, which creates the maps on the way (a JSON patch `add` fails when its parent,
    say `securityContext`, is missing). Otherwise it is an RFC 6902 JSON patch whose
    `test` operations (path, expected value) make it refuse an object that changed since
    the audit (a subject that moved in a binding's list)."""

    kind: str
    namespace: str
    name: str
    path: FieldPath
    value: object
    origin: Origin | None = None
    keys: tuple[tuple[int, str, object], ...] = ()
    test: tuple[tuple[FieldPath, object], ...] = ()

    @property
    def strategic(self) -> bool:
        keyed = {k[0] for k in self.keys}
        return not self.test and all(
            i in keyed for i, p in enumerate(self.path) if isinstance(p, int)
        )


@dataclass(frozen=True, slots=True)
class Remediation:
    """How to fix it. `policies` are generated by analyses/synth (render/policy_yaml.py
    writes them); `objects` are other generated manifests as plain data (a least-privilege
    Role); `patches` are field changes to existing objects."""

    summary: str
    policies: tuple[Generated, ...] = ()
    objects: tuple[dict[str, object], ...] = ()
    patches: tuple[Patch, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    subject: str
    namespace: str
    message: str
    evidence: tuple[Evidence, ...] = ()
    remediation: Remediation = field(default_factory=lambda: Remediation(""))
    severity: Severity | None = None
    """Overrides the code's severity (a cluster-wide grant weighs more than a namespaced one)."""

    @property
    def info(self) -> CodeInfo:
        return CODES[self.code]

    @property
    def level(self) -> Severity:
        return self.severity or CODES[self.code].severity

    @property
    def id(self) -> str:
        return f"{self.code}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Check:
    """One thing an analysis assessed (a code on a subject), failed or not: the scores'
    denominator, so a namespace with nothing wrong scores 100 only when something was
    checked in it."""

    code: str
    subject: str
    namespace: str
