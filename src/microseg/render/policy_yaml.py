"""Generated policies as Kubernetes manifests and stable YAML (`recommend`, `generate`).

Stable so that a Git diff between two runs shows only real changes: keys in the order
`kubectl` users read (apiVersion, kind, metadata, spec), lists in the order the generator
sorted them, no timestamps or counts that move between runs, and scalars quoted by one
rule (plain only when YAML cannot read them as anything but that string). The emitter is
ours because PyYAML writes no comments, and the notes beside peers (which workload, which
address class and DNS names, why an addition) are what a reviewer reads.

Manifest shapes follow the published APIs: networking.k8s.io/v1 NetworkPolicy,
policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy and BaselineAdminNetworkPolicy
(network-policy-api.sigs.k8s.io/reference/spec/), security.istio.io/v1 AuthorizationPolicy
(istio.io/latest/docs/reference/config/security/authorization-policy/), projectcalico.org/v3
NetworkPolicy (calico_yaml.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from microseg.analyses.synth import Generated
from microseg.analyses.synth.types import MANAGED_BY, LinkerdObject
from microseg.model.admin import AdminPolicy, AdminTier
from microseg.model.calico import CalicoPolicy
from microseg.model.linkerd import (
    LinkerdAuthorizationPolicy,
    LinkerdRef,
    MeshTLSAuthentication,
    Server,
)
from microseg.model.mesh import AuthorizationPolicy, Source
from microseg.model.netpol import Direction, IPBlockPeer, NetworkPolicy, NodePeer, PodPeer, PortSpec
from microseg.model.selectors import LabelSelector, Operator
from microseg.render.calico_yaml import calico_spec

__all__ = ["dump", "file_text", "manifest", "selector"]

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf"})


def selector(sel: LabelSelector) -> dict[str, Any]:
    """matchLabels for single-valued `In`, matchExpressions for the rest; {} for everything."""
    labels: dict[str, str] = {}
    exprs: list[dict[str, Any]] = []
    for r in sel.requirements:
        if r.operator is Operator.IN and len(r.values) == 1 and r.key not in labels:
            labels[r.key] = next(iter(r.values))
            continue
        e: dict[str, Any] = {"key": r.key, "operator": r.operator.value}
        if r.operator in (Operator.IN, Operator.NOT_IN):
            e["values"] = sorted(r.values)
        exprs.append(e)
    out: dict[str, Any] = {}
    if labels:
        out["matchLabels"] = dict(sorted(labels.items()))
    if exprs:
        out["matchExpressions"] = sorted(exprs, key=lambda e: (e["key"], e["operator"]))
    return out


def _metadata(g: Generated) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": g.name}
    if g.namespace:
        meta["namespace"] = g.namespace
    meta["labels"] = {MANAGED_BY[0]: MANAGED_BY[1]}
    if g.annotations:
        meta["annotations"] = dict(sorted(g.annotations))
    return meta


def _np_port(p: PortSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"protocol": p.protocol.value}
    if p.name:
        out["port"] = p.name
        return out
    out["port"] = p.start
    if p.end != p.start:
        out["endPort"] = p.end
    return out


class _Keyed(dict[str, Any]):
    """A manifest part built from a hashable model value: equal parts emit equal lines, so
    the emitter renders each (value, indent) once (thousands of rules repeat a peer)."""

    __slots__ = ("key",)

    def __init__(self, key: object, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.key = key


_LINES: dict[tuple[object, int], list[str]] = {}


def _np_peer(peer: PodPeer | IPBlockPeer | NodePeer) -> dict[str, Any]:
    return _Keyed(peer, _np_peer_dict(peer))


def _np_peer_dict(peer: PodPeer | IPBlockPeer | NodePeer) -> dict[str, Any]:
    if isinstance(peer, IPBlockPeer):
        block: dict[str, Any] = {"cidr": peer.cidr}
        if peer.excepts:
            block["except"] = list(peer.excepts)
        return {"ipBlock": block}
    assert isinstance(peer, PodPeer), "NetworkPolicy peers are pods or ipBlocks"
    if peer.namespace_selector is None:
        return {"podSelector": selector(peer.pod_selector)}
    out: dict[str, Any] = {"namespaceSelector": selector(peer.namespace_selector)}
    if not peer.pod_selector.is_empty():
        out["podSelector"] = selector(peer.pod_selector)
    return out


def _network_policy(p: NetworkPolicy) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": selector(p.pod_selector)}
    spec["policyTypes"] = [
        d.value for d in (Direction.INGRESS, Direction.EGRESS) if d in p.policy_types
    ]
    for direction, word in ((Direction.INGRESS, "from"), (Direction.EGRESS, "to")):
        rules = []
        for rule in p.rules(direction):
            r: dict[str, Any] = {}
            if rule.peers is not None:
                r[word] = [_np_peer(x) for x in rule.peers]
            if rule.ports is not None:
                r["ports"] = [_np_port(x) for x in rule.ports]
            rules.append(r)
        if rules:
            spec[direction.value.lower()] = rules
    return spec


def _admin_port(p: PortSpec) -> dict[str, Any]:
    if p.name:
        return {"namedPort": p.name}
    if p.start == p.end:
        return {"portNumber": {"protocol": p.protocol.value, "port": p.start}}
    return {"portRange": {"protocol": p.protocol.value, "start": p.start, "end": p.end}}


def _admin_peer(peer: PodPeer | IPBlockPeer | NodePeer) -> dict[str, Any]:
    if isinstance(peer, IPBlockPeer):
        return {"networks": [peer.cidr]}
    if isinstance(peer, NodePeer):
        return {"nodes": selector(peer.selector)}
    ns = peer.namespace_selector if peer.namespace_selector is not None else LabelSelector()
    if peer.pod_selector.is_empty():
        return {"namespaces": selector(ns)}
    return {"pods": {"namespaceSelector": selector(ns), "podSelector": selector(peer.pod_selector)}}


def _admin_policy(p: AdminPolicy) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if p.tier is AdminTier.ADMIN:
        spec["priority"] = p.priority
    if p.subject.pod_selector.is_empty():
        spec["subject"] = {"namespaces": selector(p.subject.namespace_selector)}
    else:
        spec["subject"] = {
            "pods": {
                "namespaceSelector": selector(p.subject.namespace_selector),
                "podSelector": selector(p.subject.pod_selector),
            }
        }
    for direction, word in ((Direction.INGRESS, "from"), (Direction.EGRESS, "to")):
        rules = []
        for rule in p.rules(direction):
            peers: list[dict[str, Any]] = []
            for x in rule.peers:
                q = _admin_peer(x)
                if (
                    "networks" in q
                    and peers
                    and "networks" in peers[-1]
                    and len(peers[-1]["networks"]) < 25
                ):
                    peers[-1]["networks"] += q["networks"]
                else:
                    peers.append(q)
            r: dict[str, Any] = {"name": rule.name, "action": rule.action.value, word: peers}
            if rule.ports is not None:
                ports = [_admin_port(x) for x in rule.ports]
                r["ports"] = [q for k, q in enumerate(ports) if q not in ports[:k]]
            rules.append(r)
        if rules:
            spec[direction.value.lower()] = rules
    return spec


def _source(s: Source) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (
        ("principals", s.principals),
        ("notPrincipals", s.not_principals),
        ("namespaces", s.namespaces),
        ("ipBlocks", s.ip_blocks),
    ):
        if value is not None:
            out[name] = list(value)
    return out


def _authorization(p: AuthorizationPolicy) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if p.selector is not None:
        spec["selector"] = {"matchLabels": dict(sorted(p.selector.items()))}
    if p.action.value != "ALLOW" or p.rules:
        spec["action"] = p.action.value
    rules = []
    for rule in p.rules:
        r: dict[str, Any] = {}
        if rule.sources is not None:
            r["from"] = [{"source": _source(s)} for s in rule.sources]
        if rule.operations is not None:
            r["to"] = [{"operation": {"ports": list(o.ports or ())}} for o in rule.operations]
        rules.append(r)
    if rules:
        spec["rules"] = rules
    return spec


CALICO_API = "projectcalico.org/v3"
_API = {
    "NetworkPolicy": "networking.k8s.io/v1",
    "AdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
    "BaselineAdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
    "AuthorizationPolicy": "security.istio.io/v1",
}


def _ref(r: LinkerdRef) -> dict[str, Any]:
    out: dict[str, Any] = {"group": r.group} if r.group not in ("", "core") else {}
    out |= {"kind": r.kind, "name": r.name}
    if r.namespace:
        out["namespace"] = r.namespace
    return out


def _linkerd(p: LinkerdObject) -> tuple[str, dict[str, Any]]:
    """(apiVersion, spec) of a Linkerd object (https://linkerd.io/2/reference/authorization-policy/)."""
    if isinstance(p, Server):
        spec: dict[str, Any] = {"podSelector": selector(p.pod_selector), "port": p.port}
        if p.protocol.value != "unknown":
            spec["proxyProtocol"] = p.protocol.value
        return "policy.linkerd.io/v1beta3", spec
    if isinstance(p, LinkerdAuthorizationPolicy):
        return "policy.linkerd.io/v1alpha1", {
            "targetRef": _ref(p.target),
            "requiredAuthenticationRefs": [_ref(r) for r in p.required],
        }
    if isinstance(p, MeshTLSAuthentication):
        spec = {}
        if p.identities:
            spec["identities"] = list(p.identities)
        if p.identity_refs:
            spec["identityRefs"] = [_ref(r) for r in p.identity_refs]
        return "policy.linkerd.io/v1alpha1", spec
    nets = [
        {"cidr": n.cidr, **({"except": list(n.excepts)} if n.excepts else {})} for n in p.networks
    ]
    return "policy.linkerd.io/v1alpha1", {"networks": nets}


def manifest(g: Generated) -> dict[str, Any]:
    api = _API.get(g.kind, "")
    if isinstance(g.policy, NetworkPolicy):
        spec = _network_policy(g.policy)
    elif isinstance(g.policy, AdminPolicy):
        spec = _admin_policy(g.policy)
    elif isinstance(g.policy, CalicoPolicy):
        meta = _metadata(g)
        return {
            "apiVersion": CALICO_API,
            "kind": g.policy.kind,
            "metadata": meta,
            "spec": calico_spec(g.policy),
        }
    elif isinstance(g.policy, AuthorizationPolicy):
        spec = _authorization(g.policy)
    else:
        api, spec = _linkerd(g.policy)
    return {"apiVersion": api, "kind": g.kind, "metadata": _metadata(g), "spec": spec}


# -- the emitter ------------------------------------------------------------------------


_SCALARS: dict[object, str] = {}


def _scalar(v: Any) -> str:
    """Memoised: policies repeat the same keys, labels and ports thousands of times."""
    if type(v) is str:
        got = _SCALARS.get(v)
        if got is None:
            got = _SCALARS[v] = _format_scalar(v)
            if len(_SCALARS) > 1 << 16:
                _SCALARS.clear()
        return got
    return _format_scalar(v)


def _format_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if _PLAIN.fullmatch(s) and s.lower() not in _WORDS:
        return s
    return json.dumps(s, ensure_ascii=False)


def _flow(items: list[Any]) -> str | None:
    if not all(isinstance(x, str | int | bool) for x in items):
        return None
    text = "[" + ", ".join(_scalar(x) for x in items) + "]"
    return text if len(text) <= 60 else None


Comments = dict[tuple[object, ...], list[str]]


def _emit(
    value: Any, indent: int, path: tuple[object, ...], notes: Comments, out: list[str]
) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return
        for k, v in value.items():
            key = _scalar(k)
            child = (*path, k)
            if isinstance(v, dict) and v:
                out.append(f"{pad}{key}:")
                _emit(v, indent + 2, child, notes, out)
            elif isinstance(v, dict):
                out.append(f"{pad}{key}: {{}}")
            elif isinstance(v, list):
                flat = _flow(v) if v else "[]"
                if flat is not None:
                    out.append(f"{pad}{key}: {flat}")
                else:
                    out.append(f"{pad}{key}:")
                    _emit(v, indent + 2, child, notes, out)
            else:
                out.append(f"{pad}{key}: {_scalar(v)}")
        return
    assert isinstance(value, list)
    for i, item in enumerate(value):
        child = (*path, i)
        for note in notes.get(child, ()):
            out.append(f"{pad}# {note}")
        if isinstance(item, dict) and item:
            cached = (item.key, indent) if isinstance(item, _Keyed) else None
            lines = _LINES.get(cached) if cached is not None else None
            if lines is None:
                lines = []
                _emit(item, indent + 2, child, notes, lines)
                if cached is not None:
                    if len(_LINES) > 1 << 15:
                        _LINES.clear()
                    _LINES[cached] = lines
            first = lines[0].lstrip()
            out.append(f"{pad}- {first}")
            out.extend(lines[1:])
        elif isinstance(item, dict):
            out.append(f"{pad}- {{}}")
        elif isinstance(item, list):
            flat = _flow(item)
            out.append(f"{pad}- {flat if flat is not None else '[]'}")
        else:
            out.append(f"{pad}- {_scalar(item)}")


def _one_line(text: str) -> str:
    """A comment stays one line, whatever the input's names hold."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def dump(g: Generated) -> str:
    """One object as a YAML document (without the `---`), its notes as comments."""
    notes: Comments = {}
    heads: list[str] = []
    word = {"ingress": "from", "egress": "to"}
    for (where, rule, peer), note in g.comments:
        if where == "spec":
            heads.append(_one_line(note))
        elif peer < 0:
            notes.setdefault(("spec", where, rule), []).append(_one_line(note))
        else:
            notes.setdefault(("spec", where, rule, word.get(where, "from"), peer), []).append(
                _one_line(note)
            )
    out = [f"# {h}" for h in heads]
    _emit(manifest(g), 0, (), notes, out)
    return "\n".join(out) + "\n"


def file_text(objects: list[Generated], header: str = "") -> str:
    """A file of several documents, in the order given."""
    parts = []
    if header:
        parts.append("".join(f"# {_one_line(line)}\n" for line in header.splitlines()))
    for g in objects:
        parts.append("---\n" + dump(g))
    return "".join(parts)
