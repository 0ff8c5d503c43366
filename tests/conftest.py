"""Shared fixtures for the engine tests: a seeded toy catalogue, its preparation and a
tiny TAMIP+CGSA model trained once per session and saved as a checkpoint.

The toy data mimics the structure the method cares about (method §3, §4):
- requests of 3 songs logged with ONE shared timestamp (consumption lag), days apart;
- each user has a dominant and a secondary genre, so a model can beat popularity;
- categorical attributes genre / language / explicit / popularity_tier / era, with
  ``jazz`` only in English so ``jazz ∧ de`` is a contradictory instruction
  (both values exist in the catalogue, no item has both).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from engine.data.schema import (
    ERA,
    EXPLICIT,
    GENRE,
    ITEM_ID,
    LANGUAGE,
    NAME,
    POPULARITY,
    TIMESTAMP,
    USER_ID,
    Dataset,
)

TOY_GENRES = ("rock", "pop", "hip-hop", "jazz")
TOY_ITEMS_PER_GENRE = 30
TOY_USERS = 240
TOY_HOLDOUT = 3
TOY_DAY = 86400
TOY_START = 1_200_000_000
# Tiny network: fast on 2 shared cores.
TINY_MODEL = dict(d_model=32, n_heads=2, n_layers=2, d_attr=8, ffn_mult=2, dropout=0.1, max_len=16)
TINY_TRAIN = dict(max_epochs=8, sft_epochs=3, patience=8, negatives=-1, batch_size=64, seed=0,
                  lr=3e-3, sft_lr=3e-4, sft_new_lr=3e-3)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``<repo>/../shared/data`` (the raw data sets), or None when absent."""
    path = repo_root().parent / "shared" / "data"
    return path if path.is_dir() else None


def make_toy_dataset(seed: int = 0, n_users: int = TOY_USERS) -> Dataset:
    """A seeded toy :class:`Dataset` built in code (see the module docstring)."""
    rng = np.random.default_rng(seed)
    genres, langs = [], []
    lang_by_genre = {
        "rock": ["en", "de"],
        "pop": ["en", "de", "unknown"],
        "hip-hop": ["en", "unknown"],
        "jazz": ["en"],
    }
    for g in TOY_GENRES:
        genres += [g] * TOY_ITEMS_PER_GENRE
        langs += list(rng.choice(lang_by_genre[g], TOY_ITEMS_PER_GENRE))
    n = len(genres)
    items = pd.DataFrame(
        {
            ITEM_ID: (np.arange(1, n + 1) * 3).astype("int64"),  # non-contiguous ids
            NAME: [f"artist {i}" for i in range(n)],
            GENRE: genres,
            LANGUAGE: langs,
            EXPLICIT: rng.choice(["true", "false", "unknown"], n),
            POPULARITY: rng.choice(["head", "torso", "tail"], n),
            ERA: rng.choice(["80s", "90s", "unknown"], n),
        }
    )
    by_genre = {g: items.loc[items[GENRE] == g, ITEM_ID].to_numpy() for g in TOY_GENRES}
    rows = []
    for u in range(n_users):
        fav = rng.choice(TOY_GENRES, 2, replace=False)
        t = TOY_START + int(rng.integers(0, 30)) * TOY_DAY
        for _ in range(int(rng.integers(5, 14))):
            g = fav[0] if rng.random() < 0.8 else fav[1]
            for it in rng.choice(by_genre[g], 3, replace=False):  # one request, one timestamp
                rows.append((u, int(it), t))
            t += TOY_DAY * int(rng.integers(1, 4))
    inter = pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, TIMESTAMP]).astype("int64")
    return Dataset(
        "toy", items, inter, (GENRE, LANGUAGE, EXPLICIT, POPULARITY, ERA), TOY_DAY, "tests", True
    )


@pytest.fixture(scope="session")
def tiny_dataset() -> Dataset:
    return make_toy_dataset()


@pytest.fixture(scope="session")
def tiny_prep(tiny_dataset):
    from engine.core.prepared import prepare

    return prepare(tiny_dataset, TOY_HOLDOUT, True)


@pytest.fixture(scope="session")
def tiny_fit(tiny_prep):
    """(model, log) of one fast TAMIP pre-training + CGSA fine-tuning run."""
    from engine.core.config import objective_config
    from engine.training.loop import fit

    torch.set_num_threads(1)
    tcfg = objective_config("tamip", delta_tau=0, holdout=TOY_HOLDOUT, **TINY_TRAIN)
    model, log = fit(tiny_prep, tcfg, torch.device("cpu"), progress=False, **TINY_MODEL)
    return model.eval(), log, tcfg


@pytest.fixture(scope="session")
def tiny_model(tiny_fit):
    return tiny_fit[0]


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_fit, tiny_prep, tmp_path_factory) -> Path:
    from engine.core import checkpoint

    model, log, tcfg = tiny_fit
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return checkpoint.save(path, model, tcfg, tiny_prep.catalogue.fingerprint, "toy", {"training": log})


@pytest.fixture(scope="session")
def tiny_recommender(tiny_checkpoint, tiny_dataset):
    from engine.serving.recommender import Recommender

    return Recommender.load(tiny_checkpoint, tiny_dataset, device="cpu")
