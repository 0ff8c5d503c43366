"""Item-kNN on co-listening (engine/evaluation/knn.py) against a brute-force computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.schema import ITEM_ID, PLAYS, USER_ID
from engine.evaluation.knn import ItemKNN

# item ids 10, 20, 30, 40, 50 -> model indices 1..5
INDEX_OF = {10: 1, 20: 2, 30: 3, 40: 4, 50: 5}


def _top_items(seed: int = 0, n_users: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for it in rng.choice(list(INDEX_OF), size=rng.integers(1, 5), replace=False):
            rows.append((100 + u, int(it), int(rng.integers(1, 500))))
    rows.append((999, 77, 5))  # an item outside the catalogue: ignored
    return pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, PLAYS])


def _brute(top: pd.DataFrame, weighting: str, alpha: float, k: int | None) -> np.ndarray:
    top = top[top[ITEM_ID].isin(INDEX_OF)]
    users = sorted(top[USER_ID].unique())
    x = np.zeros((len(users), len(INDEX_OF)))
    for u, it, p in top[[USER_ID, ITEM_ID, PLAYS]].itertuples(index=False):
        x[users.index(u), INDEX_OF[it] - 1] = 1.0 if weighting == "binary" else np.log1p(p)
    c = x.T @ x
    n = np.diag(c).copy()
    np.fill_diagonal(c, 0.0)
    sim = np.zeros_like(c)
    for i in range(len(n)):
        for j in range(len(n)):
            if c[i, j] > 0:
                sim[i, j] = c[i, j] / (n[i] ** (1 - alpha) * n[j] ** alpha)
    if k is not None:
        for i in range(len(n)):
            order = sorted(range(len(n)), key=lambda j: (-sim[i, j], j))
            for j in order[k:]:
                sim[i, j] = 0.0
    return sim


@pytest.mark.parametrize("weighting", ["binary", "log"])
@pytest.mark.parametrize("alpha", [0.5, 0.7])
@pytest.mark.parametrize("k", [None, 2])
def test_scores_equal_brute_force(weighting, alpha, k):
    top = _top_items()
    model = ItemKNN(weighting=weighting, k=k, alpha=alpha).fit(top, INDEX_OF)
    sim = _brute(top, weighting, alpha, k)
    np.testing.assert_allclose(model.similarity_dense(), sim, atol=1e-12)
    histories = [np.array([1, 3]), np.array([2, 2, 5]), np.array([], dtype=np.int64), np.array([4])]
    got = model.scores(histories, exclude_history=False)
    for u, h in enumerate(histories):
        want = np.zeros(5)
        for i in np.unique(h):
            want += sim[i - 1]
        np.testing.assert_allclose(got[u], want, atol=1e-12)


def test_history_items_are_excluded():
    model = ItemKNN().fit(_top_items(), INDEX_OF)
    s = model.scores([np.array([1, 3])])
    assert np.isneginf(s[0, [0, 2]]).all()
    assert np.isfinite(s[0, [1, 3, 4]]).all()


def test_cosine_is_symmetric_and_bounded():
    model = ItemKNN(weighting="log").fit(_top_items(seed=3), INDEX_OF)
    sim = model.similarity_dense()
    np.testing.assert_allclose(sim, sim.T, atol=1e-12)
    assert sim.max() <= 1.0 + 1e-12 and np.all(np.diag(sim) == 0)


def test_alpha_above_half_damps_popular_candidates():
    # item 1 is popular (all users), 2 and 3 rare; 2 co-occurs with 1 once and with 3 once.
    top = pd.DataFrame({USER_ID: [1, 2, 3, 4, 4, 5, 5], ITEM_ID: [10, 10, 10, 10, 20, 20, 30],
                        PLAYS: 1})
    cos = ItemKNN(alpha=0.5).fit(top, INDEX_OF).similarity_dense()
    asym = ItemKNN(alpha=0.7).fit(top, INDEX_OF).similarity_dense()
    # from item 2: the popular item 1 loses ground against the rare item 3 when alpha > 0.5
    assert asym[1, 0] / asym[1, 2] < cos[1, 0] / cos[1, 2]


def test_exclude_pairs_removes_held_out_evidence():
    top = pd.DataFrame({USER_ID: [1, 1, 2, 2, 3], ITEM_ID: [10, 20, 10, 20, 30],
                        PLAYS: [5, 3, 2, 8, 1]})
    full = ItemKNN().fit(top, INDEX_OF).similarity_dense()
    held = pd.DataFrame({USER_ID: [2], ITEM_ID: [20]})
    cut = ItemKNN().fit(top, INDEX_OF, exclude_pairs=held).similarity_dense()
    assert full[0, 1] == pytest.approx(1.0)  # both listeners of 10 also play 20
    assert cut[0, 1] == pytest.approx(1.0 / np.sqrt(2.0))  # one of two listeners of 10
    # removing every co-listening pair leaves no similarity at all
    both = pd.DataFrame({USER_ID: [1, 2], ITEM_ID: [20, 20]})
    none = ItemKNN().fit(top, INDEX_OF, exclude_pairs=both)
    assert not none.similarity_dense().any()
    assert not none.scores([np.array([1])], exclude_history=False).any()


def test_duplicate_rows_are_merged_and_unknown_items_dropped():
    top = pd.DataFrame({USER_ID: [1, 1, 1, 2], ITEM_ID: [10, 10, 20, 77], PLAYS: [1, 1, 1, 1]})
    model = ItemKNN(weighting="log").fit(top, INDEX_OF)
    assert model.norms[0] == pytest.approx(np.log1p(2) ** 2)  # plays 1 + 1 in one weight
    assert model.similarity_dense()[0, 1] == pytest.approx(1.0)
    assert model.scores([np.array([1])]).shape == (1, 5)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        ItemKNN(weighting="tfidf")
    with pytest.raises(ValueError):
        ItemKNN(k=0)
    with pytest.raises(RuntimeError):
        ItemKNN().scores([np.array([1])])
