"""Checked reading of input tables and validation of a :class:`Dataset` against the schema.

Every loader reads its files through these helpers, so a bad file always fails the same
way: one :class:`DataError` naming the file, the 1-based line (or row) and the problem,
with a hint what to do. Line numbers count the header as line 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from engine.data.schema import (
    EXPLICIT,
    EXPLICIT_VALUES,
    ITEM_ID,
    NAME,
    PLAYS,
    POPULARITY,
    POPULARITY_TIERS,
    RANK,
    TAG,
    TIMESTAMP,
    USER_ID,
    Dataset,
)
from engine.errors import DataError

INT64_MAX = np.iinfo(np.int64).max


def fail(label: str, problem: str, hint: str, line: int | None = None, *, row: bool = False) -> DataError:
    """Build the one error a bad input raises: ``<file>, line N: problem — hint``."""
    where = label if line is None else f"{label}, {'row' if row else 'line'} {line}"
    return DataError(f"{where}: {problem}", hint)


def show(value: object) -> str:
    """A cell value for a message: numbers plain, text quoted."""
    value = value.item() if hasattr(value, "item") else value
    return repr(value) if isinstance(value, str) else str(value)


def decode(data: bytes, label: str, encoding: str = "utf-8") -> str:
    """Decode a whole file strictly; a wrong encoding names the first bad line."""
    if not data.strip():
        raise fail(label, "the file is empty", "check that the download or export finished")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(
            label,
            f"byte 0x{data[exc.start]:02x} is not valid {encoding}",
            f"re-save the file as {encoding.upper()} (it looks like another encoding, e.g. latin-1)",
            line,
        ) from None
    return text.lstrip("\ufeff")


def read_table(
    data: bytes,
    label: str,
    *,
    required: Iterable[str],
    optional: Iterable[str] = (),
    sep: str = "\t",
    encoding: str = "utf-8",
    strict: bool = True,
) -> pd.DataFrame:
    """Parse a delimited file with a header into string columns (no NA guessing).

    ``strict``: columns other than ``required`` + ``optional`` are an error; otherwise they
    are kept. Rows keep their position: row ``i`` is line ``i + 2``.
    """
    text = decode(data, label, encoding).rstrip("\r\n") + "\n"
    try:
        # header=None: the header line fixes the field count, so a longer line anywhere fails.
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL,
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if not match:
            raise fail(label, f"cannot be parsed ({exc})", f"check the separator ({sep!r}) and quoting") from None
        raise fail(label, f"has {match.group(3)} fields, the header has {match.group(1)}",
                   f"every line needs {match.group(1)} fields separated by {sep!r}", int(match.group(2))) from None
    header = [str(c).strip() for c in frame.iloc[0]]
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    if sep == "\t":  # unquoted: a shorter line is detectable by counting separators
        counts = pd.Series(text.split("\n")[:-1]).str.count("\t").to_numpy()
        short = counts != counts[0]
        if short.any():
            pos = int(np.flatnonzero(short)[0])
            raise fail(label, f"has {counts[pos] + 1} fields, the header has {counts[0] + 1}",
                       f"every line needs {counts[0] + 1} fields separated by {sep!r}", pos + 1)
    required, optional = list(required), list(optional)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise fail(label, f"column(s) {dupes} appear twice in the header", "rename or drop the duplicates", 1)
    missing = [c for c in required if c not in header]
    if missing:
        raise fail(
            label,
            f"missing column(s) {missing}; the header has {header}",
            f"the file needs the columns {required} (separator {sep!r})",
            1,
        )
    extra = [c for c in header if c not in required + optional]
    if strict and extra:
        raise fail(label, f"unexpected column(s) {extra}", f"expected exactly {required + optional}", 1)
    if frame.empty:
        raise fail(label, "the file has a header but no data rows", "check that the export finished")
    return frame


def to_int(frame: pd.DataFrame, column: str, label: str, *, row_offset: int = 2, minimum: int | None = None) -> pd.Series:
    """Column as int64; the first value that is not an integer (or below ``minimum``) fails."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() | (values != np.floor(values)) | (values.abs() > INT64_MAX)
    if minimum is not None:
        bad |= values < minimum
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        need = "an integer" if minimum is None else f"an integer ≥ {minimum}"
        raise fail(
            label,
            f"column '{column}' has {raw.iloc[pos]!r}, not {need}",
            "fix or remove that row",
            pos + row_offset,
            row=row_offset == 1,
        )
    return values.astype("int64")


