"""Training (method §3–4): learning happens, objectives have the right shape, seeds are
reproducible, SFT instructions are drawn from the target itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_MODEL, TOY_DAY, TOY_START, make_toy_dataset

from engine.core import masks
from engine.core.catalogue import windows
from engine.core.conditions import encode
from engine.core.config import objective_config
from engine.core.instructions import Instruction
from engine.core.model import ClimberPilot
from engine.core.prepared import model_config, prepare
from engine.data.schema import GENRE, ITEM_ID, TIMESTAMP, USER_ID, Dataset
from engine.errors import EngineError
from engine.evaluation.evaluate import next_item, popularity, validation_hr
from engine.evaluation.metrics import target_ranks
from engine.serving.inference import batch_histories, batched_queries, queries
from engine.training.loop import batch_order, fit
from engine.training.losses import _softmax_loss, pretrain_loss, sample_instructions, sft_loss

FAST = dict(max_epochs=1, sft_epochs=0, patience=1, batch_size=64, negatives=32)


@pytest.fixture(scope="module")
def small_prep():
    return prepare(make_toy_dataset(seed=3, n_users=50), 3, True)


def test_tiny_training_loss_decreases(tiny_fit):
    _, log, _ = tiny_fit
    for stage in ("pretrain", "sft"):
        losses = [c["loss"] for c in log[stage]["curve"]]
        assert all(np.isfinite(losses))
        assert losses[-1] < losses[0], (stage, losses)
    pre = [c["loss"] for c in log["pretrain"]["curve"]]
    assert pre[-1] < 0.9 * pre[0]


def test_trained_model_beats_popularity(tiny_model, tiny_prep):
    model_hr = next_item(tiny_model, tiny_prep, "cpu")["HR@10"]
    pop_hr = popularity(tiny_prep)["HR@10"]
    assert model_hr > pop_hr + 0.05, (model_hr, pop_hr)


@pytest.mark.parametrize(("objective", "branches", "delta"), [("nip", 1, None), ("mip", 2, None), ("tamip", 2, 0)])
def test_objectives_shape(small_prep, objective, branches, delta):
    tcfg = objective_config(objective, **FAST)
    assert tcfg.delta_tau == delta
    model, log = fit(small_prep, tcfg, torch.device("cpu"), progress=False, **TINY_MODEL)
    assert model.cfg.n_branches == branches and len(model.branches) == branches
    assert log["pretrain"]["epochs_run"] == 1 and "sft" not in log


def test_same_seed_same_model_other_seed_other_model(small_prep):
    def run(seed):
        tcfg = objective_config("tamip", **{**FAST, "sft_epochs": 1, "seed": seed})
        model, log = fit(small_prep, tcfg, torch.device("cpu"), progress=False, **TINY_MODEL)
        return model.state_dict(), log

    a, log_a = run(0)
    b, log_b = run(0)
    c, _ = run(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [x["loss"] for x in log_a["sft"]["curve"]] == [x["loss"] for x in log_b["sft"]["curve"]]
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_sample_instructions_target_satisfies_its_own_instruction(tiny_model, tiny_prep):
    model = tiny_model
    cfg = model.cfg
    seq, _ = windows(tiny_prep.train_seqs(), cfg.max_len)
    seq = seq[:128]
    tcfg = objective_config("tamip", sft_uncond_share=0.3)
    allowed, attr_index, cond_ids = sample_instructions(model, seq, tcfg, torch.Generator().manual_seed(0))
    b, t = seq.shape
    assert attr_index == [cfg.attributes.index(a) for a in cfg.cond_attributes]
    assert cond_ids.shape[:2] == (b, t)
    target_attrs = model.items.item_attrs[seq]  # [B, T, A]
    pred = masks.item_predicate(target_attrs, allowed, attr_index)  # [B, R=T, T]
    own = pred.diagonal(dim1=1, dim2=2)  # row t judged on item t
    valid = seq > 0
    assert own[valid].all(), "a target must satisfy its own SFT instruction"

    n_cond = n_uncond = 0
    for x in range(b):
        for y in range(t):
            if not valid[x, y]:
                continue
            expected = set()
            for n, attr in enumerate(cfg.cond_attributes):
                row = allowed[n][x, y]
                if row.all():
                    continue  # attribute not constrained
                vocab = cfg.attr_values[attr_index[n]]
                assert not row[0], "padding value must not be allowed in a constrained atom"
                expected |= {model.cond_token(attr, vocab[v - 1]) for v in torch.nonzero(row).flatten().tolist()}
            got = set(cond_ids[x, y].tolist()) - {0}
            assert got == expected, (x, y)
            if expected:
                n_cond += 1
                assert cond_ids[x, y, 0] > 0  # slot 0 holds a real token
            else:
                n_uncond += 1
                assert (cond_ids[x, y] == 0).all()  # token 0 only
    assert n_cond > 0 and n_uncond > 0


def test_sample_instructions_is_seeded(tiny_model, tiny_prep):
    seq, _ = windows(tiny_prep.train_seqs(), tiny_model.cfg.max_len)
    tcfg = objective_config("tamip")
    a = sample_instructions(tiny_model, seq[:32], tcfg, torch.Generator().manual_seed(5))
    b = sample_instructions(tiny_model, seq[:32], tcfg, torch.Generator().manual_seed(5))
    assert torch.equal(a[2], b[2]) and all(torch.equal(x, y) for x, y in zip(a[0], b[0], strict=True))


def test_losses_are_finite_and_differentiable(tiny_prep):
    cfg = model_config(tiny_prep, **TINY_MODEL)
    model = ClimberPilot(cfg, tiny_prep.catalogue.item_attrs)
    seq, ts = windows(tiny_prep.train_seqs(), cfg.max_len)
    counts = torch.ones(cfg.n_items + 1)
    for fn in (pretrain_loss, sft_loss):
        for tcfg in (objective_config("tamip", negatives=16), objective_config("mip", logq=True, negatives=16)):
            loss = fn(model, seq[:16], ts[:16], tcfg, torch.Generator().manual_seed(0), counts)
            assert torch.isfinite(loss)
            loss.backward()
            model.zero_grad()


def _single_request_batch():
    seq = torch.tensor([[0] * 13 + [1, 2, 3]])
    ts = torch.tensor([[0] * 13 + [5, 5, 5]])  # one request: TAMIP (Δτ=0) sees no history
    return seq, ts


@pytest.mark.parametrize("fn", [pretrain_loss, sft_loss])
def test_loss_without_any_supervised_target_is_none(tiny_prep, fn):
    cfg = model_config(tiny_prep, **TINY_MODEL)
    model = ClimberPilot(cfg, tiny_prep.catalogue.item_attrs)
    seq, ts = _single_request_batch()
    loss = fn(model, seq, ts, objective_config("tamip"), torch.Generator().manual_seed(0),
              torch.ones(cfg.n_items + 1))
    assert loss is None  # the training loop skips such a batch instead of stepping on nothing


def test_fit_survives_batches_without_supervised_targets():
    rows = []
    for u in range(12):
        t = TOY_START
        n_req = 1 if u < 6 else 4  # half the users: training part is a single request
        for r in range(n_req + 1):
            for i in range(3):
                rows.append((u, 3 * ((u * 7 + r * 3 + i) % 30 + 1), t))
            t += TOY_DAY
    ds0 = make_toy_dataset(n_users=1)
    inter = pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, TIMESTAMP]).astype("int64")
    ds = Dataset("one-day", ds0.items, inter, ds0.attributes, TOY_DAY, "tests", True)
    prep = prepare(ds, 3, True)
    tcfg = objective_config("tamip", **{**FAST, "batch_size": 1})
    model, _ = fit(prep, tcfg, torch.device("cpu"), progress=False, **TINY_MODEL)
    assert model is not None


def _parity_batch(tiny_prep, n=6):
    cfg = model_config(tiny_prep, **TINY_MODEL)
    torch.manual_seed(0)
    model = ClimberPilot(cfg, tiny_prep.catalogue.item_attrs).eval()  # eval: no dropout
    seq, ts = windows(tiny_prep.train_seqs(), cfg.max_len)
    return model, seq[:n], ts[:n]


@pytest.mark.parametrize("exclude_history", [False, True])
@pytest.mark.parametrize("objective", ["tamip", "mip"])
@torch.no_grad()
def test_pretrain_loss_matches_reference(tiny_prep, objective, exclude_history):
    """Branch k, read at p(t) (last item visible to target t), predicts item t+k (method §3).

    With ``exclude_history`` every item before t+k, visible to the query or not, leaves the
    softmax unless it is the target itself (the toy users do repeat items).
    """
    model, seq, ts = _parity_batch(tiny_prep)
    tcfg = objective_config(objective, negatives=-1, exclude_history=exclude_history)
    got = pretrain_loss(model, seq, ts, tcfg, torch.Generator().manual_seed(0), None)
    vecs = model.items.all_items()
    bb = model.backbone(seq, ts)
    b, t = seq.shape
    total = 0.0
    for k in range(model.cfg.n_branches):
        u = model.branch(k, bb, torch.arange(t).expand(b, t))[0]  # query read at every position
        losses = []
        for x in range(b):
            for pos in range(t):
                if seq[x, pos] == 0 or pos + k >= t:
                    continue
                earlier = [j for j in range(pos) if seq[x, j] > 0 and
                           (tcfg.delta_tau is None or ts[x, j] < ts[x, pos] - tcfg.delta_tau)]
                if not earlier:
                    continue
                logits = u[x, max(earlier)] @ vecs.T
                target = seq[x, pos + k]
                if exclude_history:
                    before = {int(i) for i in seq[x, :pos + k] if 0 < i != target}
                    logits[[i - 1 for i in before]] = float("-inf")
                losses.append(torch.nn.functional.cross_entropy(logits[None], target[None] - 1))
        total += torch.stack(losses).mean()
    assert torch.allclose(got, total, rtol=1e-4, atol=1e-5)


def test_history_exclusion_gradient_matches_masked_softmax():
    """The in-place -inf on the logits leaves the gradient of a masked softmax, the target's included."""
    torch.manual_seed(0)
    q, vecs = torch.randn(5, 4, requires_grad=True), torch.randn(9, 4, requires_grad=True)
    t = torch.tensor([1, 2, 3, 9, 4])
    seen = torch.tensor([[2, 3, 0], [2, 1, 5], [0, 0, 0], [9, 9, 8], [1, 4, 7]])  # t itself stays
    _softmax_loss(q, t, vecs, None, None, seen=seen).backward()
    got = q.grad.clone(), vecs.grad.clone()
    q.grad = vecs.grad = None
    hide = torch.zeros(5, 9, dtype=torch.bool)
    for x, row in enumerate(seen.tolist()):
        hide[x, [i - 1 for i in row if i and i != t[x]]] = True
    F.cross_entropy((q @ vecs.T).masked_fill(hide, float("-inf")), t - 1).backward()
    assert torch.allclose(got[0], q.grad) and torch.allclose(got[1], vecs.grad)


