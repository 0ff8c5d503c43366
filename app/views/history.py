"""Page 1 · Listening history: a demo preset, any user, or a custom history; its timeline."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app import charts, finder, services, state, ui
from app.presets import RECENT_WINDOW
from app.vocab import language_name
from engine.data.schema import GENRE, LANGUAGE

ctx = services.context()
view = state.get_view()
names = services.names(ctx)

st.title("Listening history")
st.caption("Whose listening the model starts from. The model reads the history once and answers any "
           "instruction from it (the backbone is shared, only the branch is re-run per instruction).")


def use_preset(key: str) -> None:
    p = ctx.preset(key)
    view = replace(state.get_view(), source="preset", preset=key, instruction=state.empty_instruction())
    state.set_view(view.with_instruction(**p.instruction))
    state.forget_widgets("f_")
    state.forget_widgets("ask_")


def use_user() -> None:
    state.set_view(replace(state.get_view(), source="user", user=int(st.session_state["hist_user"])))


def use_custom() -> None:
    ids = tuple(int(i) for i in st.session_state.get("hist_custom", []))
    if ids:
        state.set_view(replace(state.get_view(), source="custom", custom=ids))


tab_presets, tab_user, tab_custom = st.tabs(["Demo presets", "Any user", "Custom history"])
with tab_presets:
    if not ctx.presets:
        st.info("This data set supports no demo preset (it needs genres on at least two genres). Pick a user.")
    for col, p in zip(st.columns(max(len(ctx.presets), 1)), ctx.presets, strict=False):
        active = view.source == "preset" and view.preset == p.key
        with col.container(border=True):
            st.markdown(f"**{ui.md(p.title)}**" + (" · *active*" if active else ""))
            st.caption(ui.md(p.summary))
            st.markdown(f"**What to notice.** {ui.md(p.notice)}")
            st.markdown(f"Suggested instruction: **{ui.md(ui.instruction_text(p.instruction))}**")
            if st.button("Use this preset → results", key=f"preset_{p.key}", type="primary", width="stretch"):
                use_preset(p.key)
                st.switch_page("views/compare.py")

with tab_user:
    users = ctx.users
    labels = dict(zip(users["user_id"].astype(int), users["label"], strict=True))
    state.init_widget("hist_user", view.user if view.user in labels else int(users["user_id"].iloc[0]))
    st.selectbox(f"Any of the {len(users)} users (type to search by id or genre)", list(labels),
                 format_func=lambda u: labels.get(u, str(u)), key="hist_user", on_change=use_user)
    st.caption("Each user's history is cut where the evaluation cut is: the later items are held out "
               "(see the Myopia page).")
    if view.source != "user" and st.button("Use this user", key="hist_user_go"):
        use_user()
        st.rerun()



def add_to_custom(ids: list[int]) -> None:
    current = [int(i) for i in st.session_state.get("hist_custom", list(state.get_view().custom))]
    st.session_state["hist_custom"] = list(dict.fromkeys([*current, *ids]))


with tab_custom:
    label = services.item_labels(ctx)
    state.init_widget("hist_custom", list(view.custom))
    finder.artist_finder(ctx, "hist_find", f"Find any artist ({len(label):,} in the catalogue)", "Add",
                         add_to_custom)
    st.multiselect(f"Search the catalogue ({len(label):,} artists) and add them, oldest first",
                   list(label), format_func=label.__getitem__, key="hist_custom",
                   placeholder="Type an artist name…")
    picked = st.session_state.get("hist_custom", [])
    st.caption("A custom history is dated one listen per day, ending at the last date in the data.")
    if st.button(f"Use these {len(picked)} artists as the history", key="hist_custom_go",
                 disabled=not picked, type="primary"):
        use_custom()
        st.rerun()

view = state.get_view()
st.subheader("Active history")
with ui.guard("History"):
    history = services.history_for(ctx, view)
    ins = services.instruction_of(view)
df = services.history_frame(ctx.rec, history)
left, right = st.columns([3, 1])
with left:
    st.markdown(f"**{ui.md(services.history_label(ctx, view))}** · {len(history)} artists"
                + (f" · {len(history.future)} later items held out" if history.future else ""))
    for note in history.notes:
        st.caption(f"Note: {ui.md(note)}.")
    ui.chart(charts.timeline(ctx.rec, ctx.key, history, services.instruction_json(view.instruction)), "timeline")
    st.caption(f"Each dot is an artist, placed at the date it entered the history; the shaded band is the "
               f"recent window ({RECENT_WINDOW} artists) that the Auto page and the presets read. "
               + ("★ = matches the current instruction." if ins.has_conditions else ""))
with right:
    recent = df.tail(RECENT_WINDOW)
    st.markdown("**Recent window**")
    st.dataframe(recent[GENRE].value_counts().rename("artists"), width="stretch")
    st.dataframe(recent[LANGUAGE].map(language_name).value_counts().rename("artists"), width="stretch")
    st.page_link("views/compare.py", label="Compare methods →", icon=":material/tune:",
                 help="Open Instruction & results with this history")
with st.expander(f"All {len(df)} artists in order"):
    table = df[["pos", "artist", GENRE, LANGUAGE, "date"]].copy()
    table["pos"] += 1
    table[LANGUAGE] = table[LANGUAGE].map(language_name)
    st.dataframe(table, hide_index=True, width="stretch")
