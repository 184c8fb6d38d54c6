"""Core-group objects other than Pods (Namespace, Node, Service, ServiceAccount) to model
objects. Each reader raises a FieldError (MS201) at the first invalid field, so a Service
is checked as strictly as a Pod: a value the API server would refuse is reported where it
stands, never guessed at (an unknown protocol is not TCP) nor dropped (a malformed port)."""

from __future__ import annotations

import re
from typing import Any

from microseg.ingest.documents import Document, FieldPath
from microseg.ingest.linkerd_pods import kept_annotations
from microseg.ingest.validation import FieldError, get_typed, ip_address
from microseg.model.identity import CLOUD_ANNOTATIONS
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd_pod import LINKERD_ANNOTATIONS
from microseg.model.netpol import port_name_error
from microseg.model.objects import (
    NAMESPACE_NAME_LABEL,
    Namespace,
    Node,
    Service,
    ServiceAccount,
    ServicePort,
)
from microseg.model.selectors import label_key_error, label_value_error
from microseg.model.sets import Protocol

__all__ = ["parse_namespace", "parse_node", "parse_service", "parse_service_account"]

_CODE = "MS201"
_PROTOCOLS = {"TCP": Protocol.TCP, "UDP": Protocol.UDP, "SCTP": Protocol.SCTP}
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _bad(path: FieldPath, message: str) -> FieldError:
    return FieldError(_CODE, path, message)


def _named_meta(doc: Document) -> dict[str, Any]:
    meta = doc.data.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise _bad(("metadata",), "expected a mapping with a name")
    return meta


def _label_error(k: object, v: object) -> str | None:
    if not isinstance(k, str):
        return f"label key must be a string, got {k!r}"
    if not isinstance(v, str):
        return label_key_error(k) or f"label value must be a string, got {v!r}"
    return label_key_error(k) or label_value_error(v)


def parse_service_account(doc: Document) -> ServiceAccount:
    meta = _named_meta(doc)
    namespace = meta.get("namespace") or "default"
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise _bad(("metadata", "labels"), "expected a mapping of labels")
    automount = get_typed(doc.data, ("automountServiceAccountToken",), bool, None, _CODE)
    cloud = kept_annotations(meta, CLOUD_ANNOTATIONS)
    return ServiceAccount(
        str(namespace),
        meta["name"],
        doc.origin(),
        FrozenLabels(labels),
        automount,
        annotations=cloud,
    )


def parse_node(doc: Document) -> Node:
    meta = _named_meta(doc)
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        raise _bad(("metadata", "labels"), "expected a mapping of labels")
    status = doc.data.get("status") or {}
    raw = status.get("addresses") if isinstance(status, dict) else None
    addresses = tuple(
        ip_address(a["address"], ("status", "addresses", k, "address"), _CODE)
        for k, a in enumerate(raw if isinstance(raw, list) else [])
        if isinstance(a, dict)
        and a.get("type") in ("InternalIP", "ExternalIP")
        and a.get("address")
    )
    return Node(
        meta["name"],
        FrozenLabels({str(k): str(v) for k, v in labels.items()}),
        addresses,
        doc.origin(),
    )


def parse_namespace(doc: Document) -> Namespace:
    meta = doc.data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise _bad(("metadata", "name"), "required field is missing")
    assert isinstance(meta, dict)
    raw_labels = meta.get("labels") or {}
    if not isinstance(raw_labels, dict):
        raise _bad(("metadata", "labels"), "expected a mapping of labels")
    for k, v in raw_labels.items():
        err = _label_error(k, v)
        if err:
            raise _bad(("metadata", "labels", str(k)), err)
    # The API server sets kubernetes.io/metadata.name on every namespace.
    labels = {**raw_labels, NAMESPACE_NAME_LABEL: name}
    linkerd = kept_annotations(meta, LINKERD_ANNOTATIONS)
    return Namespace(name, FrozenLabels(labels), doc.origin(), annotations=linkerd)


def _typed(raw: dict[str, Any], path: FieldPath, key: str, kind: type, default: Any) -> Any:
    try:
        return get_typed(raw, (key,), kind, default, _CODE)
    except FieldError as err:
        raise err.under(path) from None


def _port_number(value: Any, path: FieldPath) -> int:
    if value is None:
        raise _bad(path, "required field is missing")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise _bad(path, f"expected 1-65535, got {value!r}")
    return value


def _target_port(value: Any, port: int, path: FieldPath) -> int | str:
    """ServicePort.targetPort: a number or an IANA_SVC_NAME of the pods' ports; absent, 0
    or "" mean the Service's own port (the API server's defaulting)."""
    if value is None or value == 0 or value == "":
        return port
    if isinstance(value, str):
        err = port_name_error(value)
        if err:
            raise _bad(path, err)
        return value
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise _bad(path, f"expected a port number (1-65535) or name, got {value!r}")
    return value


def _service_port(raw: Any, path: FieldPath) -> ServicePort:
    if not isinstance(raw, dict):
        raise _bad(path, "expected a port mapping")
    port = _port_number(raw.get("port"), (*path, "port"))
    proto = raw.get("protocol")
    if proto is None:
        proto = "TCP"  # the API's default
    if not isinstance(proto, str) or proto not in _PROTOCOLS:
        raise _bad((*path, "protocol"), f"expected TCP, UDP or SCTP, got {proto!r}")
    target = _target_port(raw.get("targetPort"), port, (*path, "targetPort"))
    name = _typed(raw, path, "name", str, "")
    if name and (len(name) > 63 or not _DNS1123_LABEL.fullmatch(name)):
        raise _bad(
            (*path, "name"),
            f"invalid port name {name!r}: expected at most 63 lowercase letters, digits and "
            "'-', beginning and ending with a letter or digit (a DNS label)",
        )
    node_port = raw.get("nodePort")
    if node_port not in (None, 0):
        _port_number(node_port, (*path, "nodePort"))
    app_protocol = _typed(raw, path, "appProtocol", str, "")
    return ServicePort(_PROTOCOLS[proto], port, target, name, app_protocol)


def parse_service(doc: Document) -> Service:
    data = doc.data
    meta = _named_meta(doc)
    namespace = get_typed(data, ("metadata", "namespace"), str, "", _CODE)
    spec = get_typed(data, ("spec",), dict, {}, _CODE)
    selector = get_typed(data, ("spec", "selector"), dict, None, _CODE)
    if selector is not None:
        for k, v in selector.items():
            err = _label_error(k, v)
            if err:
                raise _bad(("spec", "selector", str(k)), err)
    raw_ports = spec.get("ports")
    if raw_ports is not None and not isinstance(raw_ports, list):
        raise _bad(("spec", "ports"), f"expected a list of ports, got {raw_ports!r}")
    ports = tuple(_service_port(p, ("spec", "ports", i)) for i, p in enumerate(raw_ports or []))
    return Service(
        namespace or "default",
        meta["name"],
        # {}: no pods (API ServiceSpec)
        FrozenLabels(selector) if selector else None,
        get_typed(data, ("spec", "type"), str, "", _CODE) or "ClusterIP",
        ports,
        doc.origin(),
        _cluster_ips(spec),
    )


def _cluster_ips(spec: dict[str, Any]) -> tuple[str, ...]:
    """spec.clusterIPs, else spec.clusterIP; "None" (headless) and "" are no address."""
    raw = spec.get("clusterIPs")
    ips = raw if isinstance(raw, list) else [spec.get("clusterIP")]
    return tuple(ip for ip in ips if isinstance(ip, str) and ip not in ("", "None"))
