"""Flow-record formats as DuckDB SQL: each turns the `lines` table of one file into the
normalised observation relation (one row per input line) that the store aggregates.

Every record is parsed by DuckDB's JSON functions over the lines DuckDB's CSV reader read
(`json_transform` with an explicit structure, so a field of the wrong type is NULL rather
than a guess), never by a Python loop per record. A row whose `reason` is not NULL is a
reject; every other row is stored, so `read = stored + rejected` holds by construction.

The normalised columns: `line`, source and destination endpoints as observed (`*_ns`,
`*_pod`, `*_workload` as `name[Kind]` or `name`, `*_ip`), `protocol` (TCP, UDP, SCTP, ICMPv4,
ICMPv6 or `proto-N`), `port` (the destination port; the ICMP type; 0 when none), `verdict`
as the source recorded it (lower case), `t_first`/`t_last` (UTC), `n` (flows this record
stands for), `reply` (the record is a reply, already turned to the request's direction:
its counts go to `replies`, never to a key of its own), `detail` (cheap L7 context), `reason`.

Sources of the field names:
- Hubble: Cilium's flow API, `api/v1/flow/flow.proto` (message Flow: time, verdict,
  drop_reason_desc, IP, l4, source/destination Endpoint, Type, l7, is_reply,
  traffic_direction, destination_names), as printed by `hubble observe -o json` (one
  GetFlowsResponse per line, `{"flow": {...}}`) or `-o jsonpb` / bare Flow objects.
- Calico: Calico Enterprise "Flow log data types" reference (start_time, end_time,
  source_*/dest_*, proto, action, reporter, policies.all_policies, num_flows, bytes_*).
- Envoy: Envoy's access log "Format rules" (command operators) in the shape of Istio's
  default JSON access log (`meshConfig.accessLogEncoding: JSON`, istio.io "Envoy Access
  Logs"): start_time, downstream_remote_address, downstream_local_address, upstream_host,
  upstream_cluster, authority, method, path, response_code, response_flags.
- CSV: microseg's own `src,dst,protocol,port,count,first_seen,last_seen,verdict` (README).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["COLUMNS", "FlowFormat", "select_for"]


class FlowFormat(StrEnum):
    HUBBLE = "hubble"
    CALICO = "calico"
    ENVOY = "envoy"
    CSV = "csv"


COLUMNS = (
    "line",
    "src_ns",
    "src_pod",
    "src_workload",
    "src_ip",
    "dst_ns",
    "dst_pod",
    "dst_workload",
    "dst_ip",
    "protocol",
    "port",
    "verdict",
    "t_first",
    "t_last",
    "n",
    "reply",
    "detail",
    "reason",
)

CSV_HEADER = "src,dst,protocol,port,count,first_seen,last_seen,verdict"

_L4 = '{"source_port": "INTEGER", "destination_port": "INTEGER"}'
_ICMP = '{"type": "INTEGER", "code": "INTEGER"}'
_HUBBLE_EP = (
    '{"namespace": "VARCHAR", "pod_name": "VARCHAR", "identity": "BIGINT", '
    '"workloads": [{"name": "VARCHAR", "kind": "VARCHAR"}]}'
)
_HUBBLE = (
    '{"time": "VARCHAR", "verdict": "VARCHAR", "drop_reason_desc": "VARCHAR", '
    '"traffic_direction": "VARCHAR", "is_reply": "BOOLEAN", "Type": "VARCHAR", '
    '"IP": {"source": "VARCHAR", "destination": "VARCHAR", "ipVersion": "VARCHAR"}, '
    f'"l4": {{"TCP": {_L4}, "UDP": {_L4}, "SCTP": {_L4}, "ICMPv4": {_ICMP}, "ICMPv6": {_ICMP}}}, '
    f'"source": {_HUBBLE_EP}, "destination": {_HUBBLE_EP}, '
    '"destination_names": ["VARCHAR"], '
    '"l7": {"type": "VARCHAR", "dns": {"query": "VARCHAR"}, '
    '"http": {"method": "VARCHAR", "url": "VARCHAR", "code": "INTEGER"}}}'
)

_CALICO = (
    '{"start_time": "VARCHAR", "end_time": "VARCHAR", "source_ip": "VARCHAR", '
    '"source_name": "VARCHAR", "source_name_aggr": "VARCHAR", "source_namespace": "VARCHAR", '
    '"source_type": "VARCHAR", "dest_ip": "VARCHAR", "dest_name": "VARCHAR", '
    '"dest_name_aggr": "VARCHAR", "dest_namespace": "VARCHAR", "dest_type": "VARCHAR", '
    '"dest_port": "INTEGER", "dest_service_name": "VARCHAR", "proto": "VARCHAR", '
    '"action": "VARCHAR", "reporter": "VARCHAR", "policies": {"all_policies": ["VARCHAR"]}, '
    '"num_flows": "BIGINT", "bytes_in": "BIGINT", "bytes_out": "BIGINT"}'
)

_ENVOY = (
    '{"start_time": "VARCHAR", "downstream_remote_address": "VARCHAR", '
    '"downstream_local_address": "VARCHAR", "upstream_host": "VARCHAR", '
    '"upstream_cluster": "VARCHAR", "authority": "VARCHAR", "method": "VARCHAR", '
    '"path": "VARCHAR", "response_code": "INTEGER", "response_flags": "VARCHAR", '
    '"response_code_details": "VARCHAR", "protocol": "VARCHAR"}'
)


def _ts(expr: str) -> str:
    """An RFC 3339 text (nanoseconds allowed) or Unix seconds as a UTC TIMESTAMP."""
    return (
        f"coalesce(timezone('UTC', try_cast({expr} AS TIMESTAMPTZ)), "
        f"try(to_timestamp(try_cast({expr} AS DOUBLE))::TIMESTAMP))"
    )


def _nonempty(expr: str) -> str:
    """'' for NULL and Calico's '-' (an aggregated-away field)."""
    return f"coalesce(nullif(nullif(trim({expr}), '-'), ''), '')"


