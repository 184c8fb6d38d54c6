"""Linkerd's installation settings from its `linkerd-config` ConfigMap, which the control
plane chart writes with the values it was installed with (`data.values`, YAML): the
cluster-wide default inbound policy (`proxy.defaultInboundPolicy`), the cluster networks
(`clusterNetworks`, comma-separated), the default opaque ports (`proxy.opaquePorts`) and
the identity trust domain (`identityTrustDomain`); the ConfigMap's namespace is the control
plane's, which is part of every identity. Without it, the chart's defaults apply
(https://linkerd.io/2/reference/authorization-policy/#default-policies,
linkerd2 charts/linkerd-control-plane/values.yaml).

A value that does not parse is a warning (MS199) and the default is kept.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

import yaml

from microseg.errors import Diagnostic, Severity
from microseg.ingest.documents import Document
from microseg.model.linkerd import DefaultPolicy, LinkerdPolicies, Network, parse_port_list

__all__ = ["CONFIG_NAME", "apply_linkerd_config"]

CONFIG_NAME = "linkerd-config"


def _warn(doc: Document, message: str, path: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, "MS199", message, doc.origin(), path)


def apply_linkerd_config(
    doc: Document, policies: LinkerdPolicies
) -> tuple[LinkerdPolicies, list[Diagnostic]]:
    """`policies` with the settings of the `linkerd-config` ConfigMap `doc`."""
    meta = doc.data.get("metadata") or {}
    namespace = str(meta.get("namespace") or "linkerd")
    out = replace(policies, control_plane_namespace=namespace, configured=True)
    notes: list[Diagnostic] = []
    data = doc.data.get("data") or {}
    text = data.get("values") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return out, [_warn(doc, "no data.values: Linkerd's defaults apply", "data.values")]
    try:
        values: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return out, [
            _warn(doc, f"data.values is not YAML ({exc}); Linkerd's defaults apply", "data.values")
        ]
    if not isinstance(values, dict):
        return out, [
            _warn(doc, "data.values is not a mapping; Linkerd's defaults apply", "data.values")
        ]
    raw_proxy = values.get("proxy")
    proxy: dict[str, Any] = raw_proxy if isinstance(raw_proxy, dict) else {}
    policy = proxy.get("defaultInboundPolicy")
    if policy is not None:
        try:
            out = replace(out, default_policy=DefaultPolicy(str(policy)))
        except ValueError:
            notes.append(
                _warn(
                    doc,
                    f"proxy.defaultInboundPolicy {policy!r} is not a default policy; "
                    "all-unauthenticated is kept",
                    "data.values",
                )
            )
    networks = values.get("clusterNetworks")
    if isinstance(networks, str) and networks.strip():
        try:
            parsed = tuple(
                Network.of(str(ipaddress.ip_network(n.strip(), strict=False)))
                for n in networks.split(",")
                if n.strip()
            )
            out = replace(out, cluster_networks=parsed)
        except ValueError as exc:
            notes.append(
                _warn(doc, f"clusterNetworks: {exc}; the defaults are kept", "data.values")
            )
    opaque = proxy.get("opaquePorts")
    if opaque is not None:
        if parse_port_list(str(opaque), {}) is None:
            notes.append(
                _warn(
                    doc,
                    f"proxy.opaquePorts {opaque!r} is not a port list; the defaults are kept",
                    "data.values",
                )
            )
        else:
            out = replace(out, opaque_ports=str(opaque))
    domain = values.get("identityTrustDomain")
    if isinstance(domain, str) and domain:
        out = replace(out, trust_domain=domain)
    return out, notes
