"""Behaviour of the network (method §2–4): CGSA isolation, TAMIP read-out, numerics."""

from __future__ import annotations

import pytest
import torch

from engine.core import masks
from engine.core.config import ModelConfig
from engine.core.model import Backbone, ClimberPilot

N_ITEMS = 20
ATTRS = ("genre", "language")
VALUES = (("jazz", "pop", "rock"), ("de", "en"))


def _model(seed: int = 0, time_unit: int = 1, conditioning: str = "cgsa") -> ClimberPilot:
    torch.manual_seed(seed)
    cfg = ModelConfig(
        n_items=N_ITEMS, attributes=ATTRS, attr_values=VALUES, cond_attributes=ATTRS,
        d_model=16, n_heads=2, n_layers=2, n_branches=2, d_attr=4, ffn_mult=2,
        dropout=0.1, max_len=10, time_unit=time_unit, conditioning=conditioning,
    )
    g = torch.Generator().manual_seed(seed)
    attrs = torch.zeros(N_ITEMS + 1, 2, dtype=torch.long)
    attrs[1:, 0] = torch.randint(1, 4, (N_ITEMS,), generator=g)
    attrs[1:, 1] = torch.randint(1, 3, (N_ITEMS,), generator=g)
    model = ClimberPilot(cfg, attrs).eval()
    with torch.no_grad():  # non-zero relative biases so the test exercises them
        for block in [*model.layers, *model.branches]:
            block.bias.pos.weight.normal_(0, 0.5)
            block.bias.time.weight.normal_(0, 0.5)
    return model


def _hand_backbone(b=2, t=8, d=16, seed=0) -> Backbone:
    g = torch.Generator().manual_seed(seed)
    valid = torch.ones(b, t, dtype=torch.bool)
    valid[1, :3] = False
    ts = torch.cumsum(torch.randint(0, 3, (b, t), generator=g), dim=1) * valid
    return Backbone(
        hidden=torch.randn(b, t, d, generator=g),
        valid=valid,
        timestamps=ts,
        hist_attrs=torch.zeros(b, t, 2, dtype=torch.long),
        mask=masks.causal_mask(valid),
        weights=[],
    )


@torch.no_grad()
def test_branch_ignores_blocked_history_and_uses_allowed():
    model = _model()
    bb = _hand_backbone()
    b, t, _ = bb.hidden.shape
    q_pos = torch.full((b, 1), t - 1)
    predicate = torch.zeros(b, 1, t, dtype=torch.bool)
    predicate[:, 0, [3, 5]] = True  # only items 3 and 5 may be attended
    cond = torch.tensor([[[model.cond_token("genre", "rock")]]]).expand(b, 1, 1)
    base, mask, _ = model.branch(0, bb, q_pos, predicate, cond)
    assert mask[0, 0].tolist() == [True] + [j in (3, 5) for j in range(t)]

    def perturbed(j):
        h = bb.hidden.clone()
        h[:, j] += 10.0 * torch.randn(h.shape[-1])
        return model.branch(0, Backbone(h, *[getattr(bb, f) for f in ("valid", "timestamps", "hist_attrs", "mask", "weights")]),
                            q_pos, predicate, cond)[0]

    for blocked in (0, 2, 4, 6):  # 7 is the query itself (its own hidden state is the query)
        assert torch.allclose(perturbed(blocked), base, atol=1e-6), blocked
    for allowed in (3, 5):
        assert (perturbed(allowed) - base).abs().max() > 1e-3, allowed


@torch.no_grad()
def test_branch_ignores_items_after_query_position():
    model = _model()
    bb = _hand_backbone()
    q_pos = torch.tensor([[4], [5]])
    base = model.branch(1, bb, q_pos)[0]
    h = bb.hidden.clone()
    h[:, 6:] = torch.randn_like(h[:, 6:]) * 5
    bb2 = Backbone(h, bb.valid, bb.timestamps, bb.hist_attrs, bb.mask, [])
    assert torch.allclose(model.branch(1, bb2, q_pos)[0], base, atol=1e-6)


def _left_pad(seq, ts, t):
    n = seq.shape[-1]
    s = torch.zeros(1, t, dtype=torch.long)
    x = torch.zeros(1, t, dtype=torch.long)
    s[0, t - n :] = seq
    x[0, t - n :] = ts
    return s, x