def _invalid(total: str) -> str:
    """The reason for a line that is not valid JSON: the file's last line cut short is a
    truncated record (a log being written, a copy cut off), anything else malformed."""
    return (
        f"CASE WHEN line = {total} AND NOT ends_with(rtrim(text), '}}') "
        "THEN 'truncated record (last line of the file ends before the JSON does)' "
        "ELSE 'invalid JSON' END"
    )


def _hubble(total: str) -> str:
    port = "coalesce(f.l4.TCP.{0}, f.l4.UDP.{0}, f.l4.SCTP.{0}, f.l4.ICMPv4.type, f.l4.ICMPv6.type)"
    swap = "coalesce(f.is_reply, false)"
    ep = "f.{side}"

    def side(name: str) -> tuple[str, str, str]:
        e = ep.format(side=name)
        workload = (
            f"coalesce({e}.workloads[1].name || '[' || {e}.workloads[1].kind || ']', "
            f"{e}.workloads[1].name, '')"
        )
        return _nonempty(f"{e}.namespace"), _nonempty(f"{e}.pod_name"), workload

    s_ns, s_pod, s_wl = side("source")
    d_ns, d_pod, d_wl = side("destination")
    wrapped = f'{{"flow": {_HUBBLE}}}'
    return f"""
    WITH parsed AS MATERIALIZED (
      SELECT line, text, ok, coalesce(w.flow, CASE WHEN ok THEN json_transform(text, '{_HUBBLE}') END) AS f
      FROM (SELECT line, text, w, w.flow IS NOT NULL OR json_valid(text) AS ok
            FROM (SELECT line, text, try(json_transform(text, '{wrapped}')) AS w
                  FROM lines WHERE text IS NOT NULL AND trim(text) <> ''))
    ), sides AS MATERIALIZED (
      SELECT line, text, ok, f, {_ts("f.time")} AS ts,
             {s_ns} AS a_ns, {s_pod} AS a_pod, {s_wl} AS a_wl, {_nonempty("f.IP.source")} AS a_ip,
             {d_ns} AS b_ns, {d_pod} AS b_pod, {d_wl} AS b_wl,
             {_nonempty("f.IP.destination")} AS b_ip,
             {swap} AS reply
      FROM parsed
    )
    SELECT line,
      CASE WHEN reply THEN b_ns ELSE a_ns END, CASE WHEN reply THEN b_pod ELSE a_pod END,
      CASE WHEN reply THEN b_wl ELSE a_wl END, CASE WHEN reply THEN b_ip ELSE a_ip END,
      CASE WHEN reply THEN a_ns ELSE b_ns END, CASE WHEN reply THEN a_pod ELSE b_pod END,
      CASE WHEN reply THEN a_wl ELSE b_wl END, CASE WHEN reply THEN a_ip ELSE b_ip END,
      CASE WHEN f.l4.TCP IS NOT NULL THEN 'TCP' WHEN f.l4.UDP IS NOT NULL THEN 'UDP'
           WHEN f.l4.SCTP IS NOT NULL THEN 'SCTP' WHEN f.l4.ICMPv4 IS NOT NULL THEN 'ICMPv4'
           WHEN f.l4.ICMPv6 IS NOT NULL THEN 'ICMPv6' ELSE '' END,
      coalesce(CASE WHEN reply THEN {port.format("source_port")}
                    ELSE {port.format("destination_port")} END, 0),
      lower(coalesce(f.verdict, 'unknown')),
      ts, ts, 1::BIGINT, reply,
      concat_ws(' ', nullif(f.drop_reason_desc, ''), f.l7.dns.query, f.l7.http.method,
                f.l7.http.url, array_to_string(f.destination_names, ',')),
      CASE WHEN NOT ok THEN {_invalid(total)}
           WHEN json_type(CASE WHEN ok THEN text END) <> 'OBJECT' THEN 'not a JSON object'
           WHEN f.IP.source IS NULL OR f.IP.destination IS NULL
             THEN 'not a flow with IP source and destination (Hubble Flow.IP)'
           WHEN f.l4 IS NULL THEN 'no layer-4 protocol (Hubble Flow.l4)'
           WHEN ts IS NULL THEN 'no valid time'
           END
    FROM sides
    """


