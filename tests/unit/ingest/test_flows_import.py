"""Flow import: every record stored or rejected (with file, line and reason), keys without
replies or ephemeral source ports, and a second import of the same file changing nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from microseg.ingest.flows import FlowFormat, FlowStore, detect_format, show, stats

DATA = Path(__file__).parent / "flows_data"


@pytest.fixture
def store() -> FlowStore:
    return FlowStore(":memory:")


@pytest.mark.parametrize(
    ("name", "fmt", "read", "rejected"),
    [
        ("hubble.json", FlowFormat.HUBBLE, 9, 3),
        ("calico.json", FlowFormat.CALICO, 5, 1),
        ("envoy.log", FlowFormat.ENVOY, 3, 1),
        ("flows.csv", FlowFormat.CSV, 5, 2),
    ],
)
def test_each_format_balances(
    store: FlowStore, name: str, fmt: FlowFormat, read: int, rejected: int
) -> None:
    path = DATA / name
    assert detect_format(path) is fmt
    got = store.import_file(path, name)
    assert (got.format, got.read, got.rejected) == (fmt.value, read, rejected)
    assert got.read == got.stored + got.rejected
    assert store.query("SELECT count(*) FROM rejects")[0][0] == rejected
    (n_imports,) = store.query("SELECT read - stored - rejected FROM imports")[0]
    assert n_imports == 0


def test_hubble_keys(store: FlowStore) -> None:
    store.import_file(DATA / "hubble.json", "h")
    rows = store.query(
        "SELECT src_pod, dst_pod, protocol, port, verdict, count, replies FROM flows "
        "WHERE src_ip = '10.244.1.10' ORDER BY port"
    )
    # The SYN-ACK reply (is_reply) folds into the request's key; source ports never key.
    assert ("webapp-7d9f8b6c5-abcde", "postgres-0", "TCP", 5432, "forwarded", 1, 1) in rows
    assert ("webapp-7d9f8b6c5-abcde", "postgres-0", "TCP", 22, "dropped", 1, 0) in rows
    assert not store.query("SELECT * FROM flows WHERE port = 51234")
    reasons = dict(store.query("SELECT line, reason FROM rejects"))
    assert reasons[7] == "a Hubble node status event, not a flow: NODE_CONNECTED"
    assert reasons[8] == "invalid JSON"
    assert reasons[9].startswith("truncated record")


def test_calico_reporters_fold(store: FlowStore) -> None:
    store.import_file(DATA / "calico.json", "c")
    rows = store.query("SELECT count, verdict FROM flows WHERE port = 5432")
    assert rows == [(3, "allow")]  # src and dst reports of 3 flows: 3, not 6


def test_envoy_denied_and_cluster_port(store: FlowStore) -> None:
    store.import_file(DATA / "envoy.log", "e")
    rows = store.query("SELECT dst_ip, port, verdict, dst_ns FROM flows ORDER BY verdict")
    assert rows == [("10.244.3.30", 8080, "allowed", "shop"), ("10.244.3.30", 8080, "denied", "")]


def test_reimport_changes_nothing(store: FlowStore, tmp_path: Path) -> None:
    first = store.import_file(DATA / "flows.csv", "a.csv")
    before = store.query("SELECT * FROM flows ORDER BY ALL")
    copy = tmp_path / "same-content.csv"
    shutil.copy(DATA / "flows.csv", copy)
    again = store.import_file(copy, str(copy))
    assert again.already
    assert again.read == 0
    assert store.query("SELECT * FROM flows ORDER BY ALL") == before
    assert store.query("SELECT count(*) FROM imports")[0][0] == 1
    assert first.read == 5


def test_new_file_adds_counts(store: FlowStore, tmp_path: Path) -> None:
    store.import_file(DATA / "flows.csv", "a.csv")
    extra = tmp_path / "b.csv"
    extra.write_text(
        "src,dst,protocol,port,count,first_seen,last_seen,verdict\n"
        "frontend/webapp,shop/postgres,TCP,5432,3,2026-11-19T00:00:00Z,2026-11-21T00:00:00Z,allowed\n"
    )
    store.import_file(extra, "b.csv")
    (row,) = store.query(
        "SELECT count, strftime(first_seen, '%d'), strftime(last_seen, '%d') FROM flows "
        "WHERE port = 5432"
    )
    assert row == (15, "19", "21")


def test_lines_counted_exactly(store: FlowStore, tmp_path: Path) -> None:
    """Blank lines are no records; every other line is one, a cut last line a reject."""
    src = (DATA / "hubble.json").read_text().splitlines()
    path = tmp_path / "h.json"
    path.write_text("\n".join([src[0], "", src[2], "   ", src[0][:50]]))
    got = store.import_file(path, "h")
    assert (got.read, got.stored, got.rejected) == (3, 2, 1)
    assert store.query("SELECT line FROM rejects") == [(5,)]


def test_stats_and_show(store: FlowStore) -> None:
    for name in ("hubble.json", "calico.json", "envoy.log", "flows.csv"):
        store.import_file(DATA / name, name)
    s = stats(store)
    assert s.files == 4
    assert s.rejected == 7
    assert s.keys == len(show(store))
    dropped = show(store, verdicts=("dropped",))
    assert [(f.port, f.verdict) for f in dropped] == [(22, "dropped")]
    assert {f.port for f in show(store, src="frontend/webapp")} >= {5432, 22}
    assert show(store, src="203.0.113.7")[0].dst == "frontend/webapp"


def test_service_cluster_ips_are_kept(tmp_path: Path) -> None:
    import microseg

    (tmp_path / "s.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n"
        "spec: {selector: {app: a}, clusterIP: 10.96.0.1, clusterIPs: [10.96.0.1, 'fd00::1'],"
        " ports: [{port: 80}]}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: h, namespace: x}\n"
        "spec: {clusterIP: None, ports: [{port: 80}]}\n"
    )
    services = {s.name: s.cluster_ips for s in microseg.load([str(tmp_path)]).services}
    assert services == {"a": ("10.96.0.1", "fd00::1"), "h": ()}


def test_odd_lines_are_rejects_with_their_numbers(store: FlowStore, tmp_path: Path) -> None:
    good = (DATA / "hubble.json").read_text().splitlines()[0]
    path = tmp_path / "odd.json"
    path.write_bytes(
        "\n".join([good, "[1,2]", '"str"', "{}", '{"a":"x\x01y"}']).encode()
        + b"\n\xff\xfe not utf-8\n"
        + good.encode()
        + b"\n"
    )
    got = store.import_file(path, "odd", FlowFormat.HUBBLE)
    assert (got.read, got.stored, got.rejected) == (7, 2, 5)
    reasons = dict(store.query("SELECT line, reason FROM rejects"))
    assert reasons[2] == reasons[3] == "not a JSON object"
    assert reasons[5] == "invalid JSON"
    assert reasons[6].startswith("not UTF-8 text")


def test_hubble_exporter_pairs_fold(store: FlowStore) -> None:
    """GetFlowsResponse lines (jsonpb, the Hubble exporter): a connection between two
    Cilium endpoints is reported at both (EGRESS at the source, INGRESS at the
    destination) and counts once; the destination's drop decides the pair's verdict;
    lost events and node status records are rejects that say what they are."""
    got = store.import_file(DATA / "hubble-exporter.json", "x")
    assert (got.format, got.read, got.stored, got.rejected) == ("hubble", 9, 7, 2)
    rows = store.query("SELECT verdict, count, replies, detail FROM flows ORDER BY verdict")
    assert [r[:3] for r in rows] == [("dropped", 1, 0), ("forwarded", 2, 1)]
    assert rows[0][3] == "POLICY_DENIED ingress-denied-by=shop/default-deny"
    assert "egress-allowed-by=frontend/webapp-egress" in rows[1][3]
    assert "ingress-allowed-by=shop/postgres-ingress" in rows[1][3]
    assert store.query("SELECT line, reason FROM rejects ORDER BY line") == [
        (8, "Hubble lost events, not a flow: 12 events lost at HUBBLE_RING_BUFFER"),
        (9, "a Hubble node status event, not a flow: NODE_CONNECTED"),
    ]


def test_hubble_bare_and_wrapped_lines_mix(store: FlowStore, tmp_path: Path) -> None:
    """`-o json` (bare Flow, legacy) and `-o jsonpb` lines in one file read alike."""
    wrapped = (DATA / "hubble-exporter.json").read_text().splitlines()[6]
    bare = json.dumps(json.loads(wrapped)["flow"])
    path = tmp_path / "mixed.json"
    path.write_text(f"{wrapped}\n{bare}\n")
    got = store.import_file(path, "m")
    assert (got.read, got.stored) == (2, 2)
    assert store.query("SELECT count, verdict FROM flows") == [(2, "forwarded")]


def test_whisker_flows(store: FlowStore) -> None:
    """Calico Open Source's Whisker flows (Goldmane): the Src and Dst reports of one flow
    fold, PUBLIC/PRIVATE NETWORK are Calico's pub/pvt, actions are read in any case."""
    path = DATA / "whisker.json"
    assert detect_format(path) is FlowFormat.CALICO
    got = store.import_file(path, "w")
    assert (got.read, got.stored, got.rejected) == (5, 4, 1)
    rows = store.query(
        "SELECT src_ns, src_pod, dst_ns, dst_pod, protocol, port, verdict, count FROM flows "
        "ORDER BY port"
    )
    assert rows == [
        ("frontend", "webapp-7d9f8b6c5-*", "", "pvt", "UDP", 53, "allow", 1),
        ("frontend", "webapp-7d9f8b6c5-*", "shop", "postgres-*", "TCP", 5432, "allow", 1),
        ("", "pub", "frontend", "webapp-7d9f8b6c5-*", "TCP", 8080, "deny", 1),
    ]
    (detail,) = store.query("SELECT detail FROM flows WHERE port = 5432")[0]
    assert "default|frontend/webapp-egress|allow" in detail
    assert store.query("SELECT line, reason FROM rejects") == [(5, "no proto")]


