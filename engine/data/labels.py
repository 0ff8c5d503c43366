"""Item labels from raw evidence: genre, language, era, popularity tier and explicit flag.

Last.fm gives free-form user tags, not labels. This module turns them into the coarse
categorical attributes the model embeds and instructions name (method §2, §4), with
our own ordered keyword rules, and keeps the evidence for every label. The rules aim at
labels a music expert accepts (checked against a hand-written fixture of well-known
artists, :mod:`engine.data.label_check`):

- genre: the musical genre. Each tag maps to one of ~20 coarse genres by the first
  matching rule in :data:`GENRE_RULES`; an artist's genre is the coarse genre with most
  tag assignments. Language-defined scenes map to their musical genre (J-pop, K-pop,
  C-pop, chanson, schlager → pop; J-rock, visual kei → rock, metal when metal tags
  outvote them); the language is carried separately. ``world`` is kept for tags that name
  world music itself ("world", "world music", "world fusion", afrobeat, fado, ...), not for
  any tag that contains the word ("best songs in the world").
- language: the language of the lyrics, not the artist's nationality. Tags vote in two
  tiers (:data:`LANGUAGE_RULES`):

  1. direct evidence: tags naming a language or a language-defined scene (``lyric``:
     "deutschrock", "chanson francaise", "j-pop", "mpb", "russian rock"), the
     "instrumental" tag (``instrumental`` → :data:`NO_LYRICS` ``zxx``, "no linguistic
     content"), English-speaking origin tags (``origin``: "british", "american") and
     nationality tags of countries whose acts on Last.fm mostly sing in the local language
     (``nation``: "brazilian", "japanese", "russian", "italian", "polish", "mexican", ...).
     A German/Swedish/Finnish/... nationality tag adds to its own language only next to a
     lyric tag of that language ("german" + "neue deutsche härte": Rammstein). The
     most-assigned language wins if it has ≥ ``min_language_votes`` votes,
     ≥ ``min_language_share`` of the tier's votes and a unique maximum.
  2. only when tier 1 decides nothing: nationality tags of countries whose acts known
     abroad mostly sing English (``export``: German, Swedish, Finnish, Norwegian, Danish,
     Dutch, Icelandic, and any nationality + "metal") vote for ``en`` (Scorpions, Blind
     Guardian, Roxette, a-ha, Björk), and instrumental styles (``style``: "post-rock",
     "idm", "composer", "film score") vote for ``zxx``, same thresholds. "french" alone
     votes for nothing: French acts known abroad sing French and English about equally
     (Daft Punk, Air, Phoenix vs Yelle, Alizée).

  Otherwise the Unicode script of the name is the fallback evidence.
- era: the decade the artist was active or broke through. Decade tags ("80s", "1990s",
  "'60s") and year tags ("1997", "2008") vote for a decade; decade tags that say the
  artist is *not* from that decade ("80s revival", "70s influenced", "retro", "style",
  :data:`ERA_NOISE`) are ignored. Most votes wins; a tie goes to the tied decade nearest
  the weighted median of all votes (the first decade, oldest first, whose cumulative votes
  reach half), then to the older one: one stray "70s" on a 1990s act no longer decides
  (Daft Punk: 70s, 90s, 2000s one vote each → 90s).
- popularity tier: by cumulative share of listeners (head / torso / tail).
- explicit: ``true`` when the evidence shows explicit recordings: a real Spotify
  explicit flag on at least one track matched by normalised artist name, or tags that
  name explicit content ("explicit", "gangsta rap", "horrorcore") on at least
  ``min_explicit_tag_votes`` assignments. ``false`` only when at least
  ``min_clean_tracks`` matched Spotify tracks are all clean (one or two clean tracks of a
  rapper say little: Kanye West 0/2, Ludacris 0/1 stay ``unknown``). Otherwise ``unknown``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.label_rules import (  # re-exported: the rules are part of this module's API
    DIRECT_LANGUAGE_KINDS,
    ERA_NOISE,
    EXPLICIT_TAGS,
    GENRE_RULES,
    GENRES,  # noqa: F401
    LANGUAGE_RULES,
    NO_LYRICS,  # noqa: F401
    SCRIPT_LANGUAGES,
    WEAK_LANGUAGE_KINDS,
)
from engine.data.schema import ITEM_ID, LISTENERS, PLAYS, UNKNOWN, USER_ID


@dataclass(frozen=True)
class LabelConfig:
    """Thresholds of the label rules."""

    min_language_votes: int = 2  # assignments the winning language needs ...
    min_language_share: float = 0.5  # ... and its share of the artist's language-tag assignments
    min_script_share: float = 0.5  # share of a name's letters in one non-Latin script
    head_share: float = 0.5  # head = most-listened items covering this share of listener relations
    torso_share: float = 0.8  # torso = the next ones up to this cumulative share; tail = the rest
    evidence_tags: int = 3  # tags quoted in a genre's evidence
    min_clean_tracks: int = 5  # explicit = false needs at least this many matched Spotify tracks, all clean
    min_explicit_tag_votes: int = 2  # explicit = true from tags needs this many explicit-content tag assignments
    first_year: int = 1920  # year tags ("1997") count for the era within [first_year, last_year]
    last_year: int = 2011


DEFAULT_LABELS = LabelConfig()


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
    """(language code, kind) one tag votes for, or (``unknown``, "") (see :data:`LANGUAGE_RULES`)."""
    text = " ".join(tag.lower().split())
    for code, kind, pattern in LANGUAGE_RULES:
        if re.search(pattern, text):
            return (code, kind) if code else (UNKNOWN, "")
    return UNKNOWN, ""


def tag_era(tag: str, config: LabelConfig = DEFAULT_LABELS) -> str:
    """The decade a tag names ("80s", "00s", or a year tag "1997" → "90s"), or ``unknown``.

    Tags naming two decades, and decade tags that point away from the artist's own time
    ("80s revival", "70s influenced", :data:`ERA_NOISE`) are ``unknown``.
    """
    text = tag.lower().strip()
    if re.fullmatch(r"(19|20)[0-9]{2}", text):
        year = int(text)
        if config.first_year <= year <= config.last_year:
            return f"{text[2]}0s"
        return UNKNOWN
    if re.search(ERA_NOISE, text):
        return UNKNOWN
    found = set()
    for match in _DECADE.finditer(text):
        value = match.group(0).replace("'", "")
        if len(value) == 5 and value[:4] not in _VALID_4DIGIT:
            continue
        found.add(f"{match.group(1)}0s")
    return found.pop() if len(found) == 1 else UNKNOWN


def decade_year(era: str) -> int:
    """First year of a decade label ("80s" → 1980, "00s" → 2000, "10s" → 2010)."""
    d = int(era[0])
    return 2000 + 10 * d if d <= 1 else 1900 + 10 * d


def tag_table(tags: pd.DataFrame) -> pd.DataFrame:
    """Per tag id: genre, language, language kind, era and explicit-content flag (tags: ``tag_id``, ``tag``)."""
    values = tags["tag"].astype(str)
    lang = [tag_language(t) for t in values]
    return pd.DataFrame({
        "tag_id": tags["tag_id"].to_numpy(),
        "tag": values.to_numpy(),
        "genre": [tag_genre(t) for t in values],
        "language": [code for code, _ in lang],
        "language_kind": [kind for _, kind in lang],
        "era": [tag_era(t) for t in values],
        "explicit_tag": [bool(re.search(EXPLICIT_TAGS, t.lower())) for t in values],
    })


def _votes(assign: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per (artist, value): number of assignments and the most used tags, best value first."""
    sub = assign[assign[column] != UNKNOWN]
    per_tag = sub.groupby(["artist_id", column, "tag"], sort=False).size().rename("n").reset_index()
    per_tag = per_tag.sort_values(["artist_id", column, "n", "tag"], ascending=[True, True, False, True])
    per_value = per_tag.groupby(["artist_id", column], sort=False).agg(
        n=("n", "sum"), tags=("tag", lambda s: list(s)), tag_n=("n", lambda s: list(s)))
    per_value = per_value.reset_index()
    # Best value first: most assignments; ties go to the older decade, else alphabetically
    # (the era's ties are re-decided by :func:`_era_choice`).
    per_value["tie"] = per_value[column].map(decade_year) if column == "era" else per_value[column]
    per_value = per_value.sort_values(["artist_id", "n", "tie"], ascending=[True, False, True])
    per_value["total"] = per_value.groupby("artist_id")["n"].transform("sum")
    return per_value


