"""S3-Rec benchmark format: real LastFM (with HetRec enrichment) and Beauty, and any small file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data.io import load_dataset
from engine.data.labels import popularity_tiers
from engine.data.s3rec import HELD_OUT, build_s3rec, prepare_s3rec
from engine.data.schema import (
    ITEM_ID,
    LISTENERS,
    NAME,
    PLAYS,
    POPULARITY,
    TAG,
    TIMESTAMP,
    UNKNOWN,
    USER_ID,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
LASTFM_TXT = SHARED / "s3rec-lastfm" / "LastFM.txt"
BEAUTY_TXT = SHARED / "s3rec-amazon" / "Beauty.txt"


def _sequences(ds) -> dict[int, list[int]]:
    return {int(u): g[ITEM_ID].tolist() for u, g in ds.interactions.groupby(USER_ID, sort=False)}


def _file_sequences(path: Path) -> dict[int, list[int]]:
    lines = [list(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]
    return {line[0]: line[1:] for line in lines}


@pytest.fixture(scope="module")
def lastfm(tmp_path_factory: pytest.TempPathFactory):
    if not LASTFM_TXT.is_file() or not (SHARED / "hetrec2011-lastfm-2k" / "raw").is_dir():
        pytest.skip("shared S3-Rec / HetRec data not present")
    out = prepare_s3rec(LASTFM_TXT, tmp_path_factory.mktemp("s3rec") / "lastfm")
    return load_dataset(out)


def test_lastfm_counts_and_order(lastfm) -> None:
    assert lastfm.interactions[USER_ID].nunique() == 1_090
    assert len(lastfm.items) == 3_646
    assert len(lastfm.interactions) == 52_551
    assert _sequences(lastfm) == _file_sequences(LASTFM_TXT)  # the benchmark order, untouched


def test_lastfm_enrichment(lastfm) -> None:
    items = lastfm.items
    assert lastfm.attributes == ("genre", "language", "era", "explicit", "popularity_tier")
    assert lastfm.time_resolution == 86400
    assert items["hetrec_artist_id"].is_unique
    assert items[NAME].str.startswith("(unnamed HetRec artist").sum() == 22
    assert lastfm.card["coverage"]["genre"]["interactions"] > 0.99
    assert 0.45 < lastfm.card["coverage"]["language"]["interactions"] < 0.6
    handled = {h["what"]: h["count"] for h in lastfm.card["handling"]}
    missing = handled["interactions with no tag row for (HetRec user, artist)"]
    assert 200 <= missing <= 260
    inter = lastfm.interactions
    same_user = inter[USER_ID].to_numpy()[1:] == inter[USER_ID].to_numpy()[:-1]
    assert (np.diff(inter[TIMESTAMP].to_numpy())[same_user] >= 0).all()
    assert (inter[TIMESTAMP] % 86400 == 0).all() and inter[TIMESTAMP].min() > 10**9


def test_lastfm_tiers_leave_out_held_out_items(lastfm) -> None:
    """HetRec's listener counts include every test listening: the tier must not come from them."""
    seqs = _file_sequences(LASTFM_TXT)
    counts = {}
    for items in seqs.values():
        for i in items[:-HELD_OUT]:
            counts[i] = counts.get(i, 0) + 1
    ids = lastfm.items[ITEM_ID]
    n = ids.map(counts).fillna(0)  # no repeats in this file: listeners = plays
    assert (lastfm.items[POPULARITY].to_numpy() == popularity_tiers(n, n)).all()


def test_lastfm_labels_leave_out_held_out_pairs(lastfm) -> None:
    """Tags of users' last two items (validation, test) label no artist: the labels are those of
    the release with those (user, artist) rows dropped by hand, and differ from all-rows labels."""
    from engine.data import hetrec
    from engine.data.s3rec import ITEM_MAP, USER_MAP

    derived = LASTFM_TXT.parent / "derived"
    item_map, user_map = ({int(a): int(b) for a, b in (line.split("\t")[:2] for line in
                                                      (derived / f).read_text().splitlines()[1:])}
                          for f in (ITEM_MAP, USER_MAP))
    held = {(user_map[u], item_map[i]) for u, items in _file_sequences(LASTFM_TXT).items()
            for i in items[-HELD_OUT:]}
    raw = hetrec.read_hetrec(SHARED / "hetrec2011-lastfm-2k" / "raw")
    tagged = raw.tagged
    in_held = np.array([(u, a) in held for u, a in zip(tagged["user_id"], tagged["artist_id"], strict=True)])
    ua = raw.user_artists
    by_hand = replace(raw, tagged=tagged[~in_held],
                      user_artists=ua[[(u, a) not in held for u, a in zip(ua["user_id"], ua["artist_id"], strict=True)]])
    items = lastfm.items.set_index("hetrec_artist_id")
    labels = ["genre", "language", "era"]
    clean = hetrec.label_artists(by_hand, None).loc[items.index, labels]
    everything = hetrec.label_artists(raw, None).loc[items.index, labels]
    assert (everything != clean).any(axis=1).sum() > 50  # 98 artists on this file
    assert (items[labels] == clean).all().all()


