"""Page 4 · Attention: the masks the model used for this history and instruction, and its weights."""

from __future__ import annotations

import streamlit as st

from app import captions, charts, services, state, ui

ctx = services.context()
view = state.get_view()

st.title("Attention")
st.caption("Drawn from the engine's own mask tensors and attention weights for the current history and "
           "instruction. ★ marks history items that satisfy the instruction. Hover a cell for details.")
with ui.guard("History"):
    history = services.history_for(ctx, view)
    ins_json = services.instruction_json(view.instruction)
    a = charts.attention(ctx.rec, ctx.key, history, ins_json)
st.markdown(f"History: **{services.history_label(ctx, view)}** · instruction: "
            f"**{ui.instruction_text(view.instruction, services.names(ctx))}**")
if a.n_history > len(a.items):
    st.caption(f"The model reads the most recent {len(a.items)} of {a.n_history} artists; older ones are not shown.")

st.subheader("1 · The branch query under the instruction (CGSA)")
ui.chart(a.cgsa, "cgsa_mask")
st.caption(captions.cgsa_caption(a.n_tokens, len(a.items), a.n_allowed, a.has_conditions))
ui.chart(a.branch, "branch_weights")
st.caption(f"On average {a.token_share:.0%} of the query's attention goes to the condition token(s), the rest to "
           "the allowed history items. Blank cells are blocked by the mask (weight exactly 0).")

st.subheader("2 · Backbone (shared by every instruction)")
c1, c2, _ = st.columns([1, 1, 3])
layer = c1.selectbox("Layer", range(a.n_layers), format_func=lambda i: f"layer {i + 1}", key="att_layer")
head = c2.selectbox("Head", ["mean", *range(a.n_heads)], key="att_head",
                    format_func=lambda h: "mean over heads" if h == "mean" else f"head {h + 1}")
# Side by side while the names stay readable; long histories get the full width each.
left, right = st.columns(2) if len(a.items) <= 24 else (st.container(), st.container())
with left:
    ui.chart(a.causal, "causal")
    st.caption("Each position may attend to itself and everything before it, never to later items: "
               "the lower triangle. The same backbone output serves every instruction.")
with right:
    fig, self_share = charts.backbone(ctx.rec, ctx.key, history, ins_json, int(layer), head)
    ui.chart(fig, "backbone_weights")
    st.caption(f"Darker = more weight. On average a position keeps {self_share:.0%} of its attention on itself; "
               "rows sum to 1 over the allowed (lower-triangle) cells.")

st.subheader("3 · TAMIP time-aware mask (training only)")
ui.chart(a.tamip, "tamip")
st.caption(captions.tamip_caption(a.tamip_codes, a.dtau))