def _quote(tags: list[str], counts: list[int], k: int) -> str:
    return ", ".join(f"{t} ({c})" for t, c in zip(tags[:k], counts[:k], strict=False))


def _language_winner(lang: pd.DataFrame, config: LabelConfig) -> pd.DataFrame:
    """The best value per artist of :func:`_votes` output, if it passes the language thresholds."""
    top = lang.groupby("artist_id", sort=False).head(1).set_index("artist_id")
    second = lang.groupby("artist_id", sort=False).nth(1).set_index("artist_id")["n"]
    unique_max = top["n"] > second.reindex(top.index).fillna(0)
    ok = (top["n"] >= config.min_language_votes) & (top["n"] / top["total"] >= config.min_language_share) & unique_max
    return top[ok]


def _artist_languages(assign: pd.DataFrame, config: LabelConfig) -> pd.DataFrame:
    """Language and evidence per artist by the two tiers of the module docstring."""
    kind = assign["language_kind"] if "language_kind" in assign.columns else pd.Series("lyric", index=assign.index)
    kind = kind.to_numpy()
    direct = assign[np.isin(kind, DIRECT_LANGUAGE_KINDS)]
    weak = assign[np.isin(kind, WEAK_LANGUAGE_KINDS)]
    # A nationality corroborates its own language when the artist also has a lyric tag for it
    # ("german" + "deutschrock"); otherwise it is tier-2 evidence for English.
    lyric = direct[direct["language_kind"] == "lyric"] if "language_kind" in direct.columns else direct
    lyric_pairs = pd.MultiIndex.from_frame(lyric[["artist_id", "language"]].drop_duplicates())
    corroborates = pd.MultiIndex.from_frame(weak[["artist_id", "language"]]).isin(lyric_pairs)
    corroborates &= (weak["language_kind"] == "export").to_numpy()
    tier1 = pd.concat([direct, weak[corroborates]])
    tier2 = weak[~corroborates]
    tier2 = tier2.assign(language=np.where(tier2["language_kind"] == "export", "en", tier2["language"]))
    frames = []
    decided: pd.Index = pd.Index([])
    for votes, note in ((tier1, ""), (tier2, "; tier 2: nationality / style only")):
        votes = votes[~votes["artist_id"].isin(decided)]
        if votes.empty:
            continue
        top = _language_winner(_votes(votes, "language"), config)
        decided = decided.append(top.index)
        frames.append(pd.DataFrame({
            "language": top["language"],
            "language_evidence": [f"tag: {_quote(r.tags, r.tag_n, 3)} ({r.n} of {r.total} language votes{note})"
                                  for r in top.itertuples()],
        }))
    if not frames:
        return pd.DataFrame({"language": pd.Series(dtype=object), "language_evidence": pd.Series(dtype=object)})
    return pd.concat(frames)