def test_ranks_in_blocks_equal_ranks_at_once():
    """Users ranked a few at a time (a score function, or a tensor) rank as one matrix does."""
    torch.manual_seed(0)
    scores = torch.randn(7, 6)
    targets = torch.tensor([1, 2, 3, 4, 5, 6, 1])
    exclude = [np.array([2, 3]), np.array([2]), np.array([], dtype=int), np.array([1, 4]),
               np.array([6]), np.array([5, 6]), np.array([1, 2, 3])]
    whole = target_ranks(scores, targets, exclude, rows=100)
    assert whole.tolist() == target_ranks(scores, targets, exclude, rows=3).tolist()
    assert whole.tolist() == target_ranks(lambda part: scores[part] * 2, targets, exclude, rows=2).tolist()
    by_hand = []
    for x in range(7):
        s = scores[x].clone()
        s[[i - 1 for i in exclude[x] if i != targets[x]]] = float("-inf")
        by_hand.append(int((s > s[targets[x] - 1]).sum()))
    assert whole.tolist() == by_hand


@torch.no_grad()
def test_history_exclusion_holds_when_the_batch_is_sharded(tiny_prep):
    """Data parallelism: each process drops its own rows' earlier items; the shares add up."""
    model, seq, ts = _parity_batch(tiny_prep)
    tcfg = objective_config("mip", negatives=-1, exclude_history=True)
    whole = pretrain_loss(model, seq, ts, tcfg, torch.Generator().manual_seed(0), None)
    shares = [pretrain_loss(model, seq, ts, tcfg, torch.Generator().manual_seed(0), None, rows=r)
              for r in (slice(0, 2), slice(2, 6))]
    assert torch.allclose(whole, sum(shares), rtol=1e-5, atol=1e-6)


