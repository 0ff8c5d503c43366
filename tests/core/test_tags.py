"""Multi-valued item attributes (``item_tags``): catalogue matrix, tag bag, training, checkpoint."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_MODEL, TOY_HOLDOUT, make_toy_dataset

from engine.core import checkpoint
from engine.core.catalogue import build_catalogue
from engine.core.config import objective_config
from engine.core.prepared import build_model, model_config, prepare
from engine.data.io import load_dataset, save_dataset
from engine.data.schema import GENRE, ITEM_ID, TAG
from engine.errors import CheckpointError, DataError, EngineError
from engine.training.loop import fit


def _tagged(ds):
    """Every toy item tagged with its genre and one of five noise tags; item 3 has none."""
    items = ds.items
    rows = [(int(i), f"g:{g}") for i, g in zip(items[ITEM_ID], items[GENRE], strict=True)]
    rows += [(int(i), f"n{n % 5}") for n, i in enumerate(items[ITEM_ID])]
    tags = pd.DataFrame(rows, columns=[ITEM_ID, TAG]).astype({ITEM_ID: "int64"})
    return replace(ds, item_tags=tags[tags[ITEM_ID] != 3].reset_index(drop=True))


@pytest.fixture(scope="module")
def tagged():
    return _tagged(make_toy_dataset(n_users=60))


def test_catalogue_matrix_holds_each_items_tags(tagged):
    cat = build_catalogue(tagged)
    assert cat.tag_values == tuple(sorted(tagged.item_tags[TAG].unique()))
    assert cat.item_tags.shape == (cat.n_items + 1, 2)
    assert cat.item_tags[0].tolist() == [0, 0]  # padding row
    assert cat.item_tags[cat.index_of[3]].tolist() == [0, 0]  # an item without tags
    for item_id, group in tagged.item_tags.groupby(ITEM_ID):
        row = cat.item_tags[cat.index_of[int(item_id)]]
        assert {cat.tag_values[t - 1] for t in row.tolist() if t} == set(group[TAG])
    untagged = build_catalogue(replace(tagged, item_tags=None))
    assert untagged.item_tags is None and untagged.tag_values == ()
    assert untagged.fingerprint != cat.fingerprint  # a checkpoint knows which tags it saw


def test_item_tags_survive_save_and_load(tagged, tmp_path):
    back = load_dataset(save_dataset(tagged, tmp_path / "ds"))
    pd.testing.assert_frame_equal(back.item_tags, tagged.item_tags)
    assert build_catalogue(back).fingerprint == build_catalogue(tagged).fingerprint
    again = load_dataset(save_dataset(replace(tagged, item_tags=None), tmp_path / "ds"))
    assert again.item_tags is None and not (tmp_path / "ds" / "item_tags.parquet").exists()


@pytest.mark.parametrize(
    ("rows", "problem"),
    [([(999, "x")], "not in the catalogue"), ([(3, "x"), (3, "x")], "duplicate"), ([(3, None)], "empty values")],
)
def test_bad_tag_tables_are_refused(tagged, rows, problem):
    from engine.data.validate import validate_dataset

    bad = pd.DataFrame(rows, columns=[ITEM_ID, TAG]).astype({ITEM_ID: "int64"})
    with pytest.raises(DataError, match=problem):
        validate_dataset(replace(tagged, item_tags=bad))


def test_the_bag_is_the_mean_of_an_items_tags_and_ignores_padding(tagged):
    prep = prepare(tagged, TOY_HOLDOUT, True)
    torch.manual_seed(0)
    model = build_model(model_config(prep, tags=True, **TINY_MODEL), prep.catalogue).eval()
    enc = model.items
    rows = enc.item_tags
    bag = enc.tags.weight[rows].sum(1) / (rows > 0).sum(1, keepdim=True).clamp(min=1)
    parts = [enc.id.weight, *[e(enc.item_attrs[:, n]) for n, e in enumerate(enc.attrs)], bag]
    expected = enc.proj(torch.cat(parts, dim=-1))[1:]
    torch.testing.assert_close(enc.all_items(), expected)
    # tags move only the items that carry them
    with torch.no_grad():
        before = enc.all_items().clone()
        enc.tags.weight[prep.catalogue.tag_values.index("n0") + 1] += 1.0
        moved = (enc.all_items() - before).abs().sum(1) > 0
    has_n0 = (rows[1:] == prep.catalogue.tag_values.index("n0") + 1).any(1)
    assert torch.equal(moved, has_n0)


def test_tags_are_refused_where_the_data_has_none():
    prep = prepare(make_toy_dataset(n_users=30), TOY_HOLDOUT, True)
    with pytest.raises(EngineError, match="no item tags"):
        model_config(prep, tags=True)
    cfg = replace(model_config(prep), tag_values=("a",))
    with pytest.raises(ValueError, match="no item_tags"):
        build_model(cfg, prep.catalogue)


def test_a_tagged_model_trains_and_round_trips_through_a_checkpoint(tagged, tmp_path):
    prep = prepare(tagged, TOY_HOLDOUT, True)
    tcfg = objective_config("nip", holdout=TOY_HOLDOUT, max_epochs=2, batch_size=32, negatives=-1)
    model, log = fit(prep, tcfg, torch.device("cpu"), progress=False, tags=True, **TINY_MODEL)
    assert model.cfg.tag_values == prep.catalogue.tag_values
    assert np.isfinite(log["pretrain"]["curve"][-1]["loss"])
    path = checkpoint.save(tmp_path / "tagged.pt", model, tcfg, prep.catalogue.fingerprint, tagged.name)
    ck = checkpoint.load(path, prep.catalogue.fingerprint)
    torch.testing.assert_close(ck.build().items.all_items(), model.items.all_items())
    # weights without their tag matrix do not fit the model their config describes
    ck.state_dict = {k: v for k, v in ck.state_dict.items() if k != "items.item_tags"}
    with pytest.raises(CheckpointError, match="do not fit"):
        ck.build()
