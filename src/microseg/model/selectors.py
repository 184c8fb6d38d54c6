"""Kubernetes label selector semantics (apimachinery `LabelSelector`).

The requirements of a selector are ANDed; an empty selector matches everything; `None`
(an absent selector) is handled by the caller, because its meaning depends on the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

__all__ = [
    "LabelSelector",
    "Labels",
    "Operator",
    "Requirement",
    "label_key_error",
    "label_value_error",
]

Labels = Mapping[str, str]

_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


# Memoised: a cluster repeats the same label keys and values on thousands of pods.
@lru_cache(maxsize=1 << 16)
def label_key_error(key: str) -> str | None:
    """Why `key` is not a valid label key (apimachinery IsQualifiedName), or None."""
    prefix, sep, name = key.rpartition("/")
    if sep and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return f"invalid label key {key!r}: prefix must be a DNS subdomain"
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        return (
            f"invalid label key {key!r}: name must be 1-63 characters of [A-Za-z0-9-_.], "
            "beginning and ending with an alphanumeric character"
        )
    return None


@lru_cache(maxsize=1 << 16)
def label_value_error(value: str) -> str | None:
    """Why `value` is not a valid label value, or None. The empty value is valid."""
    if value == "":
        return None
    if len(value) > 63 or not _NAME.fullmatch(value):
        return (
            f"invalid label value {value!r}: must be at most 63 characters of [A-Za-z0-9-_.], "
            "beginning and ending with an alphanumeric character"
        )
    return None


class Operator(Enum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Labels) -> bool:
        present = self.key in labels
        if self.operator is Operator.IN:
            return present and labels[self.key] in self.values
        if self.operator is Operator.NOT_IN:
            return not present or labels[self.key] not in self.values
        if self.operator is Operator.EXISTS:
            return present
        return not present


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """matchLabels are folded into `In` requirements with one value: one form to evaluate."""

    requirements: tuple[Requirement, ...] = ()

    @staticmethod
    def everything() -> LabelSelector:
        return LabelSelector()

    @staticmethod
    def from_labels(labels: Labels) -> LabelSelector:
        return LabelSelector(
            tuple(Requirement(k, Operator.IN, frozenset([v])) for k, v in sorted(labels.items()))
        )

    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Labels) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        if not self.requirements:
            return "{}"
        parts = []
        for r in self.requirements:
            if r.operator is Operator.IN and len(r.values) == 1:
                parts.append(f"{r.key}={next(iter(r.values))}")
            elif r.operator in (Operator.IN, Operator.NOT_IN):
                op = "in" if r.operator is Operator.IN else "notin"
                parts.append(f"{r.key} {op} ({','.join(sorted(r.values))})")
            elif r.operator is Operator.EXISTS:
                parts.append(r.key)
            else:
                parts.append(f"!{r.key}")
        return ",".join(parts)
