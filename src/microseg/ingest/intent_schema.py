"""Pydantic models of a raw `SegmentationIntent` document.

Unlike Kubernetes objects, where unknown fields are ignored as the API server prunes them,
an intent is written by hand for microseg alone: a misspelt field (`alow:`) would silently
weaken a check, so every model forbids unknown fields. The JSON Schema shipped in
`microseg/schemas/intent.schema.json` is generated from these models (`intent_json_schema`)
and a test keeps the two equal.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from microseg.ingest.k8s_schema import RawRequirement, check_cidr
from microseg.model.intent import parse_intent_port
from microseg.model.selectors import label_key_error, label_value_error

__all__ = [
    "INTENT_API_VERSION",
    "INTENT_KIND",
    "RawBlast",
    "RawFlow",
    "RawGroup",
    "RawIntent",
    "RawSelector",
    "intent_json_schema",
]

INTENT_API_VERSION = "microseg.dev/v1alpha1"
INTENT_KIND = "SegmentationIntent"
_GROUP_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_WORKLOAD = re.compile(r"^[^/\s\[\]]+/[^/\s\[\]]+(\[[A-Za-z]+\])?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class RawStrictRequirement(RawRequirement):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class RawSelector(_Strict):
    """A label selector. The shorthand `{app: api}` means `{matchLabels: {app: api}}`."""

    matchLabels: dict[StrictStr, StrictStr] | None = None
    matchExpressions: list[RawStrictRequirement] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and not set(data) <= {"matchLabels", "matchExpressions"}:
            return {"matchLabels": data}
        return data

    @field_validator("matchLabels")
    @classmethod
    def _labels(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (v or {}).items():
            err = label_key_error(key) or label_value_error(value)
            if err:
                raise ValueError(err)
        return v


GroupName = Annotated[StrictStr, Field(description="The name of a group (or a built-in group).")]
PortText = Annotated[
    StrictStr | StrictInt,
    Field(description="TCP/8080, UDP/53, TCP/8000-8080, TCP/http (named) or a bare TCP number."),
]


class RawGroup(_Strict):
    """Exactly one form: `workload`; pods by `namespace`/`namespaceSelector`/`selector`; or
    `cidr`."""

    workload: StrictStr | None = Field(None, description="One workload: ns/name or ns/name[Kind].")
    namespace: StrictStr | None = Field(None, description="Pods of this namespace.")
    namespaceSelector: RawSelector | None = Field(
        None, description="Pods of every namespace whose labels match."
    )
    selector: RawSelector | None = Field(
        None,
        description="Pods whose labels match (within namespace/namespaceSelector if given, "
        "else in every namespace).",
    )
    cidr: list[StrictStr] | None = Field(None, description="External addresses (CIDRs).")

    @field_validator("workload")
    @classmethod
    def _workload(cls, v: str | None) -> str | None:
        if v is not None and not _WORKLOAD.fullmatch(v):
            raise ValueError(f"expected ns/name or ns/name[Kind], got {v!r}")
        return v

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("expected at least one CIDR")
            for c in v:
                check_cidr(c)
        return v

    @model_validator(mode="after")
    def _one_form(self) -> RawGroup:
        pods = (
            self.namespace is not None
            or self.namespaceSelector is not None
            or self.selector is not None
        )
        forms = [self.workload is not None, pods, self.cidr is not None]
        if sum(forms) != 1:
            raise ValueError(
                "a group needs exactly one of: workload; namespace/namespaceSelector/selector; cidr"
            )
        if self.namespace is not None and self.namespaceSelector is not None:
            raise ValueError("give namespace or namespaceSelector, not both")
        return self


class RawFlow(_Strict):
    from_: GroupName = Field(alias="from")
    to: GroupName
    ports: list[PortText] | None = Field(
        None, description="Connections; omitted means every protocol and port."
    )

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[str | int] | None) -> list[str | int] | None:
        if v is not None:
            if not v:
                raise ValueError("expected at least one port, or leave ports out for all")
            for p in v:
                parse_intent_port(str(p))
        return v


class RawDomain(_Strict):
    name: StrictStr
    members: list[GroupName] = Field(min_length=1)
    isolation: Literal["strict"] = "strict"


class RawBlast(_Strict):
    from_: GroupName = Field(alias="from")
    hops: StrictInt = Field(ge=1, le=64)
    atMost: StrictInt = Field(ge=0)


class RawExpect(_Strict):
    defaultDeny: list[GroupName] | None = Field(
        None, description="Groups whose pods are isolated for ingress and egress."
    )
    noInternetEgress: list[GroupName] | None = Field(
        None, description="Groups that reach no public address."
    )
    maxBlastRadius: RawBlast | list[RawBlast] | None = Field(
        None, description="Workloads reachable from a group within some hops, at most."
    )


class RawSpec(_Strict):
    groups: dict[StrictStr, RawGroup] | None = None
    allow: list[RawFlow] | None = None
    deny: list[RawFlow] | None = None
    domains: list[RawDomain] | None = None
    expect: RawExpect | None = None

    @field_validator("groups")
    @classmethod
    def _names(cls, v: dict[str, RawGroup] | None) -> dict[str, RawGroup] | None:
        for name in v or {}:
            if not _GROUP_NAME.fullmatch(name):
                raise ValueError(
                    f"invalid group name {name!r}: expected letters, digits, '-', '_' and '.'"
                )
        return v


class RawIntentMetadata(_Strict):
    name: StrictStr = Field(min_length=1)
    labels: dict[StrictStr, StrictStr] | None = None
    annotations: dict[StrictStr, StrictStr] | None = None


class RawIntent(_Strict):
    apiVersion: Literal["microseg.dev/v1alpha1"]
    kind: Literal["SegmentationIntent"]
    metadata: RawIntentMetadata
    spec: RawSpec


def intent_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one intent document, as shipped in the package."""
    schema = RawIntent.model_json_schema(by_alias=True, mode="validation")
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
        "$id": "https://microseg.dev/schemas/v1alpha1/segmentation-intent.json",
        "title": "SegmentationIntent",
        "description": "A microseg segmentation intent: groups, flows that must be allowed or "
        "denied, strict domains and expectations (microseg verify --intents FILE).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
