"""Kubernetes audit events to alerts.

Each request is judged once: at its first stage after RequestReceived (ResponseStarted for
exec, attach and port-forward, whose ResponseComplete only comes when the session ends;
ResponseComplete or Panic for the rest). Later stages of a judged request (same auditID)
and RequestReceived are ignored with that reason
(https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy, stages).

Detections (https://kubernetes.io/docs/reference/access-authn-authz/rbac/ for the verbs):
- `api-forbidden`: at least `audit.forbidden` requests of one user refused (HTTP 403, or the
  `authorization.k8s.io/decision: forbid` annotation) within the window: someone probing
  what a credential may do (T1613, Container and Resource Discovery).
- `pod-exec`: a command run in a pod through the API (`pods/exec`, `pods/attach`, an
  ephemeral debug container) and allowed (T1609, Container Administration Command); the
  pod is the one to quarantine.
- `secret-read`: a service account reads Secrets (`get`, `list`, `watch` on `secrets`),
  allowed, and not one of the `ignore_accounts` (kube-system's controllers by default)
  (T1552.007, Unsecured Credentials: Container API).
- `rbac-escalation`: a Role or ClusterRole created or changed to grant `escalate`, `bind`,
  `impersonate` or `*`, or a binding to `cluster-admin`, `admin` or `edit`
  (T1098.006, Additional Container Cluster Roles). Without the request body (audit level
  Metadata) a change to a role or binding is a low-severity alert saying so.

The pod behind a service account's request is the API server's record of it
(`user.extra`, bound tokens); without it the alert names the service account.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from microseg.analyses.runtime.book import AlertBook, Hit
from microseg.analyses.runtime.config import Thresholds
from microseg.analyses.runtime.techniques import technique
from microseg.analyses.runtime.windows import Window
from microseg.model.events import Alert, AuditEvent, Record, Severity

__all__ = ["AuditDetector"]

_EXEC = frozenset({"exec", "attach", "ephemeralcontainers"})
_READ = frozenset({"get", "list", "watch"})
_WRITE = frozenset({"create", "update", "patch"})
_DANGEROUS = frozenset({"escalate", "bind", "impersonate", "*"})
_POWERFUL_ROLES = frozenset({"cluster-admin", "admin", "edit"})
_SEEN = 200_000


def _ok(e: AuditEvent) -> bool:
    return 0 < e.code < 400 and e.decision != "forbid"


def _forbidden(e: AuditEvent) -> bool:
    return e.code == 403 or e.decision == "forbid"


class AuditDetector:
    def __init__(
        self,
        book: AlertBook,
        thresholds: Thresholds,
        ignore_accounts: tuple[str, ...] = ("kube-system",),
    ) -> None:
        self.book = book
        self.ignore_accounts = frozenset(ignore_accounts)
        self.window = Window(thresholds.window, thresholds.audit_forbidden, thresholds.lateness)
        self._judged: OrderedDict[str, None] = OrderedDict()
        self._users: dict[str, int] = {}
        self._names: list[str] = []
        self.newest = float("-inf")

    def _first_judgement(self, e: AuditEvent) -> str:
        """'' when this event judges its request, else why not."""
        if e.stage == "RequestReceived":
            return "stage RequestReceived (the request is judged at a later stage)"
        if not e.audit_id:
            return ""
        if e.audit_id in self._judged:
            return "a later stage of a request already judged (same auditID)"
        self._judged[e.audit_id] = None
        if len(self._judged) > _SEEN:
            self._judged.popitem(last=False)
        return ""

    def _hit(self, e: AuditEvent, name: str, title: str, severity: Severity, tech: str) -> Hit:
        namespace, pod = e.pod if e.pod is not None else ("", "")
        subject = e.username
        if name == "pod-exec":
            namespace, pod, subject = e.namespace, e.name, ""
        details: tuple[tuple[str, object], ...] = (
            ("user", e.username),
            ("verb", e.verb),
            ("resource", "/".join(x for x in (e.resource, e.subresource) if x)),
            ("object", "/".join(x for x in (e.namespace, e.name) if x)),
            ("code", e.code),
        )
        target = f"{namespace}/{pod}" if pod else subject
        return Hit(
            ("audit", name, target, e.name if name == "rbac-escalation" else ""),
            "audit",
            name,
            title,
            severity,
            technique(tech),
            e.time,
            (e.record,),
            "audit",
            namespace=namespace,
            pod=pod,
            subject=subject if not pod else "",
            details=details,
        )

    def _classify(self, e: AuditEvent) -> Hit | None:
        sa = e.service_account
        if e.resource == "pods" and e.subresource in _EXEC and _ok(e):
            who = "a service account" if sa else "a user"
            return self._hit(
                e,
                "pod-exec",
                f"{who} ran a command in a pod through the API (pods/{e.subresource})",
                Severity.HIGH if sa else Severity.MEDIUM,
                "T1609",
            )
        if e.resource == "secrets" and e.verb in _READ and _ok(e) and sa is not None:
            if sa[0] in self.ignore_accounts:
                return None
            wide = e.verb != "get" or not e.name
            return self._hit(
                e,
                "secret-read",
                f"a service account read Secrets ({e.verb})",
                Severity.HIGH if wide else Severity.MEDIUM,
                "T1552.007",
            )
        if e.resource in ("roles", "clusterroles") and e.verb in _WRITE and _ok(e):
            granted = sorted(set(e.rule_verbs) & _DANGEROUS)
            if granted:
                return self._hit(
                    e,
                    "rbac-escalation",
                    f"a {e.resource[:-1]} now grants {', '.join(granted)}",
                    Severity.HIGH,
                    "T1098.006",
                )
            if not e.has_body:
                return self._hit(
                    e,
                    "rbac-escalation",
                    f"a {e.resource[:-1]} changed (the audit level logged no body: what it grants is unknown)",
                    Severity.LOW,
                    "T1098.006",
                )
            return None
        if e.resource in ("rolebindings", "clusterrolebindings") and e.verb in _WRITE and _ok(e):
            if e.role_ref in _POWERFUL_ROLES:
                return self._hit(
                    e,
                    "rbac-escalation",
                    f"a {e.resource[:-1]} grants {e.role_ref}",
                    Severity.HIGH,
                    "T1098.006",
                )
            if not e.has_body:
                return self._hit(
                    e,
                    "rbac-escalation",
                    f"a {e.resource[:-1]} changed (the audit level logged no body: its role is unknown)",
                    Severity.LOW,
                    "T1098.006",
                )
        return None

    def _user(self, name: str) -> int:
        got = self._users.get(name)
        if got is None:
            got = self._users[name] = len(self._names)
            self._names.append(name)
        return got

    def feed(self, events: Sequence[AuditEvent]) -> list[Alert]:
        tally = self.book.tally
        tally.events["audit"] += len(events)
        out: list[Alert] = []
        denied: list[AuditEvent] = []
        for e in events:
            if e.time < self.newest:
                tally.out_of_order["audit"] += 1
            else:
                self.newest = e.time
            why = self._first_judgement(e)
            if why:
                tally.ignore("audit", why)
                continue
            hit = self._classify(e)
            if hit is not None:
                alert = self.book.account(hit)
                if alert is not None:
                    out.append(alert)
            elif _forbidden(e):
                denied.append(e)
            else:
                tally.ignore("audit", "no detection")
        out.extend(self._forbidden(denied))
        return out

    def _forbidden(self, denied: list[AuditEvent]) -> list[Alert]:
        tally = self.book.tally
        out: list[Alert] = []
        fresh: list[AuditEvent] = []
        for e in denied:
            key = ("audit", "api-forbidden", e.username, "")
            if self.book.current(key, e.time) is not None:
                self.book.account(self._forbidden_hit(e, 1))
            else:
                fresh.append(e)
        if not fresh:
            return out
        keys = np.array([self._user(e.username) for e in fresh], dtype=np.int64)
        times = np.array([round(e.time * 1000) for e in fresh], dtype=np.int64)
        late = self.window.late(times)
        tally.ignore("audit", "too late for its window (lateness)", int(late.sum()))
        fired = self.window.feed(keys, self.window.serial(len(fresh)), times)
        firing = set(fired.rows.tolist())
        for row, count in zip(fired.rows.tolist(), fired.counts.tolist(), strict=True):
            hit = self._forbidden_hit(fresh[row], int(count), fresh)
            alert = self.book.account(hit)
            if alert is not None:
                out.append(alert)
        self.window.forget(fired.keys)
        rest = len(fresh) - int(late.sum()) - len(firing)
        tally.ignore("audit", "refused request, below audit.forbidden in its window", rest)
        return out

    def _forbidden_hit(
        self, e: AuditEvent, count: int, batch: list[AuditEvent] | None = None
    ) -> Hit:
        records: tuple[Record, ...] = (e.record,)
        if batch is not None:
            records += tuple(x.record for x in batch if x.username == e.username and x is not e)
        sa = e.service_account
        hit = self._hit(
            e,
            "api-forbidden",
            f"{count} API requests refused (403) within the window"
            if batch is not None
            else "API request refused (403)",
            Severity.HIGH if sa else Severity.MEDIUM,
            "T1613",
        )
        return Hit(
            ("audit", "api-forbidden", e.username, ""),
            hit.detector,
            hit.rule,
            hit.title,
            hit.severity,
            hit.technique,
            hit.time,
            records,
            "audit",
            1,
            hit.namespace,
            hit.pod,
            e.username,
            (*hit.details, ("refused", count)),
        )
