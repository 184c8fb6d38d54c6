"""Pydantic models of a raw `Guardrails` document, and its JSON Schema.

Like an intent, a guardrail file is written by hand for microseg alone: a misspelt field
(`requireDigests:`) would silently weaken a rule, so every model forbids unknown fields.
`microseg/schemas/guardrails.schema.json` is generated from these models
(`guardrails_json_schema`) and a test keeps the two equal.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

from microseg.ingest.intent_schema import RawSelector
from microseg.model.guardrails import AUTOMOUNT_ANNOTATION, parse_pss_version
from microseg.model.selectors import label_key_error

__all__ = [
    "GUARDRAILS_KIND",
    "RULE_KINDS",
    "RawGuardrails",
    "RawRule",
    "guardrails_json_schema",
]

GUARDRAILS_KIND = "Guardrails"
_RULE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
_NAMESPACE_GLOB = re.compile(r"^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$")
_RESOURCE = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class RawScope(_Strict):
    namespaces: list[StrictStr] | None = Field(
        None, description="Namespace names or globs (`kube-*`) the rule does not apply to."
    )
    labels: RawSelector | None = Field(
        None,
        description="Objects whose labels (or pod template labels) match are exempt "
        "(matchLabels/matchExpressions, or the {key: value} shorthand).",
    )

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, v: list[str] | None) -> list[str] | None:
        for ns in v or ():
            if not _NAMESPACE_GLOB.fullmatch(ns):
                raise ValueError(
                    f"expected a namespace name or glob (a-z, 0-9, -, *, ?), got {ns!r}"
                )
        return v


class RawPodSecurity(_Strict):
    level: Literal["baseline", "restricted"] = Field(
        description="The Pod Security Standards level (kubernetes.io, Pod Security Standards)."
    )
    version: StrictStr = Field(
        "latest", description="latest (v1.36, the current release) or v1.25 to v1.37."
    )

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        parse_pss_version(v)
        return v


class RawImages(_Strict):
    registries: list[StrictStr] | None = Field(
        None,
        description="Approved registries: a prefix (`registry.example.com/`) or a glob "
        "(`ghcr.io/acme/*`); omitted: any registry.",
    )
    requireDigest: StrictBool = Field(
        False, description="Images must be pinned by @sha256: digest."
    )
    disallowTags: list[StrictStr] = Field(["latest"], description="Tags refused (default: latest).")
    disallowUntagged: StrictBool = Field(
        True, description="Refuse an image with neither tag nor digest (it means :latest)."
    )

    @model_validator(mode="after")
    def _something(self) -> RawImages:
        if self.registries is not None and not self.registries:
            raise ValueError("registries: give at least one, or leave it out for any registry")
        return self


class RawLabels(_Strict):
    required: list[StrictStr] = Field([], description="Label keys every workload's pods carry.")
    segmentationKeys: StrictBool = Field(
        False,
        description="Also require every label key the NetworkPolicies of the workload's "
        "namespace select pods by (read from the cluster snapshot).",
    )

    @field_validator("required")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        for key in v:
            err = label_key_error(key)
            if err:
                raise ValueError(err)
        return v

    @model_validator(mode="after")
    def _something(self) -> RawLabels:
        if not self.required and not self.segmentationKeys:
            raise ValueError("give required label keys, segmentationKeys: true, or both")
        return self


class RawResources(_Strict):
    requests: list[StrictStr] = Field([], description="Resources each container requests.")
    limits: list[StrictStr] = Field([], description="Resources each container limits.")

    @model_validator(mode="after")
    def _names(self) -> RawResources:
        if not self.requests and not self.limits:
            raise ValueError("give requests, limits, or both (e.g. limits: [memory])")
        for name in [*self.requests, *self.limits]:
            if not _RESOURCE.fullmatch(name):
                raise ValueError(f"expected a resource name such as cpu or memory, got {name!r}")
        return self


class RawEmpty(_Strict):
    """No settings."""


class RawToken(_Strict):
    allowAnnotation: StrictStr = Field(
        AUTOMOUNT_ANNOTATION,
        description='The annotation (value "true") that allows mounting the token.',
    )

    @field_validator("allowAnnotation")
    @classmethod
    def _key(cls, v: str) -> str:
        err = label_key_error(v)
        if err:
            raise ValueError(err.replace("label key", "annotation key"))
        return v


class RawIntents(_Strict):
    files: list[StrictStr] = Field(
        min_length=1,
        description="SegmentationIntent files or folders, relative to this file.",
    )


RULE_KINDS = (
    "podSecurity",
    "images",
    "labels",
    "resources",
    "readOnlyRootFilesystem",
    "serviceAccountToken",
    "ingressIsolation",
    "intents",
)


class RawRule(_Strict):
    """A named rule with exactly one check."""

    name: StrictStr = Field(description="Unique in the file: a DNS label (a-z, 0-9, -).")
    mode: Literal["enforce", "warn", "audit"] = Field(
        "enforce", description="enforce rejects, warn admits with a warning, audit records."
    )
    exempt: RawScope | None = None
    podSecurity: RawPodSecurity | None = None
    images: RawImages | None = None
    labels: RawLabels | None = None
    resources: RawResources | None = None
    readOnlyRootFilesystem: RawEmpty | None = None
    serviceAccountToken: RawToken | None = None
    ingressIsolation: RawEmpty | None = None
    intents: RawIntents | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _RULE_NAME.fullmatch(v):
            raise ValueError(f"expected a DNS label (a-z, 0-9, '-', '.'), got {v!r}")
        return v

    @model_validator(mode="after")
    def _one(self) -> RawRule:
        given = [k for k in RULE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a rule has exactly one of {', '.join(RULE_KINDS)}"
                + (f"; got {', '.join(given)}" if given else "")
            )
        return self


class RawSpec(_Strict):
    exempt: RawScope | None = Field(None, description="Exemptions for every rule.")
    rules: list[RawRule] = Field(min_length=1)


class RawMetadata(_Strict):
    name: StrictStr = Field(min_length=1)
    labels: dict[StrictStr, StrictStr] | None = None
    annotations: dict[StrictStr, StrictStr] | None = None


class RawGuardrails(_Strict):
    apiVersion: Literal["microseg.dev/v1alpha1"]
    kind: Literal["Guardrails"]
    metadata: RawMetadata
    spec: RawSpec


def guardrails_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one guardrail document, as shipped in the package."""
    schema = RawGuardrails.model_json_schema(by_alias=True, mode="validation")
    full = schema["$defs"]["RawSelector"]
    schema["$defs"]["RawSelector"] = {
        "description": full.pop("description", ""),
        "anyOf": [
            full,
            {
                "type": "object",
                "description": "matchLabels shorthand: {app: api}",
                "additionalProperties": {"type": "string"},
            },
        ],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://microseg.dev/schemas/v1alpha1/guardrails.json",
        "title": "Guardrails",
        "description": "microseg guardrails: Pod Security Standards, images, labels, resources, "
        "service account tokens and segmentation rules, each enforce|warn|audit "
        "(microseg check --guardrails FILE; microseg webhook serve --guardrails FILE).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
