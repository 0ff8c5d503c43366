"""Unit tests of the app's pure modules: state encodings, figures, heatmaps, lists, captions,
export, presets and source resolution. No Streamlit script runs here."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from app_support import decode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import captions, export, figures, heatmaps, lists, state
from app.loader import ENV_CHECKPOINT, ENV_DATA, resolve_sources
from app.presets import compute_presets, user_summaries
from engine import EXPLICIT_POLICIES, History, RecResult
from engine.data.schema import EXPLICIT, GENRE, ITEM_ID, LANGUAGE, NAME

GENRES = ("rock", "hip-hop", "pop", "r&b/soul")
LANGS = ("en", "ja", "de")
VOCAB = state.Vocab(genres=frozenset(GENRES), languages=frozenset(LANGS), popularity=frozenset({"head", "tail"}),
                    eras=frozenset({"80s", "90s"}), users=frozenset(range(1, 50)), items=frozenset(range(100, 200)),
                    presets=frozenset({"mixed", "rap_clean"}), pages=frozenset({"history", "compare", "myopia"}))
DEFAULT = state.ViewState(source="preset", preset="mixed")


# --------------------------------------------------------------------------- state


def subset(values):
    return st.lists(st.sampled_from(sorted(values)), unique=True, max_size=3).map(sorted)


def _view(page, source, preset, user, custom, ins, k, of, tp):
    # The active source is always complete; the others may be empty (as after a fresh link).
    preset = preset or ("mixed" if source == "preset" else None)
    user = user if user is not None or source != "user" else 1
    custom = tuple(custom) or ((100,) if source == "custom" else ())
    return state.ViewState(page, source, preset, user, custom, ins, k, of, tp)


views = st.builds(
    _view,
    st.sampled_from(sorted(VOCAB.pages)), st.sampled_from(["preset", "user", "custom"]),
    st.one_of(st.none(), st.sampled_from(sorted(VOCAB.presets))), st.one_of(st.none(), st.sampled_from(sorted(VOCAB.users))),
    st.lists(st.sampled_from(sorted(VOCAB.items)), max_size=5),
    st.fixed_dictionaries({"genres": subset(GENRES), "languages": subset(LANGS),
                           "explicit": st.sampled_from(EXPLICIT_POLICIES), "popularity": subset(VOCAB.popularity),
                           "eras": subset(VOCAB.eras), "blocked_items": subset(VOCAB.items),
                           "exclude_heard": st.booleans()}),
    st.integers(1, state.MAX_K), st.integers(1, state.MAX_OVERFETCH), st.integers(1, state.MAX_TOP_P),
)

# every page's own place (issue 33 part 3): the plain-English text, the case study, the attention heatmap, the story
page_fields = st.fixed_dictionaries({
    "ask": st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=20),
    "cs_title": st.sampled_from(["", "Ke$ha vs _Algol_", "[x](http://y)"]),
    "cs_genres": st.one_of(st.none(), st.lists(st.sampled_from(GENRES), unique=True, max_size=3).map(tuple)),
    "cs_hard": st.booleans(), "att_view": st.sampled_from(sorted(state.ATTENTION_VIEWS)),
    "att_layer": st.integers(0, 3), "att_head": st.sampled_from(["mean", "0", "1"]),
    "step": st.integers(1, 6)})
views = st.builds(lambda v, extra: replace(v, **extra), views, page_fields)


@settings(max_examples=60, deadline=None)
@given(views)
def test_json_round_trip_is_exact(view):
    back, warnings = state.from_json(state.to_json(view, "ds"), VOCAB, DEFAULT, "ds")
    assert back == view and warnings == []


@settings(max_examples=60, deadline=None)
@given(views)
def test_query_round_trip_is_exact(view):
    query = state.to_query(view)
    assert all(isinstance(v, str) for v in query.values())
    back, warnings = state.from_query(query, VOCAB, DEFAULT)
    assert back == view and warnings == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["page", "preset", "user", "custom", "source", "genres", "languages",
                                        "explicit", "blocked", "exclude_heard", "k", "overfetch", "top_p", "eras",
                                        "instruction", "junk"]),
                       st.one_of(st.text(max_size=12), st.integers(), st.none(), st.booleans(),
                                 st.lists(st.text(max_size=5), max_size=3), st.floats(allow_nan=True))))
def test_sanitize_never_raises_and_returns_a_valid_view(raw):
    view, warnings = state.sanitize(raw, VOCAB, DEFAULT)
    assert view.page in VOCAB.pages or view.page == DEFAULT.page
    assert set(view.instruction["genres"]) <= VOCAB.genres
    assert view.instruction["explicit"] in EXPLICIT_POLICIES
    assert 1 <= view.k <= VOCAB.max_k and 1 <= view.overfetch <= state.MAX_OVERFETCH
    assert set(view.custom) <= VOCAB.items and set(view.instruction["blocked_items"]) <= VOCAB.items
    assert isinstance(warnings, list)


def test_sanitize_names_what_it_dropped():
    view, warnings = state.sanitize({"genres": "rock,polka", "k": "0", "user": "7"}, VOCAB, DEFAULT)
    assert view.instruction["genres"] == ["rock"] and view.k == 10 and view.user == 7 and view.source == "user"
    assert any("polka" in w for w in warnings) and any("k='0'" in w for w in warnings)


def test_unusable_history_in_a_link_falls_back_to_the_default():
    for params in ({"user": "abc"}, {"source": "custom"}, {"preset": "nope", "genres": "rock"}):
        view, warnings = state.from_query(params, VOCAB, DEFAULT)
        assert state.history_complete(view) and view.preset == "mixed" and view.source == "preset"
    view, _ = state.from_query({"user": "abc", "custom": "101"}, VOCAB, DEFAULT)
    assert view.source == "custom" and view.custom == (101,)


def test_from_json_rejects_foreign_files():
    with pytest.raises(ValueError, match="not valid JSON"):
        state.from_json("{", VOCAB, DEFAULT)
    with pytest.raises(ValueError, match="not a Climber-Pilot Studio view"):
        state.from_json(json.dumps({"a": 1}), VOCAB, DEFAULT)
    text = state.to_json(DEFAULT, "other-data")
    _, warnings = state.from_json(text, VOCAB, DEFAULT, "this-data")
    assert any("other-data" in w for w in warnings)


def test_json_import_refuses_deep_nesting_empty_custom_and_huge_files():
    with pytest.raises(ValueError, match="nested too deeply"):
        state.from_json("[" * 100_000 + "]" * 100_000, VOCAB, DEFAULT)
    with pytest.raises(ValueError, match="nested too deeply"):
        state.from_json(json.dumps({"format": state.FORMAT, "genres": [[[[[[["rock"]]]]]]]}), VOCAB, DEFAULT)
    with pytest.raises(ValueError, match="custom history with no artists"):
        state.from_json(json.dumps({"format": state.FORMAT, "source": "custom", "custom": []}), VOCAB, DEFAULT)
    with pytest.raises(ValueError, match="none of the artists"):
        state.from_json(json.dumps({"format": state.FORMAT, "source": "custom", "custom": [1, 2]}), VOCAB, DEFAULT)
    with pytest.raises(ValueError, match="bytes"):
        state.from_json(" " * (state.MAX_JSON + 1), VOCAB, DEFAULT)


def test_lists_are_capped_and_a_capped_view_fits_a_link(monkeypatch):
    monkeypatch.setattr(state, "MAX_ITEMS", 50)
    view, warnings = state.sanitize({"custom": list(range(100, 200)), "blocked": list(range(100, 200))},
                                    VOCAB, DEFAULT)
    assert view.custom == tuple(range(150, 200)) and view.instruction["blocked_items"] == list(range(100, 150))
    assert any("only the last 50" in w for w in warnings) and any("only 50 of 100" in w for w in warnings)
    assert state.link_fits(state.to_query(view), "http://127.0.0.1:8501/case_study")
    assert not state.link_fits({"custom": "1," * 5000})


def test_with_instruction_is_canonical():
    v = DEFAULT.with_instruction(genres=["rock", "hip-hop"], blocked_items=[150, 101])
    assert v.instruction["genres"] == ["hip-hop", "rock"] and v.instruction["blocked_items"] == [101, 150]


# --------------------------------------------------------------------------- figures and heatmaps


def history_df(n=12):
    dates = pd.to_datetime(1_700_000_000 + 86400 * (np.arange(n) // 3), unit="s")
    return pd.DataFrame({"pos": np.arange(n), "artist": [f"A{i}" for i in range(n)],
                         "genre": [GENRES[i % 3] for i in range(n)], "language": ["en"] * n, "date": dates,
                         "matches": [i % 3 == 0 for i in range(n)]})


def test_history_timeline_one_dot_per_item_and_date_ticks():
    fig = figures.history_timeline(history_df(), window=5)
    spec = json.loads(fig.to_json())
    xs = np.sort(np.concatenate([decode(t["x"]) for t in spec["data"]]))
    assert xs.tolist() == list(range(1, 13))
    assert {t["name"] for t in spec["data"]} == set(GENRES[:3])
    assert spec["layout"]["xaxis"]["ticktext"][0].startswith("2023-11-14")
    assert spec["layout"]["shapes"][0]["x0"] == 12 - 5 + 0.5  # recent window shaded
    stars = [decode(t["marker"]["symbol"]) for t in spec["data"]]
    assert sum((np.asarray(s) == "star").sum() for s in stars) == 4


def test_genre_colors_are_stable_and_unknown_is_grey():
    a = figures.genre_colors(["rock", "pop", "unknown"])
    b = figures.genre_colors(["pop", "rock"])
    assert a["rock"] == b["rock"] and a["unknown"] == figures.UNKNOWN_COLOR


def test_mask_codes():
    tamip = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0]], dtype=bool)
    assert heatmaps.tamip_codes(tamip).tolist() == [[0, 0, 0], [2, 0, 0], [1, 2, 0]]
    assert heatmaps.cgsa_codes(np.array([True, True, False]), 1).tolist() == [[1, 2, 0]]
    assert heatmaps.causal_codes(np.tril(np.ones((2, 2), bool))).tolist() == [[1, 0], [1, 1]]


def test_mask_heatmap_axes_names_and_highlight():
    items = [heatmaps.AxisItem("A", "rock", "en", "2024-01-01", True), heatmaps.AxisItem("A", "pop", "ja", "", False)]
    fig = heatmaps.mask_heatmap(np.array([[1, 0], [1, 1]]), heatmaps.CAUSAL_CATS, items, items, "t", "key", "query")
    spec = json.loads(fig.to_json())
    assert spec["layout"]["yaxis"]["autorange"] == "reversed"
    assert spec["layout"]["xaxis"]["ticktext"] == ["<b>★ A</b>", "A"]  # duplicates kept: positions, not names
    assert "Japanese" in spec["data"][0]["x"][1] and spec["data"][0]["x"][0] != spec["data"][0]["x"][1]
    assert spec["data"][0]["text"][1][0] == "may attend" and "%{x}" in spec["data"][0]["hovertemplate"]
    w = heatmaps.weight_heatmap(np.array([[0.7, 0.3]]), np.array([[True, False]]), items, items[:1], "w", "k", "q")
    z = decode(json.loads(w.to_json())["data"][0]["z"])
    assert z[0, 0] == pytest.approx(0.7) and np.isnan(z[0, 1])


def test_myopia_and_whatif_figures():
    fig = figures.myopia_curves({"NIP": [0.2, 0.1], "TAMIP": [0.3, 0.25]}, "HR@50", [100, 90])
    spec = json.loads(fig.to_json())
    assert [t["name"] for t in spec["data"]] == ["NIP", "TAMIP"]
    np.testing.assert_allclose(decode(spec["data"][1]["y"]), [0.3, 0.25])
    long = "A Tribe Called Quest"
    diff = pd.DataFrame({"artist": [long, "b"], "rank_a": [1.0, np.nan], "rank_b": [2.0, 1.0],
                         "status": ["moved", "entered"]})
    slope = figures.whatif_slope(diff)
    assert len(slope.data) == 4
    assert list(slope.data[2].text) == ["A Tribe Calle…"] and len(slope.data[2].text[0]) <= figures.SLOPE_LABEL_CHARS
    assert list(slope.data[3].text) == ["A Tribe Calle…", "b"] and long in slope.data[0].hovertext


# --------------------------------------------------------------------------- lists, captions, export


def result(ids, complies, shared, method="cgsa", k=4, cc=None):
    n = len(ids)
    items = pd.DataFrame({"rank": range(1, n + 1), ITEM_ID: ids, NAME: [f"<b>{i}</b>" for i in ids],
                          GENRE: ["rock"] * n, LANGUAGE: ["en"] * n, EXPLICIT: ["true"] * n,
                          "score": np.linspace(1, 0, n), "complies": complies, "heard": [False] * n,
                          "in_unconditioned": shared})
    return RecResult(method, items, k, sum(complies) / k if cc is None else cc, 0.5, 1.23)


def test_list_html_escapes_and_marks():
    res = result([1, 2], [True, False], [True, False])
    html = lists.list_html("CGSA", res, {1: ["CGSA", "Unconditioned"]})
    assert "&lt;b&gt;1&lt;/b&gt;" in html and "<b>1</b>" not in html  # artist names are data
    assert html.count("cp-item match") == 1 and html.count("◆") == 1
    assert "CC@4 25%" in html and "2 of 4 returned" in html and "1.2 ms" in html
    plain = lists.list_html("Unconstrained", res, is_reference=True, plain=True)
    assert "CC@" not in plain and "match" not in plain.replace("cp-items", "")


def test_list_diff_statuses():
    a = result([1, 2, 3], [True] * 3, [True] * 3).items
    b = result([3, 1, 4], [True] * 3, [True] * 3).items
    d = lists.list_diff(a, b).set_index(ITEM_ID)
    assert d.loc[3, "status"] == "moved" and d.loc[3, "change"] == "#3 → #1 (↑2)"
    assert d.loc[1, "status"] == "moved" and d.loc[4, "status"] == "entered" and d.loc[2, "status"] == "left"
    assert captions.whatif_caption(d) == "1 artist(s) entered, 1 left, 2 moved, 0 stayed at the same rank."


def test_compare_caption_from_numbers():
    res = {"unconditioned": result([1, 2, 3, 4], [True, False, False, False], [True] * 4, "unconditioned"),
           "posthoc": result([1, 9], [True, True], [True, False], "posthoc"),
           "cgsa": result([1, 5, 6, 7], [True, True, True, False], [True, False, False, False]),
           "cgsa_hard": result([1, 5, 6, 8], [True] * 4, [True, False, False, False], "cgsa_hard"),
           "prefilter": result([1, 5, 8, 9], [True] * 4, [True, False, False, False], "prefilter")}
    text = captions.compare_caption(res, 4, 5, True, 100)
    assert "already has 1 of 4 matching" in text
    assert "Post-hoc filtering kept 2 of 4 (from the top 20 candidates)" in text
    assert "CGSA (soft, no filter) returned 3 matching of 4; 1 is also in the unconditioned list" in text
    assert "agree on 3 artists" in text
    assert "Only 2 catalogue artist(s)" in captions.compare_caption(res, 4, 5, True, 2)
    assert "No instruction is set" in captions.compare_caption(res, 4, 5, False, 100, is_empty=True)


def test_duration_and_delta_tau_text():
    assert captions.duration(900) == "15 min" and captions.duration(86400) == "1 day"
    assert captions.delta_tau_text(900, 1) == "Δτ = 15 min"
    assert "own day" in captions.delta_tau_text(0, 86400)
    assert "NIP/MIP" in captions.delta_tau_text(None, 86400)


def test_case_study_html_is_self_contained():
    res = result([1, 2], [True, False], [True, False])
    fig = figures.history_timeline(history_df(), 5, title="Listening history")
    cs = export.CaseStudy("Study <1>", "User 3", "genre: rock", [export.Section("Lists", [("CGSA", res, False)])],
                          [(fig, "caption"), (fig, "again")], "Licence: non-commercial", "http://x/?a=1")
    html = export.case_study_html(cs)
    assert html.startswith("<!DOCTYPE html>") and "Study &lt;1&gt;" in html
    assert html.count("Plotly.newPlot") == 2
    assert html.count("plotly.js v") <= 2 and len(html) > 1_000_000  # one inline copy of plotly.js
    assert "<script src=\"http" not in html  # no CDN: opens offline
    assert "Licence: non-commercial" in html and "data-item='1'" in html


def test_card_footnote_states_data_honestly():
    card = {"counts": {"users": 10, "items": 20, "interactions": 30}, "licence": "HetRec: non-commercial",
            "coverage": {"genre": {"items": 0.62}, "language": {"items": 0.14}}}
    text = export.card_footnote(card, False, "lastfm", "climber_pilot.pt", "CPU (1 threads)")
    assert "tag-assignment timeline" in text and "genre 62%" in text and "non-commercial" in text
    assert "no real listeners" in export.card_footnote({}, True, "synthetic", "x.pt", "CPU")


# --------------------------------------------------------------------------- presets and sources


def toy_users():
    """Items 1-4 hip-hop, 5-8 rock, 9-12 pop (German), 13-18 Japanese jazz nobody heard."""
    items = pd.DataFrame({ITEM_ID: range(1, 19), NAME: [f"a{i}" for i in range(18)],
                          GENRE: ["hip-hop"] * 4 + ["rock"] * 4 + ["pop"] * 4 + ["jazz"] * 6,
                          LANGUAGE: ["en"] * 8 + ["de"] * 4 + ["ja"] * 6,
                          EXPLICIT: ["true", "false"] * 9})
    hist = {1: [1, 2, 5, 6, 1, 2, 5, 6, 3, 7],  # balanced hip-hop / rock
            2: [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3],  # all hip-hop
            3: [9, 10, 11, 12, 9, 10, 11, 12, 9, 10, 11, 12]}  # pop, longest
    users = {u: History(tuple(ids), tuple(range(len(ids))), u) for u, ids in hist.items()}
    return users, items


def test_presets_follow_their_rules():
    users, items = toy_users()
    p = {x.key: x for x in compute_presets(users, items)}
    assert p["mixed"].user_id == 1 and p["mixed"].instruction == {"genres": ["hip-hop"]}
    assert p["rap_clean"].user_id == 2 and p["rap_clean"].instruction["explicit"] == "exclude_known"
    assert p["new_language"].instruction == {"languages": ["ja"]} and p["new_language"].user_id == 3
    assert "Japanese" in p["new_language"].title
    table = user_summaries(users, items)
    assert table.set_index("user_id").loc[2, "genres"] == "hip-hop 100%"


def test_sources_from_environment(tmp_path):
    s = resolve_sources({ENV_CHECKPOINT: str(tmp_path / "m.pt"), ENV_DATA: str(tmp_path)})
    assert s.checkpoint == tmp_path / "m.pt" and s.data == tmp_path and s.variants == {}
    s2 = replace(s, note="x")
    assert s2.key == s.key  # the key is the files, not the note
    assert isinstance(resolve_sources({}).checkpoint, Path)


def test_instruction_fields_come_from_the_engine_instruction():
    """The app's field lists are derived from engine.Instruction, not written out per page."""
    from dataclasses import fields as dc_fields

    from app import fields
    from engine import Instruction

    assert tuple(f.name for f in dc_fields(Instruction)) == fields.FIELDS
    assert set(fields.VALUE_FIELDS) == {"genres", "languages", "popularity", "eras"}
    assert fields.ATTRIBUTE_OF == {"genres": "genre", "languages": "language", "popularity": "popularity_tier",
                                   "eras": "era"}
    assert fields.empty_instruction() == Instruction().to_dict() == state.empty_instruction()
    assert set(state.INSTRUCTION_KEYS) == {*fields.FIELDS, "blocked"} - {"blocked_items"}


