"""The detectors' thresholds: documented defaults, each settable by name
(`microseg watch --threshold scan.ports=30`).

Defaults and where they come from:
- `window` (60 s): the sliding window every rate detector counts over.
- `scan.ports` (50): distinct destination ports one source tries within the window: a port
  scan (the issue's figure; Zeek's scan policy, policy/misc/scan.zeek, uses 15 ports on one
  host in 5 minutes, a looser test that fits its longer window).
- `scan.sensitive` (5): distinct *sensitive* ports (`SENSITIVE_PORTS`: remote shells,
  container and cluster control planes, databases) one source tries within the window.
- `sweep.hosts` (25): distinct destinations one source tries on one port within the window:
  a sweep (Zeek's address-scan threshold, 25 hosts).
- `denied.count` (20): flows of one source the network denied or dropped within the window.
- `audit.forbidden` (10): requests of one user the API server refused (403) within the window.
- `dedupe` (300 s): an alert's duplicates (same detector, rule and subject) merge into it
  while they keep coming within this time of its last event.
- `rate.alerts` (60) and `rate.subject` (20): new alerts per minute at most, overall and per
  subject (a pod, an address, a user); more are counted as rate-limited, never printed.
- `evidence` (5): source records kept per alert.
- `lateness` (300 s): a window detector ignores events older than the newest one it has
  seen by more than this (counted as too late).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["SENSITIVE_PORTS", "Thresholds"]

# Ports whose probing says more than their number: SSH, Telnet, SMB, RDP, the Docker API,
# etcd, the kube-apiserver, the kubelet (read-write and read-only), and common databases
# (MySQL, PostgreSQL, Redis, MongoDB, Elasticsearch, MS SQL). IANA's registry names them;
# the Kubernetes "Ports and Protocols" page lists the control-plane ones.
SENSITIVE_PORTS = frozenset(
    {
        22,
        23,
        445,
        3389,
        2375,
        2376,
        2379,
        2380,
        6443,
        10250,
        10255,
        3306,
        5432,
        6379,
        27017,
        9200,
        1433,
    }
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    window: float = 60.0
    scan_ports: int = 50
    scan_sensitive: int = 5
    sweep_hosts: int = 25
    denied_count: int = 20
    audit_forbidden: int = 10
    dedupe: float = 300.0
    rate_alerts: int = 60
    rate_subject: int = 20
    evidence: int = 5
    lateness: float = 300.0

    @staticmethod
    def names() -> tuple[str, ...]:
        return tuple(f.name.replace("_", ".", 1) for f in fields(Thresholds))

    def set(self, text: str) -> Thresholds:
        """`name=value` (`scan.ports=30`); raises ValueError with what was expected."""
        name, sep, value = text.partition("=")
        key = name.strip().replace(".", "_")
        known = {f.name: f for f in fields(self)}
        if not sep or key not in known:
            raise ValueError(
                f"{text!r}: expected NAME=VALUE, NAME one of {', '.join(self.names())}"
            )
        kind = known[key].type
        try:
            parsed: float | int = float(value) if kind in ("float", float) else int(value)
        except ValueError:
            raise ValueError(f"{text!r}: {name.strip()} takes a number") from None
        if parsed <= 0:
            raise ValueError(f"{text!r}: {name.strip()} must be positive")
        changes: dict[str, object] = {key: parsed}
        return replace(self, **changes)  # type: ignore[arg-type]
