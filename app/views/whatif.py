"""Page 6 · What-if: change one part of the instruction, or drop one history item, and diff the lists."""

from __future__ import annotations

import streamlit as st

from app import captions, figures, lists, services, state, ui
from app.fields import ATTRIBUTE_OF, FIELDS, LABELS, VALUE_FIELDS
from app.vocab import EXPLICIT_LABELS, POPULARITY_LABELS, language_label
from engine import EXPLICIT_POLICIES, METHOD_LABELS, METHODS

ctx = services.context()
view = state.get_view()
names = services.names(ctx)

st.title("What-if")
st.caption("Change one thing and see, artist by artist, which entered the list, which left and which moved.")
with ui.guard("History"):
    history = services.history_for(ctx, view)
st.markdown(f"History: **{ui.md(services.history_label(ctx, view))}** · instruction: "
            f"**{ui.md(ui.instruction_text(view.instruction, names))}** · K = {view.k}")

c1, c2 = st.columns([1, 2])
method = c1.selectbox("List", METHODS, index=METHODS.index("cgsa"), format_func=METHOD_LABELS.get, key="wi_method")
change = c2.radio("Change", ["instruction", "history"], horizontal=True, key="wi_change",
                  format_func=lambda c: {"instruction": "one part of the instruction",
                                         "history": "drop one artist from the history"}[c])
ins_a = dict(view.instruction)


def suggestion(part: str):
    """A first "after" value that differs from "before", so the page opens on a visible change."""
    if part == "genres":
        alt = [g for g in services.recent_genres(ctx.rec, history, n=3) if g not in ins_a["genres"]]
        return [alt[0]] if alt else ins_a["genres"]
    if part == "explicit":
        return "exclude_known" if ins_a["explicit"] == "allow" else "allow"
    if part == "exclude_heard":
        return not ins_a["exclude_heard"]
    return ins_a[part]


ins_b, hist_b = ins_a, history
if change == "instruction":
    parts = [f for f in FIELDS if f != "blocked_items"]  # blocked artists: the composer's job
    part = st.selectbox("Which part", parts, format_func=LABELS.get, key="wi_part")
    key = f"wi_val_{part}"
    state.init_widget(key, suggestion(part))
    if part in VALUE_FIELDS:
        attr = ATTRIBUTE_OF[part]
        fmt = {"languages": language_label, "popularity": lambda v: POPULARITY_LABELS.get(v, v)}.get(part, str)
        opts = services.options(ctx, attr)
        st.multiselect(f"New {LABELS[part].lower()}", opts, key=key, format_func=fmt, placeholder="any")
    elif part == "explicit":
        st.radio("New explicit policy", EXPLICIT_POLICIES, key=key, format_func=EXPLICIT_LABELS.get, horizontal=True)
    else:
        st.checkbox("Exclude already heard (after)", key=key)
    ins_b = {**ins_a, part: st.session_state[key]}
    label_b = f"after: {ui.instruction_text(ins_b, names)}"
else:
    n = len(history)
    shown = list(range(n))[::-1]
    stamps = services.history_frame(ctx.rec, history)["date"]
    drop = st.selectbox("Artist to drop (newest first)", shown, key="wi_drop",
                        format_func=lambda p: f"#{p + 1} {names.get(history.item_ids[p], '?')}"
                        + ("" if str(stamps.iloc[p]) == "NaT" else f" · {str(stamps.iloc[p])[:10]}"))
    keep = [i for i in range(n) if i != drop]
    with ui.guard("History"):
        hist_b = ctx.rec.make_history([history.item_ids[i] for i in keep], [history.timestamps[i] for i in keep])
    label_b = f"after: without {names.get(history.item_ids[drop], '?')}"

with ui.guard("What-if"):
    a = services.compare(ctx.rec, ctx.key, history, services.instruction_json(ins_a), view.k, view.overfetch,
                         (method,)).results[method]
    b = services.compare(ctx.rec, ctx.key, hist_b, services.instruction_json(ins_b), view.k, view.overfetch,
                         (method,)).results[method]
diff = lists.list_diff(a.items, b.items)
st.info(captions.whatif_caption(diff), icon=":material/visibility:")
left, mid, right = st.columns([1, 1.3, 1])
with left:
    ui.list_card(f"{METHOD_LABELS[method]} · before", a)
with mid:
    ui.chart(figures.whatif_slope(diff, "before", "after"), "whatif_slope")
with right:
    ui.list_card(f"{METHOD_LABELS[method]} · {label_b}", b)
st.html(lists.LEGEND)
with st.expander("Item-by-item table"):
    st.dataframe(diff[["artist", "status", "change"]], hide_index=True, width="stretch")
