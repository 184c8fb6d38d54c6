"""Flow-record formats as SQL that DuckDB and Spark both run: each turns a relation `src`
of one file's parsed records into the normalised observation relation (one row per input
line) that the store aggregates (aggregate.py). Dialect differences are in dialect.py.

`src` for the JSON formats: `file` (its name), `line` (NULL when the engine numbers rows
afterwards),
`text` (the line, NULL when the reader did not keep it), `skip` (a blank line: no
record), `ok` (the line is JSON), `obj` (a JSON object), `r` (the record typed by
schema.py's fields; NULL when not `ok`). For CSV: `file`, `line` and `text`.

The normalised columns (NORMAL): `file`, `line`; source and destination endpoints as observed
(`*_ns`, `*_pod`, `*_workload` as `name[Kind]` or `name`, `*_ip`); `protocol` (TCP, UDP,
SCTP, ICMPv4, ICMPv6 or `proto-N`); `port` (the destination port; the ICMP type; 0 when
none); `verdict` as the source recorded it (lower case); `t_first`/`t_last` (UTC); `n`
(flows the record stands for); `reply` (a reply, already turned to the request's
direction: its counts go to `replies`); `detail` (cheap L7 and policy context); `reason`
(NULL: stored; else why it is rejected); then for the folds and the line bookkeeping:
`sport` (the initiator's port), `direction` (Hubble's traffic_direction), `reporter`
(Calico's), `skip` (not a record) and `cut` (not JSON and not ending in `}`: a
truncated record when it is the file's last line).

Sources of the field names:
- Hubble: Cilium's flow API, `api/v1/flow/flow.proto` (message Flow: time, verdict,
  drop_reason_desc, IP, l4, source/destination Endpoint, Type, l7, is_reply,
  traffic_direction, destination_names, ingress/egress_allowed_by/denied_by), and
  `api/v1/observer/observer.proto` (GetFlowsResponse: flow, node_status, lost_events),
  which `hubble observe -o jsonpb` and the Hubble exporter write one per line
  (https://docs.cilium.io/en/stable/observability/hubble/configuration/export/); the legacy
  `-o json` writes bare Flow objects.
- Calico: Calico Enterprise "Flow log data types"
  (https://docs.tigera.io/calico-enterprise/latest/observability/elastic/flow/datatypes)
  and Calico Open Source's Whisker flows API (Goldmane, 3.30+;
  https://docs.tigera.io/calico/latest/observability/flow-logs-api): whisker-backend's
  FlowResponse (start_time and end_time as RFC 3339, source_name, source_namespace,
  dest_name, dest_namespace, protocol, dest_port, action Allow|Deny|Pass, reporter
  Src|Dst, policies.enforced), one JSON object per line (`jq -c '.items[]'` of GET /flows).
- Envoy: Envoy's access log "Format rules" (command operators) in the shape of Istio's
  default JSON access log (`meshConfig.accessLogEncoding: JSON`, istio.io "Envoy Access
  Logs"), plus `downstream_peer_uri_san` (%DOWNSTREAM_PEER_URI_SAN%, the client's SPIFFE
  ID) when the format has it.
- CSV: microseg's own `src,dst,protocol,port,count,first_seen,last_seen,verdict` (README).
"""

from __future__ import annotations

from enum import StrEnum

from microseg.ingest.flows.dialect import DUCKDB, Dialect

__all__ = [
    "COLUMNS",
    "CSV_HEADER",
    "NORMAL",
    "TRUNCATED",
    "FlowFormat",
    "select_for",
]


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
NORMAL = ("file", *COLUMNS, "sport", "direction", "reporter", "skip", "cut")

CSV_HEADER = "src,dst,protocol,port,count,first_seen,last_seen,verdict"
INVALID = "invalid JSON"
TRUNCATED = "truncated record (last line of the file ends before the JSON does)"


def _nonempty(expr: str) -> str:
    """'' for NULL and Calico's '-' (an aggregated-away field)."""
    return f"coalesce(nullif(nullif(trim({expr}), '-'), ''), '')"


