"""Climber-Pilot Studio: the entry script (``streamlit run app/streamlit_app.py``).

Loads the model once (cached), turns the URL into the view state on the first run,
routes to a page with ``st.navigation``, and after the page ran writes the view back
into the URL and draws the sidebar summary and the footer. Pages are thin: inputs →
cached compute through the engine (:mod:`app.services`) → render. The pages live in
``app/views/``: a folder named ``pages/`` beside this script would switch Streamlit to its
legacy multipage mode on the first request, which bypasses this script.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

_T0 = time.perf_counter()
# One request = one history at batch size 1: a single intra-op thread is ~100x faster than two
# threads that spin-wait against training jobs on a shared 2-core machine (measured: 3 ms vs 450 ms).
# Must be set before torch is first imported; an explicit OMP_NUM_THREADS wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import glossary, services, state, ui  # noqa: E402
from app.loader import resolve_sources  # noqa: E402
from app.vocab import DEFAULT_PAGE  # noqa: E402
from app.vocab import PAGES as PAGE_TITLES  # noqa: E402
from engine import EngineError  # noqa: E402

log = logging.getLogger("climber_pilot_studio")

# An emoji favicon is an inline SVG; a Material-icon favicon would be fetched from fonts.gstatic.com.
st.set_page_config(page_title="Climber-Pilot Studio", page_icon="🎧", layout="wide")
ui.inject_css()

ICONS = {"history": "history", "compare": "tune", "auto": "auto_awesome", "attention": "grid_on",
         "myopia": "timeline", "whatif": "compare_arrows", "case_study": "ios_share",
         "story": "slideshow", "evidence": "fact_check"}
PAGES = {key: st.Page(f"views/{key}.py", title=title, icon=f":material/{ICONS[key]}:", url_path=key)
         for key, title in PAGE_TITLES.items()}
# The default page is served at "/" and Streamlit drops its url_path, so "/history" would be "Page not found":
# "/" gets a hidden twin of the default page and every page, the default one too, keeps its own path.
HOME = st.Page(f"views/{DEFAULT_PAGE}.py", title=PAGE_TITLES[DEFAULT_PAGE], icon=f":material/{ICONS[DEFAULT_PAGE]}:",
               url_path="home", default=True, visibility="hidden")

try:
    ctx = services.context()
except EngineError as exc:
    _setup_exc = exc

    def _setup_page() -> None:
        st.title("Climber-Pilot Studio")
        ui.setup_error(_setup_exc, resolve_sources())

    # st.navigation must run on every rerun, even when nothing but this message can be shown.
    st.navigation([st.Page(_setup_page, title="Setup needed", url_path="setup")], position="hidden").run()
    st.stop()

first_run = state.VIEW_KEY not in st.session_state
if first_run:
    view, warnings = services.initial_view(ctx, st.query_params.to_dict())
    state.set_view(view)
    st.session_state["link_warnings"] = warnings
    st.session_state["story_step"] = view.step  # survives the switch to the linked page

pg = st.navigation([HOME, *PAGES.values()])
current = next((k for k, p in PAGES.items() if p.title == pg.title), DEFAULT_PAGE)
view = state.get_view()
if first_run and view.page != current and current == DEFAULT_PAGE and view.page in PAGES:
    st.switch_page(PAGES[view.page])  # a link such as /?page=attention&… opens that page

with st.sidebar:
    st.markdown("### Climber-Pilot Studio")
    st.caption("Instruction-following generative music retrieval, explained: CGSA (condition-guided sparse "
               "attention) follows the instruction, TAMIP (time-aware multi-item prediction) looks ahead.")
glossary.sidebar()

warnings = st.session_state.pop("link_warnings", [])
if warnings:
    st.warning("Some parts of the link or file were not understood and were ignored:\n\n- "
               + "\n- ".join(ui.md(w) for w in warnings), icon=":material/link_off:")
ui.data_banner(ctx)

try:
    pg.run()
except ui.PageStop:
    pass
except EngineError as exc:  # a page forgot its guard: still a message, never a traceback
    ui.show_error(exc)
except Exception as exc:  # noqa: BLE001 - last line of defence for viewers
    log.exception("page %s failed", current)
    st.error(f"Something went wrong on this page ({ui.md(f'{type(exc).__name__}: {exc}')}).", icon=":material/error:")
    st.info("Try another history or instruction; if it persists, report the steps (the address bar holds them).")
finally:
    view = replace(state.get_view(), page=current, step=int(st.session_state.get("story_step", 1)))
    state.set_view(view)
    state.sync_query_params(view)

try:
    hist = services.history_for(ctx, view)
    n_hist = len(hist)
except EngineError:
    n_hist = None
ui.sidebar_summary(services.history_label(ctx, view), n_hist, view.instruction, view.k, services.names(ctx))
ui.footer(ctx, (time.perf_counter() - _T0) * 1000)
