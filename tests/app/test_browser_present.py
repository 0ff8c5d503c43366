"""The presenter's promises in a real browser at 1920×1080 (a projector): story by keyboard with nothing
to scroll, big type, ≥ 10 artists of each list above the fold on Instruction & results, the finding first
on Attention, the Evidence page. Same server and browser fixtures as test_browser.py."""

from __future__ import annotations

import re

import app_support as support
import pytest
from test_browser import IDLE, _shot, browser, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
app_model = support.app_model
W, H = 1920, 1080


def _idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=60_000)


def _px(locator) -> float:
    return float(locator.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))


def _inside(locator) -> None:
    """Every match is rendered and lies entirely inside the 1920×1080 viewport (no scrolling needed)."""
    assert locator.count() > 0
    for i in range(locator.count()):
        box = locator.nth(i).bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= H + 1, (i, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= W + 1, (i, box)


def test_story_walk_by_keyboard_fits_one_screen(server, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": W, "height": H})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/story?page=story&step=1")
    headline = page.get_by_test_id("story-headline")
    expect(headline).to_be_visible(timeout=60_000)
    _idle(page)
    page.wait_for_selector("iframe", state="attached", timeout=30_000)  # the ← → listener
    seen = []
    for step in range(1, 7):
        expect(page.get_by_text(re.compile(rf"Story · step {step} of 6"))).to_be_visible(timeout=60_000)
        _idle(page)
        assert f"step={step}" in page.url
        text = headline.inner_text()
        assert text and text not in seen  # one headline per step, computed from its numbers
        seen.append(text)
        assert _px(headline) >= 24
        _inside(headline)
        names = page.locator(".sl-name")
        if names.count():
            assert min(_px(names.nth(i)) for i in range(names.count())) >= 18
            _inside(page.locator(".sl-card"))
        charts = page.locator('[data-testid="stPlotlyChart"]')
        if charts.count():
            _inside(charts)
        _inside(page.get_by_role("button", name="Next →"))
        _shot(page, tmp_path, f"story_{step}")
        page.keyboard.press("ArrowRight")
    assert "claims reproduced" in seen[-1] or "No measurements" in seen[-1]
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_text("Story · step 5 of 6")).to_be_visible(timeout=60_000)
    assert not errors, errors
    page.close()


def test_compare_lists_above_the_fold_after_recommend(server, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": W, "height": H})
    page.goto(f"{server}/compare?page=compare")
    expect(page.get_by_role("heading", name="Instruction & results")).to_be_visible(timeout=60_000)
    _idle(page)
    page.get_by_role("button", name="Recommend").click()
    _idle(page)
    expect(page.locator("[data-method]")).to_have_count(5)
    _shot(page, tmp_path, "compare_1080")
    full = 0
    for card in page.locator("[data-method]").all():
        rows = card.locator(".cp-item")
        shown = min(rows.count(), 10)  # a filtered list may come back short ("Nothing left")
        full += shown == 10
        for i in range(shown):
            expect(rows.nth(i)).to_be_in_viewport(ratio=1.0, timeout=10_000)
            box = rows.nth(i).bounding_box()
            assert box and box["y"] + box["height"] <= H, (card.get_attribute("data-method"), i, box)
            assert _px(rows.nth(i).locator(".cp-name")) >= 16
        assert "unknown" not in card.inner_text()  # unknown labels are left out, not repeated
    assert full >= 3
    page.close()


def test_attention_leads_with_the_finding(server, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": W, "height": H})
    page.goto(f"{server}/attention?page=attention")
    expect(page.get_by_role("heading", name="Attention", exact=True)).to_be_visible(timeout=60_000)
    _idle(page)
    lead = page.get_by_text(re.compile("of its attention on the condition token"))
    expect(lead).to_be_visible()
    _inside(lead)
    assert _px(lead) >= 24
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(1)  # one heatmap at a time
    _shot(page, tmp_path, "attention_1080")
    page.close()


def test_evidence_page_table_and_charts(server, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": W, "height": H})
    page.goto(f"{server}/evidence?page=evidence")
    expect(page.get_by_role("heading", name="Evidence")).to_be_visible(timeout=60_000)
    _idle(page)
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Reproduced", exact=True)).to_be_visible(timeout=30_000)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    charts.first.wait_for(state="attached", timeout=30_000)  # plotly loads lazily
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= 2",
                           timeout=30_000)
    assert charts.count() >= 2
    _shot(page, tmp_path, "evidence_1080")
    page.close()