def _json_checks(d: Dialect) -> str:
    """The first reasons of every JSON format; `cut` marks candidates for truncation."""
    del d
    return f"WHEN NOT ok THEN '{INVALID}' WHEN NOT obj THEN 'not a JSON object' "


def _cut() -> str:
    return "(NOT ok AND coalesce(NOT (rtrim(text) LIKE '%}'), false))"


_FLOW_FIELDS = (
    "time",
    "verdict",
    "drop_reason_desc",
    "traffic_direction",
    "is_reply",
    "IP",
    "l4",
    "source",
    "destination",
    "destination_names",
    "l7",
    "ingress_allowed_by",
    "egress_allowed_by",
    "ingress_denied_by",
    "egress_denied_by",
)


def _hubble(d: Dialect, src: str, shape: str) -> str:
    port = "coalesce(l4.TCP.{0}, l4.UDP.{0}, l4.SCTP.{0}, l4.ICMPv4.type, l4.ICMPv6.type)"

    def side(e: str) -> tuple[str, str, str]:
        w = d.at(f"{e}.workloads", 1)
        workload = f"coalesce({w}.name || '[' || {w}.kind || ']', {w}.name, '')"
        # Hubble leaves a field out rather than writing Calico's '-': no trimming needed.
        return f"coalesce({e}.namespace, '')", f"coalesce({e}.pod_name, '')", workload

    def policy(field: str, label: str) -> str:
        p = d.at(field, 1)
        return f"'{label}=' || coalesce(nullif({p}.namespace, '') || '/', '') || {p}.name"

    s_ns, s_pod, s_wl = side("source")
    d_ns, d_pod, d_wl = side("destination")
    field = {
        "both": "coalesce(r.flow.{0}, r.{0}) AS {0}",
        "wrapped": "r.flow.{0} AS {0}",
        "bare": "r.{0} AS {0}",
    }[shape]
    fields = ", ".join(field.format(f) for f in _FLOW_FIELDS)
    swap = "CASE WHEN reply THEN {b} ELSE {a} END"
    lost = "try_cast(lost_events.num_events_lost AS BIGINT)"
    return f"""
    WITH x AS (
      SELECT file, line, text, skip, ok, obj, {fields},
             r.node_status AS node_status, r.lost_events AS lost_events
      FROM {src}
    ), y AS (
      SELECT *, {d.ts("time")} AS ts, coalesce(is_reply, false) AS reply,
             {s_ns} AS a_ns, {s_pod} AS a_pod, {s_wl} AS a_wl, coalesce(IP.source, '') AS a_ip,
             {d_ns} AS b_ns, {d_pod} AS b_pod, {d_wl} AS b_wl,
             coalesce(IP.destination, '') AS b_ip
      FROM x
    )
    SELECT file, line,
      {swap.format(a="a_ns", b="b_ns")}, {swap.format(a="a_pod", b="b_pod")},
      {swap.format(a="a_wl", b="b_wl")}, {swap.format(a="a_ip", b="b_ip")},
      {swap.format(a="b_ns", b="a_ns")}, {swap.format(a="b_pod", b="a_pod")},
      {swap.format(a="b_wl", b="a_wl")}, {swap.format(a="b_ip", b="a_ip")},
      CASE WHEN l4.TCP IS NOT NULL THEN 'TCP' WHEN l4.UDP IS NOT NULL THEN 'UDP'
           WHEN l4.SCTP IS NOT NULL THEN 'SCTP' WHEN l4.ICMPv4 IS NOT NULL THEN 'ICMPv4'
           WHEN l4.ICMPv6 IS NOT NULL THEN 'ICMPv6' ELSE '' END,
      coalesce({swap.format(a=port.format("destination_port"), b=port.format("source_port"))}, 0),
      lower(coalesce(verdict, 'unknown')),
      ts, ts, CAST(1 AS BIGINT), reply,
      concat_ws(' ', nullif(drop_reason_desc, ''), l7.dns.query, l7.http.method,
                l7.http.url, nullif({d.join("destination_names", ",")}, ''),
                {policy("ingress_denied_by", "ingress-denied-by")},
                {policy("egress_denied_by", "egress-denied-by")},
                {policy("ingress_allowed_by", "ingress-allowed-by")},
                {policy("egress_allowed_by", "egress-allowed-by")}),
      CASE {_json_checks(d)}
           WHEN lost_events IS NOT NULL
             THEN 'Hubble lost events, not a flow: ' || coalesce(CAST({lost} AS STRING), '?')
                  || ' events lost at ' || coalesce(lost_events.source, 'an unknown source')
           WHEN node_status IS NOT NULL
             THEN 'a Hubble node status event, not a flow: '
                  || coalesce(node_status.state_change, '?')
           WHEN IP.source IS NULL OR IP.destination IS NULL
             THEN 'not a flow with IP source and destination (Hubble Flow.IP)'
           WHEN l4 IS NULL THEN 'no layer-4 protocol (Hubble Flow.l4)'
           WHEN ts IS NULL THEN 'no valid time'
           END,
      coalesce({swap.format(a=port.format("source_port"), b=port.format("destination_port"))}, 0),
      upper(coalesce(traffic_direction, '')), '', skip, {_cut()}
    FROM y
    """