def _era_choice(era: pd.DataFrame) -> pd.DataFrame:
    """Per artist: the decade with most votes; a tie goes to the tied decade nearest the
    weighted median (the first decade, oldest first, whose cumulative votes reach half),
    then to the older one."""
    era = era.assign(year=era["era"].map(decade_year)).sort_values(["artist_id", "year"])
    cum = era.groupby("artist_id", sort=False)["n"].cumsum()
    median = era[cum >= era["total"] / 2].groupby("artist_id", sort=False)["year"].first()
    era["dist"] = (era["year"] - era["artist_id"].map(median)).abs()
    era["top"] = era.groupby("artist_id", sort=False)["n"].transform("max")
    chosen = era[era["n"] == era["top"]].sort_values(["artist_id", "dist", "year"], ascending=[True, True, True])
    chosen = chosen.groupby("artist_id", sort=False).head(1).set_index("artist_id")
    spread = {a: ", ".join(f"{e} ({n})" for e, n in zip(g["era"], g["n"], strict=True))
              for a, g in era.groupby("artist_id", sort=False)}
    return chosen.assign(spread=[spread[a] for a in chosen.index])


def artist_tag_labels(assign: pd.DataFrame, config: LabelConfig = DEFAULT_LABELS) -> pd.DataFrame:
    """Genre, language (tags only), era and explicit-content tag votes per artist, with evidence.

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
    out.append(_artist_languages(assign, config))
    era = _votes(assign, "era")
    top = _era_choice(era) if not era.empty else era.assign(spread="").set_index("artist_id")
    out.append(pd.DataFrame({
        "era": top["era"],
        "era_evidence": [f"tag: {_quote(r.tags, r.tag_n, 3)} ({r.n} of {r.total} decade votes: {r.spread})"
                         for r in top.itertuples()],
    }, index=top.index))
    if "explicit_tag" in assign.columns:
        ex = assign[assign["explicit_tag"].astype(bool)]
        per_tag = ex.groupby(["artist_id", "tag"]).size().rename("n").reset_index()
        per_tag = per_tag.sort_values(["artist_id", "n", "tag"], ascending=[True, False, True])
        per_artist = per_tag.groupby("artist_id").agg(n=("n", "sum"), tags=("tag", list), tag_n=("n", list))
        per_artist = per_artist[per_artist["n"] >= config.min_explicit_tag_votes]
        out.append(pd.DataFrame({
            "explicit_tag_votes": per_artist["n"],
            "explicit_tag_evidence": [f"tags: {_quote(r.tags, r.tag_n, 3)}" for r in per_artist.itertuples()],
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


def listener_counts(item_ids: pd.Series, interactions: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per item of ``item_ids``: distinct users (``listeners``) and interactions (``plays``), 0 if none."""
    per_item = interactions.groupby(ITEM_ID).agg(listeners=(USER_ID, "nunique"), plays=(USER_ID, "size"))
    return {column: item_ids.map(per_item[column]).fillna(0).astype("int64").to_numpy()
            for column in (LISTENERS, PLAYS)}


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


