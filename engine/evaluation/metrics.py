"""Ranking metrics over the full catalogue: HR@K, NDCG@K and CC@K (method §5–6)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor


def target_ranks(scores: Tensor | Callable[[slice], Tensor], targets: Tensor,
                 exclude: list[np.ndarray] | None = None, rows: int = 4096) -> Tensor:
    """0-based rank of each target among all items (ties count against the target).

    ``scores [U, N]`` has column i−1 for item index i; ``targets [U]`` are item indices.
    ``scores`` may instead be a function giving the rows of a slice: users are ranked ``rows``
    at a time, so a full score matrix (Sports: 35,598 × 18,357 floats, 2.6 GB) never exists.
    ``exclude[u]`` (S3-Rec protocol: the user's history) is removed from the ranking,
    except the target itself.
    """
    block = scores if callable(scores) else scores.__getitem__
    out = []
    for lo in range(0, len(targets), rows):
        part = slice(lo, lo + rows)
        s, tgt = block(part).clone(), targets[part]
        for u, items in enumerate(exclude[part] if exclude is not None else ()):
            items = items[items != int(tgt[u])]
            if len(items):
                s[u, torch.as_tensor(items - 1)] = float("-inf")
        out.append((s > s.gather(1, (tgt - 1)[:, None])).sum(dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def hr_ndcg(ranks: Tensor, ks=(10, 20, 50)) -> dict[str, float | None]:
    """HR@K and NDCG@K of 0-based ranks; ``None`` over 0 users (JSON ``null``, never NaN)."""
    out = {}
    r = ranks.double()
    for k in ks:
        hit = r < k
        out[f"HR@{k}"] = float(hit.double().mean()) if len(r) else None
        out[f"NDCG@{k}"] = float((hit / torch.log2(r + 2)).mean()) if len(r) else None
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0