def _calico(d: Dialect, src: str) -> str:
    def side(p: str) -> tuple[str, str, str]:
        name = _nonempty(f"{p}_name")
        raw = f"CASE WHEN {name} <> '' THEN {name} ELSE {_nonempty(f'{p}_name_aggr')} END"
        # Whisker spells Calico's `pub`/`pvt` (an address outside any known endpoint).
        pod = (
            f"CASE {raw} WHEN 'PUBLIC NETWORK' THEN 'pub' WHEN 'PRIVATE NETWORK' THEN 'pvt' "
            f"ELSE {raw} END"
        )
        return _nonempty(f"{p}_namespace"), pod, _nonempty(f"{p}_ip")

    s_ns, s_pod, s_ip = side("c.source")
    d_ns, d_pod, d_ip = side("c.dest")
    raw = "lower(trim(coalesce(c.proto, c.protocol)))"
    proto = (
        f"CASE {raw} WHEN 'tcp' THEN 'TCP' WHEN '6' THEN 'TCP' WHEN 'udp' THEN 'UDP' "
        "WHEN '17' THEN 'UDP' WHEN 'sctp' THEN 'SCTP' WHEN '132' THEN 'SCTP' "
        "WHEN 'icmp' THEN 'ICMPv4' WHEN '1' THEN 'ICMPv4' WHEN 'icmp6' THEN 'ICMPv6' "
        f"WHEN 'icmpv6' THEN 'ICMPv6' WHEN '58' THEN 'ICMPv6' ELSE 'proto-' || {raw} END"
    )
    hit = d.at("c.policies.enforced", 1)
    enforced = (
        f"{hit}.tier || '|' || coalesce(nullif({hit}.namespace, '') || '/', '') || {hit}.name "
        f"|| '|' || lower({hit}.action)"
    )
    return f"""
    WITH parsed AS (
      SELECT file, line, text, skip, ok, obj, r AS c, {d.ts("r.start_time")} AS t0,
             {d.ts("r.end_time")} AS t1
      FROM {src}
    )
    SELECT file, line, {s_ns}, {s_pod}, '', {s_ip}, {d_ns}, {d_pod}, '', {d_ip},
      {proto}, coalesce(c.dest_port, 0), lower(coalesce(c.action, 'unknown')),
      t0, coalesce(t1, t0), greatest(coalesce(c.num_flows, 1), 1),
      false,
      concat_ws(' ', 'reporter=' || lower(c.reporter), nullif(nullif(c.dest_service_name, '-'), ''),
                nullif({d.join("c.policies.all_policies", ",")}, ''), {enforced},
                nullif({d.join("c.dest_domains", ",")}, '')),
      CASE {_json_checks(d)}
           WHEN c.proto IS NULL AND c.protocol IS NULL THEN 'no proto'
           WHEN c.action IS NULL THEN 'no action'
           WHEN t0 IS NULL THEN 'no valid start_time'
           WHEN {s_ip} = '' AND {s_pod} = '' THEN 'source has neither source_ip nor a name'
           WHEN {d_ip} = '' AND {d_pod} = '' THEN 'destination has neither dest_ip nor a name'
           END,
      0, '', lower(coalesce(c.reporter, '')), skip, {_cut()}
    FROM parsed
    """