@torch.no_grad()
@pytest.mark.parametrize("delta_tau", [None, 0, 1])
def test_tamip_readout_equals_model_on_truncated_history(delta_tau):
    """Output read at p(t) == output at the last position of history[:p(t)+1] (method §3)."""
    model = _model(seed=1)
    t = 10
    seq = torch.tensor([[0, 0, 3, 7, 7, 11, 2, 5, 19, 4]])
    ts = torch.tensor([[0, 0, 10, 10, 11, 13, 13, 13, 14, 16]])
    bb = model.backbone(seq, ts)
    vis = masks.target_visibility_mask(ts, bb.valid, delta_tau)
    readout = masks.readout_positions(vis)
    rows = torch.arange(t)[None]
    checked = 0
    for k in range(model.cfg.n_branches):
        full, _, _ = model.branch(k, bb, rows)
        for target in range(t):
            p = int(readout[0, target])
            if p < 0:
                continue
            hist = seq[0, 2 : p + 1]  # real items up to and including p
            s2, t2 = _left_pad(hist, ts[0, 2 : p + 1], t)
            bb2 = model.backbone(s2, t2)
            short, _, _ = model.branch(k, bb2, torch.tensor([[t - 1]]))
            assert torch.allclose(full[0, p], short[0, 0], atol=1e-5), (k, target, p)
            # ... and items after p (the hidden lag window and beyond) cannot move it
            s3 = seq.clone()
            s3[0, p + 1 :] = torch.tensor([1] * (t - p - 1))
            t3 = ts.clone()
            t3[0, p + 1 :] = ts[0, p + 1 :] + 5
            again, _, _ = model.branch(k, model.backbone(s3, t3), torch.tensor([[p]]))
            assert torch.allclose(full[0, p], again[0, 0], atol=1e-5)
            checked += 1
    assert checked > 0
    if delta_tau is not None:  # the lag window really hides the same-day items
        assert int(readout[0, 7]) <= 4


@torch.no_grad()
def test_no_nan_when_nothing_matches_or_all_padding():
    model = _model()
    seq = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]])
    ts = torch.tensor([[0] * 10, [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]])
    bb = model.backbone(seq, ts)
    assert torch.isfinite(bb.hidden).all()
    q_pos = torch.full((2, 1), 9)
    nothing = torch.zeros(2, 1, 10, dtype=torch.bool)
    cond = torch.tensor([[[model.cond_token("genre", "jazz")]]]).expand(2, 1, 1)
    u, mask, w = model.branch(0, bb, q_pos, nothing, cond)
    assert mask[..., 1:].sum() == 0 and mask[..., 0].all()  # only the condition token
    assert torch.isfinite(u).all() and torch.isfinite(w).all()
    assert torch.allclose(w[..., 0], torch.ones_like(w[..., 0]))  # all weight on the token
    # unconditioned all-padding history too
    u0, _, w0 = model.branch(0, bb, q_pos)
    assert torch.isfinite(u0).all() and torch.isfinite(w0).all()
    assert torch.isfinite(model.score_all(u)).all()


@torch.no_grad()
def test_attention_weights_are_distributions_zero_where_masked():
    model = _model()
    seq = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    ts = torch.arange(10).expand(2, 10) * (seq > 0)
    bb = model.backbone(seq, ts)
    for w in bb.weights:
        assert torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5)
        assert (w.masked_select(~bb.mask[:, None].expand_as(w)) == 0).all()
    predicate = torch.rand(2, 3, 10, generator=torch.Generator().manual_seed(0)) < 0.5
    cond = torch.tensor([[1, 4, 0], [2, 0, 0], [0, 0, 0]]).expand(2, 3, 3)
    u, mask, w = model.branch(0, bb, torch.tensor([[9, 5, 7], [9, 9, 2]]), predicate, cond)
    assert w.shape == (2, model.cfg.n_heads, 3, 3 + 10)
    assert torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5)
    assert (w.masked_select(~mask[:, None].expand_as(w)) == 0).all()
    # padded condition slots (token 0 beyond slot 0) are not attended
    assert not mask[:, 0, 2].any() and not mask[:, 1, 1].any() and mask[:, 2, 0].all()


@torch.no_grad()
def test_eval_mode_is_deterministic_and_train_mode_uses_dropout():
    model = _model()
    seq = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8, 9, 10]])
    ts = torch.arange(10)[None]
    a = model.branch(0, model.backbone(seq, ts), torch.tensor([[9]]))[0]
    b = model.branch(0, model.backbone(seq, ts), torch.tensor([[9]]))[0]
    assert torch.equal(a, b)
    model.train()
    c = model.branch(0, model.backbone(seq, ts), torch.tensor([[9]]))[0]
    assert not torch.allclose(a, c)  # the check above is not vacuous
    model.eval()


@torch.no_grad()
def test_branches_are_unshared_and_condition_tokens_change_the_query(tiny_model):
    b0 = dict(tiny_model.branches[0].named_parameters())
    b1 = dict(tiny_model.branches[1].named_parameters())
    assert all(p.data_ptr() != b1[n].data_ptr() for n, p in b0.items())
    seq = torch.tensor([[0] * 10 + [1, 2, 3, 4, 5, 6]])
    ts = torch.tensor([[0] * 10 + [1, 1, 1, 2, 2, 2]])
    bb = tiny_model.backbone(seq, ts)
    q = torch.tensor([[15]])
    rock = torch.tensor([[[tiny_model.cond_token("genre", "rock")]]])
    jazz = torch.tensor([[[tiny_model.cond_token("genre", "jazz")]]])
    all_ok = torch.ones(1, 1, 16, dtype=torch.bool)
    u_r = tiny_model.branch(0, bb, q, all_ok, rock)[0]
    u_j = tiny_model.branch(0, bb, q, all_ok, jazz)[0]
    assert not torch.allclose(u_r, u_j)


