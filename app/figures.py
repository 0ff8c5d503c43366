"""Pure figure builders: data in, plotly figure out (no Streamlit, no engine calls).

Conventions: row 0 on top, artist names on the axes, hover shows genre,
language and date, items matching the instruction marked with ★.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from app.vocab import language_name

PALETTE = qualitative.Plotly + qualitative.D3 + qualitative.Set2
UNKNOWN_COLOR = "#b8bcc6"
SLOPE_LABEL_CHARS = 14
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=12)
_AXIS = dict(gridcolor="#eef0f5", linecolor="#d5d8e0", zeroline=False, automargin=True, ticks="")
# A small explicit template: Streamlit replaces plotly's global default template, and applying
# the full "plotly_white" template costs ~10 ms per figure (a small one ~1 ms).
TEMPLATE = go.layout.Template(layout=dict(
    font=FONT, paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE, hoverlabel=dict(font_size=12),
    xaxis=_AXIS, yaxis=_AXIS, title=dict(x=0, xanchor="left", font=dict(size=15)),
))


def genre_colors(genres: Iterable[str]) -> dict[str, str]:
    """A stable colour per genre (sorted order), grey for unknown."""
    out = {}
    for n, g in enumerate(sorted({str(g) for g in genres} - {"unknown"})):
        out[g] = PALETTE[n % len(PALETTE)]
    out["unknown"] = UNKNOWN_COLOR
    return out


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    """Shared look (explicit template, title, height, margins) in one layout update."""
    fig.update_layout(template=TEMPLATE, title_text=title, height=height, margin=dict(l=10, r=10, t=48, b=10))
    return fig


def _date_text(dates: pd.Series) -> list[str]:
    return ["—" if pd.isna(d) else pd.Timestamp(d).strftime("%Y-%m-%d %H:%M") for d in dates]


def _date_ticks(dates: pd.Series, max_ticks: int = 8) -> tuple[list[int], list[str]]:
    """Ticks where the date changes, at least ``n / max_ticks`` positions apart, labelled with the date."""
    dates = pd.to_datetime(dates)
    span_days = (dates.max() - dates.min()).days if len(dates) else 0
    day = dates.dt.strftime("%Y-%m-%d" if span_days < 400 else "%Y-%m").to_numpy()
    gap = max(1, len(day) // max_ticks)
    vals, last = [], -gap
    for i in range(len(day)):
        if (i == 0 or day[i] != day[i - 1]) and i - last >= gap:
            vals.append(i)
            last = i
    return [i + 1 for i in vals], [day[i] for i in vals]


def history_timeline(df: pd.DataFrame, window: int | None = 20, colors: dict[str, str] | None = None,
                     title: str = "Listening history") -> go.Figure:
    """The history in listening order, one lane per genre, coloured by genre; the recent window shaded.

    x is the order (items logged together share a date, so a date axis would stack them);
    the ticks show the date where it changes. ``df``: pos, artist, genre, language, date
    (NaT for order-only data), optional matches.
    """
    colors = colors or genre_colors(df["genre"])
    has_dates = "date" in df and len(df) > 0 and df["date"].notna().all()
    x = df["pos"] + 1
    order = df["genre"].value_counts().index.tolist()
    fig = go.Figure()
    matches = df["matches"] if "matches" in df else pd.Series(False, index=df.index)
    for g in order:
        part = df["genre"] == g
        sub = df[part]
        hover = [f"<b>{a}</b><br>genre: {g}<br>language: {language_name(str(lang))}<br>"
                 f"date: {d}<br>position: {p + 1} of {len(df)}"
                 for a, lang, d, p in zip(sub["artist"], sub["language"], _date_text(sub["date"]), sub["pos"],
                                          strict=True)]
        fig.add_trace(go.Scatter(
            x=x[part], y=[g] * len(sub), mode="markers", name=g, hovertext=hover, hoverinfo="text",
            marker=dict(size=np.where(matches[part], 17, 12), color=colors.get(g, UNKNOWN_COLOR),
                        symbol=np.where(matches[part], "star", "circle"), line=dict(width=1, color="white")),
        ))
    if window and len(df) > 0:
        start = max(0, len(df) - window)
        fig.add_vrect(x0=start + 0.5, x1=len(df) + 0.5, fillcolor="#3358d4", opacity=0.07, line_width=0,
                      annotation_text=f"recent {min(window, len(df))}", annotation_position="top left")
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], title=None, gridcolor="#eef0f5")
    if has_dates:
        vals, text = _date_ticks(df["date"])
        fig.update_xaxes(tickvals=vals, ticktext=text, tickangle=0, title="listening order (date where it changes)")
    else:
        fig.update_xaxes(title="position in history")
    fig.update_xaxes(gridcolor="#eef0f5", range=[0.3, len(df) + 0.7], zeroline=False)
    fig.update_layout(showlegend=False)
    return _layout(fig, title, 170 + 30 * len(order))


def myopia_curves(curves: dict[str, Sequence[float]], metric: str = "HR@50",
                  users: Sequence[int] | None = None) -> go.Figure:
    """HR of the item s steps after the cut, per model (paper Fig. 3)."""
    styles = {"NIP": ("#9aa0ad", "dot"), "MIP": ("#f2a93b", "dash"), "TAMIP": ("#3358d4", "solid"),
              "TAMIP + CGSA": ("#3358d4", "solid")}
    fig = go.Figure()
    for name, ys in curves.items():
        color, dash = styles.get(name, (None, "solid"))
        s = np.arange(1, len(ys) + 1)
        text = [f"{name}<br>s = {i}<br>{metric} = {v:.2%}" + (f"<br>users: {users[i - 1]}" if users else "")
                for i, v in zip(s, ys, strict=True)]
        fig.add_trace(go.Scatter(x=s, y=np.asarray(ys, dtype=float), mode="lines+markers", name=name,
                                 line=dict(color=color, dash=dash, width=3), hovertext=text, hoverinfo="text"))
    fig.update_xaxes(title="s: the held-out item s steps after the cut", dtick=1, gridcolor="#eef0f5")
    fig.update_yaxes(title=metric, tickformat=".0%", gridcolor="#eef0f5", rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    return _layout(fig, f"Myopia: {metric} of the item s steps ahead, one retrieval at the cut", 380)


def future_hits(future: pd.DataFrame, models: Sequence[str]) -> go.Figure:
    """Which held-out items each model's top-K contains. ``future``: s, artist, genre, + bool column per model."""
    z = np.array([[1.0 if future.at[r, m] else 0.0 for m in models] for r in future.index]).reshape(len(future),
                                                                                                   len(models))
    text = [["✓ retrieved" if future.at[r, m] else "·" for m in models] for r in future.index]
    hover = [[f"s = {future.at[r, 's']}: <b>{future.at[r, 'artist']}</b> ({future.at[r, 'genre']})<br>"
              f"{m}: {'in' if future.at[r, m] else 'not in'} its top-K" for m in models] for r in future.index]
    ylabels = [f"{s}. {a}" for s, a in zip(future["s"], future["artist"], strict=True)]
    fig = go.Figure(go.Heatmap(z=z, x=list(models), y=list(range(len(future))), text=text, texttemplate="%{text}",
                               hovertext=hover, hoverinfo="text", zmin=0, zmax=1, showscale=False, xgap=3, ygap=3,
                               colorscale=[[0, "#f3f5fa"], [1, "#8fd19e"]]))
    fig.update_yaxes(autorange="reversed", tickvals=list(range(len(future))), ticktext=ylabels)
    fig.update_xaxes(side="top")
    return _layout(fig, "Held-out later items: retrieved in each model's top-K?", 110 + 30 * len(future))


