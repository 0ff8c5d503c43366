"""Named demo presets and per-user summaries, computed from the data at runtime.

No user id or artist name is hard-coded (the data is licensed): each preset is a rule
("the user whose recent window is the most balanced hip-hop / rock mix", method §7,
Figure 4) evaluated on whatever catalogue is loaded. Pure functions, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from app.vocab import language_name
from engine.data.schema import EXPLICIT, GENRE, ITEM_ID, LANGUAGE, UNKNOWN

RECENT_WINDOW = 20  # the engine's personalised() window: "recent" means the same everywhere
MIN_HISTORY = 10


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    user_id: int
    summary: str  # one line about this listener, measured
    notice: str  # what to look at
    instruction: dict = field(default_factory=dict)  # Instruction.to_dict() fields to set


def history_frame(users: Mapping[int, object], items: pd.DataFrame) -> pd.DataFrame:
    """Long table: user_id, pos (0 = oldest), from_end (0 = newest), item_id + attributes."""
    uid, pos, iid = [], [], []
    for u, h in users.items():
        n = len(h.item_ids)
        uid.extend([u] * n)
        pos.extend(range(n))
        iid.extend(h.item_ids)
    df = pd.DataFrame({"user_id": uid, "pos": pos, ITEM_ID: iid})
    df["from_end"] = df.groupby("user_id")["pos"].transform("max") - df["pos"]
    cols = [c for c in (GENRE, LANGUAGE, EXPLICIT) if c in items.columns]
    return df.merge(items[[ITEM_ID, *cols]], on=ITEM_ID, how="left")


def _shares(long: pd.DataFrame, attr: str, window: int | None) -> pd.DataFrame:
    part = long if window is None else long[long["from_end"] < window]
    return pd.crosstab(part["user_id"], part[attr], normalize="index")


def user_summaries(users: Mapping[int, object], items: pd.DataFrame) -> pd.DataFrame:
    """One row per user: length, top genres and languages, and a selectbox label."""
    long = history_frame(users, items)
    rows = []
    for u, g in long.groupby("user_id", sort=True):
        genres = g[GENRE][g[GENRE] != UNKNOWN].value_counts(normalize=True).head(2) if GENRE in g else pd.Series()
        langs = g[LANGUAGE][g[LANGUAGE] != UNKNOWN].value_counts().head(2) if LANGUAGE in g else pd.Series()
        gtxt = ", ".join(f"{k} {v:.0%}" for k, v in genres.items()) or "no known genre"
        ltxt = "/".join(langs.index) or "?"
        n = len(g)
        rows.append((int(u), n, gtxt, ltxt, f"User {u} · {n} artists · {gtxt} · {ltxt}"))
    return pd.DataFrame(rows, columns=["user_id", "n", "genres", "languages", "label"])


def _pick(scores: pd.Series) -> int | None:
    scores = scores.dropna()
    if scores.empty:
        return None
    best = scores.max()
    return int(min(scores[scores == best].index))  # ties: lowest id, so the choice is stable


def _two_genres(long: pd.DataFrame, items: pd.DataFrame) -> tuple[str, str] | None:
    known = items[GENRE][items[GENRE] != UNKNOWN]
    present = set(known.unique())
    if {"hip-hop", "rock"} <= present:
        return "hip-hop", "rock"
    top = long[GENRE][long[GENRE] != UNKNOWN].value_counts().index.tolist()
    return (top[0], top[1]) if len(top) >= 2 else None


def _target_language(items: pd.DataFrame, min_items: int = 5) -> str | None:
    counts = items[LANGUAGE].value_counts()
    if counts.get("ja", 0) >= min_items:
        return "ja"
    for lang, n in counts.items():
        if lang not in ("en", UNKNOWN, "zxx") and n >= min_items:
            return str(lang)
    return None


def compute_presets(users: Mapping[int, object], items: pd.DataFrame, window: int = RECENT_WINDOW) -> list[Preset]:
    """The demo presets that this data supports (fewer when an attribute is missing)."""
    eligible = {u: h for u, h in users.items() if len(h.item_ids) >= MIN_HISTORY}
    if not eligible or GENRE not in items.columns:
        return []
    long = history_frame(eligible, items)
    out: list[Preset] = []
    recent = _shares(long, GENRE, window)
    pair = _two_genres(long, items)
    if pair and all(g in recent.columns for g in pair):
        a, b = pair
        score = np.minimum(recent[a], recent[b]) + 0.01 * (recent[a] + recent[b])
        u = _pick(score[np.minimum(recent[a], recent[b]) > 0])
        if u is not None:
            n = min(window, len(eligible[u].item_ids))
            out.append(Preset(
                "mixed", f"Mixed {a} / {b} listener", u,
                f"User {u}: last {n} artists are {recent.at[u, a]:.0%} {a} and {recent.at[u, b]:.0%} {b}.",
                f"Unconditioned retrieval mixes both tastes. Ask for {a}: CGSA returns {a} artists, "
                f"and several are already in the unconditioned list (taste ∩ instruction, as in the "
                f"paper's Figure 4). Then try {b}.",
                {"genres": [a]},
            ))
    if EXPLICIT in items.columns and "hip-hop" in recent.columns:
        explicit = _shares(long, EXPLICIT, window)
        ex = explicit["true"] if "true" in explicit.columns else 0.0
        u = _pick((recent["hip-hop"] + 0.5 * ex)[recent["hip-hop"] > 0])
        if u is not None:
            share = ex.get(u, 0.0) if isinstance(ex, pd.Series) else 0.0
            out.append(Preset(
                "rap_clean", "Rap-heavy history under a no-explicit policy", u,
                f"User {u}: {recent.at[u, 'hip-hop']:.0%} hip-hop in the last {window} artists, "
                f"{share:.0%} flagged explicit.",
                "The policy removes known-explicit artists. Post-hoc filtering keeps only what "
                "survives in the over-fetched list, often fewer than K; CGSA + hard filter still "
                "returns K clean hip-hop artists. Explicit flags are unknown for many artists: "
                "'exclude unknown too' is much stricter.",
                {"genres": ["hip-hop"], "explicit": "exclude_known"},
            ))
    lang = _target_language(items) if LANGUAGE in items.columns else None
    if lang is not None:
        has = long.groupby("user_id")[LANGUAGE].apply(lambda s: (s == lang).any())
        lengths = long.groupby("user_id").size()
        u = _pick(lengths[~has])
        if u is not None:
            name = language_name(lang)
            out.append(Preset(
                "new_language", f"Listener with no {name} artists in the history", u,
                f"User {u}: {lengths[u]} artists, none of them {name}.",
                f"Nothing in the history matches, so the CGSA mask lets the query see only the "
                f"{name} condition token (see the Attention page): the instruction alone steers "
                f"retrieval. Post-hoc filtering usually finds few or no {name} artists.",
                {"languages": [lang]},
            ))
    return out
