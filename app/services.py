"""Cached compute through the engine: the only place pages get model outputs from.

Every function takes the loaded :class:`~engine.Recommender` as ``_rec`` (not hashed)
plus ``key`` (checkpoint + data identity) and plain hashable inputs, so a rerun with the
same inputs costs a dictionary lookup (goal: ≤ 300 ms server time per interaction).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from app import presets as presets_mod
from app.fields import ATTRIBUTE_OF, VALUE_FIELDS
from app.loader import Sources, evidence_paths, load_main, resolve_sources
from app.state import INSTRUCTION_KEYS, MAX_K, ViewState, Vocab, empty_instruction, from_query
from app.vocab import PAGE_KEYS, language_name
from engine import (
    METHODS,
    ArtistIndex,
    History,
    HistoryError,
    Instruction,
    Recommender,
    evidence,
    parse_instruction,
    search_artists,
)
from engine.data.schema import GENRE, ITEM_ID, LANGUAGE, NAME, TIMESTAMP, UNKNOWN


@dataclass
class Ctx:
    rec: Recommender
    sources: Sources
    key: str
    presets: list[presets_mod.Preset]
    users: pd.DataFrame  # user summaries (user_id, n, genres, languages, label)
    vocab: Vocab

    @property
    def items(self) -> pd.DataFrame:
        return self.rec.items

    def preset(self, key: str | None) -> presets_mod.Preset | None:
        return next((p for p in self.presets if p.key == key), None)


@st.cache_data(show_spinner="Finding demo listeners…", max_entries=4)
def _presets(_rec: Recommender, key: str) -> list[presets_mod.Preset]:
    return [_measured(_rec, p) for p in presets_mod.compute_presets(_rec.users(), _rec.items)]


PRESET_K, PRESET_OVERFETCH = 10, 5


def _measured(rec: Recommender, p: presets_mod.Preset) -> presets_mod.Preset:
    """The preset with its "what to notice" computed from this model's lists for the listener."""
    h = rec.user_history(p.user_id)
    ins = Instruction.from_dict({k: v for k, v in p.instruction.items()})

    def run(instruction, method):
        return rec.recommend(h, instruction, PRESET_K, method=method, overfetch=PRESET_OVERFETCH)

    results: dict = {"overfetch": PRESET_OVERFETCH, "unconditioned": run(Instruction(), "unconditioned")}
    if p.key == "mixed":
        results["cgsa_a"] = run(ins, "cgsa")
        results["cgsa_b"] = run(Instruction(genres=frozenset({p.contrast})), "cgsa")
    else:
        results.update({m: run(ins, m) for m in ("posthoc", "cgsa", "cgsa_hard")})
    return replace(p, notice=presets_mod.measured_notice(p, results, PRESET_K))


@st.cache_data(show_spinner=False, max_entries=4)
def _user_table(_rec: Recommender, key: str) -> pd.DataFrame:
    return presets_mod.user_summaries(_rec.users(), _rec.items)


@st.cache_resource(show_spinner=False, max_entries=4)
def _names(_rec: Recommender, key: str) -> dict[int, str]:
    return dict(zip(_rec.items[ITEM_ID].astype(int), _rec.items[NAME].astype(str), strict=True))


@st.cache_resource(show_spinner=False, max_entries=4)
def _item_labels(_rec: Recommender, key: str) -> dict[int, str]:
    items = _rec.items
    langs = items[LANGUAGE].map(language_name) if LANGUAGE in items else ""
    return {int(i): f"{n} · {g} · {lang}" for i, n, g, lang in
            zip(items[ITEM_ID], items[NAME], items[GENRE], langs, strict=True)}


def item_labels(ctx: Ctx) -> dict[int, str]:
    """item id → "artist · genre · language" for the catalogue search (cached; do not mutate)."""
    return _item_labels(ctx.rec, ctx.key)


@st.cache_resource(show_spinner=False, max_entries=4)
def _artist_index(_rec: Recommender, key: str) -> ArtistIndex:
    return ArtistIndex(_rec.items)


def search(ctx: Ctx, query: str, limit: int = 10) -> list[tuple[int, str, float]]:
    """Type-ahead over the whole catalogue: ``[(item_id, name, score)]``, best first (a few ms)."""
    return search_artists(query, _artist_index(ctx.rec, ctx.key), limit)


