"""What the Recommender returns: result lists (with named columns), comparisons, explanations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.core.instructions import Instruction
from engine.data.schema import GENRE, ITEM_ID, LANGUAGE
from engine.serving.history import History

# Columns of a result list beside the catalogue's own (item_id, name, attributes, ...).
RANK = "rank"  # 1-based
SCORE = "score"  # the query · item dot product
COMPLIES = "complies"  # satisfies the instruction (its atoms, blocked artists, exclude-heard)
HEARD = "heard"  # in the history
IN_UNCONDITIONED = "in_unconditioned"  # also in the unconditioned list


@dataclass
class RecResult:
    method: str
    items: pd.DataFrame  # rank, item_id, name, attributes, score, complies, heard, in_unconditioned
    k: int
    cc: float  # CC@K: complying items / K (missing slots count as non-compliant)
    overlap: float | None  # share of the list also in the unconditioned list
    latency_ms: float
    note: str = ""

    @property
    def n_returned(self) -> int:
        return len(self.items)


@dataclass
class Comparison:
    history: History
    instruction: Instruction
    results: dict[str, RecResult]
    eligible: int  # catalogue items satisfying the instruction
    backbone_ms: float


@dataclass
class Explanation:
    """The mask tensors the model used and its attention weights, cropped to real items."""

    labels: list[str]  # history item names (oldest first)
    item_ids: list[int]
    cond_labels: list[str]  # condition tokens visible to the branch query
    causal: torch.Tensor  # [T, T] backbone mask
    tamip: torch.Tensor  # [T, T] time-aware target visibility (training mask)
    cgsa: torch.Tensor  # [M + T] branch-query mask under the instruction
    cgsa_rule: list[str]  # per column: why allowed/blocked
    backbone_weights: list[torch.Tensor]  # per layer [H, T, T]
    branch_weights: torch.Tensor  # [H, M + T]
    delta_tau: int | None


@dataclass
class AutoResult:
    instructions: list[tuple[Instruction, float]]  # with their share of the recent window
    lists: dict[str, RecResult]
    merged: RecResult
    unconditioned: RecResult
    diversity: dict[str, dict[str, float]]
    merge_rule: str = (
        "round-robin by rank over the personalised instructions, strongest share first, "
        "skipping duplicates, until K items"
    )


def merge_round_robin(lists: list[RecResult], k: int, plain_set: set, ms: float) -> RecResult:
    """The lists interleaved by rank (first list first), duplicates skipped, until ``k`` items."""
    rows, seen = [], set()
    for r in range(k):
        for res in lists:
            if r < len(res.items):
                row = res.items.iloc[r]
                if row[ITEM_ID] not in seen and len(rows) < k:
                    seen.add(row[ITEM_ID])
                    rows.append(row)
    df = pd.DataFrame(rows).reset_index(drop=True)
    df[RANK] = np.arange(1, len(df) + 1)
    df[IN_UNCONDITIONED] = df[ITEM_ID].isin(plain_set)
    cc = float(df[COMPLIES].sum()) / k if len(df) else 0.0
    return RecResult("merged", df, k, cc, float(df[IN_UNCONDITIONED].mean()), ms)


def diversity(items: pd.DataFrame) -> dict[str, float]:
    """Distinct values and entropy (bits) of genre and language in a list."""
    out = {}
    for attr in (GENRE, LANGUAGE):
        if attr in items:
            counts = items[attr].value_counts(normalize=True)
            out[f"distinct_{attr}"] = float(len(counts))
            out[f"entropy_{attr}"] = abs(float(-(counts * np.log2(counts)).sum()))
    return out
