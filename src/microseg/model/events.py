"""Runtime events and the alerts made from them (`microseg watch`).

Three sources feed the detectors: Falco alerts (a syscall or plugin rule that fired), the
Kubernetes API server's audit log (`audit.k8s.io/v1` Event) and observed flows. Each event
keeps where it came from (`Record`: source file and line, and the line itself), so that an
alert can show the records behind it as its evidence.

Times are seconds since the epoch (UTC, float): the detectors compare them, and a float
holds microseconds exactly for the next centuries; what the sources wrote (Falco's
nanoseconds) stays in the record.

Records and events are named tuples rather than frozen dataclasses: one is built per line
read, and a frozen dataclass's constructor (one `object.__setattr__` per field) costs
several times a tuple's, which at 100,000 events a second is most of the budget.

Flows come in columnar batches (`FlowBatch`, numpy arrays over an endpoint dictionary), as
the scan and sweep detectors work on whole windows of them at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from microseg.model.flows import ObservedEndpoint

__all__ = [
    "Alert",
    "AuditEvent",
    "EventSource",
    "FalcoEvent",
    "FlowBatch",
    "Record",
    "Reject",
    "Severity",
    "Technique",
]


class EventSource(StrEnum):
    FALCO = "falco"
    AUDIT = "audit"
    FLOWS = "flows"


class Severity(IntEnum):
    """Ordered: `Severity.HIGH > Severity.MEDIUM`. An IntEnum so that comparing two (every
    event is held to a minimum) is the integers' comparison, not a Python method's."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def word(self) -> str:
        return self.name.lower()

    @staticmethod
    def parse(text: str) -> Severity:
        return Severity[text.strip().upper()]


class Record(NamedTuple):
    """One input line: `line` is 1-based in `file` (`-` for stdin). Kept as read (bytes)
    and decoded only when shown: most records are never shown."""

    source: EventSource
    file: str
    line: int
    raw: bytes

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


class Reject(NamedTuple):
    """A line that is not an event: why, and where."""

    record: Record
    reason: str


class FalcoEvent(NamedTuple):
    """A Falco alert (Falco's JSON output, `json_output: true`): the rule that fired, its
    priority and tags, and the output fields that name the pod and the process."""

    time: float
    rule: str
    priority: str
    source: str
    hostname: str
    tags: tuple[str, ...]
    namespace: str
    pod: str
    container_id: str
    cmdline: str
    process: str
    user: str
    output: str
    record: Record


class AuditEvent(NamedTuple):
    """One audit.k8s.io/v1 Event at the stage that decides it. `rule_verbs` are the verbs a
    Role or ClusterRole in the request body grants (empty when the audit level logged no
    body); `role_ref` the role a binding in the body names."""

    time: float
    audit_id: str
    stage: str
    verb: str
    username: str
    groups: tuple[str, ...]
    pod: tuple[str, str] | None
    """The pod whose service-account token made the request (`user.extra`
    `authentication.kubernetes.io/pod-name`), when the API server recorded it."""
    source_ips: tuple[str, ...]
    resource: str
    subresource: str
    namespace: str
    name: str
    api_group: str
    code: int
    decision: str
    reason: str
    rule_verbs: tuple[str, ...]
    role_ref: str
    has_body: bool
    record: Record

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) of a `system:serviceaccount:NS:NAME` user."""
        parts = self.username.split(":")
        if len(parts) == 4 and parts[0] == "system" and parts[1] == "serviceaccount":
            return parts[2], parts[3]
        return None


Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FlowBatch:
    """Flow records as columns: `src`/`dst` index `endpoints`; `protocol` the protocol
    names (`TCP`, `UDP`, ...) by index into `protocols`; `denied` whether the source
    recorded a drop or a denial; `count` the flows a record stands for; `record` indexes
    `records` (the lines)."""

    endpoints: tuple[ObservedEndpoint, ...]
    protocols: tuple[str, ...]
    time: Floats
    src: Ints
    dst: Ints
    protocol: Ints
    port: Ints
    denied: Bools
    count: Ints
    record: Ints
    records: tuple[Record, ...]

    def __len__(self) -> int:
        return len(self.time)


@dataclass(frozen=True, slots=True)
class Technique:
    """A MITRE ATT&CK technique (https://attack.mitre.org/techniques/ID/)."""

    id: str
    name: str
    tactic: str

    @property
    def url(self) -> str:
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


@dataclass(frozen=True, slots=True)
class Alert:
    """One detection. `key` is what duplicates share (detector, what fired, on what);
    `evidence` the first records behind it; `count` every event merged into it.
    `namespace`/`pod` name the pod to quarantine when one is known; `workload` the
    engine's node for it (`ns/name[Kind]`) once resolved."""

    id: str
    key: tuple[str, ...]
    detector: str
    rule: str
    title: str
    severity: Severity
    time: float
    technique: Technique | None
    namespace: str = ""
    pod: str = ""
    subject: str = ""
    """Who or what did it, when not a pod: an address, a user, a service account."""
    evidence: tuple[Record, ...] = ()
    count: int = 1
    last_time: float = 0.0
    details: Mapping[str, object] = field(default_factory=dict)
    workload: str = ""
