"""Item labels from raw evidence: genre, language, era, popularity tier and explicit flag.

Last.fm gives free-form user tags, not labels. This module turns them into the coarse
categorical attributes the model embeds and instructions name (method §2, §4), with
our own ordered keyword rules, and keeps the evidence for every label:

- genre: each tag maps to one of ~20 coarse genres by the first matching rule in
  :data:`GENRE_RULES`; an artist's genre is the coarse genre with most tag assignments.
- language: tags naming a language, a language-defined scene or a nationality map to an
  ISO 639-1 code (:data:`LANGUAGE_RULES`); the most-assigned language wins if it has
  enough votes; otherwise the Unicode script of the name is the fallback evidence.
- era: decade tags ("80s", "1990s", "'60s") vote for a decade.
- popularity tier: by cumulative share of listeners (head / torso / tail).
- explicit: real Spotify flags joined on normalised artist names; most artists stay
  ``unknown``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.schema import UNKNOWN


@dataclass(frozen=True)
class LabelConfig:
    """Thresholds of the label rules."""

    min_language_votes: int = 2  # assignments the winning language needs ...
    min_language_share: float = 0.5  # ... and its share of the artist's language-tag assignments
    min_script_share: float = 0.5  # share of a name's letters in one non-Latin script
    head_share: float = 0.5  # head = most-listened items covering this share of listener relations
    torso_share: float = 0.8  # torso = the next ones up to this cumulative share; tail = the rest
    evidence_tags: int = 3  # tags quoted in a genre's evidence


DEFAULT_LABELS = LabelConfig()


# Ordered rules: a tag gets the genre of the FIRST rule whose pattern it contains.
GENRE_RULES: tuple[tuple[str, str], ...] = (
    ("metal", r"metal|grindcore|deathcore|djent|sludge|\bdoom\b"),
    ("punk", r"punk|hardcore|screamo|\bemo\b"),
    ("hip-hop", r"hip[- ]?hop|\brap(s|per|pers|core)?\b|deutschrap|grime|gangsta|dirty south"),
    ("r&b/soul", r"\br ?(and|&|n|'n') ?b\b|\brnb\b|\bsoul\b|funk|motown"),
    ("electronic", r"electro|ambient|industrial|trip[- ]?hop|synth|techno|trance|\bhouse\b|\bidm\b|\bebm\b|"
                   r"downtempo|chill ?out|dubstep|drum ?(and|n|&|'n') ?bass|\bdnb\b|breakbeat|darkwave|minimal"),
    ("dance", r"dance(?!hall)|disco(?!ver|nnect)|\bclub\b"),
    ("jazz", r"jazz|lounge|swing|bebop|big band"),
    ("classical", r"classical|composer|baroque|opera|orchestr|symphon"),
    ("blues", r"blues"),
    ("country", r"country|americana|bluegrass|honky ?tonk"),
    ("folk", r"folk|singer[- ]?songwriter|acoustic|celtic"),
    ("reggae", r"reggae|\bska\b|\bdub\b|dancehall"),
    ("latin", r"latin|\bmpb\b|bossa|samba|flamenco|sertanejo|\baxe\b|salsa|tango|forro|pagode|cumbia|bachata"),
    ("world", r"\bworld\b|\bj-?pop|\bj-?rock|visual kei|\bk-?pop|\bc-?pop|mandopop|cantopop|chanson|schlager|"
              r"afrobeat|bollywood|\bfado\b"),
    ("soundtrack", r"soundtrack|\bost\b|\banime\b|video ?games?|\bgames?\b|score\b"),
    ("pop", r"pop(?!ul)|\bteen|girl groups?"),
    ("indie/alternative", r"indie|alternative|experimental|new wave|post[- ]?rock|grunge|shoegaz|avant|lo-?fi|noise"),
    ("rock", r"rock|psychedelic|progressive|\bprog\b|garage|\bsurf\b"),
    ("new age", r"new age|relax|meditation"),
    ("christian/gospel", r"christian|gospel|worship"),
)
GENRES = tuple(g for g, _ in GENRE_RULES)

# Language rules: (ISO 639-1 code, kind, pattern). ``origin``: English-speaking nationality
# tags, which only count when they are the whole tag ("british", not "british punk").
LANGUAGE_RULES: tuple[tuple[str, str, str], ...] = (
    ("zxx", "instrumental", r"^instrumentals?\b"),
    ("ja", "lyric", r"\bjapan(ese)?\b|\bj-?(pop|rock|metal|ska|rap|hip-?hop)\b|visual kei|\banime\b"),
    ("ko", "lyric", r"\bkorean?\b|\bk-?(pop|rock|rap|hip ?hop|indie)\b|\bkindie\b"),
    ("zh", "lyric", r"\bchinese\b|\bcantonese\b|\bmandarin\b|\bc-?pop\b|mandopop|cantopop|taiwanese"),
    ("de", "lyric", r"\bgerman\b|\bdeutsch|\bndw\b|\bndh\b|neue deutsche h|\baustrian\b|schlager"),
    ("pt", "lyric", r"\bbrazil(ian)?\b|\bbrasil(eira|eiro)?\b|\bmpb\b|bossa ?nova|\bsamba\b|\baxe\b|sertanejo|"
                    r"\bforro\b|\bpagode\b|portuguese|\bfado\b"),
    ("es", "lyric", r"\bspanish\b|espa[nñ]ol|\bmexican[oa]?\b|\blatin (pop|rock)\b|flamenco|reggaeton|"
                    r"\bargentin[ao]?\b|\bsalsa\b|\btango\b|\bcumbia\b"),
    ("fr", "lyric", r"\bfrench\b|\bfran[cç]ais|\bchanson|\bquebec"),
    ("it", "lyric", r"\bitalian[oa]?\b|cantautor"),
    ("ru", "lyric", r"\brussian\b"),
    ("sv", "lyric", r"\bswedish\b|\bsvensk"),
    ("fi", "lyric", r"\bfinnish\b|\bsuomi"),
    ("no", "lyric", r"\bnorwegian\b|\bnorsk\b"),
    ("pl", "lyric", r"\bpolish\b|\bpolsk"),
    ("tr", "lyric", r"\bturkish\b|\bt[uü]rk[cç]e\b"),
    ("el", "lyric", r"\bgreek\b"),
    ("he", "lyric", r"\bisraeli\b|\bhebrew\b"),
    ("hi", "lyric", r"\bhindi\b|bollywood"),
    ("ar", "lyric", r"\barabic\b"),
    ("nl", "lyric", r"\bdutch\b|\bnederland"),
    ("en", "origin", r"^(british|american|uk|usa|us|english|canadian|australian|scottish|irish|welsh|"
                     r"new zealand|brit ?pop)$"),
)

# Unicode scripts that point to a language when a name is written in them.
SCRIPT_LANGUAGES = {
    "HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "CYRILLIC": "ru", "GREEK": "el",
    "ARABIC": "ar", "HEBREW": "he", "THAI": "th", "DEVANAGARI": "hi",
}

_DECADE = re.compile(r"(?<![0-9])(?:'|19|20)?([0-9])0'?s\b")
_VALID_4DIGIT = {f"19{d}0" for d in range(2, 10)} | {"2000", "2010"}


def tag_genre(tag: str) -> str:
    """Coarse genre of one tag (first matching rule), or ``unknown``."""
    text = tag.lower()
    for genre, pattern in GENRE_RULES:
        if re.search(pattern, text):
            return genre
    return UNKNOWN


def tag_language(tag: str) -> tuple[str, str]:
    """(ISO 639-1 code, kind) of one tag, or (``unknown``, "")."""
    text = " ".join(tag.lower().split())
    for code, kind, pattern in LANGUAGE_RULES:
        if re.search(pattern, text):
            return code, kind
    return UNKNOWN, ""


def tag_era(tag: str) -> str:
    """The decade a tag names ("80s", "00s"), or ``unknown`` (also for tags naming two)."""
    found = set()
    for match in _DECADE.finditer(tag.lower()):
        text = match.group(0).replace("'", "")
        if len(text) == 5 and text[:4] not in _VALID_4DIGIT:
            continue
        found.add(f"{match.group(1)}0s")
    return found.pop() if len(found) == 1 else UNKNOWN


def decade_year(era: str) -> int:
    """First year of a decade label ("80s" → 1980, "00s" → 2000, "10s" → 2010)."""
    d = int(era[0])
    return 2000 + 10 * d if d <= 1 else 1900 + 10 * d


def tag_table(tags: pd.DataFrame) -> pd.DataFrame:
    """Per tag id: genre, language, language kind and era (tags: ``tag_id``, ``tag``)."""
    values = tags["tag"].astype(str)
    lang = [tag_language(t) for t in values]
    return pd.DataFrame({
        "tag_id": tags["tag_id"].to_numpy(),
        "tag": values.to_numpy(),
        "genre": [tag_genre(t) for t in values],
        "language": [code for code, _ in lang],
        "language_kind": [kind for _, kind in lang],
        "era": [tag_era(t) for t in values],
    })


def _votes(assign: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per (artist, value): number of assignments and the most used tags, best value first."""
    sub = assign[assign[column] != UNKNOWN]
    per_tag = sub.groupby(["artist_id", column, "tag"], sort=False).size().rename("n").reset_index()
    per_tag = per_tag.sort_values(["artist_id", column, "n", "tag"], ascending=[True, True, False, True])
    per_value = per_tag.groupby(["artist_id", column], sort=False).agg(
        n=("n", "sum"), tags=("tag", lambda s: list(s)), tag_n=("n", lambda s: list(s)))
    per_value = per_value.reset_index()
    # Best value first: most assignments; ties go to the older decade, else alphabetically.
    per_value["tie"] = per_value[column].map(decade_year) if column == "era" else per_value[column]
    per_value = per_value.sort_values(["artist_id", "n", "tie"], ascending=[True, False, True])
    per_value["total"] = per_value.groupby("artist_id")["n"].transform("sum")
    return per_value


