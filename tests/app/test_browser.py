"""A real browser against a running Streamlit server: preset → instruction → results → heatmap.

Needs /usr/bin/chromium (CI: ``apt-get install -y chromium``) and the ``playwright`` Python
package; never ``playwright install``. Screenshots go to the test's tmp folder and, when it
is writable, to ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import app_support as support
import pytest
from app_support import APP, ROOT

CHROMIUM = Path("/usr/bin/chromium")
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
pytestmark = pytest.mark.browser
app_model = support.app_model  # session fixture: tiny model on the synthetic set


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(app_model, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: install it with `apt-get install -y chromium` (CI does)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, **app_model.env(), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    artifacts = ROOT / "tests" / "artifacts"
    try:
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    except OSError:
        pass  # read-only checkout: the tmp copy is enough


def _idle(page) -> None:
    page.wait_for_selector(IDLE, timeout=60_000)


def _genres(model) -> list[str]:
    """Genres of the test catalogue, most common first (what the composer offers)."""
    from engine import load_dataset

    counts = load_dataset(model.data).items["genre"].value_counts()
    return [g for g in counts.index if g != "unknown"]


def test_preset_instruction_results_and_heatmap(server, browser, app_model, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1600, "height": 1500})
    outside, errors = [], []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((server, "data:", "blob:")) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server)
    expect(page.get_by_role("heading", name="Listening history")).to_be_visible(timeout=60_000)
    _idle(page)
    expect(page.get_by_text("Synthetic data.")).to_be_visible()
    _shot(page, tmp_path, "1_history")

    page.get_by_role("button", name="Use this preset → results").first.click()
    page.wait_for_url(re.compile(r"/compare"), timeout=60_000)
    expect(page.get_by_role("heading", name="Instruction & results")).to_be_visible(timeout=60_000)
    _idle(page)
    expect(page.locator("[data-method]")).to_have_count(5)

    # Add a second genre to the instruction and submit the form.
    selected = page.url.split("genres=")[1].split("&")[0] if "genres=" in page.url else ""
    added = next(g for g in _genres(app_model) if g not in selected)
    combo = page.get_by_role("combobox", name="Genre(s)")
    combo.click()
    combo.fill(added)
    page.get_by_role("option", name=added, exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Recommend").click()
    page.wait_for_url(re.compile(r"genres=[^&]*" + re.escape(added.replace("/", "%2F").replace("&", "%26"))),
                      timeout=60_000)
    _idle(page)
    expect(page.locator("[data-method]")).to_have_count(5)
    hard = page.locator("[data-method='CGSA + hard filter'] .cp-item")
    expect(hard).to_have_count(10)
    assert page.locator("[data-method='CGSA + hard filter'] .cp-item.match").count() == 10
    expect(page.locator("[data-method='CGSA + hard filter']")).to_contain_text("CC@10 100%")
    _shot(page, tmp_path, "2_results")

    page.get_by_role("link", name="Attention").click()
    page.wait_for_url(re.compile(r"/attention"), timeout=60_000)
    expect(page.get_by_role("heading", name="Attention", exact=True)).to_be_visible(timeout=60_000)
    _idle(page)
    expect(page.get_by_text(re.compile("of its attention on the condition token"))).to_be_visible()  # finding first
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(1, timeout=30_000)  # one at a time
    page.get_by_text("CGSA mask", exact=True).click()
    _idle(page)
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(1, timeout=30_000)
    heat = page.locator(".js-plotly-plot .heatmaplayer .hm").first
    expect(heat).to_be_attached(timeout=30_000)
    assert page.locator(".js-plotly-plot .xtick text", has_text="★").count() > 0  # matches highlighted
    _shot(page, tmp_path, "3_attention")

    assert not errors, errors
    assert not outside, f"the page called outside servers: {outside[:5]}"
    page.close()


def test_case_study_export_and_json_round_trip(server, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1600, "height": 1500}, accept_downloads=True)
    page.goto(f"{server}/case_study?page=case_study&k=6")
    expect(page.get_by_role("heading", name="Case study & share")).to_be_visible(timeout=60_000)
    _idle(page)
    expect(page.locator("[data-method='Unconstrained'] .cp-item")).to_have_count(6)
    _shot(page, tmp_path, "4_case_study")

    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Download case study (HTML)").click()
    html_path = tmp_path / "case_study.html"
    dl.value.save_as(html_path)
    text = html_path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "data-method='Unconstrained'" in text
    assert "<title>Case study: Preset" in text and "(generated; no real listeners)" in text

    offline = browser.new_page(viewport={"width": 1400, "height": 1400})
    outside = []
    offline.on("request", lambda r: outside.append(r.url) if r.url.startswith("http") else None)
    offline.goto(html_path.as_uri())
    expect(offline.locator(".js-plotly-plot")).to_have_count(2, timeout=30_000)
    _shot(offline, tmp_path, "5_exported_html")
    assert not outside, f"the exported page is not self-contained: {outside[:3]}"
    offline.close()

    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Download this view (JSON)").click()
    view_path = tmp_path / "view.json"
    dl.value.save_as(view_path)
    assert '"k": 6' in view_path.read_text()

    fresh = browser.new_page(viewport={"width": 1600, "height": 1500})
    fresh.goto(f"{server}/case_study")
    expect(fresh.get_by_role("heading", name="Case study & share")).to_be_visible(timeout=60_000)
    _idle(fresh)
    fresh.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(view_path))
    fresh.wait_for_url(re.compile(r"k=6"), timeout=60_000)
    _idle(fresh)
    expect(fresh.locator("[data-method='Unconstrained'] .cp-item")).to_have_count(6)
    page.close()
    fresh.close()
