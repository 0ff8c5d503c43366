"""Where the app's model and data come from, and the cached loaders.

Defaults: the shipped model ``assets/climber_pilot.pt`` on the prepared Last.fm folder;
if no real data is prepared (or no model was trained on it yet) the small synthetic
set with ``assets/synthetic.pt``. Environment variables override everything (tests,
demos on other data): ``CLIMBER_CHECKPOINT``, ``CLIMBER_DATA``,
``CLIMBER_NIP_CHECKPOINT``, ``CLIMBER_MIP_CHECKPOINT``, ``CLIMBER_TAMIP_CHECKPOINT``; the evidence
figures: ``CLIMBER_METRICS`` (metrics.json) and ``CLIMBER_RESULTS`` (the results folder).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from engine import EngineError, Instruction, Recommender, load_dataset
from engine.data.paths import default_dataset_dir, is_prepared, resolve_default_dataset
from engine.paths import MAIN_CHECKPOINT, METRICS_JSON, RESULTS_DIR, SYNTHETIC_CHECKPOINT, VARIANTS

ENV_CHECKPOINT = "CLIMBER_CHECKPOINT"
ENV_DATA = "CLIMBER_DATA"
ENV_METRICS = "CLIMBER_METRICS"
ENV_RESULTS = "CLIMBER_RESULTS"
ENV_VARIANT = {"nip": "CLIMBER_NIP_CHECKPOINT", "mip": "CLIMBER_MIP_CHECKPOINT", "tamip": "CLIMBER_TAMIP_CHECKPOINT"}

SETUP_COMMANDS = (
    "python -m engine prepare lastfm      # real data: HetRec Last.fm → sample_data/lastfm/\n"
    "python -m engine train --ship        # trains assets/climber_pilot.pt (+ nip.pt, mip.pt, tamip.pt)"
)


@dataclass(frozen=True)
class Sources:
    """The files behind the current view, and why they were chosen."""

    checkpoint: Path
    data: Path
    variants: dict[str, Path] = field(default_factory=dict)
    note: str = ""

    @property
    def key(self) -> str:
        """Cache key: paths plus modification times, so a retrained model is picked up."""
        parts = []
        for p in (self.checkpoint, self.data / "meta.json"):
            parts.append(f"{p}@{p.stat().st_mtime_ns if p.exists() else 0}")
        return "|".join(parts)


def resolve_sources(env: dict[str, str] | None = None) -> Sources:
    env = dict(os.environ if env is None else env)
    if env.get(ENV_CHECKPOINT) or env.get(ENV_DATA):
        data = Path(env[ENV_DATA]) if env.get(ENV_DATA) else resolve_default_dataset()
        ckpt = Path(env[ENV_CHECKPOINT]) if env.get(ENV_CHECKPOINT) else _default_checkpoint(data)
        real = data.resolve() == default_dataset_dir("lastfm").resolve()
        variants = {n: Path(env[v]) if env.get(v) else VARIANTS[n] for n, v in ENV_VARIANT.items()
                    if env.get(v) or real}
        return Sources(ckpt, data, variants, "set by environment variables")
    data = resolve_default_dataset()
    real = default_dataset_dir("lastfm")
    synthetic = default_dataset_dir("synthetic")
    if data == real and not MAIN_CHECKPOINT.exists() and SYNTHETIC_CHECKPOINT.exists() and is_prepared(synthetic):
        note = (
            "The real Last.fm data is prepared but no model has been trained on it yet, "
            "so the app shows the synthetic demo set. Run `python -m engine train --ship`."
        )
        return Sources(SYNTHETIC_CHECKPOINT, synthetic, {}, note)
    variants = dict(VARIANTS) if data == real else {}
    return Sources(_default_checkpoint(data), data, variants, "")


def _default_checkpoint(data: Path) -> Path:
    return MAIN_CHECKPOINT if Path(data).resolve() == default_dataset_dir("lastfm").resolve() else SYNTHETIC_CHECKPOINT


@st.cache_resource(show_spinner="Loading the data…", max_entries=4)
def _dataset(data: str, _key: str):
    return load_dataset(data)


@st.cache_resource(show_spinner="Loading the model…", max_entries=6)
def _recommender(checkpoint: str, data: str, _key: str) -> Recommender:
    rec = Recommender.load(checkpoint, _dataset(data, _key), device="auto")
    users = rec.users()  # split every user once, here, instead of during the first interaction
    with contextlib.suppress(EngineError, StopIteration):  # warm-up: the first pass pays one-off costs
        rec.compare(next(iter(users.values())), Instruction(), k=1, methods=("unconditioned",))
    return rec


def load_main(sources: Sources) -> Recommender:
    """The main model; raises :class:`engine.EngineError` with a hint when files are missing."""
    return _recommender(str(sources.checkpoint), str(sources.data), sources.key)


def load_variant(sources: Sources, name: str) -> tuple[Recommender | None, str]:
    """A pre-trained NIP/MIP/TAMIP model for the myopia view, or ``(None, why not)``."""
    path = sources.variants.get(name)
    if path is None or not Path(path).exists():
        where = f" (looked for {path})" if path else ""
        return None, (
            f"No {name.upper()} model is available for this data{where}. "
            "`python -m engine train --ship` trains it on the real Last.fm data."
        )
    try:
        key = f"{sources.key}|{path}@{Path(path).stat().st_mtime_ns}"
        return _recommender(str(path), str(sources.data), key), ""
    except EngineError as exc:
        hint = exc.hint[:1].upper() + exc.hint[1:] if exc.hint else ""
        return None, f"The {name.upper()} model could not be loaded: {exc.message}. {hint}"


def evidence_paths(env: dict[str, str] | None = None) -> tuple[Path, Path]:
    """``(metrics.json, results folder)`` the evidence views read (environment variables win)."""
    env = dict(os.environ if env is None else env)
    return Path(env.get(ENV_METRICS) or METRICS_JSON), Path(env.get(ENV_RESULTS) or RESULTS_DIR)