def _calico(total: str) -> str:
    def side(p: str) -> tuple[str, str, str]:
        pod = (
            f"CASE WHEN {_nonempty(f'{p}_name')} <> '' THEN {_nonempty(f'{p}_name')} "
            f"ELSE {_nonempty(f'{p}_name_aggr')} END"
        )
        return _nonempty(f"{p}_namespace"), pod, _nonempty(f"{p}_ip")

    s_ns, s_pod, s_ip = side("c.source")
    d_ns, d_pod, d_ip = side("c.dest")
    proto = (
        "CASE lower(trim(c.proto)) WHEN 'tcp' THEN 'TCP' WHEN '6' THEN 'TCP' WHEN 'udp' THEN 'UDP' "
        "WHEN '17' THEN 'UDP' WHEN 'sctp' THEN 'SCTP' WHEN '132' THEN 'SCTP' "
        "WHEN 'icmp' THEN 'ICMPv4' WHEN '1' THEN 'ICMPv4' WHEN 'icmp6' THEN 'ICMPv6' "
        "WHEN '58' THEN 'ICMPv6' ELSE 'proto-' || lower(trim(c.proto)) END"
    )
    return f"""
    WITH parsed AS MATERIALIZED (
      SELECT line, text, c, c IS NOT NULL OR json_valid(text) AS ok
      FROM (SELECT line, text, try(json_transform(text, '{_CALICO}')) AS c
            FROM lines WHERE text IS NOT NULL AND trim(text) <> '')
    )
    SELECT line, {s_ns}, {s_pod}, '', {s_ip}, {d_ns}, {d_pod}, '', {d_ip},
      {proto}, coalesce(c.dest_port, 0), lower(coalesce(c.action, 'unknown')),
      {_ts("c.start_time")}, {_ts("c.end_time")}, greatest(coalesce(c.num_flows, 1), 1),
      false,
      concat_ws(' ', 'reporter=' || c.reporter, nullif(nullif(c.dest_service_name, '-'), ''),
                array_to_string(c.policies.all_policies, ',')),
      CASE WHEN NOT ok THEN {_invalid(total)}
           WHEN json_type(CASE WHEN ok THEN text END) <> 'OBJECT' THEN 'not a JSON object'
           WHEN c.proto IS NULL THEN 'no proto'
           WHEN c.action IS NULL THEN 'no action'
           WHEN {_ts("c.start_time")} IS NULL THEN 'no valid start_time'
           WHEN {s_ip} = '' AND {s_pod} = '' THEN 'source has neither source_ip nor a name'
           WHEN {d_ip} = '' AND {d_pod} = '' THEN 'destination has neither dest_ip nor a name'
           END
    FROM parsed
    """


