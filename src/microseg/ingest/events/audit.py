"""Kubernetes audit events: the API server's log backend writes one `audit.k8s.io/v1`
Event per line (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/; the type:
https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/#audit-k8s-io-v1-Event).

One request gives up to four events, one per stage: RequestReceived, ResponseStarted (long
requests only: watches, exec, attach, port-forward), ResponseComplete, Panic. All are read
here; the detectors judge each request once (analyses/runtime/audit.py).

The caller's pod comes from `user.extra["authentication.kubernetes.io/pod-name"]`, which
the API server records for bound service-account tokens (Kubernetes 1.30+,
ServiceAccountTokenPodNodeInfo). A Role or ClusterRole body (`requestObject`, logged at
level Request or RequestResponse) is read only for the RBAC kinds, for the verbs it grants;
msgspec leaves every other body undecoded (`msgspec.Raw`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from microseg.ingest.events.lines import Line, Parsed, decode_error, epoch, record
from microseg.model.events import AuditEvent, EventSource, Reject

__all__ = ["parse_audit"]

_RBAC = frozenset({"roles", "clusterroles", "rolebindings", "clusterrolebindings"})
_POD_NAME = "authentication.kubernetes.io/pod-name"


class _User(msgspec.Struct):
    username: str = ""
    groups: list[str] = msgspec.field(default_factory=list)
    extra: dict[str, list[str]] = msgspec.field(default_factory=dict)


class _Ref(msgspec.Struct):
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    apiGroup: str = ""


class _Status(msgspec.Struct):
    code: int = 0


class _Event(msgspec.Struct):
    kind: str = ""
    apiVersion: str = ""
    auditID: str = ""
    stage: str = ""
    verb: str = ""
    user: _User = msgspec.field(default_factory=_User)
    sourceIPs: list[str] = msgspec.field(default_factory=list)
    objectRef: _Ref | None = None
    responseStatus: _Status | None = None
    requestReceivedTimestamp: datetime | None = None
    stageTimestamp: datetime | None = None
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    requestObject: msgspec.Raw = msgspec.Raw()


class _Rule(msgspec.Struct):
    verbs: list[str] = msgspec.field(default_factory=list)


class _RoleRef(msgspec.Struct):
    name: str = ""
    kind: str = ""


class _Body(msgspec.Struct):
    rules: list[_Rule] = msgspec.field(default_factory=list)
    roleRef: _RoleRef | None = None


_DECODER = msgspec.json.Decoder(_Event)
_BODY = msgspec.json.Decoder(_Body)


def _body(raw: msgspec.Raw) -> tuple[tuple[str, ...], str, bool]:
    if not len(raw) or bytes(raw).strip() == b"null":
        return (), "", False
    try:
        body = _BODY.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return (), "", True  # a patch body (a list of operations, a string): not a Role
    verbs = sorted({v for r in body.rules for v in r.verbs})
    return tuple(verbs), body.roleRef.name if body.roleRef is not None else "", True


def _pod(user: _User, namespace_of_sa: str) -> tuple[str, str] | None:
    names = user.extra.get(_POD_NAME) or []
    if names and namespace_of_sa:
        return namespace_of_sa, names[0]
    return None


def parse_audit(lines: Iterable[Line]) -> Parsed[AuditEvent]:
    out: Parsed[AuditEvent] = Parsed()
    decode = _DECODER.decode
    for line in lines:
        if not line.data.strip():
            out.blank += 1
            continue
        rec = record(EventSource.AUDIT, line)
        try:
            raw = decode(line.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            out.rejects.append(Reject(rec, decode_error(exc, line)))
            continue
        if raw.kind != "Event" or not raw.apiVersion.startswith("audit.k8s.io/"):
            what = f"{raw.apiVersion or '?'} {raw.kind or '?'}"
            out.rejects.append(Reject(rec, f"not an audit.k8s.io Event ({what})"))
            continue
        when = raw.stageTimestamp or raw.requestReceivedTimestamp
        if when is None:
            out.rejects.append(Reject(rec, "no stageTimestamp or requestReceivedTimestamp"))
            continue
        ref = raw.objectRef or _Ref()
        verbs, role_ref, has_body = (
            _body(raw.requestObject) if ref.resource in _RBAC else ((), "", False)
        )
        parts = raw.user.username.split(":")
        sa_ns = parts[2] if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"] else ""
        out.events.append(
            AuditEvent(
                epoch(when),
                raw.auditID,
                raw.stage,
                raw.verb,
                raw.user.username,
                tuple(raw.user.groups),
                _pod(raw.user, sa_ns),
                tuple(raw.sourceIPs),
                ref.resource,
                ref.subresource,
                ref.namespace,
                ref.name,
                ref.apiGroup,
                raw.responseStatus.code if raw.responseStatus is not None else 0,
                raw.annotations.get("authorization.k8s.io/decision", ""),
                raw.annotations.get("authorization.k8s.io/reason", ""),
                verbs,
                role_ref,
                has_body,
                rec,
            )
        )
    return out
