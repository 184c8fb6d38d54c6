"""Falco alerts from Falco's JSON output (`json_output: true` in falco.yaml): one JSON object
per line with `time` (RFC 3339, nanoseconds), `rule`, `priority`, `source` (`syscall`, or a
plugin's source such as `k8s_audit`), `hostname`, `output` (the formatted text), `tags`
and `output_fields`, the rule's output fields by their Falco names
(https://falco.org/docs/concepts/outputs/formatting/,
https://falco.org/docs/reference/rules/supported-fields/). Fields a configuration leaves
out (`json_include_output_property`, `json_include_tags_property: false`) are read as
empty; `rule` and `time` are always written, so a line without them is refused.

The pod is `k8s.ns.name`/`k8s.pod.name` (syscall rules, filled from the container
runtime's metadata), or `ka.target.namespace`/`ka.target.name` for a `pods` target of the
k8saudit plugin's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from microseg.ingest.events.lines import Line, Parsed, decode_error, epoch, record
from microseg.model.events import EventSource, FalcoEvent, Reject

__all__ = ["parse_falco"]


class _Falco(msgspec.Struct):
    rule: str
    time: datetime
    priority: str = ""
    source: str = "syscall"
    hostname: str = ""
    output: str = ""
    tags: list[str] = msgspec.field(default_factory=list)
    output_fields: dict[str, Any] = msgspec.field(default_factory=dict)


_DECODER = msgspec.json.Decoder(_Falco)


def _text(fields: dict[str, Any], *names: str) -> str:
    for name in names:
        value = fields.get(name)
        if value is not None and value != "<NA>":
            return str(value)
    return ""


def parse_falco(lines: Iterable[Line]) -> Parsed[FalcoEvent]:
    out: Parsed[FalcoEvent] = Parsed()
    decode = _DECODER.decode
    for line in lines:
        if not line.data.strip():
            out.blank += 1
            continue
        rec = record(EventSource.FALCO, line)
        try:
            raw = decode(line.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reason = decode_error(exc, line)
            if reason.startswith("(the record): object missing"):
                reason = "not a Falco alert (no rule or time)"
            out.rejects.append(Reject(rec, reason))
            continue
        f = raw.output_fields
        namespace = _text(f, "k8s.ns.name")
        pod = _text(f, "k8s.pod.name")
        if not pod and _text(f, "ka.target.resource") == "pods":
            namespace = namespace or _text(f, "ka.target.namespace")
            pod = _text(f, "ka.target.name")
        out.events.append(
            FalcoEvent(
                epoch(raw.time),
                raw.rule,
                raw.priority,
                raw.source,
                raw.hostname,
                tuple(raw.tags),
                namespace,
                pod,
                _text(f, "container.id"),
                _text(f, "proc.cmdline"),
                _text(f, "proc.name"),
                _text(f, "user.name", "ka.user.name"),
                raw.output,
                rec,
            )
        )
    return out
