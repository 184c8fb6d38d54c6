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

import msgspec

from microseg.ingest.events.lines import Line, Parsed, decode_error, epoch, record
from microseg.model.events import EventSource, FalcoEvent, Reject

__all__ = ["parse_falco"]


_FIELDS = {
    "ns": "k8s.ns.name",
    "pod": "k8s.pod.name",
    "container": "container.id",
    "cmdline": "proc.cmdline",
    "process": "proc.name",
    "user": "user.name",
    "ka_user": "ka.user.name",
    "ka_resource": "ka.target.resource",
    "ka_namespace": "ka.target.namespace",
    "ka_name": "ka.target.name",
}


class _Fields(msgspec.Struct, rename=_FIELDS):
    """Only the output fields read; the others are skipped by the decoder, never built."""

    ns: str | None = None
    pod: str | None = None
    container: str | None = None
    cmdline: str | None = None
    process: str | None = None
    user: str | None = None
    ka_user: str | None = None
    ka_resource: str | None = None
    ka_namespace: str | None = None
    ka_name: str | None = None


class _Falco(msgspec.Struct):
    rule: str
    time: datetime
    priority: str = ""
    source: str = "syscall"
    hostname: str = ""
    output: str = ""
    tags: list[str] = msgspec.field(default_factory=list)
    output_fields: _Fields = msgspec.field(default_factory=_Fields)


_DECODER = msgspec.json.Decoder(_Falco)


def _text(*values: str | None) -> str:
    """The first value Falco filled (`<NA>` is its word for a field without a value)."""
    for value in values:
        if value is not None and value != "<NA>":
            return value
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
        namespace = _text(f.ns)
        pod = _text(f.pod)
        if not pod and f.ka_resource == "pods":
            namespace = namespace or _text(f.ka_namespace)
            pod = _text(f.ka_name)
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
                _text(f.container),
                _text(f.cmdline),
                _text(f.process),
                _text(f.user, f.ka_user),
                raw.output,
                rec,
            )
        )
    return out
