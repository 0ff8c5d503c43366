"""Property tests of engine.core.masks against brute-force definitions (method §3, §4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core import masks
from engine.core.conditions import encode
from engine.core.instructions import EXPLICIT_POLICIES, Instruction, satisfies

PROPS = settings(max_examples=60, deadline=None)


@st.composite
def padded_batch(draw, sorted_times: bool = True):
    """(valid [B,T], timestamps [B,T]): left-padded rows of random length, random ticks."""
    b = draw(st.integers(1, 4))
    t = draw(st.integers(1, 12))
    lengths = draw(st.lists(st.integers(0, t), min_size=b, max_size=b))
    valid = torch.zeros(b, t, dtype=torch.bool)
    ts = torch.zeros(b, t, dtype=torch.long)
    for r, n in enumerate(lengths):
        valid[r, t - n :] = True
        steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        ticks = np.cumsum(steps) + 100 if sorted_times else np.array(steps) + 100
        if n:
            ts[r, t - n :] = torch.as_tensor(ticks, dtype=torch.long)
    return valid, ts


@given(padded_batch())
@PROPS
def test_causal_mask_is_lower_triangular_on_valid_keys(batch):
    valid, _ = batch
    m = masks.causal_mask(valid)
    b, t = valid.shape
    assert m.shape == (b, t, t) and m.dtype == torch.bool
    for r in range(b):
        for i in range(t):
            for j in range(t):
                expected = (j <= i and bool(valid[r, j])) or (i == j)
                assert bool(m[r, i, j]) == expected, (r, i, j)
    # padding rows see themselves, no row is empty
    assert m.diagonal(dim1=1, dim2=2).all()
    assert m.any(-1).all()
    # valid rows never see padding keys nor the future
    for r in range(b):
        for i in range(t):
            if valid[r, i]:
                assert not (m[r, i] & ~valid[r]).any()
                assert not m[r, i, i + 1 :].any()


@given(padded_batch(sorted_times=False))
@PROPS
def test_target_visibility_without_time_mask_is_strictly_earlier_and_valid(batch):
    valid, ts = batch
    m = masks.target_visibility_mask(ts, valid, None)
    b, t = valid.shape
    for r in range(b):
        for i in range(t):
            for j in range(t):
                expected = j < i and bool(valid[r, j]) and bool(valid[r, i])
                assert bool(m[r, i, j]) == expected


@given(padded_batch(sorted_times=False), st.integers(0, 4))
@PROPS
def test_target_visibility_hides_exactly_the_lag_window(batch, delta):
    valid, ts = batch
    m = masks.target_visibility_mask(ts, valid, delta)
    base = masks.target_visibility_mask(ts, valid, None)
    b, t = valid.shape
    for r in range(b):
        for i in range(t):
            for j in range(t):
                hidden = int(ts[r, j]) >= int(ts[r, i]) - delta
                assert bool(m[r, i, j]) == (bool(base[r, i, j]) and not hidden)
    # Δτ = 0 still hides the target's own request (same timestamp)
    m0 = masks.target_visibility_mask(ts, valid, 0)
    same = ts[:, None, :] == ts[:, :, None]
    assert not (m0 & same).any()


@given(padded_batch(sorted_times=True), st.one_of(st.none(), st.integers(0, 4)))
@PROPS
def test_readout_is_last_visible_and_visible_set_is_a_prefix(batch, delta):
    valid, ts = batch
    vis = masks.target_visibility_mask(ts, valid, delta)
    p = masks.readout_positions(vis)
    b, t = valid.shape
    assert p.shape == (b, t)
    for r in range(b):
        for i in range(t):
            cols = torch.nonzero(vis[r, i]).flatten().tolist()
            if not cols:
                assert int(p[r, i]) == -1
                continue
            assert int(p[r, i]) == max(cols)
            # sorted timestamps: the visible set is the contiguous run of valid items ending at p
            first_valid = int(torch.nonzero(valid[r]).min())
            assert cols == list(range(first_valid, int(p[r, i]) + 1))


@given(padded_batch(), st.data())
@PROPS
def test_cgsa_mask_is_condition_tokens_plus_allowed_history(batch, data):
    valid, _ = batch
    b, t = valid.shape
    r = data.draw(st.integers(1, 3))
    m_tok = data.draw(st.integers(1, 3))
    pred = torch.tensor(
        data.draw(st.lists(st.booleans(), min_size=b * r * t, max_size=b * r * t))
    ).view(b, r, t)
    qpos = torch.tensor(
        data.draw(st.lists(st.integers(0, t - 1), min_size=b * r, max_size=b * r))
    ).view(b, r)
    cond_valid = torch.tensor(
        data.draw(st.lists(st.booleans(), min_size=b * r * m_tok, max_size=b * r * m_tok))
    ).view(b, r, m_tok)
    cond_valid[..., 0] = True  # slot 0 always present (model.branch convention)
    m = masks.cgsa_mask(pred, valid, qpos, cond_valid)
    assert m.shape == (b, r, m_tok + t)
    assert torch.equal(m[..., :m_tok], cond_valid)
    for x in range(b):
        for y in range(r):
            for j in range(t):
                expected = j <= int(qpos[x, y]) and bool(valid[x, j]) and bool(pred[x, y, j])
                assert bool(m[x, y, m_tok + j]) == expected
    assert m.any(-1).all()  # never an empty row when a token is present


# --------------------------------------------------------------------- item predicate


def _vocab(tiny_prep):
    cat = tiny_prep.catalogue
    return {a: list(v) for a, v in zip(cat.attributes, cat.attr_values, strict=True)}


@st.composite
def instructions(draw, vocab):
    def subset(attr):
        return frozenset(draw(st.lists(st.sampled_from(vocab[attr]), max_size=3)))

    return Instruction(
        genres=subset("genre"),
        languages=subset("language"),
        explicit=draw(st.sampled_from(EXPLICIT_POLICIES)),
        popularity=subset("popularity_tier"),
        eras=subset("era"),
    )


class _ModelStub:
    """What encode() needs of a model: its cfg (no weights)."""

    def __init__(self, cfg):
        self.cfg = cfg


def test_item_predicate_matches_satisfies_bruteforce(tiny_prep):
    from engine.core.prepared import model_config

    cat = tiny_prep.catalogue
    stub = _ModelStub(model_config(tiny_prep, d_model=16, max_len=8))
    vocab = _vocab(tiny_prep)
    rng = np.random.default_rng(0)

    @given(st.lists(instructions(vocab), min_size=1, max_size=4), st.integers(1, 10))
    @PROPS
    def check(instrs, t):
        enc = encode(stub, instrs)
        hist = torch.as_tensor(rng.integers(1, cat.n_items + 1, size=(2, t)))
        hist_attrs = cat.item_attrs[hist]
        pred = enc.predicate(hist_attrs)
        assert pred.shape == (2, len(instrs), t)
        for r, ins in enumerate(instrs):
            for b in range(2):
                rows = cat.items.iloc[hist[b].numpy() - 1]
                expected = satisfies(rows, ins)
                assert np.array_equal(pred[b, r].numpy(), expected), ins.describe()

    check()


def test_item_predicate_unconstrained_allows_everything_and_padding_blocked_when_constrained():
    hist_attrs = torch.tensor([[[0, 0], [1, 2], [2, 1]]])  # item 0 is padding
    free = [torch.ones(1, 1, 3, dtype=torch.bool), torch.ones(1, 1, 3, dtype=torch.bool)]
    assert masks.item_predicate(hist_attrs, free, [0, 1]).all()
    only_1 = torch.tensor([[[False, True, False]]])
    pred = masks.item_predicate(hist_attrs, [only_1, free[1]], [0, 1])
    assert pred.tolist() == [[[False, True, False]]]


def test_satisfies_on_a_frame_is_row_wise():
    items = pd.DataFrame({"item_id": [1, 2, 3], "genre": ["rock", "pop", "rock"], "explicit": ["true", "false", "unknown"]})
    assert satisfies(items, Instruction(genres={"rock"})).tolist() == [True, False, True]
    assert satisfies(items, Instruction(explicit="exclude_known")).tolist() == [False, True, True]
    assert satisfies(items, Instruction(explicit="exclude_unknown")).tolist() == [False, True, False]
    assert satisfies(items, Instruction(genres={"rock"}, blocked_items={3})).tolist() == [True, False, False]
