"""Find any artist (type-ahead over the whole catalogue) and ask in plain English: the two text boxes.

Both read what a user typed, so nothing typed is ever rendered as Markdown or HTML: hits are
widget options and notes are shown with ``st.text``.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app import services

MAX_HITS = 10


def hits_for(ctx: services.Ctx, query: str) -> list[int]:
    """Catalogue ids for a query; "a, b, c" searches each part (several artists at once)."""
    parts = [p.strip() for p in str(query or "").split(",") if p.strip()]
    out: dict[int, None] = {}
    for part in parts:
        for item_id, _, _ in services.search(ctx, part, MAX_HITS if len(parts) == 1 else 3):
            out[int(item_id)] = None
    return list(out)


def best_for(ctx: services.Ctx, query: str) -> list[int]:
    """The top hit of each comma-separated part (pre-selected, so "madonna, beyonce" adds both)."""
    parts = [p.strip() for p in str(query or "").split(",") if p.strip()]
    tops = [services.search(ctx, p, 1) for p in parts]
    return list(dict.fromkeys(int(t[0][0]) for t in tops if t))


def artist_finder(ctx: services.Ctx, key: str, label: str, action: str,
                  on_add: Callable[[list[int]], None]) -> None:
    """A search box over the whole catalogue, its hits as a multiselect, and one button that adds them all.

    ``on_add`` runs as the button's callback (before the page reruns), with the picked ids.
    """
    labels = services.item_labels(ctx)
    query = st.text_input(label, key=f"{key}_q", placeholder="e.g. madonna, beyonce, nick drake",
                          help="Case, accents and small typos do not matter; separate several names by commas.")
    hits = hits_for(ctx, query)
    if not query:
        return
    if not hits:
        st.caption("No artist matches that.")
        return
    pick_key = f"{key}_pick"
    if st.session_state.get(f"{key}_last") != query:  # a new query pre-selects the best hit of each part
        st.session_state[pick_key] = best_for(ctx, query)
        st.session_state[f"{key}_last"] = query
    st.multiselect(f"Matches ({len(hits)})", hits, key=pick_key, format_func=lambda i: labels.get(i, str(i)))

    def add() -> None:
        picked = [int(i) for i in st.session_state.get(pick_key, [])]
        if picked:
            on_add(picked)
        for k in (f"{key}_q", pick_key, f"{key}_last"):
            st.session_state.pop(k, None)

    picked = st.session_state.get(pick_key, [])
    st.button(f"{action} {len(picked)} artist{'s' if len(picked) != 1 else ''}", key=f"{key}_add",
              on_click=add, disabled=not picked, type="primary")


def ask_box(ctx: services.Ctx, on_parse: Callable[[dict, list[str]], None]) -> None:
    """"Ask in plain English": parse the text into the instruction form, keep the notes for display."""
    with st.form("ask_form", border=False):
        c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
        c1.text_input("Ask in plain English", key="ask_text",
                      placeholder="e.g. clean 2000s hip-hop, nothing by Eminem")
        read = c2.form_submit_button("Ask", key="ask_go", type="primary", width="stretch")
    if read:
        text = st.session_state.get("ask_text", "")
        ins, notes = services.parse(ctx, text)
        st.session_state["ask_notes"] = (text, notes)
        on_parse(ins.to_dict(), notes)
        st.rerun()
    asked = st.session_state.get("ask_notes")
    if asked:
        text, notes = asked
        st.caption("Read from your words (the chips below are editable):")
        for note in notes or ["everything was understood"]:
            st.text(f"• {note}")