def parse(ctx: Ctx, text: str) -> tuple[Instruction, list[str]]:
    """A plain-English instruction and the notes on what was not taken literally."""
    return parse_instruction(text, ctx.items, index=_artist_index(ctx.rec, ctx.key))


def names(ctx: Ctx) -> dict[int, str]:
    """item id → artist name (cached; do not mutate)."""
    return _names(ctx.rec, ctx.key)


def _values(items: pd.DataFrame, attr: str) -> frozenset[str]:
    return frozenset(items[attr].astype(str).unique()) - {UNKNOWN} if attr in items.columns else frozenset()


def context() -> Ctx:
    """Load (cached) the model, presets and vocabulary. Raises EngineError on setup problems."""
    sources = resolve_sources()
    rec = load_main(sources)
    key = sources.key
    pres = _presets(rec, key)
    users = _user_table(rec, key)
    items = rec.items
    vocab = Vocab(
        **{name: _values(items, attr) for name, attr in ATTRIBUTE_OF.items()},
        users=frozenset(int(u) for u in users["user_id"]), items=frozenset(int(i) for i in items[ITEM_ID]),
        presets=frozenset(p.key for p in pres), pages=frozenset(PAGE_KEYS), max_k=min(MAX_K, len(items)),
    )
    return Ctx(rec, sources, key, pres, users, vocab)


def default_view(ctx: Ctx) -> ViewState:
    """First visit: the first preset with its suggested instruction (an interesting view at once)."""
    if ctx.presets:
        p = ctx.presets[0]
        return ViewState(source="preset", preset=p.key).with_instruction(**p.instruction)
    first = int(ctx.users["user_id"].iloc[0]) if len(ctx.users) else None
    return ViewState(source="user", user=first)


def initial_view(ctx: Ctx, params: dict) -> tuple[ViewState, list[str]]:
    """The view a fresh session opens on: the link's, completed by the defaults.

    A link that names a preset but no instruction gets that preset's suggested instruction.
    """
    view, warnings = from_query(params, ctx.vocab, default_view(ctx))
    p = ctx.preset(view.preset) if view.source == "preset" else None
    if p is not None and not any(k in params for k in INSTRUCTION_KEYS):
        view = replace(view, instruction=empty_instruction()).with_instruction(**p.instruction)
    return view, warnings


# --------------------------------------------------------------------------- histories


def custom_timestamps(rec: Recommender, n: int) -> list[int]:
    """A custom history is dated one listen per day, ending at the data's last timestamp."""
    if rec.dataset.time_resolution == 0:
        return list(range(n))
    end = int(rec.dataset.interactions[TIMESTAMP].max())
    step = 86400
    return [end - (n - 1 - i) * step for i in range(n)]


def history_for(ctx: Ctx, view: ViewState) -> History:
    """The listening history the view points at (raises HistoryError with a hint)."""
    if view.source == "custom":
        if not view.custom:
            raise HistoryError("the custom history is empty", "add artists on the Listening history page")
        return ctx.rec.make_history(view.custom, custom_timestamps(ctx.rec, len(view.custom)))
    if view.source == "preset":
        p = ctx.preset(view.preset)
        if p is None:
            raise HistoryError(f"there is no preset {view.preset!r} for this data", "pick a preset or a user")
        return ctx.rec.user_history(p.user_id)
    if view.user is None:
        raise HistoryError("no user selected", "pick a user on the Listening history page")
    return ctx.rec.user_history(view.user)


def history_label(ctx: Ctx, view: ViewState, history: History | None = None) -> str:
    if view.source == "preset" and ctx.preset(view.preset):
        p = ctx.preset(view.preset)
        return f"Preset “{p.title}” (user {p.user_id})"
    if view.source == "user" and view.user is not None:
        return f"User {view.user}"
    return f"Custom history ({len(view.custom)} artists)"


