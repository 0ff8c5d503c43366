"""Save and load a prepared data folder (``items.parquet``, ``interactions.parquet``, ...).

A prepared folder is what ``python -m engine prepare`` writes and what the engine and
the app read: typed parquet files plus ``meta.json`` (name, source, attributes, time
resolution, licence) and a data card. Writes are atomic per file and staged as a
whole: every file is first written to a temporary name in the same folder and only
renamed into place once all of them were written, so an error never leaves a
half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from engine.data.schema import (
    CARD_JSON,
    CARD_MD,
    INTERACTIONS_FILE,
    ITEM_TAGS_FILE,
    ITEMS_FILE,
    META_FILE,
    TOP_ITEMS_FILE,
    Dataset,
)
from engine.data.validate import fail, validate_dataset
from engine.errors import DataError

FORMAT_VERSION = 1
REQUIRED_META = ("name", "source", "attributes", "time_resolution", "synthetic")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class StagedWriter:
    """Collects files written under temporary names; ``commit`` renames them all into place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.staged: list[tuple[Path, Path]] = []

    def add(self, name: str, write: Callable[[Path], None]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        self.staged.append((Path(tmp), self.folder / name))
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; prepared files are ordinary files

    def add_text(self, name: str, text: str) -> None:
        self.add(name, lambda p: p.write_text(text, encoding="utf-8"))

    def commit(self) -> None:
        for tmp, final in self.staged:
            os.replace(tmp, final)
        self.staged.clear()

    def discard(self) -> None:
        for tmp, _ in self.staged:
            tmp.unlink(missing_ok=True)
        self.staged.clear()


def save_dataset(
    ds: Dataset,
    path: str | Path,
    *,
    licence: str = "",
    extra_meta: dict | None = None,
    extra_tables: dict[str, pd.DataFrame] | None = None,
    git_ignore: bool = False,
) -> Path:
    """Validate ``ds`` and write it to the folder ``path``; returns the folder.

    ``extra_tables`` are written as additional parquet files (e.g. an id mapping); the
    loader ignores them. ``git_ignore`` drops a ``.gitignore`` (``*``) into the folder: real data and anything
    derived from it must never be committed.
    """
    from engine.data.card import render_markdown  # card imports io helpers indirectly

    validate_dataset(ds)
    folder = Path(path)
    blocked = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise DataError(f"{folder}: cannot be a data folder, {blocked} is a file",
                        "choose another --out, or move that file away")
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "name": ds.name,
        "source": ds.source,
        "attributes": list(ds.attributes),
        "time_resolution": int(ds.time_resolution),
        "synthetic": bool(ds.synthetic),
        "licence": licence,
        "files": {"items": ITEMS_FILE, "interactions": INTERACTIONS_FILE},
    }
    optional = {"top_items": (TOP_ITEMS_FILE, ds.top_items), "item_tags": (ITEM_TAGS_FILE, ds.item_tags)}
    for key, (file_name, table) in optional.items():
        if table is not None:
            meta["files"][key] = file_name
    meta.update(extra_meta or {})
    writer = StagedWriter(folder)
    try:
        writer.add(ITEMS_FILE, lambda p: ds.items.to_parquet(p, index=False))
        writer.add(INTERACTIONS_FILE, lambda p: ds.interactions.to_parquet(p, index=False))
        tables = {f: t for f, t in optional.values() if t is not None} | (extra_tables or {})
        for file_name, table in tables.items():
            writer.add(file_name, lambda p, t=table: t.to_parquet(p, index=False))
        if ds.card:
            writer.add_text(CARD_JSON, json.dumps(ds.card, indent=2, ensure_ascii=False) + "\n")
            writer.add_text(CARD_MD, render_markdown(ds.card))
        if git_ignore:
            writer.add_text(".gitignore", "# Real data and anything derived from it is never committed.\n*\n")
        writer.add_text(META_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")  # last: marks "complete"
        writer.commit()
    finally:
        writer.discard()
    for file_name, table in optional.values():
        if table is None:
            (folder / file_name).unlink(missing_ok=True)  # stale from an earlier preparation
    return folder


def read_meta(path: str | Path) -> dict:
    """The ``meta.json`` of a prepared folder, checked for the required keys."""
    folder = Path(path)
    meta_path = folder / META_FILE
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder", "prepare it first, e.g. `python -m engine prepare lastfm`")
    if not meta_path.is_file():
        raise DataError(
            f"{meta_path}: missing, so {folder} is not a prepared data folder",
            "prepare it with `python -m engine prepare <lastfm|s3rec|generic|synthetic> --out <folder>`",
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise fail(str(meta_path), "not UTF-8 text", "re-run `python -m engine prepare`") from None
    except json.JSONDecodeError as exc:
        raise fail(str(meta_path), f"invalid JSON ({exc.msg})", "re-run `python -m engine prepare`", exc.lineno) from None
    redo = "re-run `python -m engine prepare` for this folder"
    if not isinstance(meta, dict):
        raise fail(str(meta_path), f"holds {type(meta).__name__} {json.dumps(meta)[:40]}, not a JSON object", redo)
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise fail(str(meta_path), f"missing key(s) {missing}", redo)
    for key, ok, want in _META_TYPES:
        if key in meta and not ok(meta[key]):
            raise fail(str(meta_path), f"'{key}' is {json.dumps(meta[key])[:60]}, not {want}", redo)
    return meta


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# meta.json: key, check, what it must be (every key a loader or the card reads).
_META_TYPES = (
    ("name", lambda v: isinstance(v, str) and v.strip() != "", "a non-empty text"),
    ("source", lambda v: isinstance(v, str), "a text"),
    ("attributes", lambda v: isinstance(v, list) and all(isinstance(a, str) and a for a in v)
     and len(set(v)) == len(v), "a list of distinct column names"),
    ("time_resolution", _whole, "a whole number of seconds ≥ 0"),
    ("synthetic", lambda v: isinstance(v, bool), "true or false"),
    ("files", lambda v: isinstance(v, dict), "a JSON object"),
)


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: missing", "re-run `python -m engine prepare` for this folder")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: not a readable parquet file ({exc})", "re-run `python -m engine prepare`") from None


def _read_card(path: Path) -> dict:
    """The data card (``{}`` when the folder has none). A damaged card is an error, not ``{}``:
    training reads from it which test items the labels leave out, and warns when they are not
    the split's."""
    if not path.is_file():
        return {}
    redo = "re-run `python -m engine prepare` for this folder (or delete the card to load without it)"
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise fail(str(path), "not UTF-8 text", redo) from None
    except json.JSONDecodeError as exc:
        raise fail(str(path), f"invalid JSON ({exc.msg})", redo, exc.lineno) from None
    if not isinstance(card, dict):
        raise fail(str(path), "not a JSON object", redo)
    return card


def load_dataset(path: str | Path) -> Dataset:
    """Load and validate a prepared folder written by :func:`save_dataset`."""
    folder = Path(path)
    meta = read_meta(folder)
    items = _read_parquet(folder / ITEMS_FILE)
    interactions = _read_parquet(folder / INTERACTIONS_FILE)
    files = meta.get("files", {})
    top_items = _read_parquet(folder / TOP_ITEMS_FILE) if "top_items" in files else None
    item_tags = _read_parquet(folder / ITEM_TAGS_FILE) if "item_tags" in files else None
    card = _read_card(folder / CARD_JSON)
    ds = Dataset(
        name=str(meta["name"]),
        items=items,
        interactions=interactions,
        attributes=tuple(meta["attributes"]),
        time_resolution=int(meta["time_resolution"]),
        source=str(meta["source"]),
        synthetic=bool(meta["synthetic"]),
        top_items=top_items,
        item_tags=item_tags,
        card=card,
    )
    return validate_dataset(ds, str(folder))
