"""Loader for the S3-Rec benchmark format (Amazon Beauty/Sports, LastFM, or any file like them).

Format: ``<name>.txt`` has one line per user, ``user_id item_id item_id ...`` separated by
spaces, items in the benchmark's order; ``<name>_item2attributes.json`` maps each item id
(as a string) to a list of attribute ids. Any files in this format load, whatever their
names.

- Items get ``category`` = the item's most frequent attribute id, as a string (ties: the
  attribute more frequent over the whole catalogue, then the smaller id). For Amazon the
  ids are anonymous brand/category ids, so this is usually a top-level category. Every
  distinct attribute id of an item also goes to ``item_tags``, which the model may embed
  as a bag (``tags`` network option).
  ``popularity_tier`` and the listener/play counts come from the benchmark's own interactions,
  each user's last two (the protocol's validation and test items) left out.
- Without timestamps, ``timestamp`` = the position in the user's sequence and
  ``time_resolution`` = 0 (order only; TAMIP's Δτ cannot apply, method §3).
- For S3-Rec LastFM, the research helper's maps (s3rec item → HetRec artist, s3rec user →
  HetRec user) attach artist names, the Last.fm labels and day timestamps (the first tag
  row of that user and artist in file order). The benchmark order is never changed. The
  tier stays the benchmark's own: HetRec's listener counts include the held-out listening.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data import hetrec, lastfm
from engine.data.card import base_card
from engine.data.io import save_dataset
from engine.data.labels import listener_counts, popularity_tiers
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
    Dataset,
)
from engine.data.validate import check_known, check_unique, decode, fail, read_table, to_int
from engine.errors import DataError

CATEGORY = "category"
ITEM_MAP = "s3rec_lastfm_item_map.tsv"
USER_MAP = "s3rec_lastfm_user_map.tsv"
# The protocol's validation and test items: each user's last two. Counts that feed an input
# feature (popularity_tier) leave them out. Counted in, 19 % of the Beauty test targets and 18 % of
# the Sports ones sat in a higher tier than their training interactions give them (0.4–0.5 % lower).
HELD_OUT = 2
# Bumped when a prepared folder would come out different: stale folders are then rebuilt.
# 3 adds the item_tags table and changes nothing else. 4: the HetRec genre, language and era
# labels of a file with Last.fm maps leave out the held-out pairs' tags (5.0 % of the LastFM
# test targets had another genre with them counted in); other files come out as in 3.
LOADER_VERSION = 4
# The oldest version whose interactions and item columns equal this one's, for files without
# and with HetRec labels: results of a model that does not read item_tags stay valid back to
# it (1 leaked held-out counts into the popularity tier, 2–3 into the HetRec labels).
SAME_INPUTS_SINCE = {"plain": 2, "hetrec": 4}


def same_inputs_since(card: dict) -> int:
    """The oldest loader version whose runs still count for this prepared benchmark's card."""
    return SAME_INPUTS_SINCE["hetrec" if card.get("inputs", {}).get("lastfm_maps") else "plain"]


LICENCE = "S3-Rec benchmark files (RUCAIBox/CIKM2020-S3Rec, no licence file): research/benchmarking use only; never commit."


