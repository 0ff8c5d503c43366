"""User sequences and the train/validation/test split (numpy/pandas only).

Timestamps become integer *ticks* of the data's time resolution (days for Last.fm), the
unit in which Δτ and the time-gap bias are expressed. A loader uses :func:`held_out_pairs`
before any model exists, so this module must not import the model layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.schema import ITEM_ID, TIMESTAMP, USER_ID

# The app's split: each user's last DEFAULT_HOLDOUT items, cut back to a day start.
DEFAULT_HOLDOUT = 10
DEFAULT_DAY_BOUNDARY = True


@dataclass(frozen=True)
class UserSeq:
    """One user's time-ordered items (model indices or ids) and their ticks."""

    user_id: int
    items: np.ndarray  # model indices, time-ordered
    ticks: np.ndarray  # int64 ticks

    def slice(self, a: int, b: int) -> UserSeq:
        return UserSeq(self.user_id, self.items[a:b], self.ticks[a:b])


def sequences(inter: pd.DataFrame, items: np.ndarray, resolution: int) -> list[UserSeq]:
    """One :class:`UserSeq` per user of ``inter`` (sorted by user, then time) over ``items``."""
    ticks = to_ticks(inter[TIMESTAMP].to_numpy(np.int64), resolution)
    users = inter[USER_ID].to_numpy()
    bounds = np.flatnonzero(np.diff(users)) + 1
    out = []
    for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(users)], strict=True):
        out.append(UserSeq(int(users[s]), items[s:e].astype(np.int64), ticks[s:e]))
    return out


def to_ticks(timestamps: np.ndarray, resolution: int) -> np.ndarray:
    return timestamps // resolution if resolution > 0 else timestamps


@dataclass(frozen=True)
class Split:
    """Per user: training part, validation target and held-out future (test) items."""

    user_id: int
    train: UserSeq  # training targets; also the validation history
    history: UserSeq  # what the model sees at test time
    future: UserSeq  # held-out items, in order (s = 1, 2, ...)
    val_target: int  # model index of the validation item, 0 when the user has none


def _day_start(ticks: np.ndarray, pos: int) -> int:
    """Move ``pos`` back to the first item of its day (same-day items share a tick)."""
    while pos > 0 and ticks[pos - 1] == ticks[pos]:
        pos -= 1
    return pos


def split_users(
    seqs: list[UserSeq], holdout: int, day_boundary: bool, min_history: int = 2
) -> tuple[list[UserSeq], list[Split]]:
    """Hold out each user's last ``holdout`` items (leave-last-out when ``holdout == 1``).

    With ``day_boundary`` the test cut moves back to the first item of its day, so no
    held-out item shares a day with the visible history, and the validation item is the
    first item of the last visible day (read-outs then sit at day ends, as in serving;
    the rest of that day is history but not a training target). Without it the
    validation item is the one just before the cut. Users too short to split train only.
    """
    train_only, splits = [], []
    for s in seqs:
        n = len(s.items)
        cut = n - holdout
        if day_boundary and cut > 0:
            cut = _day_start(s.ticks, cut)
        if cut < min_history + 1:
            train_only.append(s)
            continue
        vcut = _day_start(s.ticks, cut - 1) if day_boundary else cut - 1
        part = s.slice
        if vcut < 1:  # no earlier day to validate from: train on the whole visible part
            splits.append(Split(s.user_id, part(0, cut), part(0, cut), part(cut, n), 0))
        else:
            splits.append(Split(s.user_id, part(0, vcut), part(0, cut), part(cut, n), int(s.items[vcut])))
    return train_only, splits


def held_out_pairs(inter: pd.DataFrame, resolution: int, holdout: int, day_boundary: bool) -> pd.DataFrame:
    """(``USER_ID``, ``ITEM_ID``) of every test item :func:`split_users` holds out of ``inter``.

    A loader uses it before any model exists, so that no label or count it derives from
    interactions includes the future an evaluation asks about.
    """
    seqs = sequences(inter, inter[ITEM_ID].to_numpy(), resolution)
    _, splits = split_users(seqs, holdout, day_boundary and resolution > 0)
    futures = [s.future for s in splits]
    return pd.DataFrame({
        USER_ID: np.repeat([f.user_id for f in futures], [len(f.items) for f in futures]).astype(np.int64),
        ITEM_ID: np.concatenate([f.items for f in futures]) if futures else np.zeros(0, np.int64),
    })


def item_counts(seqs: list[UserSeq], n_items: int) -> np.ndarray:
    counts = np.zeros(n_items + 1, dtype=np.int64)
    for s in seqs:
        np.add.at(counts, s.items, 1)
    return counts
