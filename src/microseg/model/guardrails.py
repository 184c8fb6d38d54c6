"""A guardrail file (`kind: Guardrails`), validated and frozen: the rules `microseg check` and
the admission webhook enforce.

Each rule has a name, one check, a mode and exemptions:
- modes (as Pod Security Admission names them): `enforce` rejects (webhook: `allowed:
  false`; check: exit 1), `warn` admits with a warning (webhook: `warnings`; check: a
  warning, exit 0), `audit` admits and records (webhook: `auditAnnotations`; check: a
  notice);
- exemptions: namespaces (names or globs) and a label selector on the object (or its pod
  template); the file's top-level `exempt` applies to every rule.

`microseg.ingest.guardrails` builds this from YAML with located errors (MS600-MS619); the
checks are in `microseg.analyses.guardrails`. Not to be confused with the guardrail *tiers*
(AdminNetworkPolicy, model/admin.py), which are policies the engine evaluates; segmentation
rules here reach those through the engine like any other policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.intent import IntentSet
from microseg.model.selectors import LabelSelector

__all__ = [
    "AUTOMOUNT_ANNOTATION",
    "GuardrailSet",
    "ImageRule",
    "IngressIsolationRule",
    "IntentsRule",
    "LabelsRule",
    "Mode",
    "PodSecurityRule",
    "ReadOnlyRootRule",
    "ResourcesRule",
    "Rule",
    "RuleCheck",
    "Scope",
    "ServiceAccountTokenRule",
    "parse_pss_version",
]

AUTOMOUNT_ANNOTATION = "microseg.dev/automount-service-account-token"

# Pod Security Standards versions (analyses/guardrails/pss.py): v1.25 (Pod Security
# Admission GA) to v1.37; `latest` is the current release.
PSS_OLDEST = (1, 25)
PSS_LATEST = (1, 36)
PSS_NEWEST = (1, 37)


def parse_pss_version(text: str) -> tuple[int, int]:
    """`latest` or `v1.N` (v1.25 to v1.37); raises ValueError saying what is accepted."""
    if text == "latest":
        return PSS_LATEST
    head, _, minor = text.removeprefix("v").partition(".")
    if head == "1" and minor.isascii() and minor.isdigit():
        v = (1, int(minor))
        if PSS_OLDEST <= v <= PSS_NEWEST:
            return v
    raise ValueError(
        f"expected latest or a version v1.{PSS_OLDEST[1]} to v1.{PSS_NEWEST[1]}, got {text!r}"
    )


class Mode(Enum):
    ENFORCE = "enforce"
    WARN = "warn"
    AUDIT = "audit"


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a rule does not apply to: namespaces by name or glob (`kube-*`), objects whose
    labels (or pod template labels) match `labels`."""

    namespaces: tuple[str, ...] = ()
    labels: LabelSelector | None = None


@dataclass(frozen=True, slots=True)
class PodSecurityRule:
    """A Pod Security Standards level at a version (`(1, 36)`; analyses/guardrails/pss.py)."""

    level: str
    version: tuple[int, int]


@dataclass(frozen=True, slots=True)
class ImageRule:
    """Images from approved registries only: each entry a prefix (`registry.example.com/`)
    or a glob (`ghcr.io/acme/*`); optionally a digest; tags that are refused."""

    registries: tuple[str, ...] = ()
    require_digest: bool = False
    disallowed_tags: tuple[str, ...] = ("latest",)
    disallow_untagged: bool = True


@dataclass(frozen=True, slots=True)
class LabelsRule:
    """Labels every workload's pods must carry; `segmentation_keys`: also every label key
    the NetworkPolicies of its namespace select pods by (in the cluster snapshot)."""

    required: tuple[str, ...] = ()
    segmentation_keys: bool = False


@dataclass(frozen=True, slots=True)
class ResourcesRule:
    """Resource names each container must request and limit (`cpu`, `memory`, ...)."""

    requests: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadOnlyRootRule:
    """Every container sets `securityContext.readOnlyRootFilesystem: true`."""


@dataclass(frozen=True, slots=True)
class ServiceAccountTokenRule:
    """Pods set `automountServiceAccountToken: false`, unless annotated `annotation: "true"`
    (on the object or its pod template), which records why the token is needed."""

    annotation: str = AUTOMOUNT_ANNOTATION


@dataclass(frozen=True, slots=True)
class IngressIsolationRule:
    """A new workload must be isolated for ingress by some NetworkPolicy (its own or its
    namespace's default deny) in the cluster snapshot."""


@dataclass(frozen=True, slots=True)
class IntentsRule:
    """Segmentation intents a policy change must not break: a change that makes a `deny`
    reachable, widens an `allow` beyond its ports, or breaks another intent that held."""

    intents: IntentSet
    files: tuple[str, ...] = ()


RuleCheck = (
    PodSecurityRule
    | ImageRule
    | LabelsRule
    | ResourcesRule
    | ReadOnlyRootRule
    | ServiceAccountTokenRule
    | IngressIsolationRule
    | IntentsRule
)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    check: RuleCheck
    mode: Mode = Mode.ENFORCE
    exempt: Scope = field(default_factory=Scope)
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def kind(self) -> str:
        """The rule's kind as the guardrail file spells it (`podSecurity`, `images`, ...)."""
        return _KINDS[type(self.check)]

    @property
    def segmentation(self) -> bool:
        return isinstance(self.check, IngressIsolationRule | IntentsRule)


_KINDS: dict[type, str] = {
    PodSecurityRule: "podSecurity",
    ImageRule: "images",
    LabelsRule: "labels",
    ResourcesRule: "resources",
    ReadOnlyRootRule: "readOnlyRootFilesystem",
    ServiceAccountTokenRule: "serviceAccountToken",
    IngressIsolationRule: "ingressIsolation",
    IntentsRule: "intents",
}


@dataclass(frozen=True, slots=True)
class GuardrailSet:
    """Every rule of the guardrail files given, in order; `exempt` applies to all."""

    rules: tuple[Rule, ...] = ()
    exempt: Scope = field(default_factory=Scope)
    files: tuple[str, ...] = ()

    @property
    def needs_snapshot(self) -> bool:
        """Whether some rule reads the cluster: segmentation, or labels from policies."""
        return any(
            r.segmentation or (isinstance(r.check, LabelsRule) and r.check.segmentation_keys)
            for r in self.rules
        )
