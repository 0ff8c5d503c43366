"""One rule for untrusted text (issue 34 item 1): what comes from a link, an imported view, a data set or a
user is shown as text, never interpreted as Markdown, HTML or LaTeX.

Every page is opened with hostile values in every URL field, a hostile view is imported, and the app runs
on a copy of the synthetic set whose artist names, data-set name and licence are hostile. In every element
that Streamlit renders as Markdown (texts, alerts, captions, sidebar, widget and expander labels) no link,
image, tag, autolink or maths may appear that the app did not write, and names such as ``Ke$ha`` read as typed.
"""

from __future__ import annotations

import json
import re
import shutil

import app_support as support
import pandas as pd
import pytest
from app_support import assert_clean, run_app

from app.state import FORMAT
from app.ui import md, unmd
from app.vocab import PAGES
from engine.data.schema import ITEM_ID, NAME

app_model = support.app_model

HOSTILE = ("![t](http://127.0.0.1:9/pixel.png)", "[Session expired - click to log in](http://127.0.0.1:9/phish)",
           "Ke$ha … Too $hort", "_Algol_", "<img src=x>", "L'Arc~en~Ciel", "__MaX__", "www.evil.example",
           "`x` | y |", "# Heading", ":material/lock:", "a@b.example", "&lt;b&gt;")
URL_FIELDS = ("source", "preset", "user", "custom", "genres", "languages", "explicit", "popularity", "eras",
              "blocked", "exclude_heard", "k", "overfetch", "top_p", "step", "instruction", "format", "zzz",
              "ask", "cs_title", "cs_genres", "cs_hard", "att_view", "att_layer", "att_head")
# What the app never writes itself in Markdown, so an unescaped occurrence came from outside.
FORBIDDEN = {
    "link or image": re.compile(r"(?<!\\)\]\s*\("),
    "HTML tag": re.compile(r"(?<!\\)<\s*/?\s*[a-zA-Z]"),
    "autolink": re.compile(r"(?<!\\):(?=//)|(?<![\\\w])www\.(?=\w)"),
    "LaTeX": re.compile(r"(?<!\\)\$"),
    "icon shortcode": re.compile(r"(?<!\\):material/"),
    "entity": re.compile(r"(?<!\\)&(?:[a-zA-Z]+|#\d+);"),
}


@pytest.fixture(scope="module")
def hostile_env(app_model, tmp_path_factory):
    """The synthetic set with hostile artist names, data-set name and licence (same catalogue fingerprint)."""
    data = tmp_path_factory.mktemp("hostile") / "synthetic"
    shutil.copytree(app_model.data, data)
    items = pd.read_parquet(data / "items.parquet")
    items[NAME] = [HOSTILE[i] if i < len(HOSTILE) else f"{HOSTILE[i % len(HOSTILE)]} {i}" for i in range(len(items))]
    items.to_parquet(data / "items.parquet", index=False)
    for name in ("meta.json", "card.json"):
        meta = json.loads((data / name).read_text())
        meta["licence"] = "[free](http://127.0.0.1:9/licence) $x$"
        (data / name).write_text(json.dumps(meta))
    mp = pytest.MonkeyPatch()
    mp.setenv("CLIMBER_CHECKPOINT", str(app_model.checkpoint))
    mp.setenv("CLIMBER_DATA", str(data))
    mp.setenv("CLIMBER_NIP_CHECKPOINT", str(app_model.nip))
    mp.setenv("CLIMBER_MIP_CHECKPOINT", str(app_model.mip))
    yield items
    mp.undo()


def rendered(at) -> list[tuple[str, str]]:
    """(kind, Markdown source) of every element Streamlit renders as Markdown, main area and sidebar."""
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader"):
        out += [(kind, str(e.value)) for e in getattr(at, kind)]
    out += [("sidebar", str(e.value)) for e in at.sidebar.markdown]
    for kind in ("button", "expander", "multiselect", "selectbox", "radio", "checkbox", "toggle", "text_input",
                 "slider", "download_button", "tab"):
        found = getattr(at, kind, None) if kind not in ("download_button", "tab") else None
        found = found if found is not None else (at.tabs if kind == "tab" else at.get(kind))
        out += [(f"{kind} label", str(getattr(e, "label", ""))) for e in found]
    return out