_HOST = r"^\[?([^\]]*?)\]?:\d+$"
_PORT = r":(\d+)$"
_ADDRESS = r"^[0-9a-fA-F:.]+(/\d+)?$"


def _envoy(d: Dialect, src: str) -> str:
    def addr(expr: str) -> str:
        """The host of Envoy's `ip:port` / `[v6]:port` text."""
        host = d.extract(expr, _HOST, 1)
        return f"coalesce(nullif({host}, ''), '')"

    def port_of(expr: str) -> str:
        port = d.extract(expr, _PORT, 1)
        return f"try_cast(nullif({port}, '') AS INTEGER)"

    dst = "coalesce(nullif(nullif(e.upstream_host, '-'), ''), e.downstream_local_address)"
    # upstream_cluster `outbound|8080||api.shop.svc.cluster.local`: port and service host
    host = "split_part(e.upstream_cluster, '|', 4)"
    svc_ns = f"CASE WHEN {host} LIKE '%.svc.%' THEN split_part({host}, '.', 2) ELSE '' END"
    # The client's SPIFFE ID (spiffe://<trust domain>/ns/<namespace>/sa/<account>).
    peer_ns = d.extract("coalesce(e.downstream_peer_uri_san, '')", r"/ns/([^/]+)/sa/", 1)
    denied = (
        "e.response_code = 403 AND coalesce(e.response_code_details, '') LIKE 'rbac_access_denied%' "
        "OR coalesce(e.response_flags, '') LIKE '%UAEX%'"
    )
    return f"""
    WITH parsed AS (
      SELECT file, line, text, skip, ok, obj, r AS e, {d.ts("r.start_time")} AS t0 FROM {src}
    )
    SELECT file, line, {peer_ns}, '', '', {addr("e.downstream_remote_address")},
      {svc_ns}, '', '', {addr(dst)},
      'TCP', coalesce({port_of(dst)}, try_cast(split_part(e.upstream_cluster, '|', 2) AS INTEGER), 0),
      CASE WHEN {denied} THEN 'denied' ELSE 'allowed' END,
      t0, t0, CAST(1 AS BIGINT), false,
      concat_ws(' ', nullif(e.method, '-'), nullif(e.authority, '-'), nullif(e.path, '-'),
                CAST(e.response_code AS STRING), nullif(e.response_flags, '-'),
                nullif(e.upstream_cluster, '-'), nullif(e.downstream_peer_uri_san, '-')),
      CASE {_json_checks(d)}
           WHEN {addr("e.downstream_remote_address")} = ''
             THEN 'no downstream_remote_address ip:port'
           WHEN {addr(dst)} = '' THEN 'no upstream_host or downstream_local_address ip:port'
           WHEN t0 IS NULL THEN 'no valid start_time'
           END,
      0, '', '', skip, {_cut()}
    FROM parsed
    """


def _endpoint(d: Dialect, expr: str) -> tuple[str, str, str]:
    """A CSV endpoint: `ns/name` (pod or workload, `[Kind]` allowed) or an address."""
    is_name = f"{expr} LIKE '%/%' AND NOT {d.matches(expr, _ADDRESS)}"
    ns = f"CASE WHEN {is_name} THEN split_part({expr}, '/', 1) ELSE '' END"
    name = f"CASE WHEN {is_name} THEN substr({expr}, length(split_part({expr}, '/', 1)) + 2) ELSE '' END"
    ip = f"CASE WHEN {is_name} THEN '' ELSE {expr} END"
    return ns, name, ip


