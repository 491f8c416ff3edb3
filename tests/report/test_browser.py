"""Real-browser tests of report.html: headless Chromium (Debian's) driven by Playwright.

These tests never skip: without Chromium they fail with a message saying how to install it.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path(os.environ.get("NENSTUDY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A fresh headless Chromium profile (persistent context in a new user-data-dir)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"headless Chromium not found at {CHROMIUM}: install Debian's chromium "
                    "(apt-get install -y chromium) or set NENSTUDY_CHROMIUM; the browser tests do not skip",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1100, "height": 1400})
        yield context
        context.close()


@pytest.fixture(scope="module")
def opened(browser, built_report):
    """The report opened in a page, with every console message, page error and request recorded."""
    page = browser.new_page()
    log: dict[str, list] = {"console": [], "pageerror": [], "requestfailed": [], "requests": []}
    page.on("console", lambda m: log["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: log["pageerror"].append(str(e)))
    page.on("requestfailed", lambda r: log["requestfailed"].append(r.url))
    page.on("request", lambda r: log["requests"].append(r.url))
    page.goto((built_report[0] / "report.html").as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    yield page, log
    page.close()


def test_report_opens_without_console_errors(opened):
    _, log = opened
    assert [m for m in log["console"] if m[0] in ("error", "warning")] == []
    assert log["pageerror"] == []


def test_report_has_no_failed_requests(opened):
    assert opened[1]["requestfailed"] == []


def test_no_request_goes_beyond_file_scheme(opened):
    requests = opened[1]["requests"]
    assert requests and all(url.startswith("file://") for url in requests), requests


def test_km_figure_and_its_risk_table_render(opened, tmp_path):
    page, _ = opened
    figure = page.locator("#fig-km_os svg")
    figure.scroll_into_view_if_needed()
    box = figure.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 300
    risk = page.locator('#fig-km_os g[id="km_os-risk-table"]')
    assert risk.is_visible()
    risk_box = risk.bounding_box()
    assert risk_box["width"] > 300 and risk_box["height"] > 5
    assert risk_box["y"] > box["y"] + 0.6 * box["height"]  # under the curves
    shot = Image.open(io.BytesIO(figure.screenshot(path=str(tmp_path / "km_os.png")))).convert("L")
    pixels = np.asarray(shot, dtype=float)
    assert pixels.std() > 20  # not blank
    assert (pixels < 128).mean() > 0.01  # curves, axes and text drawn in dark ink
    table_shot = Image.open(io.BytesIO(risk.screenshot())).convert("L")
    assert (np.asarray(table_shot) < 128).mean() > 0.005  # the numbers at risk are drawn


_ALIGNMENT_JS = """
(name) => {
  const svg = document.querySelector(`#fig-${name} svg`);
  const centre = (el) => { const r = el.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y}; };
  const ticks = [...svg.querySelectorAll(`g[id="${name}-axes_1"] g[id^="${name}-xtick_"] > g[id^="${name}-line2d_"] use`)].map(centre);
  const risk = svg.querySelector(`g[id="${name}-risk-table"]`);
  const texts = [...risk.querySelectorAll(`:scope > g[id^="${name}-text_"]`)].map(centre);
  return {ticks, texts};
}
"""


@pytest.mark.parametrize("name", ["km_os", "km_pfs", "km_os_ecog_group"])
def test_numbers_at_risk_are_aligned_with_ticks_in_the_browser(opened, name):
    page, _ = opened
    found = page.evaluate(_ALIGNMENT_JS, name)
    ticks, texts = found["ticks"], found["texts"]
    assert len(ticks) >= 5
    rows = len(texts) // len(ticks)
    assert rows >= 1
    for tick in ticks:
        under = [t for t in texts if abs(t["x"] - tick["x"]) < 2.5 and t["y"] > tick["y"]]
        assert len(under) == rows, (tick, texts)


def test_sections_start_new_pages_in_print(opened):
    page, _ = opened
    page.emulate_media(media="print")
    try:
        breaks = page.evaluate("[...document.querySelectorAll('section')].map(s => getComputedStyle(s).breakBefore)")
    finally:
        page.emulate_media(media="screen")
    assert breaks and set(breaks) == {"page"}


def test_report_prints_to_a4_with_a_page_per_section(opened):
    page, _ = opened
    pdf = page.pdf(format="A4", print_background=True)
    n_sections = page.locator("section").count()
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pages >= n_sections + 1  # title and contents, then every section on a new page
