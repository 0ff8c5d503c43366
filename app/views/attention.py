"""Page 4 · Attention: the masks the model used for this history and instruction, and its weights."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import captions, heatmaps, services, state, ui
from app.heatmaps import AxisItem

ctx = services.context()
view = state.get_view()

st.title("Attention")
st.caption("Drawn from the engine's own mask tensors and attention weights for the current history and "
           "instruction. ★ marks history items that satisfy the instruction. Hover a cell for details.")
with ui.guard("History"):
    history = services.history_for(ctx, view)
    ins_json = services.instruction_json(view.instruction)
    ex = services.explain(ctx.rec, ctx.key, history, ins_json)
ins = services.instruction_of(view)
st.markdown(f"History: **{services.history_label(ctx, view)}** · instruction: "
            f"**{ui.instruction_text(view.instruction, services.names(ctx))}**")
if len(history) > len(ex.labels):
    st.caption(f"The model reads the most recent {len(ex.labels)} of {len(history)} artists; older ones are not shown.")

df = services.history_frame(ctx.rec, history).tail(len(ex.labels)).reset_index(drop=True)
rules = ex.cgsa_rule
m = len(ex.cond_labels)
hist_items = heatmaps.history_axis(df, rules, m, ins.has_conditions)
token_items = [AxisItem(t) for t in ex.cond_labels]
cgsa = ex.cgsa.numpy().astype(bool)

st.subheader("1 · The branch query under the instruction (CGSA)")
ui.chart(heatmaps.cgsa_figure(cgsa, rules, ex.cond_labels, hist_items), "cgsa_mask")
n_allowed = int(cgsa[m:].sum())
st.caption(captions.cgsa_caption(m, len(hist_items), n_allowed, ins.has_conditions))
heads = [AxisItem(f"head {h + 1}") for h in range(ex.branch_weights.shape[0])]
ui.chart(heatmaps.weight_heatmap(ex.branch_weights.numpy(), np.broadcast_to(cgsa, ex.branch_weights.shape),
                                 token_items + hist_items, heads, "Branch query: attention weights per head",
                                 "key", "head"), "branch_weights")
tok_share = float(ex.branch_weights[:, :m].sum(dim=1).mean()) if m else 0.0
st.caption(f"On average {tok_share:.0%} of the query's attention goes to the condition token(s), the rest to the "
           "allowed history items. Blank cells are blocked by the mask (weight exactly 0).")

st.subheader("2 · Backbone (shared by every instruction)")
n_layers = len(ex.backbone_weights)
n_heads = ex.backbone_weights[0].shape[0] if n_layers else 0
c1, c2, _ = st.columns([1, 1, 3])
layer = c1.selectbox("Layer", range(n_layers), format_func=lambda i: f"layer {i + 1}", key="att_layer")
head = c2.selectbox("Head", ["mean", *range(n_heads)], key="att_head",
                    format_func=lambda h: "mean over heads" if h == "mean" else f"head {h + 1}")
left, right = st.columns(2)
causal = ex.causal.numpy().astype(bool)
with left:
    ui.chart(heatmaps.mask_heatmap(heatmaps.causal_codes(causal), heatmaps.CAUSAL_CATS, hist_items, hist_items,
                                   "Backbone causal mask", "key (history item)", "query (position)"), "causal")
    st.caption("Each position may attend to itself and everything before it, never to later items: "
               "the lower triangle. The same backbone output serves every instruction.")
with right:
    w = ex.backbone_weights[layer].numpy()
    w = w.mean(axis=0) if head == "mean" else w[int(head)]
    ui.chart(heatmaps.weight_heatmap(w, causal, hist_items, hist_items,
                                     f"Attention weights, layer {layer + 1}, "
                                     + ("mean over heads" if head == "mean" else f"head {int(head) + 1}"),
                                     "key (history item)", "query (position)"), "backbone_weights")
    diag = float(np.mean(np.diag(w))) if len(w) else 0.0
    st.caption(f"Darker = more weight. On average a position keeps {diag:.0%} of its attention on itself; "
               "rows sum to 1 over the allowed (lower-triangle) cells.")

st.subheader("3 · TAMIP time-aware mask (training only)")
dtau = captions.delta_tau_text(ex.delta_tau, ctx.rec.dataset.time_resolution)
tcodes = heatmaps.tamip_codes(ex.tamip.numpy())
ui.chart(heatmaps.mask_heatmap(tcodes, heatmaps.TAMIP_CATS, hist_items, hist_items,
                               f"TAMIP mask for this history ({dtau})", "history item", "target (row)"), "tamip")
st.caption(captions.tamip_caption(tcodes, dtau))
