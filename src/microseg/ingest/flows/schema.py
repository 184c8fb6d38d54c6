"""The fields each flow-record format is read with, written once and rendered for each
reader: DuckDB's `json_transform` structure, DuckDB SQL types (the `columns` of
`read_ndjson`), and Spark's DDL (the schema of `from_json`).

A field is a type name (`string`, `int`, `long`, `bool`), a dict (a JSON object: a
struct) or a one-element list (a JSON array of that). Only the fields the normalising SQL
reads are listed: a reader given explicit fields skips everything else in a record, which
is what makes reading fast, and a field of the wrong type is NULL (json_transform, Spark's
PERMISSIVE mode) or makes the fast reader give up (read_ndjson), never a guess.

Sources of the field names are cited in formats.py.
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = [
    "CALICO",
    "ENVOY",
    "HUBBLE",
    "Field",
    "duckdb_json",
    "duckdb_type",
    "hubble_fields",
    "spark_ddl",
]

Field: TypeAlias = "str | dict[str, Field] | list[Field]"

_L4: Field = {"source_port": "int", "destination_port": "int"}
_ICMP: Field = {"type": "int", "code": "int"}
# Cilium flow.proto, message Endpoint: ID, identity, cluster_name, namespace, labels,
# pod_name, workloads (Workload: name, kind). Labels and identity are not read: endpoints
# resolve by namespace, pod, workload and address against the cluster snapshot, which
# holds the labels as they are now (see README, Observed traffic).
_ENDPOINT: Field = {
    "namespace": "string",
    "pod_name": "string",
    "workloads": [{"name": "string", "kind": "string"}],
}
# message Policy: name, namespace, labels, revision, kind.
_POLICY: Field = [{"name": "string", "namespace": "string", "kind": "string"}]
_FLOW: dict[str, Field] = {
    "time": "string",
    "verdict": "string",
    "drop_reason_desc": "string",
    "traffic_direction": "string",
    "is_reply": "bool",
    "Type": "string",
    "IP": {"source": "string", "destination": "string"},
    "l4": {"TCP": _L4, "UDP": _L4, "SCTP": _L4, "ICMPv4": _ICMP, "ICMPv6": _ICMP},
    "source": _ENDPOINT,
    "destination": _ENDPOINT,
    "destination_names": ["string"],
    "l7": {
        "type": "string",
        "dns": {"query": "string"},
        "http": {"method": "string", "url": "string", "code": "int"},
    },
    "ingress_allowed_by": _POLICY,
    "egress_allowed_by": _POLICY,
    "ingress_denied_by": _POLICY,
    "egress_denied_by": _POLICY,
}
# observer.proto's GetFlowsResponse (`-o jsonpb`, the hubble-exporter's file) is one of
# flow, node_status, lost_events (LostEvent: source, num_events_lost, a uint64 that
# protojson writes as a string); the legacy `hubble observe -o json` writes bare Flows.
_EVENTS: dict[str, Field] = {
    "node_status": {"state_change": "string"},
    "lost_events": {"source": "string", "num_events_lost": "string"},
}
HUBBLE: dict[str, Field] = {**_FLOW, "flow": dict(_FLOW), **_EVENTS}


def hubble_fields(shape: str) -> dict[str, Field]:
    """Hubble's fields for records of one shape: `wrapped` (GetFlowsResponse), `bare`
    (Flow) or `both`."""
    if shape == "wrapped":
        return {"flow": dict(_FLOW), **_EVENTS}
    if shape == "bare":
        return {**_FLOW, **_EVENTS}
    return HUBBLE


# Calico Enterprise/Cloud flow logs ("Flow log data types") and Calico Open Source's
# Whisker flows (whisker-backend's FlowResponse: protocol, policies.enforced, and the
# same source_/dest_ names); see formats.py.
_HIT: Field = [{"name": "string", "namespace": "string", "tier": "string", "action": "string"}]
CALICO: dict[str, Field] = {
    "start_time": "string",
    "end_time": "string",
    "source_ip": "string",
    "source_name": "string",
    "source_name_aggr": "string",
    "source_namespace": "string",
    "source_type": "string",
    "dest_ip": "string",
    "dest_name": "string",
    "dest_name_aggr": "string",
    "dest_namespace": "string",
    "dest_type": "string",
    "dest_port": "int",
    "dest_service_name": "string",
    "proto": "string",
    "protocol": "string",
    "action": "string",
    "reporter": "string",
    "policies": {"all_policies": ["string"], "enforced": _HIT},
    "num_flows": "long",
    "dest_domains": ["string"],
}

ENVOY: dict[str, Field] = {
    "start_time": "string",
    "downstream_remote_address": "string",
    "downstream_local_address": "string",
    "upstream_host": "string",
    "upstream_cluster": "string",
    "authority": "string",
    "method": "string",
    "path": "string",
    "response_code": "int",
    "response_flags": "string",
    "response_code_details": "string",
    "protocol": "string",
    "downstream_peer_uri_san": "string",
    "upstream_peer_uri_san": "string",
}

_DUCK = {"string": "VARCHAR", "int": "INTEGER", "long": "BIGINT", "bool": "BOOLEAN"}
_SPARK = {"string": "STRING", "int": "INT", "long": "BIGINT", "bool": "BOOLEAN"}


def _json_text(field: Field) -> str:
    if isinstance(field, str):
        return f'"{_DUCK[field]}"'
    if isinstance(field, list):
        return f"[{_json_text(field[0])}]"
    return "{" + ", ".join(f'"{k}": {_json_text(v)}' for k, v in field.items()) + "}"


def duckdb_json(fields: dict[str, Field]) -> str:
    """The structure argument of DuckDB's json_transform (JSON text)."""
    return _json_text(fields)


def duckdb_type(field: Field) -> str:
    """A DuckDB SQL type: STRUCT("a" VARCHAR, ...), VARCHAR[], ..."""
    if isinstance(field, str):
        return _DUCK[field]
    if isinstance(field, list):
        return f"{duckdb_type(field[0])}[]"
    return "STRUCT(" + ", ".join(f'"{k}" {duckdb_type(v)}' for k, v in field.items()) + ")"


def spark_ddl(field: Field) -> str:
    """A Spark SQL type: STRUCT<`a`: STRING, ...>, ARRAY<STRING>, ..."""
    if isinstance(field, str):
        return _SPARK[field]
    if isinstance(field, list):
        return f"ARRAY<{spark_ddl(field[0])}>"
    return "STRUCT<" + ", ".join(f"`{k}`: {spark_ddl(v)}" for k, v in field.items()) + ">"
