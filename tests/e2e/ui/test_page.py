"""The page in a real browser: Debian's chromium, driven by Playwright (it cannot download
its own browser here), against a real `microseg ui`. Clicks land on the graph canvas at
the positions cytoscape reports for nodes and edges, as a person's would."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.ui.conftest import MICROSEG, REPO, Server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser: Browser, server: Server) -> Page:
    page = browser.new_page(viewport={"width": 1500, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    settle(page)
    assert not errors, errors
    return page


def settle(page: Page) -> None:
    page.wait_for_function(
        "window.microseg && window.microseg.ready && document.body.dataset.rendered"
    )
    page.wait_for_timeout(150)
    page.wait_for_function("window.microseg.ready")


def click_element(page: Page, element_id: str) -> None:
    x, y = page.evaluate(
        """(id) => {
            const cy = window.microseg.cy;
            const el = cy.getElementById(id);
            if (el.empty()) throw new Error('not drawn: ' + id);
            const p = el.isNode() ? el.renderedPosition() : el.renderedMidpoint();
            const r = cy.container().getBoundingClientRect();
            return [p.x + r.left, p.y + r.top];
        }""",
        element_id,
    )
    page.mouse.click(x, y)


def expand(page: Page, *namespaces: str) -> None:
    for ns in namespaces:
        before = page.evaluate("document.body.dataset.rendered")
        click_element(page, f"ns:{ns}")
        page.wait_for_function(f"document.body.dataset.rendered !== '{before}'")
        settle(page)


def not_blank(path: Path) -> None:
    """A screenshot with a drawing in it: many distinct colours, not one flat fill."""
    from PIL import Image

    with Image.open(path) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None
    assert len(colours) > 200, f"{path} looks blank ({len(colours)} colours)"


def test_namespace_view_then_drill_down_and_explain_the_closed_gap(
    browser: Browser, fixed_server: Server, tmp_path: Path
) -> None:
    page = open_page(browser, fixed_server)
    drawn = page.evaluate("window.microseg.cy.nodes().map(n => n.id())")
    assert "ns:frontend" in drawn
    assert not any(n.startswith("w:") for n in drawn)  # namespaces first
    page.screenshot(path=tmp_path / "namespaces.png")
    not_blank(tmp_path / "namespaces.png")
    expand(page, "frontend", "shop")
    edge = "attempted:w:frontend/webapp[Deployment]->w:shop/postgres[StatefulSet]"
    click_element(page, edge)
    page.wait_for_selector("#explanation")
    assert page.get_attribute("#explanation", "data-verdict") == "denied"
    text = page.inner_text("#explain-text")
    assert text.startswith(
        "DENIED  frontend/webapp[Deployment] -> shop/postgres[StatefulSet]  TCP 5432"
    )
    assert "no NetworkPolicy rule allows" in text
    assert "policies/shop.yaml" in page.inner_text("#explanation") or "frontend.yaml" in text
    page.screenshot(path=tmp_path / "explained.png")
    not_blank(tmp_path / "explained.png")


def test_blast_radius_overlay_toggles(
    browser: Browser, demo_server: Server, tmp_path: Path
) -> None:
    page = open_page(browser, demo_server)
    expand(page, "frontend", "shop")
    click_element(page, "w:frontend/webapp[Deployment]")
    page.wait_for_selector("#blast-toggle")
    assert "IDENTITY" in page.inner_text("#panel").upper()
    assert "spiffe://cluster.local/ns/frontend/sa/webapp" in page.inner_text("#panel")
    page.click("#blast-toggle")
    page.wait_for_function("window.microseg.cy.nodes('.hop').length > 0")
    label = page.evaluate(
        "window.microseg.cy.getElementById('w:shop/postgres[StatefulSet]').data('hopLabel')"
    )
    assert label == "postgres\n1 hop"
    assert "blast radius of frontend/webapp" in page.inner_text("#status")
    page.screenshot(path=tmp_path / "blast.png")
    not_blank(tmp_path / "blast.png")
    page.click("#blast-toggle")
    page.wait_for_function("window.microseg.cy.nodes('.hop').length === 0")


def test_violation_edge_explains_the_open_gap(browser: Browser, demo_server: Server) -> None:
    page = open_page(browser, demo_server)
    expand(page, "frontend", "shop")
    click_element(page, "allowed:w:frontend/webapp[Deployment]->w:shop/postgres[StatefulSet]")
    page.wait_for_selector("#explanation")
    assert page.get_attribute("#explanation", "data-verdict") == "allowed"
    body = page.inner_text("#explanation")
    assert "Violates intent: shop/deny[0]" in body
    assert "[NP shop/postgres-allow-shop-tenant#0 Allow]" in body
    assert "shop.yaml:114" in body


def test_draw_a_forbidden_path_save_and_verify(
    browser: Browser, fixed_server: Server, tmp_path: Path
) -> None:
    page = open_page(browser, fixed_server)
    expand(page, "frontend", "shop")
    page.select_option("#d-kind", "deny")
    page.click("#draw-intent")
    click_element(page, "w:frontend/webapp[Deployment]")
    click_element(page, "w:shop/postgres[StatefulSet]")
    page.wait_for_selector("#draft-verdict")
    assert page.get_attribute("#draft-verdict", "data-status") == "holds"
    assert "frontend-webapp must not reach shop-postgres" in page.inner_text("#draft-verdict")
    # a second one that does not hold: the webapp must not reach the api gateway
    page.click("#draw-intent")
    click_element(page, "w:frontend/webapp[Deployment]")
    click_element(page, "w:shop/api-gateway[Deployment]")
    page.wait_for_selector("#draft-verdict[data-status='violated']")
    assert "allowed for 1 pair" in page.inner_text("#draft-verdict")
    assert "ALLOWED frontend/webapp[Deployment] -> shop/api-gateway" in page.inner_text(
        "#draft-explanation"
    )
    page.screenshot(path=tmp_path / "intent.png")
    not_blank(tmp_path / "intent.png")
    page.click("#save-intents")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('saved')")
    saved = fixed_server.intents.read_text()
    assert "drawn-in-ui" in saved
    run = subprocess.run(
        [*MICROSEG, "verify", str(fixed_server.inputs), "--intents", str(fixed_server.intents)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("FAIL 1 of 2 intents violated")
    assert "drawn-in-ui/deny[1]" in run.stdout


def test_export_png_and_svg(browser: Browser, demo_server: Server, tmp_path: Path) -> None:
    page = open_page(browser, demo_server)
    for button, suffix in (("#export-png", ".png"), ("#export-svg", ".svg")):
        with page.expect_download() as info:
            page.click(button)
        target = tmp_path / f"graph{suffix}"
        info.value.save_as(target)
        assert target.stat().st_size > 1000
    assert (tmp_path / "graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    not_blank(tmp_path / "graph.png")


def test_recommended_policy_offered_with_flows(browser: Browser, fixed_server: Server) -> None:
    page = open_page(browser, fixed_server)
    expand(page, "shop")
    click_element(page, "w:shop/api-gateway[Deployment]")
    page.wait_for_selector("#recommend:not([disabled])")
    page.click("#recommend")
    page.wait_for_selector("#recommend-yaml")
    assert "kind: NetworkPolicy" in page.inner_text("#recommend-yaml")
    assert page.get_attribute("#recommendation .verdict", "data-breaks") == "0"