def assert_no_foreign_markup(at, where: str) -> str:
    assert_clean(at)
    for kind, src in rendered(at):
        for what, pattern in FORBIDDEN.items():
            m = pattern.search(src)
            assert m is None, f"{where}: {what} in a {kind}: …{src[max(m.start() - 60, 0):m.end() + 60]}…"
    return unmd("\n".join(src for _, src in rendered(at)))


def hostile_query(items: pd.DataFrame, n: int) -> dict[str, str]:
    ids = [str(int(i)) for i in items[ITEM_ID].iloc[:3]]  # "![t](…)", "[Session expired…](…)", "Ke$ha …"
    q = {f: HOSTILE[(n + j) % len(HOSTILE)] for j, f in enumerate(URL_FIELDS)}
    q["blocked"] = ",".join([ids[2], ids[0], ids[1], q["blocked"]])
    return q


def test_md_escapes_every_markdown_special():
    for text in (*HOSTILE, "back\\slash", "a\nb", "1. list", "| a | b |"):
        escaped = md(text)
        assert "\n" not in escaped
        assert unmd(escaped) == " ".join(text.splitlines())
        for what, pattern in FORBIDDEN.items():
            assert not pattern.search(escaped), (text, what)
    assert md("run `python -m engine prepare` now [x](y)", code=True) == \
        "run `python -m engine prepare` now \\[x\\]\\(y\\)"


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_with_hostile_url_values_and_names(hostile_env, page):
    items = hostile_env
    q = {"page": page, **hostile_query(items, list(PAGES).index(page))}
    at = run_app(q)
    shown = assert_no_foreign_markup(at, page)
    assert at.query_params["page"] == page
    warning = unmd(" ".join(w.value for w in at.warning))
    assert "were not understood and were ignored" in warning
    # the blocked names (real catalogue names) read as typed in the sidebar summary
    assert "Ke$ha … Too $hort" in shown and "![t](http://127.0.0.1:9/pixel.png)" in shown
    at.run()  # a rerun (the sidebar, footer and page again) stays clean
    assert_no_foreign_markup(at, f"{page} rerun")


def test_hostile_page_value_and_preset_warning_read_as_text(hostile_env):
    phish = "[Session expired - click to log in](http://127.0.0.1:9/phish)"
    at = run_app({"page": "![t](http://127.0.0.1:9/pixel.png)", "preset": phish, "genres": "Ke$ha,_Algol_"})
    assert_no_foreign_markup(at, "landing")
    warning = unmd(" ".join(w.value for w in at.warning))
    assert phish in warning and "Ke$ha" in warning and "_Algol_" in warning
    assert "\\[Session expired" in " ".join(w.value for w in at.warning)  # escaped in the source, not a link


def test_imported_hostile_view_reads_as_text(hostile_env):
    view = {"format": FORMAT, "version": "<img src=x>", "dataset": "![t](http://127.0.0.1:9/pixel.png)",
            "page": "compare", "source": "preset", "preset": "[Session expired](http://127.0.0.1:9/phish)",
            "genres": ["Ke$ha … Too $hort"], "instruction": {"eras": ["_Algol_", "<img src=x>"]},
            "k": "$x$", "zzz": 1}
    at = run_app(page="case_study")
    at.file_uploader(key="cs_import").set_value(("![v](http://x/y).json", json.dumps(view).encode(),
                                                 "application/json")).run()
    warning = unmd(" ".join(w.value for w in at.warning))
    assert_no_foreign_markup(at, "after import")
    assert "Ke$ha … Too $hort" in warning and "_Algol_" in warning
    assert "![t](http://127.0.0.1:9/pixel.png)" in warning


def test_a_rejected_file_name_reads_as_text(hostile_env):
    at = run_app(page="case_study")
    at.file_uploader(key="cs_import").set_value(("![v](http:__x_y).json", b"{no", "application/json")).run()
    assert_no_foreign_markup(at, "rejected import")
    assert "Could not import ![v](http:__x_y).json" in unmd(at.error[0].value)
