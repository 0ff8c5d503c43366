"""Beyond-accuracy metrics and bootstraps (engine/evaluation/beyond.py) on hand-made lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.evaluation import beyond as B
from engine.evaluation.metrics import hr_ndcg

# item index 0 is padding; items 1..8
GENRE = np.array(["-", "rock", "rock", "pop", "pop", "jazz", "unknown", "rock", "pop"],
                 dtype=object)
LISTENERS = np.array([0, 100, 50, 4, 3, 20, 1, 7, 5])


def test_jaccard_identical_disjoint_and_partial():
    same = np.array([[1, 2, 3], [3, 2, 1], [1, 2, 3]])
    assert B.mean_pairwise_jaccard(same) == pytest.approx(1.0)
    assert B.mean_pairwise_jaccard(np.array([[1, 2], [3, 4], [5, 6]])) == pytest.approx(0.0)
    # {1,2,3} vs {2,3,4}: 2 / 4
    assert B.mean_pairwise_jaccard([np.array([1, 2, 3]), np.array([2, 3, 4])]) == pytest.approx(0.5)
    # three users: pairs (a,b)=1/3 (1 of 3), (a,c)=0, (b,c)=1/3
    chain = [np.array([1, 2]), np.array([2, 3]), np.array([3, 4])]
    assert B.mean_pairwise_jaccard(chain) == pytest.approx(2 / 9)
    assert np.isnan(B.mean_pairwise_jaccard([np.array([1])]))


def test_catalogue_coverage():
    lists = [np.array([1, 2, 3]), np.array([3, 4]), np.array([1])]
    assert B.catalogue_coverage(lists) == 4
    assert B.catalogue_coverage(lists, n_items=8) == pytest.approx(0.5)


def test_popular_share_and_low_listeners():
    # the 2 most popular by listeners are items 1 and 2
    assert list(B.most_popular(LISTENERS, 2)) == [1, 2]
    lists = np.array([[1, 3], [2, 4]])
    assert B.popular_share(lists, LISTENERS, n=2) == pytest.approx(0.5)
    assert B.popular_share(lists, LISTENERS, n=8) == pytest.approx(1.0)
    # < 5 listeners: items 3 (4), 4 (3) -> 2 of 4 slots; item 8 (5) is not below
    assert B.low_listener_share(lists, LISTENERS) == pytest.approx(0.5)
    assert B.low_listener_share(np.array([[8]]), LISTENERS) == 0.0


def test_kl_of_a_list_matching_the_history_is_about_zero():
    history = np.array([1, 2, 3, 4])  # rock 0.5, pop 0.5
    lst = np.array([7, 3])  # rock, pop
    cal = B.genre_calibration([lst], [history], GENRE)
    assert cal.loc[0, "kl"] == pytest.approx(0.0, abs=1e-12)
    assert cal.loc[0, "n_major"] == 2 and cal.loc[0, "major_coverage"] == 1.0


def test_kl_with_a_missing_genre_is_smoothed_and_positive():
    history = np.array([1, 2, 3, 4])  # rock 0.5, pop 0.5
    cal = B.genre_calibration([np.array([1, 2])], [history], GENRE, alpha=0.01)
    # q = rock 1; q~ = rock 0.99 + 0.005, pop 0.005
    want = 0.5 * np.log(0.5 / 0.995) + 0.5 * np.log(0.5 / 0.005)
    assert cal.loc[0, "kl"] == pytest.approx(want)
    assert cal.loc[0, "major_covered"] == 1 and cal.loc[0, "major_coverage"] == 0.5
    # a list with no known genre at all: KL = log(1 / alpha)
    cal = B.genre_calibration([np.array([6])], [history], GENRE, alpha=0.01)
    assert cal.loc[0, "kl"] == pytest.approx(np.log(100.0))


def test_major_genres_use_the_recent_known_history():
    # old rock, recent jazz: with recent=3 only jazz (and pop) count; unknown items are skipped
    history = np.array([1, 2, 7, 1, 5, 6, 5, 3])
    cal = B.genre_calibration([np.array([5])], [history], GENRE, recent=3)
    # last 3 known: 5 (jazz), 5 (jazz), 3 (pop) -> jazz 2/3, pop 1/3: both major (>= 0.30)
    assert cal.loc[0, "n_major"] == 2 and cal.loc[0, "major_covered"] == 1
    cal = B.genre_calibration([np.array([5])], [history], GENRE, recent=3, major=0.5)
    assert cal.loc[0, "n_major"] == 1 and cal.loc[0, "major_coverage"] == 1.0
    # no known genre in the history: nothing to calibrate against
    cal = B.genre_calibration([np.array([1])], [np.array([6, 6])], GENRE)
    assert cal.loc[0, "n_major"] == 0
    assert np.isnan(cal.loc[0, "major_coverage"]) and np.isnan(cal.loc[0, "kl"])


def test_per_user_hits_and_ndcg_match_the_engine_means():
    import torch

    ranks = np.array([0, 3, 9, 10, 49, 200])
    ref = hr_ndcg(torch.tensor(ranks), ks=(10, 50))
    assert B.hits(ranks, 10).mean() == pytest.approx(ref["HR@10"])
    assert B.ndcgs(ranks, 10).mean() == pytest.approx(ref["NDCG@10"])
    assert B.hits(ranks, 50).mean() == pytest.approx(ref["HR@50"])
    assert B.ndcgs(ranks, 1)[0] == 1.0 and B.ndcgs(ranks, 10)[1] == pytest.approx(1 / np.log2(5))


def test_bootstrap_contains_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.binomial(1, 0.2, size=50).astype(float)
    large = rng.binomial(1, 0.2, size=2000).astype(float)
    m, lo, hi = B.bootstrap_ci(small)
    assert lo <= m <= hi and m == pytest.approx(small.mean())
    m2, lo2, hi2 = B.bootstrap_ci(large)
    assert lo2 <= m2 <= hi2
    assert hi2 - lo2 < (hi - lo) / 3  # ~ 1/sqrt(40) of the width
    assert B.bootstrap_ci(small, seed=0) == B.bootstrap_ci(small, seed=0)
    m, lo, hi = B.bootstrap_ci([1.0, np.nan, 1.0])
    assert (m, lo, hi) == (1.0, 1.0, 1.0)
    assert all(np.isnan(B.bootstrap_ci([np.nan])))


def test_paired_bootstrap_difference():
    rng = np.random.default_rng(2)
    base = rng.normal(size=300)
    d, lo, hi = B.paired_bootstrap_diff(base + 0.5, base)
    assert d == pytest.approx(0.5) and lo == pytest.approx(0.5) and hi == pytest.approx(0.5)
    a = rng.binomial(1, 0.3, size=500).astype(float)
    b = np.where(rng.random(500) < 0.1, 1 - a, a)  # b disagrees with a on ~10 % of users
    d, lo, hi = B.paired_bootstrap_diff(a, b)
    assert lo <= d <= hi
    # pairing: the interval is narrower than for independent samples of the same values
    _, lo_a, hi_a = B.bootstrap_ci(a)
    assert hi - lo < hi_a - lo_a
    with pytest.raises(ValueError):
        B.paired_bootstrap_diff(np.zeros(3), np.zeros(4))


def test_genre_distribution_ignores_unknown():
    dist = B.genre_distribution(np.array([1, 6, 3]), GENRE)
    assert isinstance(dist, pd.Series) and dist.to_dict() == {"rock": 0.5, "pop": 0.5}
