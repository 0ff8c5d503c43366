"""From a :class:`Dataset` to model inputs: the catalogue index, user sequences, windows.

Items get indices 1..N (0 is padding); attribute values get indices 1..V per attribute.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.data.schema import ITEM_ID, NAME, TAG, Dataset
from engine.data.split import UserSeq, sequences
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


def user_sequences(ds: Dataset, cat: Catalogue) -> list[UserSeq]:
    return sequences(ds.interactions, ds.interactions[ITEM_ID].map(cat.index_of).to_numpy(), ds.time_resolution)


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


