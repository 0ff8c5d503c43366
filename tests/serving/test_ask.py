"""Plain-English instructions and the whole-catalogue artist search (issue 33, parts 1 and 2).

Table-driven: each phrasing → the expected instruction atoms and note fragments. Most rows
run on a small hand-made catalogue; the real Last.fm rows skip when the data is absent.
"""

from __future__ import annotations

import pandas as pd
import pytest

from engine import Instruction, parse_instruction, search_artists
from engine.paths import REPO_ROOT
from engine.serving.artists import ArtistIndex, credits, normalise
from engine.serving.ask import describe_atoms

# name, genre, language, era, explicit, popularity tier, listeners
ROWS = [
    ("Eminem", "hip-hop", "en", "90s", "true", "head", 1000),
    ("Drake", "hip-hop", "en", "10s", "true", "head", 900),
    ("Nick Drake", "folk", "en", "70s", "false", "torso", 300),
    ("Drake Bell", "pop", "en", "00s", "false", "torso", 100),
    ("Beyoncé", "r&b/soul", "en", "00s", "false", "head", 950),
    ("Björk", "electronic", "en", "90s", "unknown", "head", 640),
    ("Madonna", "pop", "en", "80s", "false", "head", 800),
    ("Eminem feat. Rihanna", "hip-hop", "en", "00s", "true", "tail", 10),
    ("Simon & Garfunkel", "folk", "en", "60s", "false", "head", 500),
    ("The Beatles", "rock", "en", "60s", "false", "head", 990),
    ("Rammstein", "metal", "de", "90s", "true", "head", 600),
    ("Kraftwerk", "electronic", "de", "70s", "false", "head", 400),
    ("BoA", "pop", "ko", "00s", "false", "torso", 200),
    ("Utada Hikaru", "pop", "ja", "00s", "false", "torso", 150),
    ("Sigur Rós", "indie/alternative", "zxx", "00s", "false", "torso", 250),
    ("Édith Piaf", "world", "fr", "50s", "false", "torso", 120),
    ("Bob Marley", "reggae", "en", "70s", "false", "head", 700),
    ("Miles Davis", "jazz", "zxx", "50s", "false", "head", 650),
    ("Johnny Cash", "country", "en", "60s", "false", "head", 500),
    ("Shakira", "latin", "es", "00s", "false", "head", 550),
    ("Vienna Ensemble", "classical", "zxx", "40s", "false", "tail", 5),
    ("Ramones", "punk", "en", "70s", "false", "torso", 300),
    ("Daft Punk", "dance", "fr", "90s", "false", "head", 720),
    ("Hans Zimmer", "soundtrack", "zxx", "10s", "false", "torso", 260),
    ("Muddy Waters", "blues", "en", "50s", "false", "torso", 140),
    ("Mahalia Jackson", "christian/gospel", "en", "50s", "false", "tail", 30),
    ("Enya", "new age", "en", "80s", "false", "head", 510),
    ("Nirvana", "rock", "en", "90s", "true", "head", 980),
    ("Tiny Obscure Band", "indie/alternative", "en", "unknown", "unknown", "tail", 1),
    ("Les Rita Mitsouko", "rock", "fr", "80s", "false", "torso", 90),
    ("t.A.T.u.", "pop", "ru", "00s", "false", "torso", 180),
    ("Caetano Veloso", "latin", "pt", "60s", "false", "torso", 110),
    ("drake and lil wayne", "hip-hop", "en", "unknown", "unknown", "tail", 3),
    ("Earth, Wind & Fire", "r&b/soul", "en", "70s", "false", "head", 450),
    ("Metallica", "metal", "en", "80s", "true", "head", 870),
]
ITEMS = pd.DataFrame(ROWS, columns=["name", "genre", "language", "era", "explicit", "popularity_tier", "listeners"])
ITEMS.insert(0, "item_id", range(1, len(ROWS) + 1))
ID = dict(zip(ITEMS["name"], ITEMS["item_id"], strict=True))