def test_tiers_never_count_validation_or_test_items(tmp_path: Path) -> None:
    """Item 9 is only ever a last or second-last item: counted in, it would be the head."""
    txt = tmp_path / "bench.txt"
    txt.write_text("".join(f"{u} {u % 3 + 1} 9\n" for u in range(1, 7)) + "7 1 2 3 9 4\n8 9 5\n")
    ds = build_s3rec(txt)
    row = ds.items.set_index(ITEM_ID).loc[9]
    assert (row[LISTENERS], row[PLAYS], row[POPULARITY]) == (0, 0, "tail")
    train = ds.items.set_index(ITEM_ID)[LISTENERS].to_dict()
    assert train == {1: 1, 2: 1, 3: 1, 4: 0, 5: 0, 9: 0}  # user 7 contributes 1, 2, 3; the rest nothing
    assert "validation and test" in ds.card[POPULARITY]


def test_beauty_counts() -> None:
    if not BEAUTY_TXT.is_file():
        pytest.skip("shared Amazon data not present")
    ds = build_s3rec(BEAUTY_TXT)
    assert (ds.interactions[USER_ID].nunique(), len(ds.items), len(ds.interactions)) == (22_363, 12_101, 198_502)
    assert ds.time_resolution == 0 and ds.attributes == ("category", "popularity_tier")
    assert 3 <= ds.items["category"].nunique() <= 50


def test_any_file_in_the_format(tmp_path: Path) -> None:
    txt = tmp_path / "my_logs.seq"
    txt.write_text("2 5 3 9\n1 3 4 5 3\n")  # users out of order, a repeated item
    attrs = tmp_path / "attrs.json"
    attrs.write_text(json.dumps({"3": [7, 8, 8], "4": [8, 7], "5": [1], "6": [7]}))
    ds = build_s3rec(txt, attributes=attrs)
    assert ds.name == "my_logs"
    assert _sequences(ds) == {1: [3, 4, 5, 3], 2: [5, 3, 9]}
    assert ds.interactions[TIMESTAMP].tolist() == [0, 1, 2, 3, 0, 1, 2]  # position index
    assert ds.time_resolution == 0
    category = dict(zip(ds.items[ITEM_ID], ds.items["category"], strict=True))
    # Item 3: 8 is most frequent. Item 4: a tie, won by 7 (in 3 items of the catalogue; 8 is in 2).
    assert category == {3: "8", 4: "7", 5: "1", 6: "7", 9: UNKNOWN}
    # every distinct attribute id of an item is one of its tags (repeats once), as a string
    tags = ds.item_tags.groupby(ITEM_ID)[TAG].apply(list).to_dict()
    assert tags == {3: ["7", "8"], 4: ["8", "7"], 5: ["1"], 6: ["7"]}
    out = prepare_s3rec(txt, tmp_path / "out", attributes=attrs)
    back = load_dataset(out)
    assert _sequences(back) == _sequences(ds)
    assert back.item_tags.equals(ds.item_tags)
    assert json.loads((out / "meta.json").read_text())["time_resolution"] == 0


def test_without_attributes_file(tmp_path: Path) -> None:
    txt = tmp_path / "plain.txt"
    txt.write_text("1 10 11\n2 11 12\n")
    ds = build_s3rec(txt)
    assert ds.attributes == ("popularity_tier",) and ds.item_tags is None
    assert sorted(ds.items[ITEM_ID]) == [10, 11, 12]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.integers(0, 10**6), st.lists(st.integers(0, 10**9), min_size=1, max_size=20),
                       min_size=1, max_size=8))
def test_sequences_round_trip(tmp_path: Path, sequences: dict[int, list[int]]) -> None:
    txt = tmp_path / "prop.txt"
    txt.write_text("".join(f"{u} {' '.join(map(str, s))}\n" for u, s in sequences.items()))
    ds = build_s3rec(txt)
    assert _sequences(ds) == dict(sorted(sequences.items()))
    assert ds.interactions[USER_ID].is_monotonic_increasing
