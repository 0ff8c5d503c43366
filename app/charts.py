"""Cached chart bundles: engine outputs turned into figures once per input, reused on reruns.

Building a plotly figure costs 25–45 ms (validation), so a page with five heatmaps would
spend most of its 300 ms budget on it at every widget change. ``st.cache_resource``
returns the same figure object (no pickling); ``st.plotly_chart`` does not mutate it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import captions, figures, heatmaps, services
from app.heatmaps import AxisItem
from app.presets import RECENT_WINDOW
from engine import History, Instruction, Recommender


@st.cache_resource(max_entries=64, show_spinner=False)
def timeline(_rec: Recommender, key: str, history: History, instruction_json: str | None,
             title: str = "Timeline, coloured by genre") -> go.Figure:
    ins = Instruction.from_dict(json.loads(instruction_json)) if instruction_json else None
    df = services.history_frame(_rec, history, ins if ins is not None and ins.has_conditions else None)
    return figures.history_timeline(df, RECENT_WINDOW, title=title)


@dataclass(frozen=True)
class AttentionCharts:
    items: list[AxisItem]  # history rows the model reads (most recent max_len)
    n_history: int
    n_tokens: int
    n_allowed: int
    token_share: float  # mean share of the branch query's attention on condition tokens
    has_conditions: bool
    cgsa: go.Figure
    branch: go.Figure
    causal: go.Figure
    tamip: go.Figure
    tamip_codes: np.ndarray
    dtau: str
    n_layers: int
    n_heads: int


@st.cache_resource(max_entries=32, show_spinner="Drawing the masks…")
def attention(_rec: Recommender, key: str, history: History, instruction_json: str) -> AttentionCharts:
    ex = services.explain(_rec, key, history, instruction_json)
    ins = Instruction.from_dict(json.loads(instruction_json))
    df = services.history_frame(_rec, history).tail(len(ex.labels)).reset_index(drop=True)
    m = len(ex.cond_labels)
    items = heatmaps.history_axis(df, ex.cgsa_rule, m, ins.has_conditions)
    tokens = [AxisItem(t) for t in ex.cond_labels]
    cgsa = ex.cgsa.numpy().astype(bool)
    reads = "condition tokens, then the history (oldest → newest)"
    heads = [AxisItem(f"head {h + 1}") for h in range(ex.branch_weights.shape[0])]
    causal = ex.causal.numpy().astype(bool)
    dtau = captions.delta_tau_text(ex.delta_tau, _rec.dataset.time_resolution)
    tcodes = heatmaps.tamip_codes(ex.tamip.numpy())
    return AttentionCharts(
        items=items, n_history=len(history), n_tokens=m, n_allowed=int(cgsa[m:].sum()),
        token_share=float(ex.branch_weights[:, :m].sum(dim=1).mean()) if m else 0.0,
        has_conditions=ins.has_conditions,
        cgsa=heatmaps.cgsa_figure(cgsa, ex.cgsa_rule, ex.cond_labels, items),
        branch=heatmaps.weight_heatmap(ex.branch_weights.numpy(), np.broadcast_to(cgsa, ex.branch_weights.shape),
                                       tokens + items, heads, "Branch query: attention weights per head", reads,
                                       "head", ("head", "reads")),
        causal=heatmaps.mask_heatmap(heatmaps.causal_codes(causal), heatmaps.CAUSAL_CATS, items, items,
                                     "Backbone causal mask", "item it may read", "position (oldest at the top)",
                                     hover_names=("position", "reads")),
        tamip=heatmaps.mask_heatmap(tcodes, heatmaps.TAMIP_CATS, items, items, f"TAMIP mask for this history ({dtau})",
                                    "history item it may learn from", "target being predicted",
                                    hover_names=("target", "history item")),
        tamip_codes=tcodes, dtau=dtau, n_layers=len(ex.backbone_weights),
        n_heads=int(ex.backbone_weights[0].shape[0]) if ex.backbone_weights else 0,
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def backbone(_rec: Recommender, key: str, history: History, instruction_json: str, layer: int,
             head: int | str) -> tuple[go.Figure, float]:
    """Backbone attention weights of one layer (one head, or the mean over heads) and the self-share."""
    ex = services.explain(_rec, key, history, instruction_json)
    items = attention(_rec, key, history, instruction_json).items
    w = ex.backbone_weights[layer].numpy()
    w = w.mean(axis=0) if head == "mean" else w[int(head)]
    which = "mean over heads" if head == "mean" else f"head {int(head) + 1}"
    fig = heatmaps.weight_heatmap(w, ex.causal.numpy().astype(bool), items, items,
                                  f"Attention weights, layer {layer + 1}, {which}", "item it reads",
                                  "position (oldest at the top)", ("position", "reads"))
    return fig, float(np.mean(np.diag(w))) if len(w) else 0.0