def _addr(expr: str) -> str:
    """The host of Envoy's `ip:port` / `[v6]:port` text."""
    return f"coalesce(nullif(regexp_extract({expr}, '^\\[?([^\\]]*?)\\]?:\\d+$', 1), ''), '')"


def _port_of(expr: str) -> str:
    return f"try_cast(regexp_extract({expr}, ':(\\d+)$', 1) AS INTEGER)"


def _envoy(total: str) -> str:
    dst = "coalesce(nullif(nullif(e.upstream_host, '-'), ''), e.downstream_local_address)"
    # upstream_cluster `outbound|8080||api.shop.svc.cluster.local`: port and service host
    host = "split_part(e.upstream_cluster, '|', 4)"
    svc_ns = f"CASE WHEN {host} LIKE '%.svc.%' THEN split_part({host}, '.', 2) ELSE '' END"
    denied = (
        "e.response_code = 403 AND coalesce(e.response_code_details, '') LIKE 'rbac_access_denied%' "
        "OR coalesce(e.response_flags, '') LIKE '%UAEX%'"
    )
    return f"""
    WITH parsed AS MATERIALIZED (
      SELECT line, text, e, e IS NOT NULL OR json_valid(text) AS ok
      FROM (SELECT line, text, try(json_transform(text, '{_ENVOY}')) AS e
            FROM lines WHERE text IS NOT NULL AND trim(text) <> '')
    )
    SELECT line, '', '', '', {_addr("e.downstream_remote_address")},
      {svc_ns}, '', '', {_addr(dst)},
      'TCP', coalesce({_port_of(dst)}, try_cast(split_part(e.upstream_cluster, '|', 2) AS INTEGER), 0),
      CASE WHEN {denied} THEN 'denied' ELSE 'allowed' END,
      {_ts("e.start_time")}, {_ts("e.start_time")}, 1::BIGINT, false,
      concat_ws(' ', nullif(e.method, '-'), nullif(e.authority, '-'), nullif(e.path, '-'),
                e.response_code::VARCHAR, nullif(e.response_flags, '-'), nullif(e.upstream_cluster, '-')),
      CASE WHEN NOT ok THEN {_invalid(total)}
           WHEN json_type(CASE WHEN ok THEN text END) <> 'OBJECT' THEN 'not a JSON object'
           WHEN {_addr("e.downstream_remote_address")} = ''
             THEN 'no downstream_remote_address ip:port'
           WHEN {_addr(dst)} = '' THEN 'no upstream_host or downstream_local_address ip:port'
           WHEN {_ts("e.start_time")} IS NULL THEN 'no valid start_time'
           END
    FROM parsed
    """