def test_page_keys_have_one_source():
    from app import services, vocab

    assert services.PAGE_KEYS is vocab.PAGE_KEYS
    assert state.ViewState().page == vocab.DEFAULT_PAGE in vocab.PAGE_KEYS
    root = Path(__file__).resolve().parents[2]
    router = (root / "app" / "streamlit_app.py").read_text()
    assert "PAGE_TITLES.items()" in router and '"history": st.Page' not in router
    assert all((root / "app" / "views" / f"{key}.py").is_file() for key in vocab.PAGE_KEYS)


def test_case_study_html_is_a_short_deck_without_apology():
    res = result([1, 2], [True, False], [True, False])
    cs = export.CaseStudy("Study", "User 3, 20 artists", "genre: rock", [export.Section("Lists", [("CGSA", res, False)])],
                          [], "foot", "", ["Artist <A>", "Artist B"], ["1 of 2 instructed lists fill half their slots"])
    html = export.case_study_html(cs)
    assert html.count("<section class='slide'>") == 3  # the listener, the lists, the measured facts
    assert html.index("Artist &lt;A&gt;") < html.index("data-method='CGSA'")  # the listener's artists first
    assert "weak" not in html.lower() and "What was measured" in html
    cards = [("Unconstrained", res, True), ("Instruction: rock", result([3, 4], [True, False], [False, False]), False)]
    assert "weak" not in captions.figure4_caption(cards)
    assert "0 of 1 instructed lists" in captions.figure4_caption(cards)


def test_case_deck_reopens_with_lists_and_charts():
    import io

    from pptx import Presentation
    from pptx.enum.chart import XL_CHART_TYPE

    from app import deck

    a, b = result([1, 2], [True, False], [True, False]), result([3], [True], [False])
    data = deck.case_deck("Study", "User 3", ["X", "Y"], "genre: rock", [("Lists", [("A", a), ("B", b)])], [],
                          {"main model": [0.3, 0.2, 0.1]})
    prs = Presentation(io.BytesIO(data))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles == ["Study", "The listener", "Lists", "Lists: CC@K and overlap", "Myopia: HR@50 of the artist s steps ahead"]
    charts = [sh.chart for s in prs.slides for sh in s.shapes if sh.has_chart]
    assert [c.chart_type for c in charts] == [XL_CHART_TYPE.COLUMN_CLUSTERED, XL_CHART_TYPE.LINE_MARKERS]
    assert list(charts[0].plots[0].series[0].values) == pytest.approx([a.cc, b.cc])
    text = "\n".join(sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame)
    assert all(f"<b>{i}</b>" in text for i in (1, 2, 3))  # every artist of the lists