def _csv(d: Dialect, src: str) -> str:
    def p(i: int) -> str:
        return f"trim({d.at('p', i)})"

    s_ns, s_name, s_ip = _endpoint(d, p(1))
    d_ns, d_name, d_ip = _endpoint(d, p(2))
    proto = f"upper({p(3)})"
    port = f"try_cast({p(4)} AS INTEGER)"
    count = f"try_cast(nullif({p(5)}, '') AS BIGINT)"
    first = d.ts(f"nullif({p(6)}, '')")
    last = d.ts(f"nullif({p(7)}, '')")
    header = d.lit(CSV_HEADER)
    fields = d.split("replace(replace(text, chr(13), ''), '\"', '')", ",")
    return f"""
    WITH raw AS (
      SELECT file, line, text,
        text IS NULL OR trim(text) = '' OR ltrim(text) LIKE '#%'
          OR lower(replace(text, ' ', '')) LIKE 'src,dst,%' AS skip
      FROM {src}
    ), parsed AS (
      SELECT file, line, text, skip,
        CASE WHEN skip THEN NULL ELSE {fields} END AS p
      FROM raw
    )
    SELECT file, line, {s_ns}, '', {s_name}, {s_ip}, {d_ns}, '', {d_name}, {d_ip},
      CASE WHEN {proto} IN ('ICMP', 'ICMPV4') THEN 'ICMPv4' WHEN {proto} = 'ICMPV6' THEN 'ICMPv6'
           ELSE {proto} END,
      coalesce({port}, 0), lower(coalesce(nullif({p(8)}, ''), 'observed')),
      {first}, coalesce({last}, {first}), coalesce({count}, 1), false, '',
      CASE WHEN skip THEN NULL
           WHEN {d.size("p")} <> 8
             THEN 'expected 8 comma-separated fields (' || {header} || '), got ' || CAST({d.size("p")} AS STRING)
           WHEN {p(1)} = '' OR {p(2)} = '' THEN 'empty src or dst'
           WHEN {proto} NOT IN ('TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPV4', 'ICMPV6')
             THEN 'protocol: expected TCP, UDP, SCTP or ICMP, got ' || {p(3)}
           WHEN {proto} IN ('TCP', 'UDP', 'SCTP') AND NOT coalesce({port} BETWEEN 1 AND 65535, false)
             THEN 'port: expected 1-65535, got ' || {p(4)}
           WHEN {p(5)} <> '' AND coalesce({count} < 0, true)
             THEN 'count: expected a whole number, got ' || {p(5)}
           WHEN {p(6)} <> '' AND {first} IS NULL
             THEN 'first_seen: expected RFC 3339 or Unix seconds, got ' || {p(6)}
           WHEN {p(7)} <> '' AND {last} IS NULL
             THEN 'last_seen: expected RFC 3339 or Unix seconds, got ' || {p(7)}
           END,
      0, '', '', skip, false
    FROM parsed
    """


def select_for(
    fmt: FlowFormat, dialect: Dialect = DUCKDB, src: str = "src", shape: str = "both"
) -> str:
    """The SELECT producing the normalised relation (NORMAL, in order) from `src`.

    `shape` (Hubble): `both` reads each record as a GetFlowsResponse or a bare Flow;
    `wrapped` and `bare` read only one of the two (schema.hubble_fields), for a reader
    that knows the file's shape and checks it (reader.py)."""
    match fmt:
        case FlowFormat.HUBBLE:
            return _hubble(dialect, src, shape)
        case FlowFormat.CALICO:
            return _calico(dialect, src)
        case FlowFormat.ENVOY:
            return _envoy(dialect, src)
        case FlowFormat.CSV:
            return _csv(dialect, src)
