"""Beyond-accuracy metrics of top-K lists, and bootstrap intervals over users.

A *list* is an array of model item indices (1..N); ``lists`` is a 2-D array [U, K] or a
sequence of 1-D arrays (lists may be shorter than K). Item properties (genre, listeners,
popularity) are arrays indexed by model item index, so entry 0 is padding and ignored.

- :func:`mean_pairwise_jaccard`: how alike different users' lists are (1 = everyone gets the
  same list).
- :func:`catalogue_coverage`: distinct items over all lists.
- :func:`popular_share`: share of list slots taken by the ``n`` most popular items.
- :func:`genre_calibration`: per user, the major genres of the recent history (share ≥ 0.30
  of the last 20 items with a known genre), the share of them the list contains, and the
  Steck (2018) miscalibration KL(p ‖ (1 − α) q + α p) of the list's genre mix q against the
  history's p.
- :func:`low_listener_share`: share of recommended items with fewer than 5 listeners.
- :func:`hits`, :func:`ndcgs`: per-user HR@K / NDCG@K from 0-based ranks (the means are
  :func:`engine.evaluation.metrics.hr_ndcg`; bootstraps need the per-user values).
- :func:`bootstrap_ci`, :func:`paired_bootstrap_diff`: mean and percentile interval over
  users, and the same for the per-user difference of two methods on the same users.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

Lists = np.ndarray | Sequence[np.ndarray]


def _as_lists(lists: Lists) -> list[np.ndarray]:
    return [np.asarray(x, dtype=np.int64).ravel() for x in lists]


# -- accuracy from ranks ---------------------------------------------------------------------
def hits(ranks, k: int) -> np.ndarray:
    """Per-user HR@k (0/1) from 0-based ranks."""
    return (np.asarray(ranks, dtype=np.float64) < k).astype(np.float64)


def ndcgs(ranks, k: int) -> np.ndarray:
    """Per-user NDCG@k with one relevant item: 1 / log2(rank + 2) inside the top k, else 0."""
    r = np.asarray(ranks, dtype=np.float64)
    return np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)


# -- diversity and popularity ----------------------------------------------------------------
def mean_pairwise_jaccard(lists: Lists) -> float:
    """Mean over all pairs of users u < v of |L_u ∩ L_v| / |L_u ∪ L_v| (NaN for < 2 users)."""
    sets = [np.unique(x) for x in _as_lists(lists)]
    if len(sets) < 2:
        return float("nan")
    vocab, inv = np.unique(np.concatenate(sets), return_inverse=True)
    m = np.zeros((len(sets), len(vocab)))
    m[np.repeat(np.arange(len(sets)), [len(s) for s in sets]), inv] = 1.0
    inter = m @ m.T
    size = m.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    iu = np.triu_indices(len(sets), k=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(union[iu] > 0, inter[iu] / union[iu], 1.0)  # two empty lists are alike
    return float(jac.mean())


def catalogue_coverage(lists: Lists, n_items: int | None = None) -> int | float:
    """Distinct items over all lists; their share of ``n_items`` when it is given."""
    parts = _as_lists(lists)
    distinct = len(np.unique(np.concatenate(parts))) if parts else 0
    return distinct / n_items if n_items else distinct


def most_popular(popularity: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` most popular item indices (``popularity[i]`` of item i; ties: lower index)."""
    pop = np.asarray(popularity, dtype=np.float64)[1:]
    order = np.lexsort((np.arange(len(pop)), -pop))
    return order[:n] + 1


def popular_share(lists: Lists, popularity: np.ndarray, n: int = 50) -> float:
    """Share of all list slots filled by the ``n`` most popular items."""
    flat = np.concatenate(_as_lists(lists))
    if not len(flat):
        return float("nan")
    return float(np.isin(flat, most_popular(popularity, n)).mean())


def low_listener_share(lists: Lists, listeners: np.ndarray, threshold: int = 5) -> float:
    """Share of recommended items (slots) with fewer than ``threshold`` listeners."""
    flat = np.concatenate(_as_lists(lists))
    if not len(flat):
        return float("nan")
    return float((np.asarray(listeners)[flat] < threshold).mean())


# -- genre calibration -----------------------------------------------------------------------
def genre_distribution(items: np.ndarray, genre_of: np.ndarray,
                       ignore: tuple[str, ...] = ("unknown",)) -> pd.Series:
    """Share of each genre among ``items`` (items whose genre is in ``ignore`` are left out)."""
    g = pd.Series(np.asarray(genre_of, dtype=object)[np.asarray(items, dtype=np.int64)])
    g = g[~g.isin(ignore)]
    return g.value_counts(normalize=True) if len(g) else pd.Series(dtype=np.float64)


def miscalibration_kl(p: pd.Series, q: pd.Series, alpha: float = 0.01) -> float:
    """Steck (2018): KL(p ‖ q̃), q̃ = (1 − α) q + α p; p = history mix, q = list mix.

    NaN when p is empty (no known genre in the history). An empty q gives log(1/α).
    """
    if p.empty:
        return float("nan")
    qa = q.reindex(p.index, fill_value=0.0).to_numpy(np.float64)
    pa = p.to_numpy(np.float64)
    qt = (1.0 - alpha) * qa + alpha * pa
    pos = pa > 0
    return float(np.sum(pa[pos] * np.log(pa[pos] / qt[pos])))


def genre_calibration(lists: Lists, histories: Sequence[np.ndarray], genre_of: np.ndarray,
                      recent: int = 20, major: float = 0.30, alpha: float = 0.01,
                      ignore: tuple[str, ...] = ("unknown",)) -> pd.DataFrame:
    """Per user: ``n_major``, ``major_covered`` (how many of them the list has),
    ``major_coverage`` (their share; NaN without a major genre) and ``kl``.

    The recent history is the last ``recent`` items of ``histories[u]`` whose genre is
    known (not in ``ignore``); unknown-genre items are also left out of the list's mix.
    """
    g = np.asarray(genre_of, dtype=object)
    rows = []
    for lst, h in zip(_as_lists(lists), histories, strict=True):
        h = np.asarray(h, dtype=np.int64)
        known = h[~pd.Series(g[h]).isin(ignore).to_numpy()] if len(h) else h
        p = genre_distribution(known[-recent:], g, ignore)
        q = genre_distribution(lst, g, ignore)
        majors = p.index[p.to_numpy() >= major - 1e-12]
        in_list = q.index.to_numpy(dtype=object)
        covered = int(np.isin(np.asarray(majors, dtype=object), in_list).sum())
        rows.append({
            "n_major": len(majors),
            "major_covered": covered,
            "major_coverage": covered / len(majors) if len(majors) else np.nan,
            "kl": miscalibration_kl(p, q, alpha),
        })
    return pd.DataFrame(rows, columns=["n_major", "major_covered", "major_coverage", "kl"])


# -- bootstrap -------------------------------------------------------------------------------
def bootstrap_ci(values, n: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean of ``values`` (NaN dropped) and the percentile interval of
    ``n`` bootstrap means over resampled users."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n, len(v)))].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(v.mean()), float(lo), float(hi)


def paired_bootstrap_diff(a, b, n: int = 1000, seed: int = 0,
                          level: float = 0.95) -> tuple[float, float, float]:
    """(mean of a − b, lo, hi) resampling users jointly: ``a[u]`` and ``b[u]`` are two
    methods' values for the same user (users with a NaN in either are dropped)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("paired values need the same users: shapes differ")
    return bootstrap_ci(a - b, n=n, seed=seed, level=level)