def test_cond_token_indices_are_distinct_and_unknown_attribute_raises():
    model = _model()
    ids = [model.cond_token(a, v) for a, vals in zip(ATTRS, VALUES, strict=True) for v in vals]
    assert ids == list(range(1, 1 + len(ids)))
    assert model.cond.num_embeddings == 1 + len(ids)
    with pytest.raises(KeyError):
        model.cond_token("era", "80s")


def test_condition_vocabulary_round_trips_every_token():
    from engine.core.conditions import NO_CONDITION, CondVocab

    model = _model()
    vocab = CondVocab.of(model.cfg)
    assert len(vocab) == model.cond.num_embeddings
    pairs = [(a, v) for a, vals in zip(vocab.attributes, vocab.values, strict=True) for v in vals]
    assert [vocab.decode(vocab.token(a, v)) for a, v in pairs] == pairs
    assert [model.cond_token(a, v) for a, v in pairs] == [vocab.token(a, v) for a, v in pairs]
    assert vocab.decode(NO_CONDITION) is None and vocab.decode(len(vocab)) is None
    assert vocab.offset(vocab.attributes[-1]) == len(vocab) - len(vocab.values[-1])


# --------------------------------------------------------------------------- Table-4 variants


def _variant_like(model: ClimberPilot, conditioning: str) -> ClimberPilot:
    """A variant carrying ``model``'s weights (its new modules at their zero init)."""
    return model.with_conditioning(conditioning).eval()


def _conditioned_inputs(model, bb):
    b, t, _ = bb.hidden.shape
    q_pos = torch.full((b, 1), t - 1)
    predicate = torch.zeros(b, 1, t, dtype=torch.bool)
    predicate[:, 0, [3, 5]] = True
    cond = torch.tensor([[[model.cond_token("genre", "rock"), model.cond_token("language", "en")]]])
    return q_pos, predicate, cond.expand(b, 1, 2)


@torch.no_grad()
@pytest.mark.parametrize("conditioning", ["adaln", "pinrec"])
def test_embedding_variants_start_as_the_pretrained_unconditioned_branch(conditioning):
    """Zero-initialised modulation/head: fine-tuning starts exactly from the pre-trained query."""
    base = _model()
    bb = _hand_backbone()
    q_pos, predicate, cond = _conditioned_inputs(base, bb)
    plain, plain_mask, _ = base.branch(0, bb, q_pos)
    variant = _variant_like(base, conditioning)
    got, mask, _ = variant.branch(0, bb, q_pos, predicate, cond)
    torch.testing.assert_close(got, plain)
    assert torch.equal(mask, plain_mask)  # no sparse mask, no condition keys


@torch.no_grad()
def test_token_variant_sees_condition_tokens_but_the_whole_history():
    base = _model()
    bb = _hand_backbone()
    q_pos, predicate, cond = _conditioned_inputs(base, bb)
    token = _variant_like(base, "token")
    _, cgsa_mask, _ = base.branch(0, bb, q_pos, predicate, cond)
    _, mask, _ = token.branch(0, bb, q_pos, predicate, cond)
    m = cond.shape[-1]
    assert torch.equal(mask[..., :m], cgsa_mask[..., :m])  # the same condition tokens
    assert torch.equal(mask[..., m:], bb.valid[:, None, :])  # every real item, predicate ignored
    assert not torch.equal(mask, cgsa_mask)


@pytest.mark.parametrize("conditioning", ["token", "adaln", "pinrec"])
def test_every_variant_learns_to_use_the_condition(conditioning):
    """A few SFT steps move the conditioned query away from the unconditioned one (no NaN)."""
    from engine.core.config import TrainConfig
    from engine.training.losses import sft_loss

    model = _variant_like(_model(), conditioning).train()
    g = torch.Generator().manual_seed(1)
    seq = torch.randint(1, N_ITEMS + 1, (8, 10), generator=g)
    ts = torch.cumsum(torch.randint(0, 2, (8, 10), generator=g), dim=1)
    tcfg = TrainConfig(objective="tamip", delta_tau=0, sft_uncond_share=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        loss = sft_loss(model, seq, ts, tcfg, g, torch.ones(N_ITEMS))
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    bb = model.backbone(seq[:2], ts[:2])
    q_pos, predicate, cond = _conditioned_inputs(model, bb)
    with torch.no_grad():
        plain, _, _ = model.branch(0, bb, q_pos)
        conditioned, _, _ = model.branch(0, bb, q_pos, predicate, cond)
    assert torch.isfinite(conditioned).all()
    assert (plain - conditioned).abs().max() > 1e-4