def read_sequences(path: str | Path) -> pd.DataFrame:
    """``user_id item ...`` lines → one row per interaction (user_id, item_id, position), file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file", "pass --txt PATH to a file with lines 'user_id item_id item_id ...'")
    label = str(path)
    lines = pd.Series(decode(path.read_bytes(), label).rstrip().split("\n")).str.strip()
    tokens = lines.str.split()
    short = (tokens.str.len() < 2).to_numpy()
    if short.any():
        pos = int(np.flatnonzero(short)[0])
        problem = "empty line" if not lines.iloc[pos] else f"user {lines.iloc[pos]!r} has no items"
        raise fail(label, problem, "every line needs 'user_id item_id [item_id ...]' separated by spaces", pos + 1)
    flat = tokens.explode()
    line_no = flat.index.to_numpy() + 1
    values = pd.to_numeric(flat, errors="coerce")
    bad = (values.isna() | (values < 0) | (values != np.floor(values))).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise fail(label, f"{flat.iloc[pos]!r} is not a non-negative integer id", "ids must be integers", int(line_no[pos]))
    values = values.astype("int64").to_numpy()
    first = np.r_[True, line_no[1:] != line_no[:-1]]
    users = pd.Series(values[first], index=np.arange(len(lines)))
    frame = pd.DataFrame({USER_ID: users.to_numpy()})
    check_unique(frame, [USER_ID], label, row_offset=1, hint="each user must have exactly one line", row=False)
    user_of = np.repeat(users.to_numpy(), tokens.str.len().to_numpy() - 1)
    items = values[~first]
    position = pd.Series(user_of).groupby(user_of).cumcount().to_numpy()
    return pd.DataFrame({USER_ID: user_of, ITEM_ID: items, "position": position.astype("int64")})


def read_item_attributes(path: str | Path) -> pd.DataFrame:
    """``{"item_id": [attribute_id, ...]}`` → one row per (item_id, attribute_id), repeats kept."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file", "pass --attributes PATH to a <name>_item2attributes.json, or omit it")
    label = str(path)
    try:
        data = json.loads(decode(path.read_bytes(), label))
    except json.JSONDecodeError as exc:
        raise fail(label, f"invalid JSON ({exc.msg})", "the file must be one JSON object", exc.lineno) from None
    if not isinstance(data, dict):
        raise fail(label, "the JSON is not an object", 'expected {"item_id": [attribute_id, ...], ...}')
    item_ids, attr_ids = [], []
    for key, value in data.items():
        ok = isinstance(value, list) and all(isinstance(a, int) and not isinstance(a, bool) for a in value)
        if not str(key).isdigit() or not ok:
            raise fail(label, f"entry {key!r}: {value!r:.60}", 'keys must be item ids and values lists of integer attribute ids')
        item_ids += [int(key)] * len(value)
        attr_ids += value
    return pd.DataFrame({ITEM_ID: np.array(item_ids, dtype="int64"), "attribute_id": np.array(attr_ids, dtype="int64")})


def dominant_attribute(attrs: pd.DataFrame) -> pd.Series:
    """Per item: most frequent attribute id (ties: more frequent in the catalogue, then smaller id), as str."""
    counts = attrs.groupby([ITEM_ID, "attribute_id"]).size().rename("n").reset_index()
    counts["catalogue"] = counts["attribute_id"].map(attrs.drop_duplicates().groupby("attribute_id").size())
    counts = counts.sort_values([ITEM_ID, "n", "catalogue", "attribute_id"], ascending=[True, False, False, True])
    best = counts.drop_duplicates(ITEM_ID)
    return pd.Series(best["attribute_id"].astype(str).to_numpy(), index=best[ITEM_ID].to_numpy())


def _read_map(folder: Path, name: str, key: str, value: str) -> pd.Series:
    path = folder / name
    if not path.is_file():
        raise DataError(f"{path}: no such file", f"--lastfm-maps must be a folder with {ITEM_MAP} and {USER_MAP}")
    frame = read_table(path.read_bytes(), str(path), required=[key, value])
    table = pd.DataFrame({key: to_int(frame, key, str(path)), value: to_int(frame, value, str(path))})
    check_unique(table, [key], str(path))
    return table.set_index(key)[value]


def _held_out(seq: pd.DataFrame) -> pd.Series:
    """True for each user's last ``HELD_OUT`` interactions (the protocol's validation and test)."""
    return seq.groupby(USER_ID).cumcount(ascending=False) < HELD_OUT