def check_unique(frame: pd.DataFrame, columns: list[str], label: str, *, row_offset: int = 2, hint: str = "",
                 row: bool | None = None) -> None:
    """Duplicate keys fail, naming the line (or parquet row) of the first repeat."""
    dup = frame.duplicated(columns, keep="first").to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        key = ", ".join(f"{c}={show(frame[c].iloc[pos])}" for c in columns)
        row = row_offset == 1 if row is None else row
        raise fail(label, f"duplicate {key}", hint or "keep one row per key", pos + row_offset, row=row)


def check_known(values: pd.Series, known: pd.Series | np.ndarray, label: str, what: str, *, row_offset: int = 2, hint: str = "") -> None:
    """Ids that are not in ``known`` (dangling references) fail, with their count."""
    bad = ~values.isin(known).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise fail(
            label,
            f"{what} {show(values.iloc[pos])} is not in the catalogue ({int(bad.sum())} such rows)",
            hint or "add the missing items to the items file or remove those rows",
            pos + row_offset,
            row=row_offset == 1,
        )


def stable_order(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Positions that sort by ``keys`` with ties kept in the current row order."""
    columns = [np.arange(len(frame))] + [frame[k].to_numpy() for k in reversed(keys)]
    return np.lexsort(columns)


def _check_int_column(frame: pd.DataFrame, column: str, label: str) -> None:
    if column not in frame.columns:
        raise fail(label, f"missing column '{column}'", "re-run `python -m engine prepare` for this data set")
    if frame[column].dtype != np.int64:
        raise fail(label, f"column '{column}' has type {frame[column].dtype}, not int64", "re-run `python -m engine prepare`")


def validate_dataset(ds: Dataset, label: str = "") -> Dataset:
    """Check a :class:`Dataset` against the schema contract; returns it unchanged."""
    label = label or ds.name
    items_label, inter_label = f"{label}/items", f"{label}/interactions"
    items, inter = ds.items, ds.interactions
    for column in (ITEM_ID,):
        _check_int_column(items, column, items_label)
    for column in (NAME, *ds.attributes):
        if column not in items.columns:
            raise fail(items_label, f"missing column '{column}'", "every attribute needs an item column")
        if items[column].isna().any():
            pos = int(np.flatnonzero(items[column].isna().to_numpy())[0])
            raise fail(items_label, f"column '{column}' is empty", "use 'unknown' for missing labels", pos + 1, row=True)
    if items.empty:
        raise fail(items_label, "no items", "the catalogue must not be empty")
    check_unique(items, [ITEM_ID], items_label, row_offset=1)
    if EXPLICIT in ds.attributes:
        _check_values(items[EXPLICIT], EXPLICIT_VALUES, items_label, EXPLICIT)
    if POPULARITY in ds.attributes:
        _check_values(items[POPULARITY], POPULARITY_TIERS, items_label, POPULARITY)
    for column in (USER_ID, ITEM_ID, TIMESTAMP):
        _check_int_column(inter, column, inter_label)
    if inter.empty:
        raise fail(inter_label, "no interactions", "the data set needs at least one interaction")
    check_known(inter[ITEM_ID], items[ITEM_ID], inter_label, "item_id", row_offset=1)
    user, ts = inter[USER_ID].to_numpy(), inter[TIMESTAMP].to_numpy()
    bad = (np.diff(user) < 0) | ((np.diff(user) == 0) & (np.diff(ts) < 0))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0]) + 1
        raise fail(inter_label, "not sorted by user, then time", "sort stably by (user_id, timestamp)", pos + 1, row=True)
    if ds.time_resolution < 0:
        raise fail(label, f"time_resolution {ds.time_resolution} is negative", "use 0 for order-only data")
    if ds.top_items is not None:
        top_label = f"{label}/top_items"
        for column in (USER_ID, ITEM_ID, PLAYS, RANK):
            _check_int_column(ds.top_items, column, top_label)
        check_known(ds.top_items[ITEM_ID], items[ITEM_ID], top_label, "item_id", row_offset=1)
    if ds.item_tags is not None:
        tags_label = f"{label}/item_tags"
        _check_int_column(ds.item_tags, ITEM_ID, tags_label)
        if TAG not in ds.item_tags.columns or ds.item_tags[TAG].isna().any():
            raise fail(tags_label, f"column '{TAG}' is missing or has empty values", "one row per (item_id, tag)")
        check_known(ds.item_tags[ITEM_ID], items[ITEM_ID], tags_label, "item_id", row_offset=1)
        check_unique(ds.item_tags, [ITEM_ID, TAG], tags_label, row_offset=1)
    return ds


def _check_values(values: pd.Series, allowed: tuple[str, ...], label: str, column: str) -> None:
    bad = ~values.isin(allowed).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise fail(label, f"column '{column}' has {show(values.iloc[pos])}", f"allowed values: {list(allowed)}", pos + 1, row=True)

