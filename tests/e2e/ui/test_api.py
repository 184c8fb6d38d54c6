"""The JSON API of `microseg ui` against a real server (uvicorn on loopback), with httpx:
every answer is the engine's or an analysis's, in the documented shape."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from microseg.ui.app import create_app
from tests.e2e.ui.conftest import MICROSEG, REPO, Server


def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def test_summary_names_the_inputs_and_counts(demo_server: Server) -> None:
    s = client(demo_server).get("/api/summary").json()
    assert s["apiVersion"] == "microseg.dev/v1alpha1"
    assert s["kind"] == "UiSummary"
    assert (s["workloads"], s["namespaces"], s["edges"]) == (11, 5, 29)
    assert s["intentsViolated"] == 1
    assert s["intentsHold"] == 17
    assert s["recommend"] is False
    assert "--flows" in s["recommendNote"]


def test_namespace_view_first_and_the_gap_is_a_violation(demo_server: Server) -> None:
    g = client(demo_server).get("/api/graph").json()
    kinds = {n["id"]: n["kind"] for n in g["nodes"]}
    assert kinds["ns:shop"] == "namespace"
    assert not any(k == "workload" for k in kinds.values())
    edge = next(e for e in g["edges"] if e["source"] == "ns:frontend" and e["target"] == "ns:shop")
    assert edge["pairs"] == 2
    assert edge["conn"] == "TCP 5432,8080"
    assert edge["violating"]
    assert edge["intents"] == ["shop/deny[0]"]
    shop = next(n for n in g["nodes"] if n["id"] == "ns:shop")
    assert (shop["workloads"], shop["ingressIsolated"], shop["egressIsolated"]) == (
        6,
        "all",
        "none",
    )
    assert shop["internalEdges"] == 9
    # external peers are grouped by IANA class: the card processor's range is documentation
    # space (RFC 5737), drawn in the special-purpose group
    pay = [e for e in g["edges"] if e["source"] == "ns:payments" and e["target"].startswith("p:")]
    assert [(e["target"], e["conn"]) for e in pay] == [("p:external:special", "TCP 443,8000-8100")]


def test_drill_down_shows_workloads_with_isolation(demo_server: Server) -> None:
    g = client(demo_server).get("/api/graph", params={"expand": ["shop", "frontend"]}).json()
    pg = next(n for n in g["nodes"] if n["id"] == "w:shop/postgres[StatefulSet]")
    assert pg["parent"] == "ns:shop"
    assert pg["ingressIsolated"] == "all"
    assert pg["egressIsolated"] == "none"
    assert pg["labels"]["app"] == "postgres"
    gap = next(
        e
        for e in g["edges"]
        if e["source"] == "w:frontend/webapp[Deployment]"
        and e["target"] == "w:shop/postgres[StatefulSet]"
    )
    assert gap["violating"]
    assert gap["colour"] == "TCP 5432"


def test_edge_explanation_has_both_layers_with_file_and_line(demo_server: Server) -> None:
    e = (
        client(demo_server)
        .get("/api/explain", params={"src": "frontend/webapp", "dst": "shop/postgres"})
        .json()
    )
    assert e["verdict"] == "Allow"
    assert e["allowed"] == "TCP 5432"
    assert e["layer"] == "both"
    egress = e["egress"]["steps"][0]
    assert egress["policy"] == "frontend/webapp-egress"
    assert egress["rule"] == 2
    assert egress["origin"]["file"].endswith("examples/demo/policies/frontend.yaml")
    assert egress["origin"]["line"] == 72
    ingress = e["ingress"]["steps"][0]
    assert ingress["origin"]["line"] == 114
    assert "[mTLS STRICT shop]" in [s["label"] for s in e["mesh"]]
    assert e["intents"] == ["shop/deny[0]"]
    assert e["text"].startswith("ALLOWED frontend/webapp[Deployment] -> shop/postgres[StatefulSet]")


def test_pairs_behind_an_aggregated_edge(demo_server: Server) -> None:
    d = (
        client(demo_server)
        .get(
            "/api/edge", params={"source": "ns:frontend", "target": "ns:shop", "layer": "violating"}
        )
        .json()
    )
    assert d["total"] == 1
    (pair,) = d["pairs"]
    assert (pair["src"], pair["dst"], pair["conn"]) == (
        "frontend/webapp[Deployment]",
        "shop/postgres[StatefulSet]",
        "TCP 5432",
    )
    assert pair["intents"] == ["shop/deny[0]"]


def test_workload_details_policies_identity(demo_server: Server) -> None:
    w = (
        client(demo_server)
        .get("/api/workload", params={"name": "shop/postgres[StatefulSet]"})
        .json()
    )
    assert w["serviceAccount"] == "postgres"
    assert w["spiffeId"] == "spiffe://cluster.local/ns/shop/sa/postgres"
    assert w["mtls"] == "STRICT"
    names = [(p["kind"], p["name"], p["origin"]["line"]) for p in w["policies"]]
    assert ("NetworkPolicy", "shop/postgres-allow-shop-tenant", 100) in names
    assert ("PeerAuthentication", "shop/default", 5) in names


def test_blast_radius_with_hop_counts(demo_server: Server) -> None:
    b = client(demo_server).get("/api/blast", params={"from": "frontend/webapp"}).json()
    hops = {h["workload"]: h["hops"] for h in b["reachable"]}
    assert hops["shop/postgres[StatefulSet]"] == 1
    assert hops["shop/cart[Deployment]"] == 2
    assert b["namespaces"]["frontend"] == 0
    assert b["namespaces"]["shop"] == 1


def test_filters_by_label_and_port(demo_server: Server) -> None:
    c = client(demo_server)
    g = c.get("/api/graph", params={"all": "true", "port": "TCP/5432"}).json()
    assert "w:shop/postgres[StatefulSet]" in {e["target"] for e in g["edges"]}
    assert all(e["conn"] in ("TCP 5432", "All Connections") for e in g["edges"]), g["edges"]
    g = c.get("/api/graph", params={"all": "true", "label": "app in (redis)"}).json()
    assert all("w:shop/redis[Deployment]" in (e["source"], e["target"]) for e in g["edges"])
    bad = c.get("/api/graph", params={"label": "app in (x"})
    assert bad.status_code == 400
    assert "unbalanced" in bad.json()["message"]


def test_unknown_names_and_bad_ports_are_clear_errors(demo_server: Server) -> None:
    c = client(demo_server)
    r = c.get("/api/explain", params={"src": "shop/nope", "dst": "shop/postgres"})
    assert r.status_code == 404
    assert "no workload or pod" in r.json()["message"]
    r = c.get(
        "/api/explain", params={"src": "shop/cart", "dst": "shop/postgres", "port": "TCP/99999"}
    )
    assert r.status_code == 400


def test_diff_needs_a_second_input(demo_server: Server) -> None:
    r = client(demo_server).get("/api/graph", params={"diff": "true"})
    assert r.status_code == 404
    assert "--diff" in r.json()["message"]


def test_diff_view_shows_the_removed_gap(fixed_server: Server) -> None:
    g = client(fixed_server).get("/api/graph", params={"diff": "true", "all": "true"}).json()
    changed = {
        (e["layer"], e["source"], e["target"]) for e in g["edges"] if e["layer"] != "allowed"
    }
    # OLD is the fixed copy, NEW the demo: the demo adds webapp -> postgres
    assert ("added", "w:frontend/webapp[Deployment]", "w:shop/postgres[StatefulSet]") in changed


def test_observed_and_attempted_flows(fixed_server: Server) -> None:
    c = client(fixed_server)
    g = c.get("/api/graph", params={"expand": ["frontend", "shop"]}).json()
    tried = [e for e in g["edges"] if e["layer"] == "attempted"]
    assert [(e["source"], e["target"], e["conn"], e["weight"], e["verdicts"]) for e in tried] == [
        (
            "w:frontend/webapp[Deployment]",
            "w:shop/postgres[StatefulSet]",
            "TCP 5432",
            3,
            ["dropped"],
        )
    ]
    seen = next(
        e
        for e in g["edges"]
        if e["layer"] == "allowed" and e["target"] == "w:shop/api-gateway[Deployment]"
    )
    assert seen["weight"] == 120
    assert seen["verdicts"] == ["forwarded"]
    e = c.get(
        "/api/explain",
        params={"src": "frontend/webapp", "dst": "shop/postgres", "port": "TCP/5432"},
    ).json()
    assert e["verdict"] == "Deny"
    assert any(f["port"] == 5432 and not f["allowed"] for f in e["observed"])


def test_intents_checked_and_saved_as_yaml_verify_reads(demo_server: Server) -> None:
    c = client(demo_server)
    drafts = {
        "intents": [
            {
                "kind": "deny",
                "from": {"type": "workload", "workload": "frontend/webapp[Deployment]"},
                "to": {"type": "labels", "namespace": "shop", "labels": {"app": "redis"}},
                "ports": [],
            },
            {
                "kind": "allow",
                "from": {"type": "namespace", "namespace": "monitoring"},
                "to": {"type": "workload", "workload": "shop/postgres[StatefulSet]"},
                "ports": ["TCP/9100"],
            },
        ]
    }
    checked = c.post("/api/intents/check", json=drafts).json()
    drawn = {f["id"]: f["status"] for f in checked["findings"] if f["drawn"]}
    # STRICT mTLS in shop rejects the plaintext scrape: the mesh layer counts
    assert drawn == {"drawn-in-ui/deny[0]": "holds", "drawn-in-ui/allow[0]": "violated"}
    assert "web: {workload: frontend/webapp}" in checked["yaml"]  # the file's own text kept
    assert "from: web" in checked["yaml"]  # an existing group reused
    saved = c.post("/api/intents/save", json=drafts).json()
    assert saved["saved"]
    assert saved["violated"] == 2
    text = demo_server.intents.read_text()
    assert text.startswith((REPO / "examples/demo/intents.yaml").read_text())
    run = subprocess.run(
        [
            *MICROSEG,
            "verify",
            str(demo_server.inputs),
            "--intents",
            str(demo_server.intents),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 1, run.stderr
    assert '"id": "drawn-in-ui/deny[0]"' in run.stdout
    assert '"violated": 2' in run.stdout
    again = c.get("/api/intents").json()
    assert sorted(d["kind"] for d in again["drafts"]) == ["allow", "deny"]
    # saving nothing drawn gives the file back as it was
    c.post("/api/intents/save", json={"intents": []})
    assert demo_server.intents.read_text() == (REPO / "examples/demo/intents.yaml").read_text()


def test_bad_drafts_are_refused_with_located_reasons(demo_server: Server) -> None:
    c = client(demo_server)
    r = c.post(
        "/api/intents/check",
        json={
            "intents": [
                {
                    "kind": "deny",
                    "from": {"type": "group", "group": "nope"},
                    "to": {"type": "group", "group": "internet"},
                }
            ]
        },
    )
    assert r.status_code == 422
    assert "unknown group 'nope'" in r.json()["message"]
    r = c.post(
        "/api/intents/check",
        json={
            "intents": [
                {
                    "kind": "deny",
                    "from": {"type": "labels", "labels": {"bad key!": "x"}},
                    "to": {"type": "group", "group": "internet"},
                }
            ]
        },
    )
    assert r.status_code == 422
    assert any("MS400" in d for d in r.json()["diagnostics"])


def test_guards_refuse_foreign_hosts_and_origins(demo_server: Server) -> None:
    c = client(demo_server)
    r = c.get("/api/summary", headers={"Host": "evil.example:80"})
    assert r.status_code == 403
    r = c.post(
        "/api/intents/check", json={"intents": []}, headers={"Origin": "http://evil.example"}
    )
    assert r.status_code == 403
    assert c.get("/docs").status_code == 404  # no page that loads scripts from a CDN
    assert c.get("/openapi.json").json()["info"]["title"] == "microseg ui"


@pytest.fixture(scope="module")
def token_server(demo_server: Server) -> Iterator[str]:
    """The app as served on a non-loopback address (token required), on loopback here."""
    import microseg
    from microseg.engine import Connectivity
    from microseg.ui.intents import IntentBook
    from microseg.ui.server import bind
    from microseg.ui.state import UiState

    conn = Connectivity.build(microseg.load([str(demo_server.inputs)]))
    app = create_app(
        UiState.build([str(demo_server.inputs)], conn, IntentBook.open(None)),
        token="s3cret",
        loopback=False,
    )
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def test_token_required_off_loopback(token_server: str) -> None:
    with httpx.Client(base_url=token_server) as c:
        assert c.get("/api/summary").status_code == 401
        assert c.get("/api/summary", params={"token": "wrong"}).status_code == 401
        assert c.get("/api/summary", params={"token": "s3cret"}).status_code == 200
        assert c.get("/api/summary", headers={"X-Microseg-Token": "s3cret"}).status_code == 200
        assert c.get("/").status_code == 200  # the page itself, which then sends the token


def test_malformed_bodies_get_the_one_error_shape(demo_server: Server) -> None:
    r = client(demo_server).post("/api/intents/check", json={"intents": [{"kind": "maybe"}]})
    assert r.status_code == 422
    body = r.json()
    assert body["kind"] == "Error"
    assert any("kind" in d for d in body["diagnostics"])


def test_recommended_policy_for_a_workload_and_what_it_breaks(fixed_server: Server) -> None:
    c = client(fixed_server)
    assert c.get("/api/summary").json()["recommend"] is True
    r = c.get("/api/recommend", params={"workload": "shop/api-gateway"}).json()
    assert r["kind"] == "WorkloadRecommendation"
    assert r["workload"] == "shop/api-gateway[Deployment]"
    assert "kind: NetworkPolicy" in r["yaml"]
    assert "namespace: shop" in r["yaml"]
    # learnt from the flows it is in: replaying them against it breaks none of them
    assert r["newlyDeniedTotal"] == 0
    assert r["policies"]


def test_recommend_needs_flows(demo_server: Server) -> None:
    c = client(demo_server)
    assert c.get("/api/summary").json()["recommend"] is False
    r = c.get("/api/recommend", params={"workload": "shop/api-gateway"})
    assert r.status_code == 404
    assert "--flows" in r.json()["message"]
