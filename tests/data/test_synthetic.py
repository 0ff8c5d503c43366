"""Synthetic logs: determinism, consumption-lag requests, genre drift, the committed sample."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

from engine.data.io import load_dataset
from engine.data.paths import default_dataset_dir
from engine.data.schema import GENRE, ITEM_ID, TIMESTAMP, UNKNOWN, USER_ID
from engine.data.synthetic import SyntheticConfig, generate_synthetic, prepare_synthetic

SMALL = SyntheticConfig(seed=3, n_users=60, n_items=400)


@pytest.fixture(scope="module")
def small():
    return generate_synthetic(SMALL)


def test_deterministic_per_seed(small) -> None:
    again = generate_synthetic(SMALL)
    pd.testing.assert_frame_equal(small.interactions, again.interactions)
    pd.testing.assert_frame_equal(small.items, again.items)
    other = generate_synthetic(SyntheticConfig(seed=4, n_users=60, n_items=400))
    assert not other.interactions.equals(small.interactions)


def test_requests_of_three_or_four_share_a_timestamp(small) -> None:
    sizes = small.interactions.groupby([USER_ID, TIMESTAMP]).size()
    assert set(sizes) == {3, 4}
    lengths = small.interactions.groupby(USER_ID).size()
    assert lengths.between(SMALL.min_length, SMALL.max_length).all()
    assert small.card["same_timestamp_neighbours"]["share"] > 0.6
    assert not small.interactions.duplicated([USER_ID, ITEM_ID]).any()


def test_genre_drift_between_few_favourites(small) -> None:
    genre = small.interactions[ITEM_ID].map(small.items.set_index(ITEM_ID)[GENRE])
    per_user = genre.groupby(small.interactions[USER_ID])
    top3_share = per_user.apply(lambda g: g.value_counts().head(3).sum() / len(g))
    assert top3_share.mean() > 0.9
    assert (per_user.nunique() >= 2).mean() > 0.9  # users do switch genre


def test_every_attribute_known(small) -> None:
    for attr in small.attributes:
        assert (small.items[attr] != UNKNOWN).all()
    assert set(small.items["explicit"]) == {"true", "false"}
    assert set(small.items["popularity_tier"]) == {"head", "torso", "tail"}


def test_committed_sample_matches_its_config(tmp_path: Path) -> None:
    folder = default_dataset_dir("synthetic")
    ds = load_dataset(folder)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["synthetic"] is True and ds.synthetic
    assert sum(p.stat().st_size for p in folder.iterdir()) < 1_000_000
    names = {f.name for f in fields(SyntheticConfig)}
    config = SyntheticConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items() if k in names})
    regenerated = load_dataset(prepare_synthetic(tmp_path / "syn", config))
    pd.testing.assert_frame_equal(ds.interactions, regenerated.interactions)
    pd.testing.assert_frame_equal(ds.items, regenerated.items)
