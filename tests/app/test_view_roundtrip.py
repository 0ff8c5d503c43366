"""Never lose a view (issue 33 part 3, issue 34 items 9–10): the link and the JSON carry every page's place.

Per page: change what the page offers, then (1) open the address bar's link in a fresh session and
(2) import the view's JSON in a fresh session; both must show the same view (ViewState equal, widgets equal).
"""

from __future__ import annotations

import json
from dataclasses import replace

import app_support as support
import pytest
from app_support import assert_clean, run_app, texts

from app import state
from app.vocab import PAGES
from engine.data.schema import GENRE, ITEM_ID

app_model, app_env, rec = support.app_model, support.app_env, support.rec
pytestmark = pytest.mark.usefixtures("app_env")


def link_of(at) -> dict[str, str]:
    return {k: at.query_params[k] for k in at.query_params}


def reopen(at):
    """(fresh session from the link, fresh session from the exported JSON), both checked clean."""
    view = at.session_state[state.VIEW_KEY]
    by_link = run_app(link_of(at))
    assert_clean(by_link)
    by_file = run_app(page="case_study")
    text = state.to_json(view)
    by_file.file_uploader(key="cs_import").set_value(("v.json", text.encode(), "application/json")).run()
    assert_clean(by_file)
    for other in (by_link, by_file):
        assert other.session_state[state.VIEW_KEY] == view
        assert not other.warning or all("Synthetic" in w.value for w in other.warning), [w.value for w in other.warning]
    return by_link, by_file


def genres_of(rec, n):
    return [str(g) for g in rec.items[GENRE].value_counts().index[:n]]


def test_case_study_contrasts_toggle_and_title_survive(rec):
    at = run_app(page="case_study")
    g = genres_of(rec, 4)[2:4]
    at.multiselect(key="cs_genres").set_value(g).run()
    at.toggle(key="cs_hard").set_value(True).run()
    at.text_input(key="cs_title").input("Rock vs R&B for the $5 pitch").run()
    assert_clean(at)
    view = at.session_state[state.VIEW_KEY]
    assert view.cs_genres == tuple(g) and view.cs_hard and view.cs_title == "Rock vs R&B for the $5 pitch"
    assert "cs_genres" in at.code[0].value and "cs_hard=true" in at.code[0].value  # the link on the page
    for other in reopen(at):
        assert other.title[0].value == "Case study & share"
        assert list(other.multiselect(key="cs_genres").value) == g
        assert other.toggle(key="cs_hard").value is True
        assert other.text_input(key="cs_title").value == "Rock vs R&B for the $5 pitch"


def test_attention_heatmap_layer_and_head_survive():
    at = run_app(page="attention")
    at.radio(key="att_view").set_value("Backbone weights").run()
    at.selectbox(key="att_head").set_value(1).run()
    assert_clean(at)
    assert at.query_params["att_view"] == "backbone" and at.query_params["att_head"] == "1"
    for other in reopen(at):
        assert other.radio(key="att_view").value == "Backbone weights"
        assert other.selectbox(key="att_head").value == 1


def test_story_step_survives():
    at = run_app({"page": "story", "step": "2"}, page="story")
    at.button(key="story_next").click().run()
    assert at.session_state["story_step"] == 3 and at.query_params["step"] == "3"
    for other in reopen(at):
        assert other.session_state["story_step"] == 3


def test_plain_english_text_survives():
    at = run_app(page="compare")
    at.text_input(key="ask_text").input("clean rock from the 2000s")
    at.button(key="ask_go").click().run()
    assert_clean(at)
    assert at.query_params["ask"] == "clean rock from the 2000s"
    for other in reopen(at):
        assert other.text_input(key="ask_text").value == "clean rock from the 2000s"


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_reopens_from_its_link_and_its_file(page, rec):
    ids = [int(i) for i in rec.items[ITEM_ID].iloc[5:9]]
    at = run_app({"page": page, "source": "custom", "custom": ",".join(map(str, ids)), "k": "7",
                  "genres": genres_of(rec, 1)[0]})
    assert_clean(at)
    assert at.session_state[state.VIEW_KEY].page == page
    by_link, by_file = reopen(at)
    assert by_link.session_state[state.VIEW_KEY].page == page == by_file.session_state[state.VIEW_KEY].page


def test_a_view_too_long_for_a_link_offers_the_json(rec, monkeypatch):
    monkeypatch.setattr(state, "MAX_URL", 40)
    at = run_app(page="case_study")
    assert_clean(at)
    assert not at.code, "no link the server would refuse"
    assert "too long for a link" in texts(at) and "Download this view (JSON)" in texts(at)


def test_import_of_a_deeply_nested_file_says_could_not_import():
    at = run_app(page="case_study")
    nested = "[" * 50_000 + "]" * 50_000
    deep = f'{{"format": "{state.FORMAT}", "genres": {nested}}}'
    at.file_uploader(key="cs_import").set_value(("deep.json", deep.encode(), "application/json")).run()
    assert_clean(at)
    assert "Could not import deep.json" in at.error[0].value and "nested too deeply" in at.error[0].value


def test_import_of_an_empty_custom_history_says_so():
    at = run_app(page="case_study")
    before = at.session_state[state.VIEW_KEY]
    view = {"format": state.FORMAT, "version": 1, "page": "compare", "source": "custom", "custom": []}
    at.file_uploader(key="cs_import").set_value(("empty.json", json.dumps(view).encode(), "application/json")).run()
    assert_clean(at)
    assert "custom history with no artists" in at.error[0].value
    assert at.session_state[state.VIEW_KEY] == replace(before, page="case_study")  # not silently the default


def test_long_lists_are_capped_with_a_warning(rec):
    ids = [str(int(i)) for i in rec.items[ITEM_ID].iloc[: state.MAX_ITEMS + 20]]
    at = run_app({"source": "custom", "custom": ",".join(ids), "blocked": ",".join(ids)})
    assert_clean(at)
    view = at.session_state[state.VIEW_KEY]
    assert len(view.custom) == state.MAX_ITEMS and len(view.instruction["blocked_items"]) == state.MAX_ITEMS
    assert f"only the last {state.MAX_ITEMS}" in texts(at)


def test_every_page_has_its_own_path_for_a_direct_link(monkeypatch):
    """``/history``, ``/compare``, …: each page keeps a URL path (the default one too, not only "/")."""
    import streamlit

    seen = []
    real = streamlit.navigation

    def spy(pages, *args, **kwargs):
        seen.append(list(pages))
        return real(pages, *args, **kwargs)

    monkeypatch.setattr(streamlit, "navigation", spy)
    at = run_app()
    assert_clean(at)
    assert at.title[0].value == "Listening history"
    paths = {p.url_path for p in seen[-1]}
    assert set(PAGES) <= paths and "" in paths  # "/" still opens the default page
    at.switch_page("views/history.py").run()
    assert_clean(at)
    assert at.title[0].value == "Listening history"
