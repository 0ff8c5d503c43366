"""Engine invariants on the real S3-Rec Last.fm benchmark (slow tier; skipped without the data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_MODEL, shared_data_dir

from engine.core import checkpoint, masks
from engine.core.catalogue import windows
from engine.core.config import TrainConfig
from engine.core.instructions import Instruction
from engine.core.model import ClimberPilot
from engine.core.prepared import model_config, prepare
from engine.data.schema import GENRE, ITEM_ID, LANGUAGE
from engine.errors import EngineError
from engine.serving.recommender import Recommender
from engine.serving.retrieval import METHODS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lastfm():
    base = shared_data_dir()
    txt = base / "s3rec-lastfm" / "LastFM.txt" if base else None
    if txt is None or not txt.is_file():
        pytest.skip("shared data (s3rec-lastfm/LastFM.txt) not found beside the repository")
    from engine.data.s3rec import build_s3rec

    ds = build_s3rec(txt)
    return ds, prepare(ds, 1, ds.time_resolution > 0)


def test_tamip_readout_on_real_timestamps(lastfm):
    _, prep = lastfm
    seq, ts = windows(prep.train_seqs(), 50)
    valid = seq > 0
    assert (torch.diff(ts.masked_fill(~valid, ts.min()), dim=1) >= 0).all(), "ticks are sorted"
    vis = masks.target_visibility_mask(ts, valid, 0)
    p = masks.readout_positions(vis)
    t = seq.shape[1]
    idx = torch.arange(t)
    # visible set == causal prefix up to p; nothing from the target's own day is visible
    prefix = (idx[None, None, :] <= p[:, :, None]) & valid[:, None, :]
    assert torch.equal(vis, prefix & (p[:, :, None] >= 0))
    same_day = ts[:, :, None] == ts[:, None, :]
    assert not (vis & same_day).any()
    assert ((p >= 0) & valid).any(1).float().mean() > 0.5


def test_recommender_on_real_catalogue(lastfm, tmp_path):
    ds, prep = lastfm
    torch.manual_seed(0)
    cfg = model_config(prep, **{**TINY_MODEL, "max_len": 20})
    model = ClimberPilot(cfg, prep.catalogue.item_attrs).eval()
    path = checkpoint.save(tmp_path / "real.pt", model, TrainConfig(), prep.catalogue.fingerprint, ds.name)
    rec = Recommender.load(path, ds, device="cpu")
    items = rec.catalogue.items
    genres = items[GENRE].value_counts().index[:6].tolist()
    langs = items[LANGUAGE].value_counts().index[:3].tolist()
    rng = np.random.default_rng(0)
    users = list(rec.users())[:15]
    done = 0
    for uid in users:
        h = rec.user_history(uid)
        ins = Instruction(genres={str(rng.choice(genres))}, languages={str(rng.choice(langs))},
                          explicit=str(rng.choice(["allow", "exclude_known"])))
        try:
            cmp = rec.compare(h, ins, k=20)
        except EngineError:
            continue
        assert set(cmp.results) == set(METHODS)
        for m in ("prefilter", "cgsa_hard"):
            r = cmp.results[m]
            assert r.n_returned == min(20, cmp.eligible) and r.items["complies"].all()
        ex = rec.explain(h, ins)
        n = min(len(h), cfg.max_len)
        assert ex.causal.shape == (n, n) and ex.item_ids == list(h.item_ids[-n:])
        assert set(ex.item_ids) <= set(items[ITEM_ID])
        done += 1
    assert done >= 5
