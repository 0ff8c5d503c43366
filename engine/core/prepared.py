"""What training and evaluation share: a data set indexed, split and counted, and its network.

``prepare`` turns a :class:`Dataset` into the catalogue, the user splits and the item
counts; ``model_config``/``build_model`` size a fresh network for that catalogue.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.core.catalogue import Catalogue, build_catalogue, user_sequences
from engine.core.colisten import factors, play_matrix
from engine.core.config import ModelConfig, TrainConfig
from engine.core.model import ClimberPilot
from engine.data.schema import ITEM_ID, USER_ID, Dataset
from engine.data.split import Split, item_counts, split_users
from engine.errors import EngineError

# Attributes that get condition tokens when the catalogue has them (method §4).
COND_ATTRIBUTES = ("genre", "language", "explicit", "popularity_tier", "era")


@dataclass
class Prepared:
    """Everything derived from a data set that training and evaluation share."""

    dataset: Dataset
    catalogue: Catalogue
    train_only: list
    splits: list[Split]
    counts: np.ndarray  # training interactions per item index (popularity baseline, logQ)

    def train_seqs(self):
        return self.train_only + [s.train for s in self.splits]

    def evaluated_pairs(self) -> pd.DataFrame:
        """(user, item id) of every test and validation item: what no training input may count."""
        ids = self.catalogue.items[ITEM_ID].to_numpy()
        rows = [(s.user_id, int(ids[i - 1])) for s in self.splits for i in s.future.items]
        rows += [(s.user_id, int(ids[s.val_target - 1])) for s in self.splits if s.val_target]
        return pd.DataFrame(rows, columns=[USER_ID, ITEM_ID], dtype=np.int64)

    def colisten(self, dim: int, norm: float) -> np.ndarray:
        """Co-listening factors of the catalogue, without the evaluated pairs (zeros: no play data)."""
        ds = self.dataset
        if not dim or ds.top_items is None or ds.top_items.empty:
            return np.zeros((self.catalogue.n_items + 1, dim), dtype=np.float32)
        plays = play_matrix(ds.top_items, self.catalogue.index_of, self.evaluated_pairs())
        return factors(plays, dim, norm)


def prepare(ds: Dataset, holdout: int, day_boundary: bool, attr_values=None) -> Prepared:
    left_out = ds.card.get("labels_leave_out")
    if left_out and (left_out["holdout"], left_out["day_boundary"]) != (holdout, day_boundary):
        warnings.warn(f"{ds.name}: its labels leave out the test items of holdout {left_out['holdout']} "
                      f"(day boundary {left_out['day_boundary']}), not of this split (holdout {holdout}, "
                      f"day boundary {day_boundary}): labels may count this split's test items",
                      stacklevel=2)
    cat = build_catalogue(ds, attr_values)
    seqs = user_sequences(ds, cat)
    train_only, splits = split_users(seqs, holdout, day_boundary)
    counts = item_counts(train_only + [s.train for s in splits], cat.n_items)
    return Prepared(ds, cat, train_only, splits, counts)


def prepare_for(ds: Dataset, tcfg: TrainConfig, attr_values=None) -> Prepared:
    """The split a checkpoint was trained with (its TrainConfig says which)."""
    return prepare(ds, tcfg.holdout, tcfg.day_boundary and ds.time_resolution > 0, attr_values)


def model_config(prep: Prepared, tags: bool = False, **overrides) -> ModelConfig:
    """``tags``: embed the catalogue's multi-valued attributes (``item_tags``) as a bag."""
    ds = prep.dataset
    cond = tuple(a for a in COND_ATTRIBUTES if a in ds.attributes)
    if tags and prep.catalogue.item_tags is None:
        raise EngineError(f"{ds.name} has no item tags to embed",
                          "prepare it from a file with item attributes (S3-Rec item2attributes), or drop tags")
    return ModelConfig(
        n_items=prep.catalogue.n_items,
        attributes=tuple(ds.attributes),
        attr_values=prep.catalogue.attr_values,
        cond_attributes=cond,
        tag_values=prep.catalogue.tag_values if tags else (),
        time_unit=ds.time_resolution,
        **overrides,
    )


def build_model(cfg: ModelConfig, cat: Catalogue, prep: Prepared | None = None) -> ClimberPilot:
    """A fresh network for ``cat`` (its tag matrix only when the config embeds tags; its
    co-listening factors, from ``prep``, only when ``cfg.cf_dim``)."""
    model = ClimberPilot(cfg, cat.item_attrs, cat.item_tags if cfg.tag_values else None)
    if cfg.cf_dim:
        if prep is None:
            raise EngineError("co-listening factors need the prepared data", "pass prep to build_model")
        model.items.item_cf.copy_(torch.from_numpy(prep.colisten(cfg.cf_dim, cfg.cf_norm)))
    return model
