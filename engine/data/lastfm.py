"""The real-data set: HetRec 2011 Last.fm-2k as a tagging timeline with labelled artists.

Last.fm-2k has no per-play timestamps; the only time-ordered signal is when a user
first tagged each artist (day resolution). ``prepare_lastfm`` turns the release into
a prepared folder (``sample_data/lastfm``, git-ignored): items = the 17,632 artists of
``artists.dat`` with genre / language / era / explicit / popularity labels and their
evidence, interactions = each user's tag timeline, top items = each user's top-50
artists by plays, plus a data card with measured numbers and the agreement of our
labels with the reference labels in ``shared/data/.../derived`` (measured, never copied).
Labels and popularity are counted without the (user, artist) pairs the evaluation holds
out, so no input or instruction of a test carries its own answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data import hetrec
from engine.data.card import base_card
from engine.data.io import read_meta, save_dataset
from engine.data.label_check import FIXTURE, expert_agreement
from engine.data.labels import DEFAULT_LABELS, GENRE_RULES, NO_LYRICS, LabelConfig
from engine.data.paths import HETREC_DIR, default_dataset_dir, find_shared
from engine.data.schema import (
    ERA,
    EXPLICIT,
    GENRE,
    ITEM_ID,
    LANGUAGE,
    PLAYS,
    POPULARITY,
    RANK,
    TIMESTAMP,
    UNKNOWN,
    USER_ID,
    Dataset,
)
from engine.data.split import DEFAULT_DAY_BOUNDARY, DEFAULT_HOLDOUT, held_out_pairs
from engine.data.validate import read_table, stable_order
from engine.errors import DataError

ATTRIBUTES = (GENRE, LANGUAGE, ERA, EXPLICIT, POPULARITY)
# The split the shipped models are evaluated on; labels and popularity leave its test pairs out.
# Counted in, 8.2 % of the held-out artists had a genre only from their own test user's future
# tags, and 13 % had another genre than their training-time evidence gives them.
LABEL_HOLDOUT, LABEL_DAY_BOUNDARY = DEFAULT_HOLDOUT, DEFAULT_DAY_BOUNDARY
TIME_RESOLUTION = 86400
TOP_K = 50
NAME_ = "lastfm"


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop_duplicates(["user_id", "artist_id"])


def tag_timeline(raw: hetrec.HetrecRaw, known_artists: np.ndarray) -> tuple[pd.DataFrame, list[dict]]:
    """Each user's first tag of each artist, time-ordered (ties in file order), and what was handled.

    Rows with an implausible year are ignored for dates; rows naming artists missing from
    ``known_artists`` are dropped. Both are counted in the returned ``handled`` list.
    """
    tagged = raw.tagged
    bogus = ~tagged["valid_date"].to_numpy()
    unknown = ~tagged["artist_id"].isin(known_artists).to_numpy()
    valid = tagged[~bogus & ~unknown]
    ordered = valid.iloc[stable_order(valid, ["user_id", "timestamp"])]
    first = ordered.drop_duplicates(["user_id", "artist_id"], keep="first")
    bogus_pairs = _pairs(tagged[bogus & ~unknown])
    redated = bogus_pairs.merge(first[["user_id", "artist_id"]], on=["user_id", "artist_id"]).shape[0]
    years = sorted(int(y) for y in pd.to_datetime(tagged.loc[bogus, "timestamp"], unit="s").dt.year.unique())
    orphans = sorted(set(tagged["user_id"]) - set(first["user_id"]))
    handled = [
        {
            "what": f"tag rows with an implausible year (years {years}; Last.fm started in 2002)",
            "count": int(bogus.sum()),
            "action": f"ignored for dates; {redated} (user, artist) pairs keep a later valid tag date, "
                      f"{len(bogus_pairs) - redated} pairs with no valid date are dropped",
        },
        {
            "what": f"tag rows naming artist ids absent from artists.dat ({tagged.loc[unknown, 'artist_id'].nunique()} ids)",
            "count": int(unknown.sum()),
            "action": f"dropped from the timeline ({len(_pairs(tagged[unknown]))} (user, artist) pairs): the catalogue "
                      "is artists.dat; their tags still label S3-Rec items that map to them",
        },
        {
            "what": "users whose only tag rows name absent artists or have implausible dates",
            "count": len(orphans),
            "action": f"no timeline (user ids {orphans[:10]}); they stay in top_items",
        },
    ]
    inter = pd.DataFrame({
        USER_ID: first["user_id"].to_numpy(),
        ITEM_ID: first["artist_id"].to_numpy(),
        TIMESTAMP: first["timestamp"].to_numpy(),
    })
    return inter, handled


def top_items(raw: hetrec.HetrecRaw, k: int = TOP_K) -> pd.DataFrame:
    """Each user's top-``k`` artists by plays (ties in file order), rank 1 = most played."""
    ua = raw.user_artists
    ordered = ua.iloc[np.lexsort((np.arange(len(ua)), -ua["plays"].to_numpy(), ua["user_id"].to_numpy()))]
    rank = ordered.groupby("user_id", sort=False).cumcount().to_numpy() + 1
    out = pd.DataFrame({USER_ID: ordered["user_id"].to_numpy(), ITEM_ID: ordered["artist_id"].to_numpy(),
                        PLAYS: ordered["plays"].to_numpy(), RANK: rank})
    return out[out[RANK] <= k].reset_index(drop=True)


