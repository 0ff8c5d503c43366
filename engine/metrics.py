"""Ranking metrics over the full catalogue: HR@K, NDCG@K and CC@K (method §5–6)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def target_ranks(scores: Tensor, targets: Tensor, exclude: list[np.ndarray] | None = None) -> Tensor:
    """0-based rank of each target among all items (ties count against the target).

    ``scores [U, N]`` has column i−1 for item index i; ``targets [U]`` are item indices.
    ``exclude[u]`` (S3-Rec protocol: the user's history) is removed from the ranking,
    except the target itself.
    """
    scores = scores.clone()
    if exclude is not None:
        for u, items in enumerate(exclude):
            items = items[items != int(targets[u])]
            if len(items):
                scores[u, torch.as_tensor(items - 1)] = float("-inf")
    target_scores = scores.gather(1, (targets - 1)[:, None])
    return (scores > target_scores).sum(dim=1)


def hr_ndcg(ranks: Tensor, ks=(10, 20, 50)) -> dict[str, float]:
    out = {}
    r = ranks.double()
    for k in ks:
        hit = r < k
        out[f"HR@{k}"] = float(hit.double().mean()) if len(r) else 0.0
        out[f"NDCG@{k}"] = float((hit / torch.log2(r + 2)).mean()) if len(r) else 0.0
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0
