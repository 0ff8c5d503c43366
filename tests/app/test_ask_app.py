"""AppTest: "Ask in plain English" fills the composer, and the whole-catalogue artist finder.

Runs on a copy of the tiny app model's synthetic data in which two artists far from the
default view are renamed "Madonna" and "Beyoncé" (names are not part of the catalogue
fingerprint, so the same checkpoint loads).
"""

from __future__ import annotations

import shutil

import app_support as support
import pandas as pd
import pytest
from app_support import assert_clean, card_html, run_app

from engine import METHOD_LABELS, Instruction
from engine.data.schema import ITEM_ID, NAME

app_model, app_env, rec = support.app_model, support.app_env, support.rec
pytestmark = pytest.mark.usefixtures("app_env")
SENTENCE = "clean 2000s hip-hop, nothing by {name}"


@pytest.fixture(scope="module")
def renamed(app_model, tmp_path_factory):
    """The data copy with Madonna and Beyoncé; yields {name: item id}."""
    data = tmp_path_factory.mktemp("renamed") / "synthetic"
    shutil.copytree(app_model.data, data)
    items = pd.read_parquet(data / "items.parquet")
    ids = {"Madonna": int(items[ITEM_ID].iloc[-1]), "Beyoncé": int(items[ITEM_ID].iloc[-2])}
    for name, item_id in ids.items():
        items.loc[items[ITEM_ID] == item_id, NAME] = name
    items.to_parquet(data / "items.parquet", index=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("CLIMBER_DATA", str(data))
    yield ids
    mp.undo()


def _hiphop_artist(rec) -> str:
    """A 2000s hip-hop artist of the synthetic catalogue (the one the sentence blocks)."""
    items = rec.items
    rows = items[(items["genre"] == "hip-hop") & (items["era"] == "00s")]
    return str(rows[NAME].iloc[0])


def test_ask_fills_the_chips_and_the_lists_comply(rec):
    name = _hiphop_artist(rec)
    item_id = int(rec.items.loc[rec.items[NAME] == name, ITEM_ID].iloc[0])
    at = run_app(page="compare")
    at.text_input(key="ask_text").input("<b>bold</b> **loud** " + SENTENCE.format(name=name))
    at.button(key="ask_go").click().run()
    assert_clean(at)
    assert at.multiselect(key="f_genres").value == ["hip-hop"]
    assert at.multiselect(key="f_eras").value == ["00s"]
    assert at.radio(key="f_explicit").value == "exclude_known"
    assert item_id in at.multiselect(key="f_blocked").value
    assert at.multiselect(key="f_languages").value == [] and at.multiselect(key="f_popularity").value == []
    assert at.query_params["genres"] == "hip-hop" and at.query_params["explicit"] == "exclude_known"
    # the notes are plain text: what the user typed is never rendered as Markdown or HTML
    notes = [t.value for t in at.text]
    assert any(n.startswith(f"• blocked {name}") for n in notes)
    assert any("not understood" in n and "bold" in n and "loud" in n for n in notes)
    assert not any("<b>bold</b>" in m.value for m in at.markdown)
    ins = Instruction(genres={"hip-hop"}, eras={"00s"}, explicit="exclude_known", blocked_items={item_id})
    allowed = set(rec.items[ITEM_ID][rec.eligible(ins)])
    html = card_html(at, METHOD_LABELS["cgsa_hard"])
    shown = [int(i) for i in rec.items[ITEM_ID] if f"data-item='{int(i)}'" in html]
    assert shown and set(shown) <= allowed
    # the chips stay editable: drop the era and recommend again
    at.multiselect(key="f_eras").set_value([])
    next(b for b in at.button if b.label == "Recommend").click().run()
    assert_clean(at)
    assert "eras" not in at.query_params and at.query_params["genres"] == "hip-hop"


def test_block_finder_searches_the_whole_catalogue(renamed):
    at = run_app(page="compare")
    madonna = renamed["Madonna"]
    assert madonna not in at.multiselect(key="f_blocked").options  # not on screen
    at.text_input(key="block_q").input("madona").run()
    assert_clean(at)
    assert at.multiselect(key="block_pick").value == [madonna]
    at.button(key="block_add").click().run()
    assert_clean(at)
    assert madonna in at.multiselect(key="f_blocked").value
    assert str(madonna) in at.query_params["blocked"].split(",")


def test_history_finder_adds_several_artists_at_once(renamed):
    at = run_app()
    at.text_input(key="hist_find_q").input("Madonna, beyonce").run()
    assert_clean(at)
    both = [renamed["Madonna"], renamed["Beyoncé"]]
    assert at.multiselect(key="hist_find_pick").value == both
    at.button(key="hist_find_add").click().run()
    assert at.multiselect(key="hist_custom").value == both
    at.button(key="hist_custom_go").click().run()
    assert_clean(at)
    assert at.query_params["custom"] == ",".join(map(str, both))


def test_history_finder_single_query_lists_matches(renamed):
    at = run_app()
    at.text_input(key="hist_find_q").input("BEYONCE").run()
    pick = at.multiselect(key="hist_find_pick")
    assert pick.value == [renamed["Beyoncé"]] and pick.options[0].startswith("Beyoncé")