def history_frame(rec: Recommender, history: History, instruction: Instruction | None = None) -> pd.DataFrame:
    """One row per history item: position, artist, attributes, date, matches the instruction."""
    rows = rec.items.set_index(ITEM_ID).loc[list(history.item_ids)].reset_index()
    rows.insert(0, "pos", np.arange(len(rows)))
    res = rec.dataset.time_resolution
    rows["date"] = pd.to_datetime(np.asarray(history.timestamps), unit="s") if res > 0 else pd.NaT
    if instruction is not None:
        ok = set(rec.items[ITEM_ID][rec.eligible(instruction)])
        rows["matches"] = rows[ITEM_ID].isin(ok)
    return rows.rename(columns={NAME: "artist"})


# --------------------------------------------------------------------------- compute


def instruction_of(view: ViewState) -> Instruction:
    return Instruction.from_dict(view.instruction)


@st.cache_data(show_spinner=False, max_entries=256)
def compare(_rec: Recommender, key: str, h: History, instruction_json: str, k: int, overfetch: int,
            methods: tuple[str, ...] = METHODS):
    return _rec.compare(h, Instruction.from_dict(json.loads(instruction_json)), k, overfetch, methods)


@st.cache_data(show_spinner=False, max_entries=64)
def personalised(_rec: Recommender, key: str, h: History, k: int, top_p: int):
    return _rec.personalised(h, k, top_p)


@st.cache_data(show_spinner=False, max_entries=64)
def explain(_rec: Recommender, key: str, h: History, instruction_json: str):
    return _rec.explain(h, Instruction.from_dict(json.loads(instruction_json)))


def instruction_json(instruction: Instruction | dict) -> str:
    d = instruction.to_dict() if isinstance(instruction, Instruction) else dict(instruction)
    return json.dumps(d, sort_keys=True)


def options(ctx: Ctx, attr: str) -> list[str]:
    """Known values of an attribute, most common first (what the composer offers)."""
    if attr not in ctx.items.columns:
        return []
    counts = ctx.items[attr].astype(str).value_counts()
    return [v for v in counts.index if v != UNKNOWN]


def atom_counts(ctx: Ctx, ins: Instruction) -> list[tuple[str, int]]:
    """How many catalogue artists each part of an instruction allows on its own (to explain 0 results)."""
    d = ins.to_dict()
    out = []
    for name in VALUE_FIELDS:
        if d[name]:
            only = Instruction.from_dict({name: d[name]})
            out.append((f"{name}: {', '.join(d[name])}", int(ctx.rec.eligible(only).sum())))
    if d["explicit"] != "allow":
        out.append((f"explicit: {d['explicit']}", int(ctx.rec.eligible(Instruction(explicit=d["explicit"])).sum())))
    return out


def recent_genres(rec: Recommender, history: History, n: int = 2, window: int = presets_mod.RECENT_WINDOW) -> list[str]:
    """The ``n`` most common known genres of the recent window (default contrast for Figure 4)."""
    rows = rec.items.set_index(ITEM_ID).loc[list(history.item_ids[-window:])]
    counts = rows[GENRE].astype(str).value_counts() if GENRE in rows else pd.Series(dtype=int)
    return [g for g in counts.index if g != UNKNOWN][:n]


def figure4_cards(ctx: Ctx, history: History, genres: list[str], k: int, method: str = "cgsa"):
    """Unconstrained list + one instructed list per genre: the paper's Figure 4 layout."""
    uncond = compare(ctx.rec, ctx.key, history, instruction_json(Instruction()), k, 1,
                     ("unconditioned",)).results["unconditioned"]
    cards = [("Unconstrained", uncond, True)]
    for g in genres:
        res = compare(ctx.rec, ctx.key, history, instruction_json(Instruction(genres={g})), k, 1,
                      (method,)).results[method]
        cards.append((f"Instruction: {g}", res, False))
    return cards


# --------------------------------------------------------------------------- evidence


@st.cache_data(show_spinner=False, max_entries=4, ttl=60)
def _evidence_inputs(metrics: str, results: str) -> dict:
    return evidence.load_inputs(metrics, results)


def evidence_inputs() -> dict:
    """metrics.json and results/*.json as dicts (cached for a minute)."""
    m, r = evidence_paths()
    return _evidence_inputs(str(m), str(r))


def claims() -> list:
    """Every claim with its measured figure, interval and verdict (:mod:`engine.bench.evidence`)."""
    return evidence.claims(evidence_inputs())
