"""Pure figure builders for the story and the evidence page: numbers in, plotly figure out.

Every measured figure is drawn with its 95 % interval (error bars or a band).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from app.figures import TEMPLATE

BIG = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=16)
VERDICT_COLORS = {"reproduced": "#2e9e5b", "partly": "#f2a93b", "not": "#c0392b"}
MODEL_COLORS = {"NIP": "#9aa0ad", "MIP": "#f2a93b", "TAMIP": "#3358d4", "TAMIP + CGSA": "#3358d4"}


def _layout(fig: go.Figure, title: str, height: int, big: bool = False) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title_text=title, height=height, margin=dict(l=10, r=10, t=52, b=10),
                      font=BIG if big else None)
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[:2], 16)},{int(h[2:4], 16)},{int(h[4:], 16)},{alpha})"


def myopia_bands(bands: Mapping[str, Sequence[tuple[float, float, float]]], metric: str = "HR@50",
                 height: int = 380, big: bool = False) -> go.Figure:
    """Myopia curves (paper Fig. 3) with their 95 % interval as a band."""
    fig = go.Figure()
    for name, pts in bands.items():
        color = MODEL_COLORS.get(name, "#555")
        s = np.arange(1, len(pts) + 1)
        p, lo, hi = (np.array([x[i] for x in pts], dtype=float) for i in range(3))
        fig.add_trace(go.Scatter(x=np.r_[s, s[::-1]], y=np.r_[hi, lo[::-1]], fill="toself", line=dict(width=0),
                                 fillcolor=_rgba(color, 0.15), hoverinfo="skip", showlegend=False,
                                 name=f"{name} 95 % band"))
        fig.add_trace(go.Scatter(x=s, y=p, mode="lines+markers", name=name, line=dict(color=color, width=3),
                                 hovertext=[f"{name}, s = {i}: {v:.1%} [{a:.1%}, {b:.1%}]"
                                            for i, v, a, b in zip(s, p, lo, hi, strict=True)], hoverinfo="text"))
    fig.update_xaxes(title="s: the artist s steps after the cut", dtick=1)
    fig.update_yaxes(title=metric, tickformat=".0%", rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom"))
    return _layout(fig, f"Myopia: {metric} of the artist s steps ahead (band = 95 % interval)", height, big)


def underfill_bars(kept: Mapping[int, int], k: int, cgsa: int, height: int = 380) -> go.Figure:
    """Items kept of K by post-hoc filtering at each over-fetch, next to CGSA."""
    x = [f"post-hoc ×{f}" for f in kept] + ["CGSA"]
    y = [*kept.values(), cgsa]
    colors = ["#f2a93b"] * len(kept) + ["#3358d4"]
    fig = go.Figure(go.Bar(x=x, y=y, marker_color=colors, text=[f"{v} of {k}" for v in y], textposition="outside",
                           textfont=dict(size=18)))
    fig.update_yaxes(range=[0, k * 1.2], title="artists in the list")
    return _layout(fig, f"Artists returned of K = {k}", height, big=True)


def forest(claims: Sequence[dict], height: int | None = None) -> go.Figure:
    """Each claim's measured quantity minus its threshold, with the 95 % interval; 0 = the paper's side starts."""
    labels = [f"{c['topic']}: {c['quantity'][:70]}" for c in claims]
    x = [c["measured"] - c["threshold"] for c in claims]
    lo = [c["measured"] - c["lo"] for c in claims]
    hi = [c["hi"] - c["measured"] for c in claims]
    fig = go.Figure(go.Scatter(
        x=x, y=labels, mode="markers", marker=dict(size=10, color=[VERDICT_COLORS[c["verdict"]] for c in claims]),
        error_x=dict(type="data", symmetric=False, array=hi, arrayminus=lo, thickness=2),
        hovertext=[f"{c['verdict']}: {c['measured']:.3f} [{c['lo']:.3f}, {c['hi']:.3f}] vs {c['threshold']}"
                   for c in claims], hoverinfo="text"))
    fig.add_vline(x=0, line_dash="dash", line_color="#5b6275")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="measured − threshold (right of the dashed line = the paper's side)", tickformat="+.0%")
    return _layout(fig, "Every claim with its 95 % interval", height or 120 + 24 * len(claims))


def interval_bars(rows: Mapping[str, Mapping[str, Sequence[float]]], metrics: Sequence[str], title: str,
                  height: int = 380, paper: Mapping[str, float] | None = None) -> go.Figure:
    """Grouped bars: one group per metric, one bar per method, each ``[mean, lo, hi]`` with error bars."""
    fig = go.Figure()
    for name, vals in rows.items():
        ys = [vals[m][0] if vals.get(m) else None for m in metrics]
        up = [vals[m][2] - vals[m][0] if vals.get(m) else 0 for m in metrics]
        down = [vals[m][0] - vals[m][1] if vals.get(m) else 0 for m in metrics]
        fig.add_trace(go.Bar(name=name, x=list(metrics), y=ys,
                             error_y=dict(type="data", symmetric=False, array=up, arrayminus=down)))
    for m, v in (paper or {}).items():
        fig.add_trace(go.Scatter(x=[m], y=[v], mode="markers", name=f"paper {m}",
                                 marker=dict(symbol="line-ew-open", size=40, line=dict(width=3, color="#111"))))
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom"))
    return _layout(fig, title, height)


def atom_bars(rows: Sequence[dict], paper: float, height: int | None = None) -> go.Figure:
    """Soft CC@10 per instruction with its interval, against the paper's CC@10."""
    names = [r["instruction"] for r in rows]
    cc = [r["CC@10"] for r in rows]
    fig = go.Figure(go.Bar(x=[c[0] for c in cc], y=names, orientation="h", marker_color="#3358d4",
                           error_x=dict(type="data", symmetric=False, array=[c[2] - c[0] for c in cc],
                                        arrayminus=[c[0] - c[1] for c in cc])))
    fig.add_vline(x=paper, line_dash="dash", line_color="#c0392b",
                  annotation_text=f"paper {paper:.0%}", annotation_position="top")
    fig.update_xaxes(tickformat=".0%", range=[0, 1.05], title="soft CGSA CC@10")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Soft CC@10 per instruction (lowest first)", height or 120 + 20 * len(rows))
