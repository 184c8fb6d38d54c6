"""What a Cluster holds of Calico (`CalicoConfig`), apart from the rest of Calico's model.

Every Cluster has a `CalicoConfig`, empty when the input has no Calico object, so this
module is imported by model/cluster.py; the policy, rule and selector types that fill it
(model/calico.py, model/calico_selector.py) load only when Calico input is read or
compiled (issue 22: they were a tenth of `microseg reach`'s start-up). model/calico.py
re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from microseg.model.sets import Protocol

if TYPE_CHECKING:
    from microseg.model.calico import CalicoPolicy, HostEndpoint, NetworkSet, Profile, TierSpec

__all__ = ["FAILSAFE_INBOUND", "FAILSAFE_OUTBOUND", "CalicoConfig", "FailsafePort"]


@dataclass(frozen=True, slots=True)
class FailsafePort:
    """A failsafe pinhole on every host endpoint (host-endpoints/failsafe): `net` empty
    for any address."""

    protocol: Protocol
    port: int
    net: str = ""


def _failsafe(spec: str) -> tuple[FailsafePort, ...]:
    out = []
    for item in spec.split(","):
        proto, port = item.split(":")
        out.append(FailsafePort(Protocol(proto), int(port)))
    return tuple(out)


# The defaults of FelixConfiguration failsafeInboundHostPorts / failsafeOutboundHostPorts
# (reference/host-endpoints/failsafe).
FAILSAFE_INBOUND = _failsafe(
    "TCP:22,UDP:68,TCP:179,TCP:2379,TCP:2380,TCP:5473,TCP:6443,TCP:6666,TCP:6667"
)
FAILSAFE_OUTBOUND = _failsafe(
    "UDP:53,UDP:67,TCP:179,TCP:2379,TCP:2380,TCP:5473,TCP:6443,TCP:6666,TCP:6667"
)


@dataclass(frozen=True, slots=True)
class CalicoConfig:
    """Everything Calico-specific the input holds. `present` is whether the input has any
    Calico object: the analysis then follows Calico's model (ordered tiers, profiles, every
    protocol) for Kubernetes policies too."""

    present: bool = False
    tiers: tuple[TierSpec, ...] = ()
    policies: tuple[CalicoPolicy, ...] = ()
    network_sets: tuple[NetworkSet, ...] = ()
    host_endpoints: tuple[HostEndpoint, ...] = ()
    profiles: tuple[Profile, ...] = ()
    failsafe_inbound: tuple[FailsafePort, ...] = FAILSAFE_INBOUND
    failsafe_outbound: tuple[FailsafePort, ...] = FAILSAFE_OUTBOUND

    @property
    def enforced(self) -> tuple[CalicoPolicy, ...]:
        return tuple(p for p in self.policies if not p.staged)

    @property
    def staged(self) -> tuple[CalicoPolicy, ...]:
        return tuple(p for p in self.policies if p.staged)
