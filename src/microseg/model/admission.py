"""One object under review: what `microseg check` reads from a manifest and what the webhook
reads from an AdmissionReview (admission.k8s.io/v1 AdmissionRequest), in one form, so that
the two go through the same `review` (analyses/guardrails/review.py).

`object` is the new state (None on DELETE), `old_object` the old one (UPDATE and DELETE, as
the API server sends them). Objects are read into the model types the rules need: a Pod or
pod template (`WorkloadObject`), a NetworkPolicy, a guardrail-tier policy (`AdminPolicy`),
a Namespace; any other kind is an `OtherObject`, which only exemptions look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.admin import AdminPolicy
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import NetworkPolicy
from microseg.model.objects import Namespace
from microseg.model.podspec import WorkloadObject

__all__ = ["AdmittedObject", "Operation", "OtherObject", "ReviewRequest", "object_labels"]


class Operation(Enum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


@dataclass(frozen=True, slots=True)
class OtherObject:
    kind: str
    namespace: str
    name: str
    labels: FrozenLabels = field(default_factory=FrozenLabels)


AdmittedObject = WorkloadObject | NetworkPolicy | AdminPolicy | Namespace | OtherObject


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    uid: str
    operation: Operation
    kind: str
    namespace: str
    name: str
    object: AdmittedObject | None = None
    old_object: AdmittedObject | None = None
    dry_run: bool = False
    group: str = ""
    subresource: str = ""
    """`status`, `scale`, `ephemeralcontainers`, ...; only the last changes what runs."""
    origin: Origin = field(default=Origin(), compare=False)
    """Where the object was read from (a manifest's file and document), for `check`."""


def object_labels(obj: AdmittedObject | None) -> tuple[FrozenLabels, ...]:
    """The label sets exemptions match: a workload's own and its pods' (either may match)."""
    if isinstance(obj, WorkloadObject):
        return (obj.labels, obj.pod.labels)
    if isinstance(obj, Namespace | OtherObject):
        return (obj.labels,)
    return ()