def explicit_labels(
    names: pd.Series,
    per_key: pd.DataFrame | None,
    tag_evidence: pd.Series | None = None,
    config: LabelConfig = DEFAULT_LABELS,
) -> tuple[np.ndarray, np.ndarray]:
    """("true"/"false"/"unknown", evidence) per name.

    ``per_key``: :func:`spotify_explicit` counts; ``tag_evidence`` (aligned with ``names``):
    the explicit-content tag evidence of :func:`artist_tag_labels` or missing. ``true`` if a
    matched track is explicit or the tags name explicit content; ``false`` only if at least
    ``config.min_clean_tracks`` tracks matched and all are clean; else ``unknown``.
    """
    label = np.full(len(names), UNKNOWN, dtype=object)
    evidence = np.full(len(names), UNKNOWN, dtype=object)
    if per_key is not None:
        keys = names.astype(str).map(normalise_name)
        joined = per_key.reindex(keys.to_numpy())
        matched = joined["sp_tracks"].notna().to_numpy() & (keys != "").to_numpy()
        n = joined["sp_tracks"].fillna(0).to_numpy(dtype=int)
        e = joined["sp_explicit"].fillna(0).to_numpy(dtype=int)
        is_true = matched & (e > 0)
        is_false = matched & (e == 0) & (n >= config.min_clean_tracks)
        label[is_true] = "true"
        label[is_false] = "false"
        evidence[matched] = [f"spotify: {a}/{b} tracks explicit" for a, b in zip(e[matched], n[matched], strict=True)]
        few = matched & ~is_true & ~is_false
        evidence[few] = [f"spotify: {a}/{b} tracks explicit (fewer than {config.min_clean_tracks} clean tracks: unknown)"
                         for a, b in zip(e[few], n[few], strict=True)]
    if tag_evidence is not None:
        tags = tag_evidence.to_numpy(dtype=object)
        has = np.array([isinstance(t, str) for t in tags], dtype=bool)
        label[has] = "true"
        evidence[has] = [f"{t}" if ev == UNKNOWN else f"{ev}; {t}" for ev, t in zip(evidence[has], tags[has], strict=True)]
    return label, evidence