def default_reference() -> Path | None:
    """The research helper's reference labels (``derived/artist_attributes.tsv``), if present."""
    return find_shared(f"{HETREC_DIR}/derived/artist_attributes.tsv")


def reference_agreement(items: pd.DataFrame, reference: str | Path) -> dict:
    """Agreement of our labels with the reference labels, over artists both label."""
    path = Path(reference)
    if not path.is_file():
        raise DataError(f"{path}: no such file", "pass --reference PATH to artist_attributes.tsv, or omit it")
    ref = read_table(path.read_bytes(), str(path), required=["artistID", "genre", "language", "era"], strict=False)
    ref = ref.assign(artistID=pd.to_numeric(ref["artistID"])).set_index("artistID").reindex(items[ITEM_ID].to_numpy())
    ours = items.set_index(ITEM_ID)
    ref_era = ref["era"].fillna("").map(lambda e: e[2:] if len(e) == 5 else e)  # "1980s" → "80s"
    from_tags = ours["language_evidence"].str.startswith("tag:")

    def agree(a: pd.Series, b: pd.Series, mask: pd.Series | None = None) -> dict:
        a, b = a.fillna(UNKNOWN).replace("", UNKNOWN), b.fillna(UNKNOWN).replace("", UNKNOWN)
        both = (a != UNKNOWN) & (b != UNKNOWN) & (mask if mask is not None else True)
        return {"ours": int((a != UNKNOWN).sum()), "reference": int((b != UNKNOWN).sum()), "both": int(both.sum()),
                "agreement": round(float((a[both] == b[both]).mean()), 4) if both.any() else None}

    out = {
        "reference_file": str(path),
        GENRE: agree(ours[GENRE], ref["genre"]),
        "language_from_tags": agree(ours[LANGUAGE].where(from_tags, UNKNOWN), ref["language"]),
        ERA: agree(ours[ERA], ref_era),
    }
    if "lang_any" in ref.columns:
        any_ref = ref["lang_any"].replace({"cyrl": "ru", "zh|ja": ""})
        out["language_with_script_fallback"] = agree(ours[LANGUAGE], any_ref)
    if "sp_tracks" in ref.columns:
        matched_ref = ref["sp_tracks"].fillna("") != ""
        ref_true = pd.to_numeric(ref["sp_explicit_tracks"], errors="coerce").fillna(0) > 0
        ref_exp = pd.Series(np.where(matched_ref, np.where(ref_true, "true", "false"), UNKNOWN), index=ref.index)
        out["explicit"] = agree(ours[EXPLICIT], ref_exp)
    return out


