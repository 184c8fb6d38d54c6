"""Flow import: every record stored or rejected (with file, line and reason), keys without
replies or ephemeral source ports, and a second import of the same file changing nothing."""

from __future__ import annotations

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
    assert reasons[7].startswith("not a flow")
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