# text → (expected fields, note fragments); unlisted fields must keep their defaults.
CASES = [
    # the example and genres with synonyms
    ("clean 2000s hip-hop, nothing by Eminem",
     dict(genres={"hip-hop"}, eras={"00s"}, explicit="exclude_known",
          blocked={"Eminem", "Eminem feat. Rihanna"}), ["blocked Eminem (#1) and 1 collaboration entry"]),
    ("hip hop", dict(genres={"hip-hop"}), []),
    ("Hip-Hop", dict(genres={"hip-hop"}), []),
    ("rap", dict(genres={"hip-hop"}), []),
    ("some rappers please", dict(genres={"hip-hop"}), []),
    ("R&B", dict(genres={"r&b/soul"}), []),
    ("r and b", dict(genres={"r&b/soul"}), []),
    ("R&B/soul", dict(genres={"r&b/soul"}), []),
    ("soul and funk", dict(genres={"r&b/soul"}), []),
    ("electronica", dict(genres={"electronic"}), []),
    ("EDM", dict(genres={"electronic"}), []),
    ("techno or house", dict(genres={"electronic"}), []),
    ("indie", dict(genres={"indie/alternative"}), []),
    ("alternative rock", dict(genres={"indie/alternative"}), []),
    ("heavy metal", dict(genres={"metal"}), []),
    ("jazz and blues", dict(genres={"jazz", "blues"}), []),
    ("gospel", dict(genres={"christian/gospel"}), []),
    ("new age", dict(genres={"new age"}), []),
    ("film scores", dict(genres={"soundtrack"}), []),
    ("reggaeton", dict(genres={"latin"}), []),
    ("disco", dict(genres={"dance"}), []),
    ("classical music", dict(genres={"classical"}), []),
    # ambiguity
    ("rock and roll", dict(genres={"rock"}), ["'rock and roll' read as one genre"]),
    ("rock 'n' roll", dict(genres={"rock"}), ["read as one genre"]),
    ("rock and pop", dict(genres={"rock", "pop"}), []),
    ("pop punk", dict(genres={"punk"}), ["'pop punk' read as punk"]),
    ("not Drake", dict(blocked={"Drake", "drake and lil wayne"}), ["blocked Drake (#2)"]),
    ("not Nick Drake", dict(blocked={"Nick Drake"}), ["blocked Nick Drake (#3)"]),
    ("no rap", dict(), ["'no rap': an instruction cannot exclude a genre"]),
    # languages: name, adjective, endonym, code, scenes
    ("German", dict(languages={"de"}), []),
    ("deutsch", dict(languages={"de"}), []),
    ("de", dict(languages={"de"}), []),
    ("songs in Japanese", dict(languages={"ja"}), []),
    ("in french", dict(languages={"fr"}), []),
    ("russian pop", dict(languages={"ru"}, genres={"pop"}), []),
    ("K-pop", dict(languages={"ko"}, genres={"pop"}), []),
    ("J-pop", dict(languages={"ja"}, genres={"pop"}), []),
    ("kpop", dict(languages={"ko"}, genres={"pop"}), []),
    ("español", dict(languages={"es"}), []),
    ("Portuguese or Spanish", dict(languages={"pt", "es"}), []),
    ("instrumental jazz", dict(languages={"zxx"}, genres={"jazz"}), []),
    ("no lyrics", dict(languages={"zxx"}), []),
    ("in Icelandic", dict(), ["no language 'is' in this catalogue"]),
    ("it", dict(), ["not understood (ignored): 'it'"]),  # a word here, not Italian
    ("in IT", dict(), ["no language 'it' in this catalogue"]),
    # eras in any spelling
    ("80s", dict(eras={"80s"}), []),
    ("80's", dict(eras={"80s"}), []),
    ("'80s pop", dict(eras={"80s"}, genres={"pop"}), []),
    ("1980s", dict(eras={"80s"}), []),
    ("eighties", dict(eras={"80s"}), []),
    ("from the 2000s", dict(eras={"00s"}), []),
    ("the noughties", dict(eras={"00s"}), []),
    ("90s or 2000s", dict(eras={"90s", "00s"}), []),
    ("from the 60s to the 80s", dict(eras={"60s", "70s", "80s"}), []),
    ("music from 1985", dict(eras={"80s"}), ["'1985' read as the 80s"]),
    ("late 70s", dict(eras={"70s"}), ["'late' ignored: eras are whole decades"]),
    ("2020s", dict(), ["no artists from the 2020s in this catalogue"]),
    ("not from the 90s", dict(), ["cannot exclude an era"]),
    # explicit policy
    ("clean", dict(explicit="exclude_known"), []),
    ("no explicit", dict(explicit="exclude_known"), []),
    ("nothing explicit", dict(explicit="exclude_known"), []),
    ("family-friendly", dict(explicit="exclude_known"), []),
    ("strictly clean", dict(explicit="exclude_unknown"), []),
    ("explicit is fine", dict(explicit="allow"), []),
    ("clean, actually explicit lyrics are okay", dict(explicit="allow"), ["overrides 'clean'", "not understood (ignored): 'actually'"]),
    ("explicit", dict(), ["cannot ask for explicit artists only"]),
    # popularity
    ("hits", dict(popularity={"head"}), []),
    ("popular", dict(popularity={"head"}), []),
    ("deep cuts", dict(popularity={"tail"}), []),
    ("hidden gems", dict(popularity={"tail"}), []),
    ("lesser-known", dict(popularity={"torso", "tail"}), []),
    ("not too popular", dict(popularity={"torso", "tail"}), ["read as popularity"]),
    ("no hits", dict(popularity={"torso", "tail"}), ["read as popularity"]),
    # history and blocks
    ("new to me", dict(exclude_heard=True), []),
    ("nothing I've heard before", dict(exclude_heard=True), []),
    ("without Björk", dict(blocked={"Björk"}), []),
    ("without bjork", dict(blocked={"Björk"}), []),
    ("except BEYONCE", dict(blocked={"Beyoncé"}), []),
    ("no Madona", dict(blocked={"Madonna"}), ["closest name, similarity"]),
    ("not metalica", dict(blocked={"Metallica"}), ["closest name"]),
    ("no Eminem or Drake", dict(blocked={"Eminem", "Eminem feat. Rihanna", "Drake", "drake and lil wayne"}), []),
    ("nothing by the beatles, earth wind & fire, Nirvana",
     dict(blocked={"The Beatles", "Earth, Wind & Fire", "Nirvana"}), []),
    ("not Simon and Garfunkel", dict(blocked={"Simon & Garfunkel"}), []),
    ("no Sigur Ros; instrumental", dict(blocked={"Sigur Rós"}, languages={"zxx"}), []),
    ("metal but not Rammstein", dict(genres={"metal"}, blocked={"Rammstein"}), []),
    ("no Zzyzx Qqq", dict(), ["no artist in the catalogue matches 'Zzyzx Qqq'"]),
    # combinations and leftovers
    ("chill vibes", dict(), ["not understood (ignored): 'chill', 'vibes'"]),
    ("something like Madonna", dict(), ["'Madonna' is an artist"]),
    ("German metal hits from the 90s, no Rammstein",
     dict(languages={"de"}, genres={"metal"}, popularity={"head"}, eras={"90s"}, blocked={"Rammstein"}), []),
    ("family friendly K-pop deep cuts from the 2000s, new to me",
     dict(explicit="exclude_known", languages={"ko"}, genres={"pop"}, popularity={"tail"}, eras={"00s"},
          exclude_heard=True), []),
    ("", dict(), []),
]


