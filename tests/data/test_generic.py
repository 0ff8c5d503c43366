"""Bring-your-own-logs loader: CSV and parquet round trips, ids, timestamps, attributes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.data.generic import build_generic, prepare_generic
from engine.data.io import load_dataset
from engine.data.schema import ITEM_ID, NAME, TIMESTAMP, USER_ID


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_round_trip_with_iso_times_and_string_ids(tmp_path: Path) -> None:
    inter = _write(tmp_path / "plays.csv", (
        "user_id,item_id,timestamp,device\n"
        "bob,b,2024-05-01T10:00:00Z,phone\n"
        "alice,c,2024-05-01T09:00:00+00:00,web\n"
        "alice,a,2024-05-01T09:00:00Z,web\n"     # same time as the row above: file order kept
        "alice,b,2024-04-30T23:00:00,web\n"     # naive → UTC; earliest
    ))
    items = _write(tmp_path / "items.csv", (
        "item_id,name,genre,explicit,bpm\n"
        "a,Song A,pop,true,120\n"
        "b,\"Song B, live\",rock,no,\n"
        "c,Song C,,false,90\n"
    ))
    out = prepare_generic(inter, items, tmp_path / "out")
    ds = load_dataset(out)
    assert ds.name == "plays"
    assert ds.attributes == ("genre", "explicit", "popularity_tier")
    items_by_src = ds.items.set_index("source_item_id")
    assert items_by_src.loc["b", NAME] == "Song B, live"
    assert items_by_src.loc["c", "genre"] == "unknown"
    assert list(items_by_src["explicit"]) == ["true", "false", "false"]
    assert "bpm" in ds.items.columns and "bpm" not in ds.attributes
    users = pd.read_parquet(out / "user_ids.parquet").set_index("user_id")["source_user_id"]
    seq = [(users[u], items_by_src.index[i]) for u, i in zip(ds.interactions[USER_ID], ds.interactions[ITEM_ID], strict=True)]
    assert seq == [("bob", "b"), ("alice", "b"), ("alice", "c"), ("alice", "a")]
    assert ds.interactions[TIMESTAMP].iloc[0] == int(pd.Timestamp("2024-05-01T10:00:00Z").timestamp())
    assert ds.time_resolution == 1
    assert ds.card["notes"] and "device" in ds.card["notes"][0]


def test_parquet_with_integer_ids_and_day_times(tmp_path: Path) -> None:
    day = 86400
    pd.DataFrame({"user_id": [7, 7, 3], "item_id": [10, 11, 10], "timestamp": [20 * day, 19 * day, 5 * day]}
                 ).to_parquet(tmp_path / "i.parquet")
    pd.DataFrame({"item_id": [10, 11, 12], "name": ["x", "y", "z"], "language": ["en", "de", None],
                  "popularity_tier": ["head", "tail", "tail"]}).to_parquet(tmp_path / "c.parquet")
    ds = build_generic(tmp_path / "i.parquet", tmp_path / "c.parquet", name="mine")
    assert ds.name == "mine" and ds.time_resolution == day
    assert ds.interactions[USER_ID].tolist() == [3, 7, 7]
    assert ds.interactions[ITEM_ID].tolist() == [10, 11, 10]
    assert ds.items[ITEM_ID].tolist() == [10, 11, 12] and "source_item_id" not in ds.items.columns
    assert ds.items["language"].tolist() == ["en", "de", "unknown"]
    assert ds.attributes == ("language", "popularity_tier")
    assert ds.items["popularity_tier"].tolist() == ["head", "tail", "tail"]  # given, not recomputed


def test_explicit_attribute_choice(tmp_path: Path) -> None:
    inter = _write(tmp_path / "i.tsv", "user_id\titem_id\ttimestamp\n1\t1\t100\n1\t2\t200\n")
    items = _write(tmp_path / "c.tsv", "item_id\tname\tyear\tmood\n1\tA\t1999\thappy\n2\tB\t2005\tsad\n")
    ds = build_generic(inter, items, attributes=["year"])
    assert ds.attributes == ("year", "popularity_tier")
    assert ds.items["year"].tolist() == ["1999", "2005"]
