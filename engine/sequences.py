"""From a :class:`Dataset` to model inputs: the catalogue index, user sequences, splits, windows.

Items get indices 1..N (0 is padding); attribute values get indices 1..V per attribute.
Timestamps become integer *ticks* of the data's time resolution (days for Last.fm), the
unit in which Δτ and the time-gap bias are expressed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.data.schema import ITEM_ID, NAME, TAG, TIMESTAMP, USER_ID, Dataset
from engine.errors import HistoryError


@dataclass(frozen=True)
class Catalogue:
    """Items in model order with their attribute value indices."""

    items: pd.DataFrame  # row i-1 is model index i; has ITEM_ID, NAME and attributes
    attributes: tuple[str, ...]
    attr_values: tuple[tuple[str, ...], ...]
    item_attrs: torch.Tensor  # [N+1, A] value indices (row 0 = padding)
    index_of: dict[int, int]  # item_id -> model index
    tag_values: tuple[str, ...] = ()  # the multi-valued attribute vocabulary (index i+1)
    item_tags: torch.Tensor | None = None  # [N+1, M] tag indices per item, 0-padded

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def fingerprint(self) -> str:
        """Hash of item ids, order and attribute labels: a checkpoint only fits this catalogue."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.items[ITEM_ID].to_numpy(np.int64)).tobytes())
        h.update(self.item_attrs.numpy().tobytes())
        h.update(repr(self.attr_values).encode())
        if self.item_tags is not None:
            h.update(self.item_tags.numpy().tobytes())
            h.update(repr(self.tag_values).encode())
        return h.hexdigest()[:16]

    def indices(self, item_ids, *, what: str = "history") -> np.ndarray:
        """Model indices of ``item_ids``; unknown ids raise a :class:`HistoryError`."""
        missing = [i for i in item_ids if int(i) not in self.index_of]
        if missing:
            shown = ", ".join(str(m) for m in missing[:5])
            raise HistoryError(
                f"{len(missing)} {what} item(s) are not in this catalogue (e.g. {shown})",
                "pick artists from the catalogue search, or retrain on a catalogue that has them",
            )
        return np.array([self.index_of[int(i)] for i in item_ids], dtype=np.int64)


def build_catalogue(ds: Dataset, attr_values: tuple[tuple[str, ...], ...] | None = None) -> Catalogue:
    """Index the catalogue. ``attr_values`` (from a checkpoint) fixes the value vocabularies."""
    items = ds.items.sort_values(ITEM_ID, kind="stable").reset_index(drop=True)
    if attr_values is None:
        attr_values = tuple(tuple(sorted(items[a].astype(str).unique())) for a in ds.attributes)
    codes = [np.zeros(len(items) + 1, dtype=np.int64) for _ in ds.attributes]
    for n, (a, values) in enumerate(zip(ds.attributes, attr_values, strict=True)):
        lookup = {v: i + 1 for i, v in enumerate(values)}
        codes[n][1:] = items[a].astype(str).map(lookup).fillna(0).to_numpy(np.int64)
    item_attrs = torch.from_numpy(np.stack(codes, axis=1)) if codes else torch.zeros(len(items) + 1, 0)
    index_of = {int(i): n + 1 for n, i in enumerate(items[ITEM_ID].to_numpy())}
    cols = [ITEM_ID, NAME, *ds.attributes]
    extra = [c for c in items.columns if c not in cols]
    tag_values, item_tags = _tag_matrix(ds, index_of)
    return Catalogue(items[cols + extra], tuple(ds.attributes), attr_values, item_attrs, index_of,
                     tag_values, item_tags)


def _tag_matrix(ds: Dataset, index_of: dict[int, int]) -> tuple[tuple[str, ...], torch.Tensor | None]:
    """The tag vocabulary and each item's tag indices (ascending, 0-padded to the longest)."""
    if ds.item_tags is None or ds.item_tags.empty:
        return (), None
    tags = ds.item_tags
    values = tuple(sorted(tags[TAG].astype(str).unique()))
    rows = pd.DataFrame({"item": tags[ITEM_ID].map(index_of).to_numpy(),
                         "tag": tags[TAG].astype(str).map({v: i + 1 for i, v in enumerate(values)}).to_numpy()})
    rows = rows.sort_values(["item", "tag"], kind="stable")
    item, tag, slot = (torch.tensor(c.to_numpy(np.int64)) for c in (rows["item"], rows["tag"],
                                                                     rows.groupby("item").cumcount()))
    out = torch.zeros(len(index_of) + 1, int(slot.max()) + 1, dtype=torch.long)
    out[item, slot] = tag
    return values, out


@dataclass(frozen=True)
class UserSeq:
    user_id: int
    items: np.ndarray  # model indices, time-ordered
    ticks: np.ndarray  # int64 ticks

    def slice(self, a: int, b: int) -> UserSeq:
        return UserSeq(self.user_id, self.items[a:b], self.ticks[a:b])


def user_sequences(ds: Dataset, cat: Catalogue) -> list[UserSeq]:
    return _sequences(ds.interactions, ds.interactions[ITEM_ID].map(cat.index_of).to_numpy(), ds.time_resolution)


def _sequences(inter: pd.DataFrame, items: np.ndarray, resolution: int) -> list[UserSeq]:
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
    seqs = _sequences(inter, inter[ITEM_ID].to_numpy(), resolution)
    _, splits = split_users(seqs, holdout, day_boundary and resolution > 0)
    futures = [s.future for s in splits]
    return pd.DataFrame({
        USER_ID: np.repeat([f.user_id for f in futures], [len(f.items) for f in futures]).astype(np.int64),
        ITEM_ID: np.concatenate([f.items for f in futures]) if futures else np.zeros(0, np.int64),
    })


def windows(seqs: list[UserSeq], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut sequences into left-padded windows of ``max_len`` (long users give several).

    Consecutive windows overlap by one item so every item is a target once.
    """
    rows_i, rows_t = [], []
    for s in seqs:
        n = len(s.items)
        if n < 2:
            continue
        end = n
        while end > 1:
            start = max(0, end - max_len)
            rows_i.append(s.items[start:end])
            rows_t.append(s.ticks[start:end])
            end = start + 1
    return pad_left(rows_i, max_len), pad_left(rows_t, max_len)


def pad_left(rows: list[np.ndarray], length: int) -> torch.Tensor:
    out = np.zeros((len(rows), length), dtype=np.int64)
    for r, a in enumerate(rows):
        a = a[-length:]
        if len(a):
            out[r, length - len(a) :] = a
    return torch.from_numpy(out)


def item_counts(seqs: list[UserSeq], n_items: int) -> np.ndarray:
    counts = np.zeros(n_items + 1, dtype=np.int64)
    for s in seqs:
        np.add.at(counts, s.items, 1)
    return counts