def _quote(tags: list[str], counts: list[int], k: int) -> str:
    return ", ".join(f"{t} ({c})" for t, c in zip(tags[:k], counts[:k], strict=False))


def artist_tag_labels(assign: pd.DataFrame, config: LabelConfig = LabelConfig()) -> pd.DataFrame:
    """Genre, language (tags only) and era per artist, with evidence.

    ``assign``: one row per tag assignment with ``artist_id`` and the tag columns of
    :func:`tag_table`. Returns one row per artist id that has at least one label.
    """
    out = []
    g = _votes(assign, "genre")
    top = g.groupby("artist_id", sort=False).head(1).set_index("artist_id")
    genre = pd.DataFrame({
        "genre": top["genre"],
        "genre_evidence": [
            f"{r.genre}: {r.n} of {r.total} genre votes; tags: {_quote(r.tags, r.tag_n, config.evidence_tags)}"
            for r in top.itertuples()
        ],
    })
    out.append(genre)
    lang = _votes(assign, "language")
    top = lang.groupby("artist_id", sort=False).head(1).set_index("artist_id")
    second = lang.groupby("artist_id", sort=False).nth(1).set_index("artist_id")["n"]
    unique_max = top["n"] > second.reindex(top.index).fillna(0)
    ok = (top["n"] >= config.min_language_votes) & (top["n"] / top["total"] >= config.min_language_share) & unique_max
    top = top[ok]
    out.append(pd.DataFrame({
        "language": top["language"],
        "language_evidence": [f"tag: {_quote(r.tags, r.tag_n, 3)} ({r.n} of {r.total} language votes)"
                              for r in top.itertuples()],
    }))
    era = _votes(assign, "era")
    top = era.groupby("artist_id", sort=False).head(1).set_index("artist_id")
    out.append(pd.DataFrame({
        "era": top["era"],
        "era_evidence": [f"tag: {_quote(r.tags, r.tag_n, 3)} ({r.n} of {r.total} decade votes)"
                         for r in top.itertuples()],
    }))
    labels = pd.concat(out, axis=1)
    labels.index.name = "artist_id"
    return labels