def test_validation_without_history_ranks_as_the_s3rec_protocol(tiny_fit, tiny_prep):
    model = tiny_fit[0]
    plain = validation_hr(model, tiny_prep, "cpu", k=3)
    without = validation_hr(model, tiny_prep, "cpu", k=3, exclude_history=True)
    splits = [s for s in tiny_prep.splits if s.val_target]
    u = batched_queries(model, [s.train for s in splits], device="cpu")
    scores = u @ model.items.all_items().T
    for x, s in enumerate(splits):  # what the S3-Rec protocol does by hand
        scores[x, [i - 1 for i in set(s.train.items.tolist()) - {s.val_target}]] = float("-inf")
    by_hand = (scores > scores[torch.arange(len(splits)), [s.val_target - 1 for s in splits]][:, None]).sum(1)
    assert without == pytest.approx(float((by_hand < 3).double().mean()))
    assert without > plain  # toy users repeat items: their history crowds the plain top 3


@pytest.mark.parametrize("other", [{}, {"negatives": -1, "sft_epochs": 1}])
def test_history_exclusion_outside_full_softmax_pretraining_is_refused(tiny_prep, other):
    tcfg = objective_config("nip", **{**FAST, "exclude_history": True, **other})
    with pytest.raises(EngineError, match="pre-training with the full softmax only"):
        fit(tiny_prep, tcfg, torch.device("cpu"), progress=False, **TINY_MODEL)


