"""The flow keys of one learning window, as `recommend` reads them from a flow store.

A window is the keys last seen at or after a cut-off (`--since`), with the first and last
time any of them was seen (written on every generated policy, so a reviewer knows what
traffic it was learnt from) and the DNS names the records gave for external addresses
(Hubble's `destination_names`, DNS queries), which label the CIDRs they are aggregated into.
"""

from __future__ import annotations

from dataclasses import dataclass

from microseg.model.flows import FlowKeys

__all__ = ["FlowWindow"]


@dataclass(frozen=True, slots=True)
class FlowWindow:
    keys: FlowKeys
    first_seen: str = ""
    """RFC 3339 UTC of the earliest record of the window's keys; "" when none had a time."""
    last_seen: str = ""
    names: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(external address, DNS names seen for it), sorted."""
    before_window: int = 0
    """Keys of the store left out by the cut-off (last seen before it, or never timed)."""
    cutoff: str = ""

    def names_of(self) -> dict[str, tuple[str, ...]]:
        return dict(self.names)
