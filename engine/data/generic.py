"""Bring your own logs: interactions + items as CSV (or TSV) or parquet.

- interactions: ``user_id``, ``item_id``, ``timestamp`` (integer Unix seconds, or ISO 8601
  date/times; naive times are taken as UTC). Other columns are ignored (listed in the card).
- items: ``item_id``, ``name`` and any categorical columns; each categorical column becomes
  an attribute (empty → ``unknown``; values stripped and lower-cased, as instructions are).
  Numeric columns are kept but are not attributes unless named with ``attributes=``;
  ``listeners`` and ``plays``, when given, must be whole numbers ≥ 0. A name is any
  non-empty text, ``None`` and ``NaN`` included (artists are really called that). ``explicit`` may be true/false/1/0/yes/no; ``popularity_tier``
  is computed from the interactions when absent.

Integer ids are kept; other ids (e.g. "u123") are numbered 0..n-1 in order of first
appearance and the originals are kept (``source_item_id`` in items, ``user_ids.parquet``).
Interactions are sorted stably by user, then time (ties keep file order).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.card import base_card
from engine.data.io import save_dataset
from engine.data.labels import listener_counts, popularity_tiers
from engine.data.paths import is_prepared
from engine.data.schema import (
    EXPLICIT,
    ITEM_ID,
    LISTENERS,
    NAME,
    PLAYS,
    POPULARITY,
    POPULARITY_TIERS,
    TIMESTAMP,
    UNKNOWN,
    USER_ID,
    Dataset,
)
from engine.data.validate import check_known, check_unique, fail, read_table, stable_order, to_int
from engine.errors import DataError

MILLISECONDS_LIKELY = 10**11  # seconds beyond year 5000: the column is in milliseconds
_TRUE, _FALSE = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f"}


def read_frame(path: str | Path, required: list[str]) -> tuple[pd.DataFrame, int, str]:
    """(frame, offset from row position to the 1-based line/row, label); CSV/TSV as strings."""
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file", "check the path")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise DataError(f"{path}: not a readable parquet file ({exc})", "re-export it, or use CSV") from None
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise fail(label, f"missing column(s) {missing}; it has {list(frame.columns)}", f"the file needs {required}")
        if frame.empty:
            raise fail(label, "no rows", "check that the export finished")
        return frame.reset_index(drop=True), 1, label
    if suffix not in (".csv", ".tsv", ".txt"):
        raise DataError(f"{path}: unsupported file type '{suffix}'", "use .csv, .tsv or .parquet")
    sep = "\t" if suffix == ".tsv" else ","
    return read_table(path.read_bytes(), label, required=required, sep=sep, strict=False), 2, label


def _as_text(series: pd.Series) -> pd.Series:
    """Ids as text; integral floats (parquet ids with gaps) without the trailing '.0'."""
    if pd.api.types.is_float_dtype(series) and series.notna().all() and (series == np.floor(series)).all():
        series = series.astype("int64")
    return series.astype(str).str.strip()


def _check_filled(values: pd.Series, column: str, label: str, offset: int) -> None:
    """Missing cells (parquet nulls, empty CSV fields) fail; text such as 'None' or 'NaN' is a value."""
    empty = (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
    if empty.any():
        pos = int(np.flatnonzero(empty)[0])
        raise fail(label, f"column '{column}' is empty", "every row needs a value", pos + offset, row=offset == 1)


def _integer_ids(text: pd.Series) -> bool:
    return bool(text.str.fullmatch(r"-?\d{1,18}").all())


def parse_timestamps(values: pd.Series, label: str, offset: int) -> tuple[np.ndarray, str]:
    """Unix seconds (int64) from integer seconds or ISO 8601 text; returns (seconds, format)."""
    _check_filled(values, TIMESTAMP, label, offset)
    text = values.astype(str).str.strip()
    if pd.api.types.is_numeric_dtype(values) or _integer_ids(text.iloc[:1]):  # the first value decides the format
        numbers = pd.to_numeric(text, errors="coerce")
        bad = (numbers.isna() | (numbers != np.floor(numbers))).to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise fail(label, f"timestamp {text.iloc[pos]!r} is not integer seconds like the first rows",
                       "use one format for the whole column", pos + offset, row=offset == 1)
        if numbers.abs().max() >= MILLISECONDS_LIKELY:
            pos = int(np.flatnonzero((numbers.abs() >= MILLISECONDS_LIKELY).to_numpy())[0])
            raise fail(label, f"timestamp {text.iloc[pos]} is too large for seconds",
                       "timestamps look like milliseconds: divide them by 1000", pos + offset, row=offset == 1)
        return numbers.astype("int64").to_numpy(), "integer seconds"
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().any():
        pos = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise fail(label, f"timestamp {text.iloc[pos]!r} is neither integer seconds nor an ISO 8601 date/time",
                   "use e.g. 1700000000 or 2024-05-01T12:30:00Z", pos + offset, row=offset == 1)
    seconds = (parsed - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.astype("int64").to_numpy(), "ISO 8601 (UTC)"


def _explicit(values: pd.Series, label: str, offset: int) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    out = np.where(text.isin(_TRUE), "true", np.where(text.isin(_FALSE), "false", UNKNOWN))
    bad = ~(text.isin(_TRUE | _FALSE | {"", "unknown", "nan", "none", "<na>"})).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise fail(label, f"column 'explicit' has {values.iloc[pos]!r}", "use true/false (or empty for unknown)",
                   pos + offset, row=offset == 1)
    return out


def build_generic(
    interactions: str | Path,
    items: str | Path,
    *,
    name: str | None = None,
    attributes: list[str] | tuple[str, ...] | None = None,
) -> Dataset:
    """Read user logs and a catalogue into a :class:`Dataset` (with its card)."""
    return _build(interactions, items, name, attributes)[0]


def _build(
    interactions: str | Path, items: str | Path, name: str | None, attributes: list[str] | tuple[str, ...] | None
) -> tuple[Dataset, dict[str, pd.DataFrame]]:
    inter_raw, i_off, i_label = read_frame(interactions, [USER_ID, ITEM_ID, TIMESTAMP])
    items_raw, c_off, c_label = read_frame(items, [ITEM_ID, NAME])
    notes: list[str] = []
    ignored = [c for c in inter_raw.columns if c not in (USER_ID, ITEM_ID, TIMESTAMP)]
    if ignored:
        notes.append(f"interaction columns ignored: {ignored}")
    for column in (USER_ID, ITEM_ID):
        _check_filled(inter_raw[column], column, i_label, i_off)
    _check_filled(items_raw[ITEM_ID], ITEM_ID, c_label, c_off)
    _check_filled(items_raw[NAME], NAME, c_label, c_off)
    item_text, inter_item = _as_text(items_raw[ITEM_ID]), _as_text(inter_raw[ITEM_ID])
    check_unique(pd.DataFrame({ITEM_ID: item_text}), [ITEM_ID], c_label, row_offset=c_off, hint="one row per item")
    check_known(inter_item, item_text, i_label, "item_id", row_offset=i_off)
    seconds, ts_format = parse_timestamps(inter_raw[TIMESTAMP], i_label, i_off)

    extra_tables: dict[str, pd.DataFrame] = {}
    out_items, item_ids = _item_ids(item_text, inter_item, notes)
    user_ids = _user_ids(_as_text(inter_raw[USER_ID]), notes, extra_tables)
    out_items[NAME] = items_raw[NAME].astype(str).to_numpy()

    inter = pd.DataFrame({USER_ID: user_ids, ITEM_ID: item_ids, TIMESTAMP: seconds})
    check_unique(inter, [USER_ID, ITEM_ID, TIMESTAMP], i_label, row_offset=i_off,
                 hint="the same user, item and time appear twice: remove the repeated row")
    inter = inter.iloc[stable_order(inter, [USER_ID, TIMESTAMP])].reset_index(drop=True)

    attributes = _item_columns(items_raw, out_items, attributes, c_label, c_off)
    attributes = _popularity(out_items, inter, attributes, notes, c_label, c_off)

    resolution = 86400 if (inter[TIMESTAMP] % 86400 == 0).all() else 1
    name = name or Path(interactions).stem
    ds = Dataset(name=name, items=out_items, interactions=inter, attributes=tuple(attributes),
                 time_resolution=resolution, source=f"generic files {interactions} + {items}")
    card = base_card(ds, licence="as provided by the user", value_count_attributes=tuple(attributes))
    card["timestamps"] = f"{ts_format}; time_resolution {resolution} s"
    card["notes"] = notes
    return replace(ds, card=card), extra_tables


def _item_ids(item_text: pd.Series, inter_item: pd.Series, notes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The items frame started with its ids, and the interactions' item ids (integers kept, else numbered)."""
    out_items = pd.DataFrame()
    if _integer_ids(item_text):
        out_items[ITEM_ID] = item_text.astype("int64").to_numpy()
        return out_items, inter_item.astype("int64").to_numpy()
    code = pd.Series(np.arange(len(item_text), dtype="int64"), index=item_text.to_numpy())
    out_items[ITEM_ID] = code.to_numpy()
    out_items["source_item_id"] = item_text.to_numpy()
    notes.append("item ids are not integers: numbered 0..n-1 in the order of the items file (source_item_id)")
    return out_items, code.reindex(inter_item.to_numpy()).to_numpy()


