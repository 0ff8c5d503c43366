"""A listening history and its one encoding into model tensors (serving and the latency bench)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.catalogue import Catalogue, pad_left
from engine.data.split import to_ticks
from engine.errors import HistoryError


@dataclass(frozen=True)
class History:
    """A listening history: item ids with timestamps (seconds), oldest first."""

    item_ids: tuple[int, ...]
    timestamps: tuple[int, ...]
    user_id: int | None = None
    future: tuple[int, ...] = ()  # held-out later items (for the myopia view), if known
    notes: tuple[str, ...] = ()  # what was changed to make the history usable (truncation, …)

    def __len__(self) -> int:
        return len(self.item_ids)


def encode_history(history: History, catalogue: Catalogue, time_resolution: int, max_len: int,
                   device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``(seq, ts)``, each ``[1, max_len]`` left-padded: item ids → model indices, seconds → ticks.

    Unknown items raise a :class:`HistoryError`, as does an empty history; a history longer
    than ``max_len`` keeps its most recent items.
    """
    if len(history) == 0:
        raise HistoryError("the history is empty", "add at least one artist")
    idx = catalogue.indices(history.item_ids)
    ticks = to_ticks(np.asarray(history.timestamps, dtype=np.int64), time_resolution)
    return pad_left([idx], max_len).to(device), pad_left([ticks], max_len).to(device)