def build_lastfm(
    source: str | Path | None = None,
    *,
    spotify: str | Path | None = None,
    reference: str | Path | None = None,
    config: LabelConfig = DEFAULT_LABELS,
) -> Dataset:
    """Read the release and return the labelled :class:`Dataset` (with its card) in memory."""
    source = Path(source) if source else hetrec.default_source()
    raw = hetrec.read_hetrec(source)
    spotify = Path(spotify) if spotify else hetrec.default_spotify()
    tracks = hetrec.read_spotify(spotify) if spotify else None
    inter, handled = tag_timeline(raw, raw.artists["artist_id"].to_numpy())
    held = held_out_pairs(inter, TIME_RESOLUTION, LABEL_HOLDOUT, LABEL_DAY_BOUNDARY)
    evidence = hetrec.without_pairs(raw, held.rename(columns={ITEM_ID: "artist_id"}))
    labelled = hetrec.label_artists(evidence, tracks, config)
    items = labelled[labelled["in_artists_file"]].drop(columns="in_artists_file").reset_index()
    items = items.rename(columns={"artist_id": ITEM_ID})
    ds = Dataset(name=NAME_, items=items, interactions=inter, attributes=ATTRIBUTES, time_resolution=TIME_RESOLUTION,
                 source=f"HetRec 2011 Last.fm-2k ({source})", top_items=top_items(raw))
    card = base_card(ds, licence=hetrec.LICENCE + " " + hetrec.SPOTIFY_LICENCE, value_count_attributes=(GENRE, LANGUAGE, ERA))
    card["counts"]["users_in_release"] = int(pd.concat([raw.tagged["user_id"], raw.user_artists["user_id"]]).nunique())
    card["handling"] = handled
    card["labels_leave_out"] = {
        "holdout": LABEL_HOLDOUT, "day_boundary": LABEL_DAY_BOUNDARY,
        "pairs": len(held), "users": int(held[USER_ID].nunique()),
        "tag_rows": len(raw.tagged) - len(evidence.tagged),
        "listening_rows": len(raw.user_artists) - len(evidence.user_artists),
        "sentence": (f"Genre, language, era, explicit-content tags and popularity count no evidence from the {len(held):,} "
                     f"(user, artist) pairs that the evaluation holds out (each test user's last "
                     f"≥{LABEL_HOLDOUT} artists from a day boundary): their tags and plays are left out."),
    }
    dates = pd.to_datetime(raw.tagged["timestamp"], unit="s")
    card["timestamps"] = {
        "meaning": "UTC midnight of the day the user first tagged the artist (day resolution)",
        "first": str(dates[raw.tagged["valid_date"]].min().date()),
        "last": str(dates[raw.tagged["valid_date"]].max().date()),
        "share_of_tag_rows_on_day_1_of_a_month": round(float((dates.dt.day == 1).mean()), 4),
        "note": "most tag dates fall on the 1st of a month, so same-day neighbours are effectively same-month",
    }
    n_items, n_true = len(items), int((items[EXPLICIT] == "true").sum())
    n_known = int((items[EXPLICIT] != UNKNOWN).sum())
    n_matched = int(items["explicit_evidence"].str.contains("spotify:").sum())
    card["explicit"] = {
        "source": str(spotify) if spotify else None,
        "matched_items": n_matched, "true": n_true, "false": n_known - n_true, "unknown": n_items - n_known,
        "sentence": (f"Most artists have explicit = unknown: only {n_matched:,} of {n_items:,} "
                     f"({n_matched / n_items:.1%}) match a Spotify track by normalised name, and clean needs "
                     f"≥{config.min_clean_tracks} matched tracks, all clean; {n_true:,} artists are explicit "
                     f"(an explicit matched track or explicit-content tags), {n_known - n_true:,} clean."),
    }
    reference = Path(reference) if reference else default_reference()
    card["agreement_with_reference"] = reference_agreement(items, reference) if reference else "reference labels not found"
    if FIXTURE.is_file():
        card["agreement_with_expert_labels"] = expert_agreement(items, FIXTURE)
    card["label_rules"] = {
        "genre": "the musical genre: ordered keyword rules per tag (first match wins): "
                 + "; ".join(g for g, _ in GENRE_RULES)
                 + ". Language scenes map to their musical genre (J-pop, K-pop, C-pop, chanson, schlager → pop; "
                 "J-rock, visual kei → rock, metal if metal tags outvote them); world only for tags naming world "
                 "music itself. Artist genre = coarse genre with most tag assignments; ties alphabetical.",
        "language": "the language of the lyrics (ISO 639-1; " + NO_LYRICS + " = no lyrics), not the nationality. "
                    "Tier 1: tags naming a language or language scene (deutschrock, chanson, j-pop, mpb), "
                    "instrumental tags, English-speaking origin (british, american) and nationalities whose acts "
                    "mostly sing the local language (brazilian, japanese, russian, italian, polish, mexican); a "
                    "German/Swedish/Finnish/... nationality tag adds to its language only next to a lyric tag of it. "
                    f"The winner needs ≥{config.min_language_votes} votes, ≥{config.min_language_share:.0%} of the "
                    "votes and a unique maximum. Tier 2, when tier 1 decides nothing: nationalities whose acts known "
                    "abroad mostly sing English (German, Swedish, Finnish, Norwegian, Danish, Dutch, Icelandic, any "
                    "nationality + metal) vote en, instrumental styles (post-rock, idm, composer, film score) vote "
                    f"{NO_LYRICS}; \"french\" alone votes for nothing. Else the Unicode script of the name "
                    "(Hangul→ko, kana→ja, Cyrillic→ru, Greek→el, Arabic→ar, Hebrew→he, Thai→th, Devanagari→hi; "
                    "Han alone stays unknown).",
        "era": "when the artist was active or broke through: decade tags (\"80s\", \"1990s\", \"'60s\") and year "
               f"tags ({config.first_year}–{config.last_year}) vote, decade tags of influence or revival (\"80s "
               "revival\", \"70s influenced\", \"retro\") are ignored; most votes wins, a tie goes to the tied "
               "decade nearest the weighted median of all votes (then the older).",
        "popularity_tier": f"items ranked by listeners (then plays): head while the items before cover "
                           f"<{config.head_share:.0%} of listener relations, torso <{config.torso_share:.0%}, else tail.",
        "explicit": "Spotify tracks joined on normalised artist name (NFKD→ASCII, lower, &→and, no leading 'the', "
                    "alphanumerics only): true if any matched track is explicit or ≥"
                    f"{config.min_explicit_tag_votes} tag assignments name explicit content (explicit, gangsta rap, "
                    f"horrorcore); false only if ≥{config.min_clean_tracks} tracks matched and all are clean; "
                    "else unknown.",
    }
    return replace(ds, card=card)


