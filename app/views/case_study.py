"""Page 7 · Case study & share: a Figure-4 style view, HTML export, JSON export/import, the link."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import streamlit as st

from app import captions, charts, deck, export, lists, services, state, ui
from engine import METHOD_LABELS
from engine.data.schema import GENRE

ctx = services.context()
view = state.get_view()
names = services.names(ctx)

st.title("Case study & share")
st.caption("Build a view like the paper's Figure 4 (one listener, the unconstrained list and one instructed list "
           "per genre), export it as a single HTML file, or save / share the whole view.")
with ui.guard("History"):
    history = services.history_for(ctx, view)
hist_label = services.history_label(ctx, view)

default_title = f"Case study: {hist_label}"
default_genres = services.recent_genres(ctx.rec, history)
state.init_widget("cs_title", view.cs_title or default_title)
state.init_widget("cs_genres", list(view.cs_genres) if view.cs_genres is not None else default_genres)
state.init_widget("cs_hard", view.cs_hard)
study_title = st.text_input("Title", key="cs_title")
c1, c2 = st.columns([3, 1])
c1.multiselect("Instructions to contrast (one genre each; default: the two main genres of the recent history)",
               services.options(ctx, GENRE), key="cs_genres", max_selections=3)
hard = c2.toggle("Also hard-filter", key="cs_hard", help="CGSA + hard filter instead of CGSA as trained.")
method = "cgsa_hard" if hard else "cgsa"
genres = list(st.session_state.cs_genres)
# the case study is part of the view: the link and the JSON reopen these contrasts, this toggle and title
view = replace(view, cs_title="" if study_title == default_title else study_title[:state.MAX_TEXT],
               cs_genres=None if genres == default_genres else tuple(genres), cs_hard=bool(hard))
state.set_view(view)

with ui.guard("Case study"):
    cards = services.figure4_cards(ctx, history, genres, view.k, method)
shared = lists.shared_map({t: r for t, r, _ in cards})
for col, (title, res, ref) in zip(st.columns(len(cards)), cards, strict=True):
    with col:
        ui.list_card(title, res, shared, is_reference=ref, plain=ref)
st.html(lists.LEGEND)
f4_caption = captions.figure4_caption(cards)
if f4_caption:
    st.info(ui.md(f4_caption), icon=":material/visibility:")

st.subheader("Export")
inc_full = st.checkbox("Include the five-method comparison for the current instruction", value=True, key="cs_full")
inc_fig = st.checkbox("Include the history timeline and the CGSA mask", value=True, key="cs_figs")
query = urlencode(state.to_query(replace(view, page="case_study")))
base = st.context.url or "http://127.0.0.1:8501/"
link = f"{base.split('?')[0].rsplit('/', 1)[0]}/case_study?{query}" if st.context.url else f"?{query}"
link_ok = len(link) <= state.MAX_URL


def recent_artists() -> list[str]:
    return [names.get(i, str(i)) for i in history.item_ids[-12:]][::-1]


def evidence_summary() -> str:
    s = services.claims()
    counts = {v: sum(c.verdict == v for c in s) for v in ("reproduced", "partly", "not")}
    return (f"Of {len(s)} claims of the paper measured by this project, {counts['reproduced']} are reproduced, "
            f"{counts['partly']} partly and {counts['not']} not (95 % intervals; the Evidence page lists each)."
            if s else "")


def build_pptx() -> bytes:
    sections = [(f"{METHOD_LABELS[method]} per instruction vs unconstrained (K = {view.k})",
                 [(t, r) for t, r, _ in cards])]
    if inc_full:
        cmp = services.compare(ctx.rec, ctx.key, history, services.instruction_json(view.instruction), view.k,
                               view.overfetch)
        sections.append(("All methods", [(METHOD_LABELS[m], r) for m, r in cmp.results.items()]))
    my = ctx.rec.checkpoint.metrics.get("myopia", {})
    return deck.case_deck(study_title or "Case study", f"{hist_label}, {len(history)} artists", recent_artists(),
                          ui.instruction_text(view.instruction, names), sections, services.claims(),
                          {"main model": my["HR@50"]} if my.get("HR@50") else None)


def build_html() -> str:
    ins_text = ui.instruction_text(view.instruction, names)
    sections = [export.Section(f"{METHOD_LABELS[method]} per instruction vs unconstrained (K = {view.k})",
                               cards, f4_caption, plain_ref=True)]
    if inc_full:
        cmp = services.compare(ctx.rec, ctx.key, history, services.instruction_json(view.instruction), view.k,
                               view.overfetch)
        sections.append(export.Section(f"All methods for the instruction “{ins_text}”",
                                       [(METHOD_LABELS[m], r, m == "unconditioned") for m, r in cmp.results.items()]))
    figs = []
    if inc_fig:
        ins_json = services.instruction_json(view.instruction)
        figs.append((charts.timeline(ctx.rec, ctx.key, history, ins_json, "Listening history, coloured by genre"),
                     "Shaded: the recent window. ★ = matches the instruction."))
        figs.append((charts.attention(ctx.rec, ctx.key, history, ins_json).cgsa,
                     f"Mask of the serving query under “{ins_text}”."))
    facts = [f4_caption] if f4_caption else []
    if inc_full:
        facts.append(captions.compare_lead(cmp.results, view.k, view.overfetch))
    summary = evidence_summary()
    if summary:
        facts.append(summary)
    footnote = export.card_footnote(ctx.rec.dataset.card or {}, ctx.rec.dataset.synthetic, ctx.rec.dataset.name,
                                    ctx.sources.checkpoint.name, ctx.rec.device_label)
    # Runs when the button is clicked, outside this script run: use values captured above only.
    cs = export.CaseStudy(study_title or "Case study", f"{hist_label}, {len(history)} artists",
                          ins_text, sections, figs, footnote, link if st.context.url else "", recent_artists(), facts)
    return export.case_study_html(cs)


d1, d3, d2 = st.columns(3)
d1.download_button("Download case study (HTML)", data=build_html, file_name="climber_case_study.html",
                   mime="text/html", type="primary", icon=":material/download:", on_click="ignore")
d3.download_button("Download slides (.pptx)", data=build_pptx, file_name="climber_case_study.pptx",
                   mime=deck.PPTX_MIME, icon=":material/slideshow:", on_click="ignore")
d2.download_button("Download this view (JSON)", data=state.to_json(view, ctx.rec.dataset.name),
                   file_name="climber_view.json", mime="application/json", icon=":material/data_object:",
                   on_click="ignore")
if link_ok:
    st.markdown("**Link to this view** (history, instruction, K, over-fetch, and this page's contrasts, "
                "toggle and title):")
    st.code(link, language=None, wrap_lines=True)
else:
    st.warning(f"This view is too long for a link ({len(link):,} characters; servers refuse links over "
               f"{state.MAX_URL:,}). Share it with **Download this view (JSON)** above; it opens with "
               "**Import a saved view** below.", icon=":material/link_off:")

st.subheader("Import a saved view")
up = st.file_uploader("A JSON file saved with “Download this view”", type=["json"], key="cs_import")
if up is not None and st.session_state.get("cs_imported") != up.file_id:
    try:
        new_view, warnings = state.from_json(up.getvalue(), ctx.vocab, services.default_view(ctx),
                                             ctx.rec.dataset.name)
    except ValueError as exc:
        st.error(f"Could not import {ui.md(up.name)}: {ui.md(exc)}.", icon=":material/error:")
    else:
        st.session_state["cs_imported"] = up.file_id
        st.session_state["link_warnings"] = warnings
        state.set_view(new_view)
        for prefix in ("f_", "hist_", "auto_", "wi_", "cs_genres", "cs_title", "cs_hard", "att_", "ask_"):
            state.forget_widgets(prefix)
        st.session_state["story_step"] = new_view.step
        st.switch_page(f"views/{new_view.page}.py")
