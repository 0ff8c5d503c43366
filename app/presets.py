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
    contrast: str = ""  # the second taste of a mixed listener (its contrast instruction)


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


def _top(long: pd.DataFrame, attr: str, users: pd.Index, n: int = 2) -> list[list[tuple[str, float]]]:
    """Per user: the ``n`` most common known values of ``attr`` with their share (vectorised)."""
    if attr not in long.columns:
        return [[] for _ in users]
    known = long[long[attr] != UNKNOWN]
    counts = pd.crosstab(known["user_id"], known[attr]).reindex(users, fill_value=0)
    values = counts.columns.to_numpy()
    m = counts.to_numpy(dtype=float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    order = np.argsort(-m, axis=1, kind="stable")[:, :n]
    return [[(str(values[j]), float(share[r, j])) for j in order[r] if m[r, j] > 0] for r in range(len(users))]


def user_summaries(users: Mapping[int, object], items: pd.DataFrame) -> pd.DataFrame:
    """One row per user: length, top genres and languages, and a selectbox label."""
    long = history_frame(users, items)
    n = long.groupby("user_id").size().sort_index()
    genres = [", ".join(f"{g} {s:.0%}" for g, s in top) or "no known genre" for top in _top(long, GENRE, n.index)]
    langs = ["/".join(v for v, _ in top) or "?" for top in _top(long, LANGUAGE, n.index)]
    labels = [f"User {u} · {k} artists · {g} · {lang}" for u, k, g, lang in zip(n.index, n, genres, langs, strict=True)]
    return pd.DataFrame({"user_id": n.index.astype(int), "n": n.to_numpy(), "genres": genres, "languages": langs,
                         "label": labels})


def _pick(scores: pd.Series) -> int | None:
    scores = scores.dropna()
    if scores.empty:
        return None
    best = scores.max()
    return int(min(scores[scores == best].index))  # ties: lowest id, so the choice is stable


def _counts(long: pd.DataFrame, attr: str, window: int | None) -> pd.DataFrame:
    part = long if window is None else long[long["from_end"] < window]
    return pd.crosstab(part["user_id"], part[attr])


def _balance(counts: pd.DataFrame, a: str, b: str) -> pd.Series:
    """How evenly a user's recent window mixes genres a and b (the smaller count, ties: more of both)."""
    return np.minimum(counts[a], counts[b]) + 0.01 * (counts[a] + counts[b])


def _mixed_pair(counts: pd.DataFrame) -> tuple[str, str] | None:
    """Hip-hop and the genre most evenly mixed with it by some listener (the paper's Figure 4 shape)."""
    genres = [g for g in counts.columns if g != UNKNOWN]
    if len(genres) < 2:
        return None
    a = "hip-hop" if "hip-hop" in genres else counts[genres].sum().idxmax()
    others = [g for g in counts[genres].sum().sort_values(ascending=False).index if g != a]
    best = max(others, key=lambda b: (float(_balance(counts, a, b).max()), -others.index(b)))
    return a, best


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
    recent = _counts(long, GENRE, window)
    n_recent = recent.sum(axis=1)
    pair = _mixed_pair(recent)
    if pair:
        a, b = pair
        balance = _balance(recent, a, b)
        u = _pick(balance[np.minimum(recent[a], recent[b]) > 0])
        if u is not None:
            out.append(Preset(
                "mixed", f"Mixed {a} / {b} listener", u,
                f"User {u}: of the last {n_recent[u]} artists, {recent.at[u, a]} are {a} and {recent.at[u, b]} {b}.",
                f"Unconditioned retrieval mixes both tastes. Ask for {a}: CGSA returns {a} artists, "
                f"and several are already in the unconditioned list (taste ∩ instruction, as in the "
                f"paper's Figure 4). Then try {b}.",
                {"genres": [a]}, b,
            ))
    if EXPLICIT in items.columns and "hip-hop" in recent.columns:
        explicit = _counts(long, EXPLICIT, window)
        ex = explicit["true"] if "true" in explicit.columns else pd.Series(0, index=recent.index)
        hh = recent["hip-hop"]
        heavy = hh[(hh >= 3) & (hh >= 0.5 * n_recent)]
        score = (100 * ex.reindex(heavy.index, fill_value=0) + heavy) if len(heavy) else hh[hh > 0]
        u = _pick(score)
        if u is not None:
            out.append(Preset(
                "rap_clean", "Rap-heavy history under a no-explicit policy", u,
                f"User {u}: {hh[u]} of the last {n_recent[u]} artists are hip-hop, {int(ex.get(u, 0))} flagged explicit.",
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


def measured_notice(p: Preset, results: Mapping[str, object], k: int) -> str:
    """The preset's "what to notice", stated with the numbers its own lists give.

    ``results`` maps a label to a :class:`RecResult`-like object (``items`` with a ``complies``
    column and the attribute columns, ``cc``, ``overlap``): ``unconditioned`` and, per preset,
    the instructed lists computed for this listener.
    """
    def n_with(label: str, attr: str, value: str) -> int:
        items = results[label].items
        return int((items[attr].astype(str) == value).sum()) if attr in items else 0

    def shared(label: str) -> int:
        r = results[label]
        return round((r.overlap or 0.0) * len(r.items))

    if p.key == "mixed":
        a, b = p.instruction["genres"][0], p.contrast
        both = shared("cgsa_a") > 0 and shared("cgsa_b") > 0
        return (f"Unconditioned, {n_with('unconditioned', GENRE, a)} of its {k} artists are {a} and "
                f"{n_with('unconditioned', GENRE, b)} {b}. Asked for {a}, CGSA returns "
                f"{n_with('cgsa_a', GENRE, a)} {a} artists, {shared('cgsa_a')} of them also in the "
                f"unconditioned list; asked for {b}, {n_with('cgsa_b', GENRE, b)} {b} artists, "
                f"{shared('cgsa_b')} shared"
                + (" (taste ∩ instruction, as in the paper's Figure 4)." if both else "."))
    if p.key == "rap_clean":
        post, hard, soft = results["posthoc"], results["cgsa_hard"], results["cgsa"]
        return (f"Under 'hip-hop, no known explicit', post-hoc filtering of the top {k}×{results['overfetch']} "
                f"keeps {len(post.items)} of {k}; CGSA + hard filter returns {len(hard.items)} of {k}, all "
                f"compliant; CGSA without the filter complies on {round(soft.cc * k)} of {k}. Explicit flags "
                f"are unknown for most artists: 'exclude unknown too' is much stricter.")
    if p.key == "new_language":
        lang = p.instruction["languages"][0]
        name = language_name(lang)
        return (f"No {name} artist in the history, so the CGSA query sees only the {name} condition token: "
                f"it returns {round(results['cgsa'].cc * k)} {name} artists of {k}; post-hoc filtering of the "
                f"top {k}×{results['overfetch']} finds {len(results['posthoc'].items)}.")
    return p.notice