def _endpoint(expr: str) -> tuple[str, str, str]:
    """A CSV endpoint: `ns/name` (pod or workload, `[Kind]` allowed) or an address."""
    is_name = f"contains({expr}, '/') AND NOT regexp_matches({expr}, '^[0-9a-fA-F:.]+(/\\d+)?$')"
    ns = f"CASE WHEN {is_name} THEN split_part({expr}, '/', 1) ELSE '' END"
    name = f"CASE WHEN {is_name} THEN substr({expr}, strpos({expr}, '/') + 1) ELSE '' END"
    ip = f"CASE WHEN {is_name} THEN '' ELSE {expr} END"
    return ns, name, ip


def _csv(total: str) -> str:
    del total  # a cut-off CSV line is caught by its field count
    s_ns, s_name, s_ip = _endpoint("trim(p[1])")
    d_ns, d_name, d_ip = _endpoint("trim(p[2])")
    proto = "upper(trim(p[3]))"
    port = "try_cast(trim(p[4]) AS INTEGER)"
    count = "try_cast(nullif(trim(p[5]), '') AS BIGINT)"
    return f"""
    WITH parsed AS MATERIALIZED (
      SELECT line, text, string_split(replace(rtrim(text, chr(13)), '"', ''), ',') AS p
      FROM lines
      WHERE text IS NOT NULL AND trim(text) <> '' AND NOT starts_with(ltrim(text), '#')
        AND NOT (line = 1 AND lower(replace(text, ' ', '')) LIKE 'src,dst,%')
    )
    SELECT line, {s_ns}, '', CASE WHEN {s_name} <> '' THEN {s_name} ELSE '' END, {s_ip},
      {d_ns}, '', CASE WHEN {d_name} <> '' THEN {d_name} ELSE '' END, {d_ip},
      CASE WHEN {proto} IN ('ICMP', 'ICMPV4') THEN 'ICMPv4' WHEN {proto} = 'ICMPV6' THEN 'ICMPv6'
           ELSE {proto} END,
      coalesce({port}, 0), lower(coalesce(nullif(trim(p[8]), ''), 'observed')),
      {_ts("nullif(trim(p[6]), '')")}, coalesce({_ts("nullif(trim(p[7]), '')")}, {_ts("nullif(trim(p[6]), '')")}),
      coalesce({count}, 1), false, '',
      CASE WHEN len(p) <> 8 THEN 'expected 8 comma-separated fields (' || '{CSV_HEADER}' || '), got ' || len(p)
           WHEN trim(p[1]) = '' OR trim(p[2]) = '' THEN 'empty src or dst'
           WHEN {proto} NOT IN ('TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPV4', 'ICMPV6')
             THEN 'protocol: expected TCP, UDP, SCTP or ICMP, got ' || trim(p[3])
           WHEN {proto} IN ('TCP', 'UDP', 'SCTP') AND NOT coalesce({port} BETWEEN 1 AND 65535, false)
             THEN 'port: expected 1-65535, got ' || trim(p[4])
           WHEN trim(p[5]) <> '' AND coalesce({count} < 0, true)
             THEN 'count: expected a whole number, got ' || trim(p[5])
           WHEN trim(p[6]) <> '' AND {_ts("trim(p[6])")} IS NULL
             THEN 'first_seen: expected RFC 3339 or Unix seconds, got ' || trim(p[6])
           WHEN trim(p[7]) <> '' AND {_ts("trim(p[7])")} IS NULL
             THEN 'last_seen: expected RFC 3339 or Unix seconds, got ' || trim(p[7])
           END
    FROM parsed
    """


def select_for(fmt: FlowFormat, total_lines: str = "(SELECT max(line) FROM lines)") -> str:
    """The SELECT producing the normalised relation (COLUMNS, in order) for `fmt`."""
    match fmt:
        case FlowFormat.HUBBLE:
            return _hubble(total_lines)
        case FlowFormat.CALICO:
            return _calico(total_lines)
        case FlowFormat.ENVOY:
            return _envoy(total_lines)
        case FlowFormat.CSV:
            return _csv(total_lines)
