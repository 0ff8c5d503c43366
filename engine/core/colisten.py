"""Co-listening factors: what users' play lists say about which artists go together.

Last.fm's tag timeline (the sequences) is sparse; each user's top-50 artists by plays
(``top_items``, HetRec ``user_artists.dat``) hold most of the taste signal, which is why
an item-kNN on co-listening beat the sequence model (issue 31). The factors are the
leading right-singular vectors of the binary user × item matrix with each item column
scaled by ``listeners ** -norm`` (``norm`` 0.5 approximates the cosine geometry, 0 the raw
co-counts; 0.3 was best on validation, see README), times their singular values. The
item encoder concatenates them to the ID and attribute embeddings, for history tokens and
candidates alike, so a query that pools its history lands near co-listened artists.

Pairs an evaluation asks about (``exclude``) are removed before anything is counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.schema import ITEM_ID, USER_ID


def play_matrix(top_items: pd.DataFrame, index_of: dict[int, int], exclude: pd.DataFrame | None = None) -> np.ndarray:
    """Binary ``[users, N]`` matrix of who listened to what (column i−1 is item index i)."""
    rows = top_items[[USER_ID, ITEM_ID]].astype(np.int64)
    if exclude is not None and len(exclude):
        drop = pd.MultiIndex.from_frame(exclude[[USER_ID, ITEM_ID]].astype(np.int64))
        rows = rows[~pd.MultiIndex.from_frame(rows).isin(drop)]
    col = rows[ITEM_ID].map(index_of)
    rows, col = rows[col.notna().to_numpy()], col.dropna().to_numpy(np.int64) - 1
    users = pd.factorize(rows[USER_ID])[0]
    out = np.zeros((int(users.max()) + 1 if len(users) else 0, len(index_of)), dtype=np.float32)
    out[users, col] = 1.0
    return out


def factors(plays: np.ndarray, dim: int, norm: float) -> np.ndarray:
    """``[N + 1, dim]`` factors (row 0 = padding), scaled to unit mean row norm over listened items."""
    out = np.zeros((plays.shape[1] + 1, dim), dtype=np.float32)
    if dim == 0 or plays.size == 0:
        return out
    listeners = plays.sum(axis=0)
    scaled = plays / np.maximum(listeners, 1.0) ** norm
    _, s, vt = np.linalg.svd(scaled, full_matrices=False)
    k = min(dim, len(s))
    f = vt[:k].T * s[:k]
    heard = listeners > 0
    scale = float(np.linalg.norm(f[heard], axis=1).mean()) if heard.any() else 1.0
    out[1:, :k] = f / max(scale, 1e-12)
    return out