@torch.no_grad()
def test_sft_loss_matches_reference(tiny_prep):
    """CGSA: branch k reads p(t) − k under the target's own instruction, predicts item t (§4)."""
    model, seq, ts = _parity_batch(tiny_prep)
    tcfg = objective_config("tamip", negatives=-1)
    got = sft_loss(model, seq, ts, tcfg, torch.Generator().manual_seed(7), None)
    allowed, attr_index, cond_ids = sample_instructions(model, seq, tcfg, torch.Generator().manual_seed(7))
    pred = masks.item_predicate(model.items.item_attrs[seq], allowed, attr_index)
    vecs = model.items.all_items()
    bb = model.backbone(seq, ts)
    b, t = seq.shape
    readout = torch.zeros(b, t, dtype=torch.long)
    keep = torch.zeros(b, t, dtype=torch.bool)
    for x in range(b):
        for pos in range(t):
            earlier = [j for j in range(pos) if seq[x, j] > 0 and ts[x, j] < ts[x, pos]]
            if seq[x, pos] > 0 and earlier:
                readout[x, pos], keep[x, pos] = max(earlier), True
    total = 0.0
    for k in range(model.cfg.n_branches):
        # row `pos` of the batch call = target pos's instruction, read k items earlier
        u = model.branch(k, bb, (readout - k).clamp(min=0), pred, cond_ids)[0]
        losses = []
        for x in range(b):
            for pos in range(t):
                if not keep[x, pos] or readout[x, pos] - k < 0:
                    continue
                q = u[x, pos]
                losses.append(torch.nn.functional.cross_entropy((q @ vecs.T)[None], seq[x, pos][None] - 1))
        total += torch.stack(losses).mean()
    assert torch.allclose(got, total, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("objective", ["nip", "mip", "tamip"])
@torch.no_grad()
def test_trimming_padding_columns_leaves_the_loss_unchanged(tiny_prep, objective):
    """Length buckets trim all-padding columns: exact, as the biases are relative."""
    tcfg = objective_config(objective, negatives=-1)
    cfg = model_config(tiny_prep, **{**TINY_MODEL, "n_branches": 1 if objective == "nip" else 2})
    model = ClimberPilot(cfg, tiny_prep.catalogue.item_attrs).eval()
    seq, ts = windows(tiny_prep.train_seqs(), cfg.max_len)
    lengths = (seq > 0).sum(1)
    short = torch.nonzero(lengths <= cfg.max_len // 2).flatten()[:24]
    width = int(lengths[short].max())
    assert width < cfg.max_len
    full = pretrain_loss(model, seq[short], ts[short], tcfg, torch.Generator().manual_seed(0), None)
    cut = pretrain_loss(model, seq[short, -width:], ts[short, -width:], tcfg,
                        torch.Generator().manual_seed(0), None)
    assert torch.allclose(full, cut, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("conditioned", [False, True])
def test_length_sorted_query_batches_match_full_padding(tiny_model, tiny_prep, conditioned):
    """Validation and evaluation batch histories by length and pad each batch only to its
    longest: every query equals the one read from a ``max_len``-padded row, in input order."""
    hist = [s.train for s in tiny_prep.splits][::-1]
    lengths = {min(len(h.items), tiny_model.cfg.max_len) for h in hist}
    assert len(lengths) > 3 and max(lengths) == tiny_model.cfg.max_len  # widths really differ
    cond = None
    if conditioned:
        genre = tiny_model.cfg.attr_values[tiny_model.cfg.attributes.index(GENRE)][0]
        cond = encode(tiny_model, [Instruction(genres=frozenset({genre}))] * len(hist)).per_history()
    got = batched_queries(tiny_model, hist, cond, batch_size=7)
    seq, ts = batch_histories(hist, tiny_model.cfg.max_len, "cpu")
    want, *_ = queries(tiny_model, seq, ts, cond)
    assert torch.allclose(got, want[:, 0], atol=1e-5)


@pytest.mark.parametrize("buckets", [0, 1, 5])
def test_batch_order_covers_every_row_once(buckets):
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(2, 50, (103,), generator=gen)
    perm = torch.randperm(103, generator=gen)
    batches = batch_order(perm, lengths, 10, buckets, gen)
    assert sorted(torch.cat(batches).tolist()) == list(range(103))
    assert all(len(b) <= 10 for b in batches)
    if buckets == 0:  # the default is plain slicing of the shuffled order
        assert torch.equal(torch.cat(batches), perm)
    elif buckets == 1:  # pools of one batch: the shuffled batches, reordered
        assert sorted(map(sorted, (b.tolist() for b in batches))) == sorted(
            sorted(perm[s : s + 10].tolist()) for s in range(0, 103, 10))
    else:  # within a batch lengths come from one sorted pool: their spread shrinks
        spread = np.mean([float(lengths[b].max() - lengths[b].min()) for b in batches])
        assert spread < 0.5 * float(lengths.max() - lengths.min())


def test_length_buckets_train_and_learn(small_prep):
    tcfg = objective_config("tamip", **{**FAST, "max_epochs": 2, "length_buckets": 4})
    model, log = fit(small_prep, tcfg, torch.device("cpu"), progress=False, **TINY_MODEL)
    assert log["pretrain"]["epochs_run"] == 2
    assert all(np.isfinite(c["loss"]) for c in log["pretrain"]["curve"])


def test_learning_rate_halves_after_each_plateau_and_stopping_waits_for_patience(small_prep, monkeypatch):
    scores = iter([0.1, 0.2, 0.2, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1])
    monkeypatch.setattr("engine.training.loop.validation_hr", lambda *a, **k: next(scores))
    tcfg = objective_config("nip", **{**FAST, "max_epochs": 12, "patience": 5, "lr": 1e-2,
                                      "lr_plateau": 2, "lr_factor": 0.5})
    _, log = fit(small_prep, tcfg, torch.device("cpu"), progress=False, **TINY_MODEL)
    lrs = [c["lr"] for c in log["pretrain"]["curve"]]
    # Epochs 3–4 fail to beat 0.2 → halved for epoch 5; 6–7 fail to beat 0.3 → halved for 8,
    # 8–9 → halved for 10; epoch 10 is the fifth failure in a row and ends the run.
    assert lrs == pytest.approx([1e-2] * 4 + [5e-3] * 3 + [2.5e-3] * 2 + [1.25e-3])
    assert log["pretrain"]["best_val_HR@10"] == 0.3