def name_script(name: str, config: LabelConfig = LabelConfig()) -> str:
    """Language suggested by the script a name is written in ("ko", "ja", "ru", ...), "han" or ``unknown``."""
    scripts: dict[str, int] = {}
    letters = 0
    for ch in name:
        if not ch.isalpha():
            continue
        letters += 1
        uname = unicodedata.name(ch, "")
        script = next((s for s in (*SCRIPT_LANGUAGES, "CJK") if uname.startswith(s)), "")
        if script:
            scripts[script] = scripts.get(script, 0) + 1
    if not scripts or sum(scripts.values()) < config.min_script_share * letters:
        return UNKNOWN
    if "HANGUL" in scripts:
        return "ko"
    if "HIRAGANA" in scripts or "KATAKANA" in scripts:
        return "ja"
    best = max(scripts, key=scripts.get)
    return "han" if best == "CJK" else SCRIPT_LANGUAGES[best]  # Han alone: Chinese or Japanese


def popularity_tiers(listeners: pd.Series, plays: pd.Series, config: LabelConfig = LabelConfig()) -> np.ndarray:
    """head / torso / tail by cumulative share of listener relations (most listened first).

    Items are ranked by listeners, then plays; an item is ``head`` while the share
    covered by the items ranked before it is below ``head_share``, ``torso`` below
    ``torso_share``, else ``tail`` (items nobody listened to are always tail).
    """
    lis = listeners.to_numpy(dtype=float)
    order = np.lexsort((-plays.to_numpy(dtype=float), -lis))
    before = np.concatenate([[0.0], np.cumsum(lis[order])[:-1]]) / max(lis.sum(), 1.0)
    tier_sorted = np.where(before < config.head_share, "head", np.where(before < config.torso_share, "torso", "tail"))
    tier_sorted[lis[order] == 0] = "tail"
    tiers = np.empty(len(lis), dtype=object)
    tiers[order] = tier_sorted
    return tiers