def test_fast_and_precise_paths_agree(tmp_path: Path) -> None:
    """A clean file takes the fast reader; the same records with one bad line take the
    precise one: the keys are the same."""
    clean = (DATA / "hubble-exporter.json").read_text().splitlines()[:7]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text("\n".join(clean) + "\n")
    b.write_text("\n".join([*clean, "{not json"]) + "\n")
    keys = []
    for path in (a, b):
        with FlowStore(":memory:") as s:
            s.import_file(path, path.name)
            keys.append(s.query("SELECT * EXCLUDE (format) FROM flows ORDER BY ALL"))
    assert keys[0] == keys[1]
    assert len(keys[0]) == 2


def test_pairs_fold_across_the_files_of_one_import(tmp_path: Path) -> None:
    """The Hubble exporter writes one file per node: the source node's EGRESS report and
    the destination node's INGRESS report of one connection are in two files, imported
    together they are one observation, counted for the first end's file."""
    lines = (DATA / "hubble-exporter.json").read_text().splitlines()
    a, b = tmp_path / "node-a.json", tmp_path / "node-b.json"
    a.write_text(lines[0] + "\n")
    b.write_text(lines[1] + "\n")
    with FlowStore(":memory:") as s:
        got = s.import_files([(a, "node-a.json"), (b, "node-b.json")])
        assert [(r.read, r.stored) for r in got] == [(1, 1), (1, 1)]  # type: ignore[union-attr]
        assert s.query("SELECT count, verdict FROM flows") == [(1, "forwarded")]
    with FlowStore(":memory:") as s:  # apart, each import counts its own report
        s.import_file(a, "node-a.json")
        s.import_file(b, "node-b.json")
        assert s.query("SELECT count FROM flows") == [(2,)]


def test_a_late_record_of_the_other_shape_is_read(store: FlowStore, tmp_path: Path) -> None:
    """The fast reader reads the shape of the first records (here GetFlowsResponse); a bare
    Flow far below them is still read as a flow, not rejected."""
    wrapped = (DATA / "hubble-exporter.json").read_text().splitlines()[6]
    bare = json.dumps(json.loads(wrapped)["flow"])
    path = tmp_path / "late.json"
    path.write_text("\n".join([wrapped] * 120 + [bare]) + "\n")
    got = store.import_file(path, "late")
    assert (got.read, got.stored, got.rejected) == (121, 121, 0)
    assert store.query("SELECT count FROM flows") == [(121,)]
