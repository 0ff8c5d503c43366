"""Page 4 · Attention: the finding first (where the instruction-conditioned query looks), then one heatmap
at a time from the engine's own mask tensors and attention weights."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app import captions, charts, glossary, services, state, ui
from app.vocab import ATTENTION_VIEWS

ctx = services.context()
view = state.get_view()

st.title("Attention")
with ui.guard("History"):
    history = services.history_for(ctx, view)
    ins_json = services.instruction_json(view.instruction)
    a = charts.attention(ctx.rec, ctx.key, history, ins_json)
    ex = services.explain(ctx.rec, ctx.key, history, ins_json)

# The finding: share of the branch query's attention on condition tokens vs history, and what it reads most.
w = ex.branch_weights.numpy().mean(axis=0)
m = a.n_tokens
hist_w = w[m:]
top = [(ex.labels[i], float(hist_w[i])) for i in hist_w.argsort()[::-1][:3] if hist_w[i] > 0]
reads = ", ".join(f"{name} ({v:.0%})" for name, v in top)
if m:
    finding = (f"Under this instruction the query puts {a.token_share:.0%} of its attention on the condition "
               f"token{'s' if m > 1 else ''} and {1 - a.token_share:.0%} on {a.n_allowed} allowed history artists"
               + (f"; it reads most {reads}." if reads else "."))
else:
    finding = f"Without an instruction the query reads the history itself; most {reads}." if reads else \
        "Without an instruction the query reads the history itself."
st.html(f"<div style='font-size:24px;font-weight:650;line-height:1.3;margin:4px 0 6px'>"
        f"{glossary.abbr_html(finding)}</div>")
st.caption(f"History: {ui.md(services.history_label(ctx, view))} · instruction: "
           f"{ui.md(ui.instruction_text(view.instruction, services.names(ctx)))}. Drawn from the engine's own mask "
           "tensors and weights; ★ marks history artists that satisfy the instruction.")
if a.n_history > len(a.items):
    st.caption(f"The model reads the most recent {len(a.items)} of {a.n_history} artists; older ones are not shown.")

VIEWS = {
    "Branch query weights": "Where the instruction-conditioned query (CGSA: condition-guided sparse attention) looks.",
    "CGSA mask": "Which history artists the branch query may read under this instruction.",
    "Backbone weights": "The shared backbone layers: attention per layer and head.",
    "Backbone causal mask": "Each position reads itself and everything before it.",
    "TAMIP mask": "Training only (TAMIP: time-aware multi-item prediction): what each target may learn from.",
}
state.init_widget("att_view", ATTENTION_VIEWS.get(view.att_view, "Branch query weights"))
pick = st.radio("Heatmap", list(VIEWS), horizontal=True, key="att_view")
view = replace(view, att_view=next(k for k, v in ATTENTION_VIEWS.items() if v == pick))
state.set_view(view)
st.caption(VIEWS[pick])
if pick == "Branch query weights":
    ui.chart(a.branch, "branch_weights")
    with st.expander("How to read it"):
        st.text(f"Rows are heads, columns the condition token(s) then the history (oldest → newest). "
                f"On average {a.token_share:.0%} of the weight goes to the condition token(s). Blank cells are "
                "blocked by the mask (weight exactly 0).")
elif pick == "CGSA mask":
    ui.chart(a.cgsa, "cgsa_mask")
    with st.expander("How to read it"):
        st.caption(captions.cgsa_caption(a.n_tokens, len(a.items), a.n_allowed, a.has_conditions))
elif pick == "Backbone weights":
    c1, c2, _ = st.columns([1, 1, 3])
    state.init_widget("att_layer", min(view.att_layer, a.n_layers - 1))
    state.init_widget("att_head", int(view.att_head) if view.att_head.isdigit() and int(view.att_head) < a.n_heads
                      else "mean")
    layer = c1.selectbox("Layer", range(a.n_layers), format_func=lambda i: f"layer {i + 1}", key="att_layer")
    head = c2.selectbox("Head", ["mean", *range(a.n_heads)], key="att_head",
                        format_func=lambda h: "mean over heads" if h == "mean" else f"head {h + 1}")
    state.set_view(replace(view, att_layer=int(layer), att_head=str(head)))
    fig, self_share = charts.backbone(ctx.rec, ctx.key, history, ins_json, int(layer), head)
    ui.chart(fig, "backbone_weights")
    st.caption(f"Darker = more weight; on average a position keeps {self_share:.0%} of its attention on itself.")
elif pick == "Backbone causal mask":
    ui.chart(a.causal, "causal")
    st.caption("The lower triangle: never a later artist. The same backbone output serves every instruction.")
else:
    ui.chart(a.tamip, "tamip")
    with st.expander("How to read it"):
        st.caption(captions.tamip_caption(a.tamip_codes, a.dtau))
