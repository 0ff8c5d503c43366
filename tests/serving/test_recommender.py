"""The public API (engine.serving.recommender): compare / explain / personalised and its typed errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core import masks
from engine.core.instructions import EXPLICIT_POLICIES, Instruction, satisfies
from engine.data.schema import GENRE, ITEM_ID, LANGUAGE
from engine.data.split import to_ticks
from engine.errors import EngineError, HistoryError, InstructionError
from engine.serving.recommender import History
from engine.serving.retrieval import METHODS

HARD = ("prefilter", "cgsa_hard")


@pytest.fixture(scope="module")
def rec(tiny_recommender):
    return tiny_recommender


@pytest.fixture(scope="module")
def hist(rec):
    return rec.user_history(0)


def _check_result_consistency(rec, cmp, k):
    items = rec.catalogue.items
    allowed = rec.eligible(cmp.instruction, cmp.history)
    assert cmp.eligible == int(allowed.sum())
    plain = set(cmp.results["unconditioned"].items[ITEM_ID])
    for m, r in cmp.results.items():
        df = r.items
        assert r.n_returned <= k
        assert df[ITEM_ID].is_unique
        assert df["rank"].tolist() == list(range(1, len(df) + 1))
        assert np.isfinite(df["score"].to_numpy()).all()
        assert (np.diff(df["score"].to_numpy()) <= 1e-5).all(), "scores must be ranked"
        ok = allowed[items[ITEM_ID].isin(df[ITEM_ID]).to_numpy()]
        assert df["complies"].sum() == ok.sum()
        assert r.cc == pytest.approx(df["complies"].sum() / k)
        assert 0.0 <= r.cc <= 1.0
        if m == "unconditioned":
            continue
        if len(df):
            assert 0.0 <= r.overlap <= 1.0
            assert r.overlap == pytest.approx(df[ITEM_ID].isin(plain).mean())
        if m in HARD or m == "posthoc":
            assert df["complies"].all(), m
        if m in HARD:
            assert r.n_returned == min(k, cmp.eligible), m


def test_compare_returns_all_methods_with_full_compliance(rec, hist):
    ins = Instruction(genres={"jazz"})
    cmp = rec.compare(hist, ins, k=10)
    assert set(cmp.results) == set(METHODS)
    assert cmp.eligible >= 10
    for m in HARD:
        assert cmp.results[m].cc == 1.0 and cmp.results[m].n_returned == 10
    assert cmp.results["unconditioned"].overlap is None
    _check_result_consistency(rec, cmp, 10)


def test_posthoc_returns_at_most_k_with_a_note_when_short(rec):
    # a user who never listens to jazz: the unconditioned top-50 has (almost) no jazz
    for uid in range(40):
        h = rec.user_history(uid)
        cmp = rec.compare(h, Instruction(genres={"jazz"}), k=10, overfetch=2)
        r = cmp.results["posthoc"]
        assert r.n_returned <= 10 and r.items["complies"].all()
        if r.n_returned < 10:
            assert "post-hoc kept" in r.note and str(r.n_returned) in r.note
            assert r.cc == pytest.approx(r.n_returned / 10)
            return
    pytest.fail("no user where post-hoc filtering came up short")


def test_recommend_single_method(rec, hist):
    r = rec.recommend(hist, Instruction(genres={"rock"}), k=5, method="cgsa_hard")
    assert r.method == "cgsa_hard" and r.n_returned == 5 and r.cc == 1.0
    with pytest.raises(InstructionError, match="unknown method"):
        rec.recommend(hist, Instruction(), k=5, method="magic")


def test_policy_filters_are_exact(rec, hist):
    blocked = frozenset(list(rec.compare(hist, Instruction(), k=5).results["unconditioned"].items[ITEM_ID]))
    ins = Instruction(explicit="exclude_known", blocked_items=blocked, exclude_heard=True)
    cmp = rec.compare(hist, ins, k=10)
    for m in (*HARD, "posthoc"):
        df = cmp.results[m].items
        assert not df[ITEM_ID].isin(blocked).any()
        assert not df[ITEM_ID].isin(hist.item_ids).any()
        assert not (df["explicit"] == "true").any()
    _check_result_consistency(rec, cmp, 10)


# ------------------------------------------------------------------ typed errors


def test_empty_history(rec):
    with pytest.raises(HistoryError, match="empty"):
        rec.compare(History((), ()), Instruction(), k=5)
    with pytest.raises(HistoryError, match="empty"):
        rec.make_history([])
    with pytest.raises(HistoryError, match="empty"):
        rec.explain(History((), ()), Instruction())


def test_unknown_item_id(rec):
    with pytest.raises(HistoryError, match="not in this catalogue"):
        rec.make_history([3, 4])  # ids are multiples of 3: 4 is unknown
    with pytest.raises(HistoryError, match="not in this catalogue"):
        rec.compare(History((3, 4), (0, 0)), Instruction(), k=5)
    with pytest.raises(HistoryError, match="not in this catalogue"):
        rec.explain(History((4,), (0,)), Instruction())


def test_personalised_unknown_item_id(rec):
    with pytest.raises(HistoryError, match="not in this catalogue"):
        rec.personalised(History((3, 4), (0, 0)), k=5)


def test_personalised_empty_history(rec):
    with pytest.raises(EngineError) as exc:
        rec.personalised(History((), ()), k=5)
    assert isinstance(exc.value, HistoryError)


def test_history_validation(rec):
    with pytest.raises(HistoryError, match="backwards"):
        rec.make_history([3, 6], [10, 5])
    with pytest.raises(HistoryError, match="differ in length"):
        rec.make_history([3, 6], [10])
    h = rec.make_history([3] * 40)
    assert len(h) == 40 and any("most recent" in n for n in h.notes)
    with pytest.raises(HistoryError, match="not in this data set"):
        rec.user_history(10**9)


@pytest.mark.parametrize("k", [0, -3, 2.5, 121])
def test_bad_k(rec, hist, k):
    with pytest.raises(InstructionError, match="K"):
        rec.compare(hist, Instruction(), k=k)
    with pytest.raises(InstructionError, match="K"):
        rec.personalised(hist, k=k)


def test_k_equal_to_catalogue_is_fine(rec, hist):
    cmp = rec.compare(hist, Instruction(genres={"rock"}, exclude_heard=False), k=rec.catalogue.n_items)
    assert cmp.results["unconditioned"].n_returned == rec.catalogue.n_items
    for m in HARD:
        r = cmp.results[m]
        assert r.n_returned == cmp.eligible < rec.catalogue.n_items and "only" in r.note
    _check_result_consistency(rec, cmp, rec.catalogue.n_items)


def test_bad_overfetch(rec, hist):
    with pytest.raises(InstructionError, match="over-fetch"):
        rec.compare(hist, Instruction(), k=5, overfetch=0)


def test_unknown_explicit_policy():
    with pytest.raises(InstructionError, match="explicit policy"):
        Instruction(explicit="sometimes")
    with pytest.raises(InstructionError, match="unknown instruction field"):
        Instruction.from_dict({"genre": ["rock"]})


def test_instruction_value_absent_from_catalogue(rec, hist):
    with pytest.raises(InstructionError, match="polka"):
        rec.compare(hist, Instruction(genres={"polka"}), k=5)
    with pytest.raises(InstructionError, match="klingon"):
        rec.explain(hist, Instruction(languages={"klingon"}))
    # one known value is enough: the unknown one is ignored
    cmp = rec.compare(hist, Instruction(genres={"polka", "rock"}), k=5)
    assert cmp.results["cgsa_hard"].items[GENRE].eq("rock").all()


def test_contradictory_instruction_has_no_eligible_items(rec, hist):
    ins = Instruction(genres={"jazz"}, languages={"de"})  # jazz is English-only in the toy data
    cmp = rec.compare(hist, ins, k=10)
    assert cmp.eligible == 0
    for m in (*HARD, "posthoc"):
        r = cmp.results[m]
        assert r.n_returned == 0 and r.cc == 0.0 and r.note
    assert cmp.results["cgsa"].n_returned == 10
    assert cmp.results["cgsa"].cc == 0.0
    _check_result_consistency(rec, cmp, 10)


# ------------------------------------------------------------------ explain


@pytest.mark.parametrize("ins", [Instruction(genres={"rock"}), Instruction(genres={"pop"}, languages={"en"}),
                                 Instruction(explicit="exclude_unknown"), Instruction()],
                         ids=["rock", "pop-en", "explicit", "none"])
@pytest.mark.parametrize("uid", [0, 5])
def test_explain_masks_match_an_independent_computation(rec, ins, uid):
    h = rec.user_history(uid)
    ex = rec.explain(h, ins)
    n = min(len(h), rec.model.cfg.max_len)
    ids = list(h.item_ids[-n:])
    assert ex.item_ids == ids and len(ex.labels) == n
    m = len(ex.cond_labels)
    assert ex.causal.shape == (n, n) and ex.tamip.shape == (n, n)
    assert ex.cgsa.shape == (m + n,) and ex.branch_weights.shape[-1] == m + n
    assert all(w.shape[-2:] == (n, n) for w in ex.backbone_weights)
    assert len(ex.cgsa_rule) == m + n
    # causal: exactly lower-triangular over real items
    assert torch.equal(ex.causal, torch.ones(n, n, dtype=torch.bool).tril())
    # TAMIP: strictly earlier and τ_j < τ_i − Δτ
    ticks = to_ticks(np.asarray(h.timestamps[-n:]), rec.dataset.time_resolution)
    delta = ex.delta_tau
    for i in range(n):
        for j in range(n):
            expected = j < i and (delta is None or ticks[j] < ticks[i] - delta)
            assert bool(ex.tamip[i, j]) == expected
    # CGSA: condition tokens visible, history visible iff it satisfies the instruction
    rows = rec.catalogue.items.set_index(ITEM_ID).loc[ids].reset_index()
    expected = satisfies(rows, ins)
    assert ex.cgsa[:m].all()
    assert ex.cgsa[m:].tolist() == expected.tolist()
    for rule, ok in zip(ex.cgsa_rule[m:], expected, strict=True):
        assert rule.startswith("blocked") != bool(ok)
    # branch attention: a distribution, zero where masked
    assert torch.allclose(ex.branch_weights.sum(-1), torch.ones(ex.branch_weights.shape[0]), atol=1e-5)
    assert (ex.branch_weights[:, ~ex.cgsa] == 0).all()
    if ins.has_conditions:
        assert m >= 1 and all(lbl.startswith("[") and "=" in lbl for lbl in ex.cond_labels)
    else:
        assert ex.cond_labels == ["[no condition]"]


def test_explain_crops_long_histories(rec):
    ids = list(rec.catalogue.items[ITEM_ID].to_numpy()[:40])
    h = rec.make_history(ids)
    ex = rec.explain(h, Instruction(genres={"rock"}))
    t = rec.model.cfg.max_len
    assert ex.item_ids == ids[-t:] and ex.causal.shape == (t, t)


def test_explain_tamip_hides_same_request(rec, hist):
    ex = rec.explain(hist, Instruction())
    ticks = to_ticks(np.asarray(hist.timestamps[-len(ex.item_ids):]), rec.dataset.time_resolution)
    same = ticks[:, None] == ticks[None, :]
    assert not ex.tamip.numpy()[same].any()
    assert same.sum() > len(ticks)  # the history really has multi-song requests


# ------------------------------------------------------------------ personalised


def test_personalised_shape(rec):
    for uid in range(6):
        h = rec.user_history(uid)
        res = rec.personalised(h, k=8, top_p=2)
        assert 1 <= len(res.instructions) <= 2
        assert sum(s for _, s in res.instructions) == pytest.approx(1.0)
        recent = rec.catalogue.items.set_index(ITEM_ID).loc[list(h.item_ids[-20:]), GENRE]
        assert {next(iter(i.genres)) for i, _ in res.instructions} <= set(recent)
        merged = res.merged.items
        assert len(merged) <= 8 and merged[ITEM_ID].is_unique
        pool = set().union(*[set(r.items[ITEM_ID]) for r in res.lists.values()])
        assert set(merged[ITEM_ID]) <= pool
        assert merged["rank"].tolist() == list(range(1, len(merged) + 1))
        assert res.unconditioned.n_returned == 8
        for name in ("unconditioned", "merged"):
            d = res.diversity[name]
            assert d[f"distinct_{GENRE}"] >= 1 and d[f"entropy_{GENRE}"] >= 0
            assert f"distinct_{LANGUAGE}" in d
            assert all(math.isfinite(v) for v in d.values())
        assert 0.0 <= res.merged.overlap <= 1.0


@pytest.mark.parametrize("attribute, field", [("era", "eras"), ("popularity_tier", "popularity"),
                                              ("language", "languages"), ("genre", "genres")])
def test_personalised_instructions_name_the_asked_attribute(rec, attribute, field):
    """Any attribute other than genre used to become a language instruction."""
    h = rec.user_history(0)
    res = rec.personalised(h, k=5, top_p=2, attribute=attribute)
    recent = set(rec.catalogue.items.set_index(ITEM_ID).loc[list(h.item_ids[-20:]), attribute])
    for ins, _ in res.instructions:
        assert set(ins.atoms()) == {attribute}
        assert getattr(ins, field) <= recent
    for res_list in res.lists.values():
        assert res_list.items[attribute].isin(recent).all() or res_list.cc < 1


@pytest.mark.parametrize("attribute", ["explicit", "no_such_attribute"])
def test_personalised_refuses_attributes_an_instruction_cannot_name(rec, attribute):
    with pytest.raises(InstructionError):
        rec.personalised(rec.user_history(0), k=5, attribute=attribute)


def test_personalised_merged_cc_is_measured(rec):
    """merged.cc must count the merged items that satisfy their own instruction."""
    items = rec.catalogue.items
    by_id = items.set_index(ITEM_ID)
    for uid in range(10):
        h = rec.user_history(uid)
        heard = set(by_id.loc[list(h.item_ids), GENRE])
        other = next(g for g in ("rock", "pop", "hip-hop", "jazz") if g not in heard)
        extra = items.loc[items[GENRE] == other, ITEM_ID].tolist()[:3]  # a fresh taste
        h2 = rec.make_history([*h.item_ids, *extra], [*h.timestamps, *[h.timestamps[-1] + 86400] * 3])
        res = rec.personalised(h2, k=10, top_p=3)
        merged = res.merged.items
        wanted = set().union(*[i.genres for i, _ in res.instructions])
        assert not (merged["complies"] & ~merged[GENRE].isin(wanted)).any()
        assert res.merged.cc == pytest.approx(merged["complies"].sum() / 10), uid


def test_personalised_lists_match_single_instruction_requests(rec):
    """Auto mode batches its P instructions (one branch pass, one FAISS call); each list is
    what a one-instruction CGSA request returns, and the unconditioned list likewise."""
    for uid in range(4):
        h = rec.user_history(uid)
        res = rec.personalised(h, k=8, top_p=3)
        pairs = [(res.unconditioned, rec.recommend(h, Instruction(), 8, "unconditioned"))]
        pairs += [(res.lists[ins.describe()], rec.recommend(h, ins, 8, "cgsa")) for ins, _ in res.instructions]
        for got, one in pairs:
            a, b = got.items, one.items
            assert len(a) == len(b) == 8
            np.testing.assert_allclose(a["score"], b["score"], rtol=1e-5, atol=1e-5)
            differ = a[ITEM_ID].to_numpy() != b[ITEM_ID].to_numpy()
            assert (np.abs(a["score"] - b["score"])[differ] < 1e-5).all()  # same items, ties aside


# ------------------------------------------------------------------ random use


def _instructions(vocab):
    def subset(attr, extra=()):
        return st.frozensets(st.sampled_from([*vocab[attr], *extra]), max_size=3)

    return st.builds(
        Instruction,
        genres=subset(GENRE, ("polka",)),
        languages=subset(LANGUAGE),
        explicit=st.sampled_from(EXPLICIT_POLICIES),
        popularity=subset("popularity_tier"),
        eras=subset("era"),
        blocked_items=st.frozensets(st.sampled_from(vocab["ids"]), max_size=5),
        exclude_heard=st.booleans(),
    )


def test_compare_never_crashes_on_random_requests(rec):
    cat = rec.catalogue
    vocab = {a: list(v) for a, v in zip(cat.attributes, cat.attr_values, strict=True)}
    vocab["ids"] = [int(i) for i in cat.items[ITEM_ID]]

    @given(
        ids=st.lists(st.sampled_from(vocab["ids"]), min_size=1, max_size=60),
        gaps=st.lists(st.integers(0, 3 * 86400), min_size=60, max_size=60),
        ins=_instructions(vocab),
        k=st.integers(-1, 130),
        overfetch=st.integers(1, 6),
    )
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def run(ids, gaps, ins, k, overfetch):
        ts = np.cumsum(gaps[: len(ids)]).tolist()
        try:
            h = rec.make_history(ids, ts)
            cmp = rec.compare(h, ins, k=k, overfetch=overfetch)
        except EngineError:
            assert k <= 0 or k > cat.n_items or "polka" in ins.genres
            return
        assert set(cmp.results) == set(METHODS)
        _check_result_consistency(rec, cmp, k)
        ex = rec.explain(h, ins)
        assert torch.isfinite(ex.branch_weights).all()

    run()


def test_queries_are_deterministic(rec, hist):
    a = rec.compare(hist, Instruction(genres={"pop"}), k=10)
    b = rec.compare(hist, Instruction(genres={"pop"}), k=10)
    for m in METHODS:
        assert a.results[m].items[ITEM_ID].tolist() == b.results[m].items[ITEM_ID].tolist()


def test_one_branch_pass_serves_the_plain_and_the_conditioned_query(rec, hist):
    """compare() batches the unconditioned row with the instruction's: each row is what
    a branch pass of its own gives (round-off aside)."""
    from engine.core.conditions import encode
    from engine.serving.inference import queries

    ins = Instruction(genres={"pop"}, languages={"en"})
    seq, ts = rec._tensors(hist)
    rows, bb_ms, branch_ms = rec._query_rows(seq, ts, [ins])
    plain, bb, _, _ = queries(rec.model, seq, ts)
    cond, *_ = queries(rec.model, seq, ts, encode(rec.model, [ins]), bb=bb)
    np.testing.assert_allclose(rows[0], plain[0, 0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rows[1], cond[0, 0].numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(rows[0], rows[1])
    assert bb_ms > 0 and branch_ms > 0


def test_eligible_masks_are_cached_but_never_shared(rec, hist):
    ins = Instruction(genres={"pop"}, exclude_heard=True)
    first = rec.eligible(ins, hist)
    first[:] = False  # a caller scribbling on its copy
    again = rec.eligible(ins, hist)
    expected = satisfies(rec.catalogue.items, ins) & ~rec.catalogue.items[ITEM_ID].isin(hist.item_ids).to_numpy()
    np.testing.assert_array_equal(again, expected)
    other = rec.make_history([int(rec.catalogue.items[ITEM_ID][expected].iloc[0])])
    assert rec.eligible(ins, other).sum() == satisfies(rec.catalogue.items, ins).sum() - 1  # per history


def test_padding_and_masks_agree_with_engine_masks(rec, hist):
    seq, ts = rec._tensors(hist)
    valid = seq > 0
    assert torch.equal(rec.model.backbone(seq, ts).mask, masks.causal_mask(valid))


def test_user_histories_split_at_a_day_boundary(rec, tiny_dataset):
    inter = tiny_dataset.interactions
    for uid in range(10):
        h = rec.user_history(uid)
        rows = inter[inter["user_id"] == uid]
        assert [*h.item_ids, *h.future] == rows["item_id"].tolist()
        assert len(h.future) >= 3
        day = rows["timestamp"].to_numpy() // 86400  # histories carry day-resolution ticks
        assert (np.asarray(h.timestamps) // 86400).tolist() == day[: len(h)].tolist()
        assert day[len(h)] > day[len(h) - 1]  # no held-out item shares the last day
