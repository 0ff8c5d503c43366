"""Attention heatmaps: the engine's own mask tensors and weights, drawn (method §3, §4).

Pure functions: arrays and per-item info in, plotly figure out. Axes are positions
(so a repeated artist keeps two rows) labelled with artist names; row 0 on top;
items matching the instruction are marked ★ in bold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from app.figures import _layout, shorten
from app.vocab import language_name

ALLOWED, BLOCKED, TOKEN, HIDDEN = "#3358d4", "#e9ebf1", "#f2a93b", "#e07a5f"
CAUSAL_CATS = (("blocked: later item", BLOCKED), ("may attend", ALLOWED))
TAMIP_CATS = (("target itself or later", BLOCKED), ("visible history", ALLOWED),
              ("hidden: logged within Δτ of the target", HIDDEN))
CGSA_CATS = (("blocked by the instruction", BLOCKED), ("condition token (always visible)", TOKEN),
             ("history item the query may attend to", ALLOWED))


@dataclass(frozen=True)
class AxisItem:
    label: str
    genre: str = ""
    language: str = ""
    date: str = ""
    matches: bool = False

    @property
    def info(self) -> str:
        if not self.genre:
            return f"<b>{self.label}</b>"
        return f"<b>{self.label}</b> ({self.genre}, {language_name(self.language)}, {self.date})"


def tick_text(items: Sequence[AxisItem], max_len: int = 22) -> list[str]:
    out = []
    for it in items:
        name = shorten(it.label, max_len)
        out.append(f"<b>★ {name}</b>" if it.matches else name)
    return out


def causal_codes(causal: np.ndarray) -> np.ndarray:
    return np.asarray(causal, dtype=bool).astype(int)


def tamip_codes(tamip: np.ndarray) -> np.ndarray:
    """0 = target itself or later, 1 = visible, 2 = earlier but hidden by the Δτ window."""
    tamip = np.asarray(tamip, dtype=bool)
    earlier = np.tril(np.ones_like(tamip, dtype=bool), k=-1)
    return np.where(tamip, 1, np.where(earlier, 2, 0))


def cgsa_codes(cgsa: np.ndarray, n_tokens: int) -> np.ndarray:
    """0 = blocked, 1 = condition token, 2 = allowed history item; shape [1, M + T]."""
    cgsa = np.asarray(cgsa, dtype=bool)
    codes = np.where(cgsa, 2, 0)
    codes[:n_tokens] = np.where(cgsa[:n_tokens], 1, 0)
    return codes[None, :]


def _discrete_scale(colors: Sequence[str]) -> list:
    n = len(colors)
    scale = []
    for k, c in enumerate(colors):
        scale += [[k / n, c], [(k + 1) / n, c]]
    return scale


def _legend(fig: go.Figure, categories: Sequence[tuple[str, str]]) -> None:
    for name, color in categories:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, showlegend=True,
                                 marker=dict(symbol="square", size=12, color=color,
                                             line=dict(width=1, color="#9aa0ad"))))
    fig.update_layout(legend=dict(orientation="h", y=1.0, x=0, yanchor="bottom", xanchor="left"))


def _height(n_rows: int, n_cols: int) -> int:
    """Square-ish cells for square masks, a short strip for one or two rows."""
    if n_rows <= 4:
        return 230 + 30 * n_rows
    return int(min(1000, 200 + 18 * n_rows))


def _categories(items: Sequence[AxisItem]) -> list[str]:
    """Unique category per position (a repeated artist keeps two rows), carrying the hover details."""
    return [f"{n + 1}. {it.info}" for n, it in enumerate(items)]


def _hover(hover_names: tuple[str, str], cell: str) -> str:
    # Row and column details come from the category labels, so the per-cell payload stays small
    # (a T x T matrix of full descriptions was ~0.5 MB per chart at T = 50).
    hy, hx = hover_names
    return f"{hy}: %{{y}}<br>{hx}: %{{x}}<br>{cell}<extra></extra>"


def mask_heatmap(codes: np.ndarray, categories: Sequence[tuple[str, str]], x_items: Sequence[AxisItem],
                 y_items: Sequence[AxisItem], title: str, x_title: str, y_title: str,
                 rule: np.ndarray | None = None, hover_names: tuple[str, str] = ("row", "reads")) -> go.Figure:
    """A boolean/categorical mask: ``codes[r, c]`` indexes ``categories`` (name, colour)."""
    codes = np.asarray(codes)
    names = np.array([c[0] for c in categories], dtype=object)
    text = np.asarray(rule, dtype=object) if rule is not None else names[codes]
    fig = go.Figure(go.Heatmap(
        z=codes.astype(float), x=_categories(x_items), y=_categories(y_items), text=text.tolist(),
        zmin=-0.5, zmax=len(categories) - 0.5, colorscale=_discrete_scale([c[1] for c in categories]),
        showscale=False, hovertemplate=_hover(hover_names, "<i>%{text}</i>"), xgap=1, ygap=1,
    ))
    _legend(fig, categories)
    _axes(fig, x_items, y_items, x_title, y_title)
    return _layout(fig, title, _height(codes.shape[0], codes.shape[1]) + 30)


def weight_heatmap(weights: np.ndarray, allowed: np.ndarray, x_items: Sequence[AxisItem],
                   y_items: Sequence[AxisItem], title: str, x_title: str, y_title: str,
                   hover_names: tuple[str, str] = ("row", "reads")) -> go.Figure:
    """Attention weights; cells the mask blocks are left blank (weight exactly 0, no hover)."""
    w = np.where(np.asarray(allowed, dtype=bool), np.asarray(weights, dtype=float), np.nan)
    fig = go.Figure(go.Heatmap(
        z=w, x=_categories(x_items), y=_categories(y_items), colorscale="Blues", zmin=0,
        zmax=float(np.nanmax(w)) if np.isfinite(w).any() else 1.0, hoverongaps=False,
        hovertemplate=_hover(hover_names, "weight <b>%{z:.3f}</b>"),
        xgap=1, ygap=1, colorbar=dict(title=dict(text="weight"), thickness=12),
    ))
    _axes(fig, x_items, y_items, x_title, y_title)
    return _layout(fig, title, _height(w.shape[0], w.shape[1]))


def _axes(fig: go.Figure, x_items, y_items, x_title: str, y_title: str) -> None:
    fig.update_xaxes(type="category", tickvals=_categories(x_items), ticktext=tick_text(x_items), tickangle=-60,
                     title=x_title, showgrid=False, tickfont=dict(size=10), zeroline=False)
    fig.update_yaxes(type="category", tickvals=_categories(y_items), ticktext=tick_text(y_items),
                     autorange="reversed", title=y_title, showgrid=False, tickfont=dict(size=10), zeroline=False)
    fig.update_layout(plot_bgcolor="white")


def history_axis(df, rules: Sequence[str], n_tokens: int, has_conditions: bool) -> list[AxisItem]:
    """Axis entries for the history rows of an explanation (``df``: artist, genre, language, date)."""
    out = []
    for i, r in enumerate(df.itertuples(index=False)):
        date = "" if str(r.date) in ("NaT", "None") else str(r.date)[:16]
        match = has_conditions and rules[n_tokens + i] == "matches the instruction"
        out.append(AxisItem(str(r.artist), str(r.genre), str(r.language), date, match))
    return out


def cgsa_figure(cgsa: np.ndarray, rules: Sequence[str], cond_labels: Sequence[str],
                hist_items: Sequence[AxisItem]) -> go.Figure:
    """The branch query's CGSA mask as one row: condition tokens, then the history items."""
    m = len(cond_labels)
    return mask_heatmap(cgsa_codes(cgsa, m), CGSA_CATS, [AxisItem(t) for t in cond_labels] + list(hist_items),
                        [AxisItem("serving query")], "CGSA mask: what the serving query may attend to",
                        "condition tokens, then the history (oldest → newest)", "", rule=np.array([list(rules)], dtype=object),
                        hover_names=("query", "reads"))