def whatif_slope(diff: pd.DataFrame, label_a: str = "before", label_b: str = "after") -> go.Figure:
    """Rank moves between two lists. ``diff``: artist, rank_a, rank_b (NaN when absent), status."""
    colors = {"entered": "#2e9e5b", "left": "#d1453b", "moved": "#f2a93b", "same": "#9aa0ad"}
    fig = go.Figure()
    k = int(np.nanmax(np.r_[diff["rank_a"].to_numpy(float), diff["rank_b"].to_numpy(float), 1]))
    out_y = k + 1.5
    for status, sub in diff.groupby("status", sort=False):
        for _, r in sub.iterrows():
            ya = r["rank_a"] if pd.notna(r["rank_a"]) else out_y
            yb = r["rank_b"] if pd.notna(r["rank_b"]) else out_y
            fig.add_trace(go.Scatter(
                x=[0, 1], y=[ya, yb], mode="lines+markers", line=dict(color=colors.get(status), width=2),
                marker=dict(size=8), showlegend=False, hoverinfo="text",
                hovertext=f"<b>{r['artist']}</b><br>{status}: {_rank(r['rank_a'])} → {_rank(r['rank_b'])}"))
    left = diff.dropna(subset=["rank_a"])
    right = diff.dropna(subset=["rank_b"])
    for x, side, sub, rank in ((-0.02, "left", left, "rank_a"), (1.02, "right", right, "rank_b")):
        names = [shorten(a, SLOPE_LABEL_CHARS) for a in sub["artist"]]
        fig.add_trace(go.Scatter(x=[x] * len(sub), y=sub[rank], text=names, mode="text",
                                 textposition=f"middle {side}", showlegend=False, hoverinfo="skip"))
    fig.update_yaxes(autorange="reversed", tickvals=[*range(1, k + 1), out_y],
                     ticktext=[*map(str, range(1, k + 1)), "not in list"], showgrid=False)
    fig.update_xaxes(range=[-1.1, 2.1], tickvals=[0, 1], ticktext=[label_a, label_b], showgrid=False, side="top",
                     zeroline=False)
    fig.update_yaxes(zeroline=False)
    return _layout(fig, "What changed, item by item", 140 + 28 * (k + 2))


def shorten(name: str, width: int) -> str:
    """Axis and slope labels share narrow space; callers keep the full name in the hover."""
    return name if len(name) <= width else name[:width - 1] + "…"


def _rank(v) -> str:
    return "—" if pd.isna(v) else f"#{int(v)}"
