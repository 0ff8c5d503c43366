"""Page 3 · Auto: personalised instructions from the recent history, one list each, merged."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from app import captions, lists, services, state, ui
from app.presets import RECENT_WINDOW
from app.state import MAX_TOP_P

ctx = services.context()
view = state.get_view()

st.title("Auto mode: personalised instructions")
st.caption(f"No instruction from the user: the top categories of the recent history (last {RECENT_WINDOW} "
           "artists) become instructions, CGSA answers each one in a single batched pass, and the lists are "
           "merged (the paper's General scenario).")
with ui.guard("History"):
    history = services.history_for(ctx, view)

state.init_widget("auto_top_p", view.top_p)
state.init_widget("auto_k", view.k)
c1, c2, _ = st.columns([1, 1, 2])
c1.slider("Number of personalised instructions (top P genres)", 1, MAX_TOP_P, key="auto_top_p")
c2.slider("K", 1, ctx.vocab.max_k, key="auto_k")
view = replace(view, top_p=int(st.session_state.auto_top_p), k=int(st.session_state.auto_k))
state.set_view(view)

with ui.guard("Auto mode"):
    auto = services.personalised(ctx.rec, ctx.key, history, view.k, view.top_p)

shares = [(ins.describe().replace("genre ∈ ", "").strip("{}"), share) for ins, share in auto.instructions]
st.info(ui.md(captions.auto_caption(shares, auto.diversity, auto.merged.overlap)), icon=":material/visibility:")
if len(shares) < view.top_p:
    st.caption(f"The recent window holds only {len(shares)} known genre(s), so there are {len(shares)} "
               f"instruction(s), not {view.top_p}.")
st.markdown(f"**Merge rule:** {ui.md(auto.merge_rule)}.")

cards = {"Unconditioned": auto.unconditioned}
for (name, share), res in zip(shares, auto.lists.values(), strict=True):
    cards[f"CGSA: {name} ({share:.0%})"] = res
# CC of the merged list: each artist judged against the instruction of the list it came from.
merged = auto.merged.items
cards["Merged"] = replace(auto.merged, cc=float(merged["complies"].sum()) / auto.merged.k if len(merged) else 0.0)
shared = lists.shared_map(cards)
for col, (title, res) in zip(st.columns(len(cards)), cards.items(), strict=True):
    with col:
        ui.list_card(title, res, shared, is_reference=(title == "Unconditioned"), plain=(title == "Unconditioned"))
st.html(lists.LEGEND)

st.subheader("Diversity: merged vs unconditioned")
div = pd.DataFrame(auto.diversity).T.rename(columns={
    "distinct_genre": "distinct genres", "entropy_genre": "genre entropy (bits)",
    "distinct_language": "distinct languages", "entropy_language": "language entropy (bits)"})
st.dataframe(div.round(2), width="stretch")
st.caption("Entropy is 0 when every artist shares one value and grows as the list spreads over more values. "
           "The merged list's CC counts an artist as matching when it satisfies the instruction of the list it "
           "came from (CGSA as trained, no hard filter, so this is not guaranteed).")
