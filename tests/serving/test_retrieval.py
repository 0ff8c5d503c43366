"""ItemIndex and the five retrieval methods against a brute-force numpy oracle (method §5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InstructionError
from engine.serving.retrieval import METHODS, ItemIndex, run_method, run_methods

N, D = 60, 8


def _vectors(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, D)).astype(np.float32)


def _oracle(vectors, q, k, allowed=None):
    """Top-k 1-based item indices by inner product over allowed rows, best first."""
    scores = vectors @ q
    ids = np.arange(N) if allowed is None else np.flatnonzero(allowed)
    order = ids[np.argsort(-scores[ids], kind="stable")][:k]
    return scores[order], order + 1


def _assert_same_ranking(got_s, got_i, exp_s, exp_i):
    assert len(got_i) == len(exp_i)
    np.testing.assert_allclose(got_s, exp_s, rtol=1e-5, atol=1e-5)
    # same order up to ties: compare items where scores are clearly separated
    for r, (a, b) in enumerate(zip(got_i, exp_i, strict=True)):
        if a != b:
            assert abs(got_s[r] - exp_s[r]) < 1e-5


@given(st.integers(0, 10_000), st.integers(1, 80), st.floats(0.0, 1.0))
@settings(max_examples=60, deadline=None)
def test_search_matches_bruteforce_oracle(seed, k, density):
    vectors = _vectors()
    index = ItemIndex(vectors)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((3, D)).astype(np.float32)
    allowed = rng.random(N) < density
    s, i = index.search(q, k)
    assert i.shape == (3, min(k, N))
    s2, i2 = index.search(q, k, allowed)
    assert i2.shape == (3, min(k, int(allowed.sum())))
    for r in range(3):
        _assert_same_ranking(s[r], i[r], *_oracle(vectors, q[r], k))
        _assert_same_ranking(s2[r], i2[r], *_oracle(vectors, q[r], k, allowed))
        assert allowed[i2[r] - 1].all()
        assert len(set(i2[r].tolist())) == len(i2[r])


def test_search_fewer_than_k_and_empty():
    vectors = _vectors()
    index = ItemIndex(vectors)
    q = vectors[0]
    allowed = np.zeros(N, dtype=bool)
    allowed[[4, 9, 30]] = True
    s, i = index.search(q, 10, allowed)
    assert i.shape == (1, 3) and sorted(i[0].tolist()) == [5, 10, 31]
    s, i = index.search(q, 10, np.zeros(N, dtype=bool))
    assert i.shape == (1, 0) and s.shape == (1, 0)
    assert i.dtype == np.int64


def test_search_ids_are_one_based_item_indices():
    vectors = np.eye(4, dtype=np.float32)
    index = ItemIndex(vectors)
    _, i = index.search(np.array([0, 0, 1, 0], dtype=np.float32), 1)
    assert i.tolist() == [[3]]  # row 2 holds item index 3


# ------------------------------------------------------------------ run_method


@pytest.fixture(scope="module")
def setup():
    vectors = _vectors(1)
    rng = np.random.default_rng(1)
    return ItemIndex(vectors), vectors, rng.standard_normal(D).astype(np.float32), rng.standard_normal(D).astype(np.float32)


@pytest.mark.parametrize("density", [0.05, 0.3, 0.9])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_method_semantics(setup, density, k):
    index, vectors, u_plain, u_cond = setup
    allowed = np.random.default_rng(int(density * 100) + k).random(N) < density
    if not allowed.any():
        allowed[7] = True
    plain_s, plain_i = _oracle(vectors, u_plain, k)

    s, i = run_method(index, "unconditioned", u_plain, u_cond, allowed, k)
    _assert_same_ranking(s, i, plain_s, plain_i)

    for f in (1, 3):
        s, i = run_method(index, "posthoc", u_plain, u_cond, allowed, k, overfetch=f)
        over_s, over_i = _oracle(vectors, u_plain, k * f)
        keep = allowed[over_i - 1]
        _assert_same_ranking(s, i, over_s[keep][:k], over_i[keep][:k])
        assert len(i) <= k and allowed[i - 1].all()

    s, i = run_method(index, "prefilter", u_plain, u_cond, allowed, k)
    _assert_same_ranking(s, i, *_oracle(vectors, u_plain, k, allowed))
    assert allowed[i - 1].all() and len(i) == min(k, allowed.sum())

    s, i = run_method(index, "cgsa", u_plain, u_cond, allowed, k)
    _assert_same_ranking(s, i, *_oracle(vectors, u_cond, k))

    s, i = run_method(index, "cgsa_hard", u_plain, u_cond, allowed, k)
    _assert_same_ranking(s, i, *_oracle(vectors, u_cond, k, allowed))
    assert allowed[i - 1].all() and len(i) == min(k, allowed.sum())


def test_unconditioned_ignores_the_instruction(setup):
    index, _, u_plain, u_cond = setup
    a = run_method(index, "unconditioned", u_plain, u_cond, np.zeros(N, dtype=bool), 10)[1]
    b = run_method(index, "unconditioned", u_plain, None, None, 10)[1]
    assert np.array_equal(a, b) and len(a) == 10


def test_cgsa_without_conditioned_query_falls_back_to_plain(setup):
    index, _, u_plain, _ = setup
    a = run_method(index, "cgsa", u_plain, None, None, 10)[1]
    b = run_method(index, "unconditioned", u_plain, None, None, 10)[1]
    assert np.array_equal(a, b)


def test_no_allowed_items(setup):
    index, _, u_plain, u_cond = setup
    none = np.zeros(N, dtype=bool)
    for m in ("posthoc", "prefilter", "cgsa_hard"):
        s, i = run_method(index, m, u_plain, u_cond, none, 10)
        assert len(i) == 0 and len(s) == 0


def test_unknown_method_raises(setup):
    index, _, u_plain, _ = setup
    with pytest.raises(InstructionError, match="unknown method"):
        run_method(index, "beam", u_plain, None, None, 5)
    assert set(METHODS) == {"unconditioned", "posthoc", "prefilter", "cgsa", "cgsa_hard"}


# ------------------------------------------------------------------ batched (P instructions)


def _masks(rng, p, n, k):
    """Random per-row masks: dense, sparse, fewer than ``k`` allowed, and none allowed."""
    density = rng.choice([0.0, 0.02, 0.2, 0.9, 1.0], size=(p, 1))
    allowed = rng.random((p, n)) < density
    short = rng.integers(0, p)
    allowed[short] = False
    allowed[short, rng.choice(n, size=min(n, max(1, k // 2)), replace=False)] = True
    allowed[rng.integers(0, p)] = False
    return allowed


@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(1, 20), st.booleans())
@settings(max_examples=60, deadline=None)
def test_search_rows_equals_per_row_search(seed, k, p, ties):
    """One call for P different filters returns exactly what P single-row searches return."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((N, D)).astype(np.float32)
    q = rng.standard_normal((p, D)).astype(np.float32)
    if ties:  # many equal scores: the tie order must match too
        vectors, q = np.round(vectors), np.round(q)
        vectors[rng.integers(0, N, N // 2)] = vectors[0]
    index = ItemIndex(vectors)
    allowed = _masks(rng, p, N, k)
    got = index.search_rows(q, k, allowed)
    assert len(got) == p
    for r, (s, i) in enumerate(got):
        es, ei = index.search(q[r], k, allowed[r])
        assert np.array_equal(s, es[0]) and np.array_equal(i, ei[0])
        assert i.dtype == np.int64 and len(i) == min(k, int(allowed[r].sum()))
        assert allowed[r, i - 1].all()
        if not ties:
            _assert_same_ranking(s, i, *_oracle(vectors, q[r], k, allowed[r]))


def test_search_rows_in_several_calls_and_shape_check():
    rng = np.random.default_rng(3)
    vectors = _vectors(3)
    index = ItemIndex(vectors)
    q = rng.standard_normal((7, D)).astype(np.float32)
    allowed = _masks(rng, 7, N, 10)
    whole = index.search_rows(q, 10, allowed)
    index.ID_BUDGET = 2 * N  # two rows per FAISS call
    for (s, i), (s2, i2) in zip(whole, index.search_rows(q, 10, allowed), strict=True):
        assert np.array_equal(s, s2) and np.array_equal(i, i2)
    with pytest.raises(ValueError, match="allowed"):
        index.search_rows(q, 10, allowed[:3])


@pytest.mark.parametrize("plain_threads", [False, True])
@given(seed=st.integers(0, 10_000), k=st.integers(1, 30), p=st.integers(1, 16), f=st.integers(1, 4))
@settings(max_examples=25, deadline=None)
def test_run_methods_equals_run_method_per_instruction(plain_threads, seed, k, p, f):
    """The batched request path returns what one run_method per instruction returns.

    Plain scans below 20 rows run FAISS's per-query kernel, as filtered ones do
    (bit-identical); ``plain_threads`` sends single queries to FAISS's threaded scan
    too, whose rounding may reorder near-ties only.
    """
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((N, D)).astype(np.float32)
    index = ItemIndex(vectors)
    if plain_threads:
        index.SMALL_SCAN = 0
    u_plain = rng.standard_normal(D).astype(np.float32)
    u_cond = rng.standard_normal((p, D)).astype(np.float32)
    allowed = _masks(rng, p, N, k)
    for method in METHODS:
        got = run_methods(index, method, u_plain, u_cond, allowed, k, f)
        assert len(got) == p
        for r, (s, i) in enumerate(got):
            es, ei = run_method(index, method, u_plain, u_cond[r], allowed[r], k, f)
            if plain_threads and method in ("unconditioned", "posthoc", "cgsa"):
                _assert_same_ranking(s, i, es, ei)
            else:
                assert np.array_equal(s, es) and np.array_equal(i, ei), method
            if method in ("posthoc", "prefilter", "cgsa_hard"):
                assert allowed[r, i - 1].all()


def test_run_methods_without_masks():
    index = ItemIndex(_vectors(4))
    u_plain = np.random.default_rng(4).standard_normal(D).astype(np.float32)
    u_cond = np.stack([u_plain, -u_plain])
    plain = run_method(index, "unconditioned", u_plain, None, None, 5)
    for method in METHODS:
        lists = run_methods(index, method, u_plain, u_cond, None, 5)
        assert len(lists) == 2
        if method.startswith("cgsa"):
            assert np.array_equal(lists[1][1], run_method(index, "cgsa", u_plain, -u_plain, None, 5)[1])
        else:
            assert all(np.array_equal(i, plain[1]) for _, i in lists)
    masks = np.zeros((3, N), dtype=bool)
    assert [len(i) for _, i in run_methods(index, "cgsa_hard", u_plain, None, masks, 5)] == [0, 0, 0]
    with pytest.raises(ValueError, match="masks"):
        run_methods(index, "cgsa_hard", u_plain, u_cond, masks, 5)


def test_seen_items_leave_every_method():
    """The listener's history leaves soft and filtered lists alike; post-hoc still over-fetches k·f new items."""
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(200, 8)).astype(np.float32)
    index = ItemIndex(vecs)
    u = rng.normal(size=8).astype(np.float32)
    plain = np.argsort(-(vecs @ u)) + 1
    seen = np.zeros(200, dtype=bool)
    seen[plain[:5] - 1] = True  # the five best items are already heard
    allowed = np.zeros(200, dtype=bool)
    allowed[::2] = True
    for method in METHODS:
        _, top = run_method(index, method, u, u, allowed, 10, 2, seen)
        assert not seen[top - 1].any(), method
    _, top = run_method(index, "unconditioned", u, None, None, 10, 1, seen)
    assert list(top) == list(plain[5:15])
    _, top = run_method(index, "posthoc", u, None, allowed, 10, 2, seen)
    window = plain[5:25]
    assert list(top) == [i for i in window if allowed[i - 1]][:10]