def normalise_name(name: str) -> str:
    """Join key for artist names: NFKD→ASCII, lower, &→and, no leading "the", alphanumerics only."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    text = text.replace("&", " and ").strip()
    text = re.sub(r"^the\s+", "", text)
    return re.sub(r"[^a-z0-9]", "", text)


def spotify_explicit(tracks: pd.DataFrame) -> pd.DataFrame:
    """Per normalised artist name: distinct tracks and explicit tracks (``artists`` is ';'-separated)."""
    tracks = tracks.drop_duplicates("track_id")
    rows = tracks[["track_id", "artists", "explicit"]].assign(artist=tracks["artists"].astype(str).str.split(";"))
    rows = rows.explode("artist")
    rows["key"] = rows["artist"].map(normalise_name)
    rows = rows[rows["key"] != ""].drop_duplicates(["key", "track_id"])
    return rows.groupby("key").agg(sp_tracks=("track_id", "size"), sp_explicit=("explicit", "sum"))


def explicit_labels(names: pd.Series, per_key: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """("true"/"false"/"unknown", evidence) per name from :func:`spotify_explicit` counts."""
    label = np.full(len(names), UNKNOWN, dtype=object)
    evidence = np.full(len(names), UNKNOWN, dtype=object)
    if per_key is None:
        return label, evidence
    keys = names.astype(str).map(normalise_name)
    joined = per_key.reindex(keys.to_numpy())
    matched = joined["sp_tracks"].notna().to_numpy() & (keys != "").to_numpy()
    n = joined["sp_tracks"].fillna(0).to_numpy(dtype=int)
    e = joined["sp_explicit"].fillna(0).to_numpy(dtype=int)
    label[matched] = np.where(e[matched] > 0, "true", "false")
    evidence[matched] = [f"spotify: {a}/{b} tracks explicit" for a, b in zip(e[matched], n[matched], strict=True)]
    return label, evidence
