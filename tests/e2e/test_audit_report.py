"""The audit report as an auditor gets it: the HTML opened in Debian's chromium (Playwright,
no network), a screenshot checked for content and the expected headings, every failed
control's links landing on a finding; and the PDF printed by `-o pdf`, turned into PNG
pages by pdftoppm."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser, sync_playwright
from typer.testing import CliRunner

from microseg.cli.app import app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
runner = CliRunner()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report_html(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = runner.invoke(
        app,
        [
            "audit",
            str(demo_dir),
            "--framework",
            "pci-dss-4",
            "--framework",
            "cis",
            "--intents",
            str(demo_dir / "intents.yaml"),
            "-o",
            "html",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _not_blank(png: Path) -> None:
    image = Image.open(png).convert("L")
    stat = ImageStat.Stat(image)
    assert stat.stddev[0] > 10, "the page looks blank"
    dark = sum(image.histogram()[:128])
    assert dark > 0.002 * image.width * image.height, "almost nothing is drawn"


def test_report_in_the_browser(browser: Browser, report_html: Path, tmp_path: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    # self-contained: nothing is fetched when the report is viewed
    assert "<script" not in html
    assert not any(bad in html for bad in ('src="http', 'href="http', "url(http", "@import"))
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report_html.as_uri())
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    _not_blank(shot)
    headings = page.locator("h2").all_inner_texts()
    for wanted in (
        "Summary",
        "Segmentation",
        "RBAC: the most powerful subjects",
        "PCI DSS v4.0.1",
        "CIS Kubernetes Benchmark v1.12",
        "Findings",
    ):
        assert wanted in headings, headings
    # the pictures are drawn: the namespace graph has a node per namespace and red paths
    assert page.locator("svg.nsgraph circle").count() >= 6
    assert page.locator('svg.nsgraph path[stroke="#c62828"]').count() >= 1
    assert page.locator("svg.coverage rect").count() >= 10
    assert page.locator("svg.power rect").count() >= 2
    # the access review's table: one row per rule a subject holds
    assert "Effective permissions per subject" in page.locator("h3").all_inner_texts()
    rows = page.locator("table.grants tbody tr")
    assert rows.count() >= 4
    assert any(t.startswith("Group oncall") for t in rows.all_inner_texts())
    # every failed control points at findings that exist in the page
    links = page.locator("tr.st-fail td.links a")
    assert links.count() > 5
    for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        assert page.locator(href).count() == 1, href
    first = page.locator("article.finding").first
    assert first.locator(".fix").inner_text().strip()
    page.close()


def test_pdf_pages(demo_dir: Path, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm missing: apt-get install poppler-utils (.ci/run does)")
    pdf = tmp_path / "report.pdf"
    result = runner.invoke(
        app, ["audit", str(demo_dir), "--framework", "pci-dss-4", "-o", "pdf", "--out", str(pdf)]
    )
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 4
    _not_blank(pages[0])
    _not_blank(pages[1])  # the segmentation picture
