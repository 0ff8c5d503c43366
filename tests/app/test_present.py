"""Story mode, the Evidence page and the slide deck: AppTest and a reopened .pptx.

The app runs against the tiny model of app_support.py; the evidence reads a metrics.json
written to a tmp folder (with a demo section in run_demo's shape) through CLIMBER_METRICS.
"""

from __future__ import annotations

import io
import json
import math

import app_support as support
import pytest
from app_support import assert_clean, run_app
from test_evidence import DEMO

from app import deck, story
from app.presets import compute_presets
from engine import evidence
from engine.paths import METRICS_JSON, RESULTS_DIR

app_model, app_env, rec = support.app_model, support.app_env, support.rec
pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture(scope="module", autouse=True)
def metrics_with_demo(tmp_path_factory):
    import os

    path = tmp_path_factory.mktemp("metrics") / "metrics.json"
    base = json.loads(METRICS_JSON.read_text()) if METRICS_JSON.exists() else {}
    path.write_text(json.dumps({**base, "demo": DEMO}))
    old = os.environ.get("CLIMBER_METRICS")
    os.environ["CLIMBER_METRICS"] = str(path)
    yield path
    if old is None:
        os.environ.pop("CLIMBER_METRICS", None)
    else:
        os.environ["CLIMBER_METRICS"] = old


def headline(at) -> str:
    return next(h.value for h in at.html if "story-headline" in h.value)


def test_story_steps_by_buttons_and_url():
    at = run_app({"page": "story", "step": "2"}, page="story")
    assert_clean(at)
    assert at.session_state["story_step"] == 2
    assert "post-hoc filtering kept" in headline(at)
    at.button(key="story_next").click().run()
    assert_clean(at)
    assert at.session_state["story_step"] == 3 and at.query_params["step"] == "3"
    seen = {3: headline(at)}
    for n in range(4, 7):
        at.button(key="story_next").click().run()
        assert_clean(at)
        seen[n] = headline(at)
    assert at.session_state["story_step"] == 6
    assert "claims reproduced" in seen[6]
    assert at.button(key="story_next").disabled
    at.button(key="story_prev").click().run()
    assert at.session_state["story_step"] == 5 and "next" in headline(at)


def test_story_headlines_are_computed_from_the_lists(rec):
    p = compute_presets(rec.users(), rec.items)[0]
    h = rec.user_history(p.user_id)
    tastes = [g for g, _ in story.tastes(rec.items, h)]
    s2 = story.underfill(rec, h, tastes[0])
    kept = s2.numbers["kept"]
    assert f"kept {kept[1]} of 10 at ×1 and {kept[5]} of 10 at ×5" in s2.headline
    assert f"CGSA returned {s2.numbers['cgsa_returned']} of 10, {s2.numbers['cgsa_matching']} matching" in s2.headline
    assert s2.lists[1][1].n_returned == s2.numbers["cgsa_returned"]
    s3 = story.contrast(rec, h, tastes[:2])
    for g in tastes[:2]:
        res = dict(s3.lists)[f"Instruction: {g}"]
        assert f"gives {int(res.items['complies'].sum())} of 10 {g} artists" in s3.headline


def test_evidence_page_shows_claims_with_intervals_and_slices():
    at = run_app({"page": "evidence"}, page="evidence")
    assert_clean(at)
    assert at.title[0].value == "Evidence"
    table = at.dataframe[0].value
    assert {"verdict", "estimate", "95 % interval", "paper"} <= set(table.columns)
    assert set(table["verdict"]) <= set(evidence.VERDICTS) and len(table) > 0
    assert "Accuracy vs baselines" in set(table["topic"])  # the demo section is read from CLIMBER_METRICS
    slices = [d.value for d in at.dataframe[1:] if "method" in d.value.columns]
    assert slices and {"HR@10", "CC@10"} <= set(slices[0].columns)
    assert len(at.get("plotly_chart")) >= 3


def test_story_deck_reopens_with_charts_values_and_every_artist(rec):
    from pptx import Presentation
    from pptx.enum.chart import XL_CHART_TYPE

    p = compute_presets(rec.users(), rec.items)[0]
    h = rec.user_history(p.user_id)
    tastes = [g for g, _ in story.tastes(rec.items, h)]
    curves = {"TAMIP + CGSA": rec.checkpoint.metrics["myopia"]}
    steps = [story.listener(rec.items, h, "Preset"), story.underfill(rec, h, tastes[0]),
             story.contrast(rec, h, tastes[:2]), story.composed(rec, h, tastes[0]),
             story.myopia({"TAMIP + CGSA": rec}, h, curves)]
    inputs = evidence.load_inputs(METRICS_JSON, RESULTS_DIR)
    claims = evidence.claims(inputs)
    steps.append(story.evidence_step(claims))
    bands = {n: [evidence.wilson(x, u) for x, u in zip(c["HR@50"], c["users"], strict=True)]
             for n, c in curves.items()}
    data = deck.story_deck(steps, claims, "Preset", inputs["conditioning"], bands)

    prs = Presentation(io.BytesIO(data))
    slides = list(prs.slides)
    extra = 1 if inputs["conditioning"] else 0
    assert len(slides) == 1 + len(steps) + extra + math.ceil(len(claims) / deck.CLAIMS_PER_SLIDE)
    titles = [s.shapes.title.text for s in slides]
    assert titles[1:1 + len(steps)] == [f"{s.n} · {s.title}" for s in steps]
    charts = {t: [sh.chart for sh in s.shapes if sh.has_chart] for t, s in zip(titles, slides, strict=True)}
    under = charts[f"2 · {story.TITLES[1]}"][0]
    assert under.chart_type == XL_CHART_TYPE.COLUMN_CLUSTERED
    assert list(under.plots[0].series[0].values) == [*steps[1].numbers["kept"].values(),
                                                     steps[1].numbers["cgsa_returned"]]
    curve = charts[f"5 · {story.TITLES[4]}"][0]
    assert curve.chart_type == XL_CHART_TYPE.LINE_MARKERS
    assert list(curve.plots[0].series[0].values) == pytest.approx(curves["TAMIP + CGSA"]["HR@50"])
    if extra:
        bars = next(c for t, cs in charts.items() if t.startswith("HR@10 and CC@10") for c in cs)
        cats, series = deck.hr_cc_series(inputs["conditioning"])
        assert [s.name for s in bars.plots[0].series] == list(series)
        assert list(bars.plots[0].series[1].values) == pytest.approx(series["CC@10"])
    text = "\n".join(sh.text_frame.text for s in slides for sh in s.shapes if sh.has_text_frame)
    names = {str(n) for st in steps for _, res in st.lists for n in res.items["name"]}
    assert names and all(n in text for n in names)
    tables = [sh.table for s in slides for sh in s.shapes if sh.has_table]
    verdicts = [t.cell(r, 4).text for t in tables for r in range(1, len(t.rows))]
    assert verdicts == [c.verdict for c in claims]