def _user_ids(user_text: pd.Series, notes: list[str], extra_tables: dict[str, pd.DataFrame]) -> np.ndarray:
    """Integer user ids as they are; others numbered by first appearance (the map goes to ``extra_tables``)."""
    if _integer_ids(user_text):
        return user_text.astype("int64").to_numpy()
    codes, uniques = pd.factorize(user_text)
    extra_tables["user_ids.parquet"] = pd.DataFrame({USER_ID: np.arange(len(uniques)), "source_user_id": uniques})
    notes.append("user ids are not integers: numbered 0..n-1 by first appearance (user_ids.parquet)")
    return codes.astype("int64")


def _item_columns(items_raw: pd.DataFrame, out_items: pd.DataFrame, attributes, c_label: str,
                  c_off: int) -> list[str]:
    """Copy the items file's other columns into ``out_items``; returns the attribute columns."""
    others = [c for c in items_raw.columns if c not in (ITEM_ID, NAME)]
    if attributes is None:
        attributes = [c for c in others if c in (EXPLICIT, POPULARITY)
                      or (c not in (LISTENERS, PLAYS) and not _numeric(items_raw[c]))]
    counted = [a for a in attributes if a in (LISTENERS, PLAYS)]
    if counted:
        raise fail(c_label, f"{counted} are counts, not categorical attributes", "leave them out of --attributes")
    missing = [a for a in attributes if a not in items_raw.columns]
    if missing:
        raise fail(c_label, f"attribute column(s) {missing} not found; it has {list(items_raw.columns)}",
                   "name existing columns with --attributes")
    for column in others:
        values = items_raw[column]
        if column == EXPLICIT and column in attributes:
            out_items[column] = _explicit(values, c_label, c_off)
        elif column in (LISTENERS, PLAYS):  # counts: whole numbers or empty
            empty = (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
            counts = to_int(pd.DataFrame({column: values.mask(empty, "0")}), column, c_label, row_offset=c_off,
                            minimum=0)
            out_items[column] = counts.astype("float64").mask(empty).to_numpy()  # empty: from the interactions
        elif column in attributes:
            text = values.astype(str).str.strip().str.lower()
            out_items[column] = text.mask(values.isna() | text.isin(["", "nan", "none", "<na>"]), UNKNOWN).to_numpy()
        else:
            out_items[column] = pd.to_numeric(values, errors="coerce").to_numpy() if _numeric(values) else values.to_numpy()
    return list(attributes)


def _popularity(out_items: pd.DataFrame, inter: pd.DataFrame, attributes: list[str], notes: list[str],
                c_label: str, c_off: int) -> list[str]:
    """Listener/play counts and the popularity tier when the file lacks them (a given tier is checked)."""
    for column, counts in listener_counts(out_items[ITEM_ID], inter).items():
        if column not in out_items.columns:
            out_items[column] = counts
        elif out_items[column].isna().any():  # a count column with empty cells
            out_items[column] = out_items[column].fillna(pd.Series(counts)).astype("int64")
    if POPULARITY not in out_items.columns:
        out_items[POPULARITY] = popularity_tiers(out_items[LISTENERS], out_items[PLAYS])
        notes.append("popularity_tier computed from the interactions (cumulative share of listeners: 50% head, 80% torso)")
        return [*attributes, POPULARITY]
    if POPULARITY in attributes:
        bad = ~out_items[POPULARITY].isin([*POPULARITY_TIERS, UNKNOWN]).to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise fail(c_label, f"column 'popularity_tier' has {out_items[POPULARITY].iloc[pos]!r}",
                       f"use one of {list(POPULARITY_TIERS)}", pos + c_off, row=c_off == 1)
    return attributes


def _numeric(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    text = values.astype(str).str.strip()
    text = text[~text.isin(["", "nan", "None", "<NA>"])]  # empty cells do not make a column categorical
    return bool(len(text)) and bool(pd.to_numeric(text, errors="coerce").notna().all())


def prepare_generic(
    interactions: str | Path,
    items: str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    attributes: list[str] | tuple[str, ...] | None = None,
    force: bool = False,
) -> Path:
    """Build with :func:`build_generic` and save to ``out``; an existing prepared folder (or
    any existing file) at ``out`` is replaced only with ``force`` — checked before reading."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: is a file, not a folder", "choose a folder for --out")
    if is_prepared(out) and not force:
        raise DataError(f"{out} already holds a prepared data set",
                        "pass --force to replace it, or choose another --out")
    ds, extra = _build(interactions, items, name, attributes)
    return save_dataset(ds, out, licence="as provided by the user", extra_tables=extra)