def _attach_lastfm(seq: pd.DataFrame, items: pd.DataFrame, maps: Path, source: Path | None,
                   spotify: Path | None) -> tuple[pd.DataFrame, pd.Series, list[dict], dict]:
    """Names and Last.fm labels for items; day timestamps for interactions (order untouched).

    The labels count no tag or play of a (user, artist) pair that the protocol holds out.
    """
    item_map = _read_map(maps, ITEM_MAP, "s3rec_item_id", "hetrec_artistID")
    user_map = _read_map(maps, USER_MAP, "s3rec_user_id", "hetrec_userID")
    check_known(items[ITEM_ID], item_map.index, f"{maps / ITEM_MAP}", "s3rec item", row_offset=1,
                hint="the item map must cover every item of the benchmark")
    check_known(pd.Series(seq[USER_ID].unique()), user_map.index, f"{maps / USER_MAP}", "s3rec user", row_offset=1,
                hint="the user map must cover every user of the benchmark")
    source = source or hetrec.default_source()
    raw = hetrec.read_hetrec(source)
    spotify = spotify or hetrec.default_spotify()
    held = seq[_held_out(seq)]
    held = pd.DataFrame({"user_id": held[USER_ID].map(user_map).to_numpy(),
                         "artist_id": held[ITEM_ID].map(item_map).to_numpy()})
    labelled = hetrec.label_artists(hetrec.without_pairs(raw, held),
                                    hetrec.read_spotify(spotify) if spotify else None)
    artist = items[ITEM_ID].map(item_map).to_numpy()
    found = labelled.reindex(artist)
    enriched = items.drop(columns=[LISTENERS, PLAYS, POPULARITY]).assign(hetrec_artist_id=artist)
    for column in labelled.columns.drop("in_artists_file"):
        enriched[column] = found[column].to_numpy()
    no_name = ~found["in_artists_file"].fillna(False).astype(bool).to_numpy()
    enriched = enriched.fillna({c: UNKNOWN for c in lastfm.ATTRIBUTES})

    # Timestamp of (user, artist): the first row in file order with a plausible date.
    rows = raw.tagged[raw.tagged["valid_date"]].drop_duplicates(["user_id", "artist_id"], keep="first")
    key = pd.MultiIndex.from_arrays([seq[USER_ID].map(user_map).to_numpy(), seq[ITEM_ID].map(item_map).to_numpy()])
    first_any = raw.tagged.drop_duplicates(["user_id", "artist_id"], keep="first").set_index(["user_id", "artist_id"])
    bogus_first = int((~first_any["valid_date"].reindex(key).fillna(True).astype(bool)).sum())
    ts = rows.set_index(["user_id", "artist_id"])["timestamp"].reindex(key)
    ts = pd.Series(ts.to_numpy(), index=seq.index)
    missing = int(ts.isna().sum())
    by_user = seq[USER_ID].to_numpy()
    ts = ts.groupby(by_user).ffill().groupby(by_user).bfill()  # carry the previous item's day (next one at the start)
    no_time_users = int(seq.loc[ts.isna(), USER_ID].nunique())
    ts = ts.fillna(0).astype("int64")
    prev = ts.groupby(by_user).shift()
    non_monotone = int((ts < prev).sum())
    ts = ts.groupby(by_user).cummax()  # the contract: time never decreases along a sequence
    handled = [
        {"what": "interactions whose first tag row has an implausible year", "count": bogus_first,
         "action": "the first row in file order with a plausible date is used instead"},
        {"what": "interactions with no tag row for (HetRec user, artist)", "count": missing,
         "action": "timestamp carried from the previous item of the sequence (the next one if first)"},
        {"what": "interactions whose attached day is earlier than the previous item's (benchmark order kept)",
         "count": non_monotone, "action": "timestamp raised to the running maximum of the sequence; order unchanged"},
        {"what": "items mapped to artist ids absent from artists.dat", "count": int(no_name.sum()),
         "action": "named '(unnamed HetRec artist <id>)'; labels still from their tags"},
    ]
    if no_time_users:
        handled.append({"what": "users with no tag row at all", "count": no_time_users, "action": "timestamp 0"})
    extra = {"lastfm_maps": str(maps), "hetrec_source": str(source), "spotify": str(spotify) if spotify else None}
    return enriched, ts, handled, extra


