"""Tiny prepared data sets for the CLI tests: few items, few users, optional genre."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.io import save_dataset
from engine.data.schema import Dataset

DAY = 86400


def small_data(out: Path, n_items: int = 30, n_users: int = 20, per_user: int = 15, *, one_time: bool = False,
               genre: bool = True, seed: int = 0) -> Path:
    """``n_users`` users with ``per_user`` distinct items each, one a day (or all at one time)."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": np.arange(1, n_items + 1, dtype="int64"),
                          "name": [f"artist {i}" for i in range(n_items)]})
    attributes: tuple[str, ...] = ()
    if genre:
        items["genre"] = rng.choice(["rock", "pop"], n_items)
        attributes = ("genre",)
    rows = []
    for u in range(n_users):
        for j, i in enumerate(rng.choice(np.arange(1, n_items + 1), min(per_user, n_items), replace=False)):
            rows.append((u, int(i), 1_600_000_000 + (0 if one_time else j * DAY)))
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).astype("int64")
    return save_dataset(Dataset("small", items, inter, attributes, DAY, "tests"), out)