def _expected(fields: dict) -> Instruction:
    fields = dict(fields)
    blocked = {ID[n] for n in fields.pop("blocked", set())}
    return Instruction(**fields, blocked_items=frozenset(blocked))


def test_the_table_is_long_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize(("text", "fields", "fragments"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_phrasing(text, fields, fragments):
    ins, notes = parse_instruction(text, ITEMS)
    assert ins == _expected(fields), describe_atoms(ins, dict(zip(ITEMS["item_id"], ITEMS["name"], strict=True)))
    joined = "\n".join(notes)
    for fragment in fragments:
        assert fragment in joined, notes
    if not any("not understood" in f for f in fragments):
        assert "not understood" not in joined, notes


def test_values_come_from_the_catalogue_only():
    """A genre the catalogue lacks is reported, never produced."""
    small = ITEMS[ITEMS["genre"] != "jazz"]
    ins, notes = parse_instruction("jazz from the 50s", small)
    assert ins.genres == frozenset() and ins.eras == {"50s"}
    assert any("no genre 'jazz' in this catalogue" in n for n in notes)


def test_every_unknown_word_is_listed_once():
    _, notes = parse_instruction("moody moody rock for rainy afternoons", ITEMS)
    assert notes[-1] == "not understood (ignored): 'moody', 'rainy', 'afternoons'"


def test_describe_atoms_names_blocked_artists():
    ins, _ = parse_instruction("clean rap, no Drake", ITEMS)
    lines = describe_atoms(ins, dict(zip(ITEMS["item_id"], ITEMS["name"], strict=True)))
    assert lines == ["genre: hip-hop", "explicit: exclude_known", "blocked: Drake (#2), drake and lil wayne (#33)"]


# --------------------------------------------------------------------------- artist search

SEARCHES = [
    ("beyonce", "Beyoncé"), ("BJORK", "Björk"), ("Björk", "Björk"), ("madonna", "Madonna"), ("mado", "Madonna"),
    ("madona", "Madonna"), ("drake", "Drake"), ("nick dr", "Nick Drake"), ("beatles", "The Beatles"),
    ("simon and garfunkel", "Simon & Garfunkel"), ("sigur ros", "Sigur Rós"), ("edith piaf", "Édith Piaf"),
    ("metalica", "Metallica"), ("tatu", "t.A.T.u."), ("earth wind", "Earth, Wind & Fire"),
]


@pytest.mark.parametrize(("query", "first"), SEARCHES)
def test_search_finds_the_artist_first(query, first):
    hits = search_artists(query, ITEMS, limit=5)
    assert hits and hits[0][1] == first, hits
    assert hits[0][0] == ID[first]


def test_search_prefers_exact_then_popular_and_finds_later_words():
    hits = search_artists("drake", ITEMS, limit=10)
    names = [h[1] for h in hits]
    assert names[0] == "Drake" and "Nick Drake" in names and "Drake Bell" in names
    assert [h[2] for h in hits] == sorted((h[2] for h in hits), reverse=True)


def test_search_edge_cases():
    assert search_artists("", ITEMS) == []
    assert search_artists("   ", ITEMS) == []
    assert len(search_artists("a", ITEMS, limit=3)) <= 3
    index = ArtistIndex(ITEMS)
    assert search_artists("enya", index, limit=1) == [(ID["Enya"], "Enya", 100.0)]


def test_normalise_and_credits():
    assert normalise("Beyoncé & Jay-Z") == "beyonce and jay z"
    assert normalise("AC/DC") == "ac dc"
    assert credits("Eminem feat. Nate Dogg, Dr. Dre") == ["eminem", "nate dogg", "dr dre"]
    assert credits("Simon & Garfunkel") == ["simon", "garfunkel"]


# --------------------------------------------------------------------------- the real catalogue

LASTFM = REPO_ROOT / "sample_data" / "lastfm"


@pytest.fixture(scope="module")
def lastfm():
    from engine.data.paths import is_prepared

    if not is_prepared(LASTFM):
        pytest.skip("the prepared Last.fm data is absent")
    from engine import load_dataset

    return load_dataset(LASTFM).items


def _id(items, name):
    return int(items.loc[items["name"] == name, "item_id"].iloc[0])


def test_real_catalogue_example(lastfm):
    ins, notes = parse_instruction("clean 2000s hip-hop, nothing by Eminem", lastfm)
    assert ins.genres == {"hip-hop"} and ins.eras == {"00s"} and ins.explicit == "exclude_known"
    assert _id(lastfm, "Eminem") in ins.blocked_items
    assert not ins.languages and not ins.popularity and ins.exclude_heard  # the default
    assert notes and notes[0].startswith("blocked Eminem")


def test_real_catalogue_drake_is_not_nick_drake(lastfm):
    ins, _ = parse_instruction("not Drake", lastfm)
    assert _id(lastfm, "Drake") in ins.blocked_items and _id(lastfm, "Nick Drake") not in ins.blocked_items
    ins, _ = parse_instruction("no nick drake", lastfm)
    assert ins.blocked_items == {_id(lastfm, "Nick Drake")}


def test_real_catalogue_search(lastfm):
    assert search_artists("Madonna", lastfm)[0][1] == "Madonna"
    assert search_artists("beyonce", lastfm)[0][1] == "Beyoncé"
    assert search_artists("rolling stnes", lastfm)[0][1] == "The Rolling Stones"


def test_real_catalogue_vocabulary(lastfm):
    ins, _ = parse_instruction("K-pop hidden gems from the eighties, in German", lastfm)
    assert ins.languages == {"ko", "de"} and ins.genres == {"pop"} and ins.eras == {"80s"}
    assert ins.popularity == {"tail"}
