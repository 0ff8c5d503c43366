"""Labels a music expert accepts: rules on tiny synthetic tag tables, and the real catalogue
against the hand-checked fixture (skipped when the shared HetRec data is absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engine.data import labels as L
from engine.data.label_check import FIXTURE, expert_agreement, read_fixture
from engine.data.schema import UNKNOWN

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "hetrec2011-lastfm-2k" / "raw"
AGREEMENT_FLOOR = 0.95


def _labels(tagging: dict[int, dict[str, int]], config: L.LabelConfig = L.DEFAULT_LABELS) -> pd.DataFrame:
    """artist_tag_labels on {artist_id: {tag: count}}."""
    names = sorted({t for tags in tagging.values() for t in tags})
    table = L.tag_table(pd.DataFrame({"tag_id": range(len(names)), "tag": names}))
    ids = {t: i for i, t in enumerate(names)}
    rows = [(a, ids[t]) for a, tags in tagging.items() for t, n in tags.items() for _ in range(n)]
    assign = pd.DataFrame(rows, columns=["artist_id", "tag_id"]).merge(table, on="tag_id", how="left")
    return L.artist_tag_labels(assign, config).reindex(sorted(tagging))


# ---------------------------------------------------------------- rules (no real data needed)

def test_genre_scenes_map_to_their_musical_genre() -> None:
    cases = {"j-pop": "pop", "jpop": "pop", "k-pop": "pop", "c-pop": "pop", "mandopop": "pop",
             "chanson francaise": "pop", "schlager": "pop", "j-rock": "rock", "jrock": "rock",
             "visual kei": "rock", "world": "world", "world music": "world", "afrobeat": "world",
             "best songs in the world": UNKNOWN, "sexiest man in the world": UNKNOWN, "bollywood": "soundtrack"}
    assert {t: L.tag_genre(t) for t in cases} == cases
    got = _labels({1: {"j-rock": 4, "visual kei": 2, "japanese": 3, "metal": 1},
                   2: {"j-rock": 3, "visual kei": 2, "metal": 4, "heavy metal": 2, "death metal": 1},
                   3: {"j-pop": 6, "japanese": 6, "anime": 1}})
    assert list(got["genre"]) == ["rock", "metal", "pop"]
    assert list(got["language"]) == ["ja", "ja", "ja"]


def test_language_is_the_lyrics_not_the_nationality() -> None:
    got = _labels({
        1: {"hard rock": 5, "german": 2},  # Scorpions-like: nationality only → English
        2: {"industrial metal": 5, "german": 10, "neue deutsche harte": 1},  # Rammstein-like
        3: {"electronic": 9, "french": 8, "french house": 1},  # Daft Punk-like: nothing
        4: {"pop": 5, "french": 4, "chanson francaise": 2},  # chanson → fr
        5: {"rock": 3, "swedish": 3},
        6: {"melodic death metal": 3, "brazilian": 1, "brazilian metal": 2},
        7: {"mpb": 4, "brazilian": 3},
        8: {"pop": 2, "swedish version": 3, "spanish version": 3},  # versions say nothing
    })
    assert list(got["language"].fillna(UNKNOWN)) == ["en", "de", UNKNOWN, "fr", "en", "en", "pt", UNKNOWN]
    assert "tier 2" in got.loc[1, "language_evidence"]


def test_instrumental_acts_have_no_lyrics() -> None:
    got = _labels({
        1: {"post-rock": 10, "instrumental": 6},
        2: {"post-rock": 8, "canadian": 2, "instrumental": 2},  # tier 1 tie → tier 2 style decides
        3: {"classical": 5, "composer": 3, "baroque": 2},
        4: {"idm": 3, "icelandic": 12},  # sings English: nationality outvotes one style tag
        5: {"british": 6, "post-rock": 2},  # tier 1 decides: English
    })
    assert list(got["language"].fillna(UNKNOWN)) == [L.NO_LYRICS, L.NO_LYRICS, L.NO_LYRICS, "en", "en"]
    assert L.tag_language("instrumental hip-hop") == (L.NO_LYRICS, "instrumental")


def test_era_is_not_the_first_or_oldest_stray_decade() -> None:
    got = _labels({
        1: {"70s": 1, "90s": 1, "2000s": 1},  # Daft Punk-like tie → nearest the median
        2: {"80s": 8, "70s": 4, "90s": 1, "00s": 1},  # most votes wins
        3: {"00s": 1, "2008": 2, "2007": 1},  # year tags vote
        4: {"60s": 1, "60s revival": 5, "70s influenced": 3, "90s": 2},  # influence tags ignored
        5: {"80s": 1, "90s": 1},  # exact two-way tie → older (as before)
    })
    assert list(got["era"]) == ["90s", "80s", "00s", "90s", "80s"]
    assert L.tag_era("1008") == UNKNOWN and L.tag_era("1897") == UNKNOWN and L.tag_era("retro 80s") == UNKNOWN


def test_explicit_needs_evidence_either_way() -> None:
    tracks = pd.DataFrame({
        "track_id": [f"t{i}" for i in range(12)],
        "artists": ["Rapper"] * 2 + ["Band"] * 6 + ["Edgy"] * 3 + ["Gangsta"],
        "explicit": [False] * 2 + [False] * 6 + [False, False, True] + [False],
    })
    per_key = L.spotify_explicit(tracks)
    names = pd.Series(["Rapper", "Band", "Edgy", "Gangsta", "Nobody"])
    tag_ev = pd.Series([None, None, None, "tags: gangsta rap (3)", None])
    label, evidence = L.explicit_labels(names, per_key, tag_ev)
    assert list(label) == [UNKNOWN, "false", "true", "true", UNKNOWN]
    assert "fewer than 5" in evidence[0] and evidence[4] == UNKNOWN
    got = _labels({1: {"gangsta rap": 3, "hip-hop": 4}, 2: {"gangsta rap": 1, "hip-hop": 4}})
    assert got.loc[1, "explicit_tag_votes"] == 3 and pd.isna(got.loc[2, "explicit_tag_votes"])


def test_fixture_is_well_formed_and_agreement_counts() -> None:
    fixture = read_fixture(FIXTURE)
    assert len(fixture) >= 100 and fixture["name"].is_unique
    genres = set(L.GENRES)
    for cell in fixture["genre"]:
        assert set(cell.split("|")) <= genres, cell
    for cell in fixture["explicit"]:
        assert cell in ("true", "false", UNKNOWN)
    for cell in fixture["language"]:
        assert all(len(c) == 2 or c == L.NO_LYRICS for c in cell.split("|")), cell
    items = pd.DataFrame({"name": ["A", "B", "C"], "genre": ["rock", "pop", UNKNOWN],
                          "language": ["en", "de", "en"], "explicit": ["true", UNKNOWN, "false"]})
    expert = pd.DataFrame({"name": ["A", "B", "C", "D"], "genre": ["rock|metal", "rock", "pop", "pop"],
                           "language": ["en", "en", "en", "en"], "explicit": ["true", "false", UNKNOWN, "true"]})
    got = expert_agreement(items, expert)
    assert got["found_in_items"] == 3 and got["missing_from_items"] == ["D"]
    assert (got["genre"]["ours_known"], got["genre"]["ours_unknown"], got["genre"]["agreement"]) == (2, 1, 0.5)
    assert got["language"]["agreement"] == round(2 / 3, 4)
    assert (got["explicit"]["expert_known"], got["explicit"]["ours_known"], got["explicit"]["agreement"]) == (2, 1, 1.0)


# ---------------------------------------------------------------- the real catalogue

@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    if not RAW.is_dir():
        pytest.skip("shared HetRec data not present")
    from engine.data.lastfm import build_lastfm

    ds = build_lastfm(RAW)
    return ds.items.assign(_card=[ds.card] * len(ds.items))


def _row(items: pd.DataFrame, name: str) -> pd.Series:
    return items.set_index("name").loc[name]


def test_named_cases(items: pd.DataFrame) -> None:
    for rapper in ("Kanye West", "Ludacris"):
        assert _row(items, rapper)["explicit"] != "false", rapper
    for name in ("宇多田ヒカル", "浜崎あゆみ", "X JAPAN", "DIR EN GREY"):  # Utada Hikaru, Ayumi Hamasaki
        row = _row(items, name)
        assert row["genre"] in ("pop", "rock", "metal") and row["language"] == "ja", name
    assert _row(items, "宇多田ヒカル")["genre"] == "pop" and _row(items, "浜崎あゆみ")["genre"] == "pop"
    daft = _row(items, "Daft Punk")
    assert daft["language"] in ("en", L.NO_LYRICS, UNKNOWN) and daft["era"] in ("90s", "00s")
    assert _row(items, "Scorpions")["language"] == "en"
    assert _row(items, "Rammstein")["language"] == "de"
    assert _row(items, "Mogwai")["language"] == _row(items, "Explosions in the Sky")["language"] == L.NO_LYRICS
    assert (items["genre"] == "world").sum() < 150  # 267 before the rules were fixed


def test_agreement_with_the_expert_fixture(items: pd.DataFrame) -> None:
    card = items["_card"].iloc[0]
    got = card["agreement_with_expert_labels"]
    assert got == expert_agreement(items.drop(columns="_card"))
    assert got["found_in_items"] == got["fixture_artists"] >= 100
    for attr in ("genre", "language", "explicit"):
        assert got[attr]["agreement"] >= AGREEMENT_FLOOR, (attr, got[attr]["disagreements"])
    assert got["genre"]["ours_known"] >= 180 and got["language"]["ours_known"] >= 130