def build_s3rec(
    txt: str | Path,
    *,
    attributes: str | Path | None = None,
    lastfm_maps: str | Path | None = None,
    hetrec_source: str | Path | None = None,
    spotify: str | Path | None = None,
    name: str | None = None,
) -> Dataset:
    """Load an S3-Rec style benchmark into a :class:`Dataset` (with its card)."""
    txt = Path(txt)
    name = name or txt.stem
    if attributes is None and (txt.parent / f"{txt.stem}_item2attributes.json").is_file():
        attributes = txt.parent / f"{txt.stem}_item2attributes.json"
    if lastfm_maps is None and all((txt.parent / "derived" / f).is_file() for f in (ITEM_MAP, USER_MAP)):
        lastfm_maps = txt.parent / "derived"
    seq = read_sequences(txt)
    ids = seq[ITEM_ID].unique()
    attrs = read_item_attributes(attributes) if attributes else None
    if attrs is not None:
        ids = np.union1d(ids, attrs[ITEM_ID].unique())
    items = pd.DataFrame({ITEM_ID: np.sort(ids).astype("int64")})
    items[NAME] = "item " + items[ITEM_ID].astype(str)
    attr_names: tuple[str, ...] = (POPULARITY,)
    if attrs is not None:
        items[CATEGORY] = items[ITEM_ID].map(dominant_attribute(attrs)).fillna(UNKNOWN).astype(str)
        attr_names = (CATEGORY, POPULARITY)
    train = seq[~_held_out(seq)]
    for column, counts in listener_counts(items[ITEM_ID], train).items():
        items[column] = counts
    tiers = popularity_tiers(items[LISTENERS], items[PLAYS])
    items[POPULARITY] = tiers
    order = np.argsort(seq[USER_ID].to_numpy(), kind="stable")  # users by id; each sequence as in the file
    seq = seq.iloc[order].reset_index(drop=True)
    handled: list[dict] = []
    extra: dict = {"attributes_file": str(attributes) if attributes else None}
    if lastfm_maps:
        items, ts, handled, more = _attach_lastfm(seq, items, Path(lastfm_maps),
                                                  Path(hetrec_source) if hetrec_source else None,
                                                  Path(spotify) if spotify else None)
        extra.update(more)
        items[POPULARITY] = tiers  # not HetRec's: those count every held-out listening too
        attr_names, resolution, licence = lastfm.ATTRIBUTES, lastfm.TIME_RESOLUTION, f"{LICENCE} {hetrec.LICENCE}"
    else:
        ts, resolution, licence = seq["position"], 0, LICENCE
    inter = pd.DataFrame({USER_ID: seq[USER_ID].to_numpy(), ITEM_ID: seq[ITEM_ID].to_numpy(),
                          TIMESTAMP: np.asarray(ts, dtype="int64")})
    tags = None
    if attrs is not None:
        tags = attrs.drop_duplicates().rename(columns={"attribute_id": TAG}).reset_index(drop=True)
        tags[TAG] = tags[TAG].astype(str)
    ds = Dataset(name=name, items=items, interactions=inter, attributes=attr_names, time_resolution=resolution,
                 source=f"S3-Rec benchmark file {txt}", item_tags=tags)
    card = base_card(ds, licence=licence, value_count_attributes=tuple(a for a in attr_names if a != POPULARITY))
    card["order"] = "each user's sequence is exactly the order of the benchmark file (never re-sorted)"
    if resolution == 0:
        card["timestamps"] = "none in the source: timestamp = position in the user's sequence (time_resolution 0)"
    if attrs is not None:
        card[CATEGORY] = ("the item's most frequent attribute id from the item2attributes file, as a string "
                          "(ties: more frequent in the catalogue, then smaller id); ids are anonymous")
        card["item_tags"] = (f"every distinct attribute id of an item ({len(tags):,} rows, "
                             f"{tags[TAG].nunique():,} ids), in file order")
    card[POPULARITY] = (f"head/torso/tail from this file's interactions without each user's last {HELD_OUT} "
                        "(the protocol's validation and test items): no held-out interaction feeds an input")
    card["handling"] = handled
    card["inputs"] = extra
    return replace(ds, card=card)


def prepare_s3rec(txt: str | Path, out: str | Path, **kwargs: object) -> Path:
    """Build with :func:`build_s3rec` and save to ``out`` (git-ignored: derived from licensed data)."""
    ds = build_s3rec(txt, **kwargs)  # type: ignore[arg-type]
    return save_dataset(ds, out, licence=ds.card.get("licence", LICENCE), git_ignore=True,
                        extra_meta={"s3rec_loader": LOADER_VERSION})