def fingerprint(source: Path, spotify: Path | None, reference: Path | None) -> str:
    """Hash of the inputs and of this package's code: same value → same prepared folder."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):  # the split lives here too (split.py)
        h.update(path.read_bytes())
    for name, (data, _) in sorted(hetrec.source_files(source).items()):
        h.update(name.encode() + data)
    for path in (spotify, reference, FIXTURE):
        h.update(path.read_bytes() if path and path.is_file() else b"-")
    return h.hexdigest()


def prepare_lastfm(
    source: str | Path | None = None,
    out: str | Path | None = None,
    *,
    download: bool = False,
    spotify: str | Path | None = None,
    reference: str | Path | None = None,
    force: bool = False,
) -> Path:
    """Prepare ``out`` (default ``sample_data/lastfm``) from the release; a no-op if already up to date."""
    if download and source is None:
        source = hetrec.download()
    source = Path(source) if source else hetrec.default_source()
    spotify = Path(spotify) if spotify else hetrec.default_spotify()
    reference = Path(reference) if reference else default_reference()
    out = Path(out) if out else default_dataset_dir(NAME_)
    stamp = fingerprint(source, spotify, reference)
    if not force and (out / "meta.json").is_file():
        try:
            if read_meta(out).get("fingerprint") == stamp:
                return out
        except Exception:  # a damaged folder is simply rebuilt
            pass
    ds = build_lastfm(source, spotify=spotify, reference=reference)
    return save_dataset(ds, out, licence=hetrec.LICENCE, git_ignore=True,
                        extra_meta={"fingerprint": stamp, "inputs": {
                            "source": str(source), "spotify": str(spotify) if spotify else None,
                            "reference": str(reference) if reference else None}})
