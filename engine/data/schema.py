"""The one schema every data set is converted into, and the container that holds it.

Loaders (HetRec Last.fm, S3-Rec, generic CSV/parquet, synthetic) all produce a
:class:`Dataset`; the engine and the app only ever see this shape. Column names
are constants so no string literal is scattered through the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# Column names.
USER_ID = "user_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"  # int64 seconds since the Unix epoch (UTC); order-only data uses the position
NAME = "name"
GENRE = "genre"
LANGUAGE = "language"
ERA = "era"
EXPLICIT = "explicit"  # "true" / "false" / "unknown"
POPULARITY = "popularity_tier"  # "head" / "torso" / "tail"
LISTENERS = "listeners"
PLAYS = "plays"
RANK = "rank"
TAG = "tag"  # one of an item's multi-valued attributes (item_tags table)

UNKNOWN = "unknown"
EXPLICIT_VALUES = ("true", "false", UNKNOWN)
POPULARITY_TIERS = ("head", "torso", "tail")

# File names inside a prepared data folder (e.g. sample_data/lastfm/).
ITEMS_FILE = "items.parquet"
INTERACTIONS_FILE = "interactions.parquet"
TOP_ITEMS_FILE = "top_items.parquet"  # optional: user_id, item_id, plays, rank
ITEM_TAGS_FILE = "item_tags.parquet"  # optional: item_id, tag
META_FILE = "meta.json"
CARD_JSON = "card.json"
CARD_MD = "card.md"


@dataclass(frozen=True)
class Dataset:
    """A catalogue plus time-ordered interactions, as the engine consumes them.

    - ``items``: one row per item; ``ITEM_ID`` (int64, unique), ``NAME`` (str) and one
      string column per entry of ``attributes`` (``UNKNOWN`` where there is no evidence);
      extra columns (popularity counts, evidence) are allowed and ignored by the model.
    - ``interactions``: ``USER_ID`` (int64), ``ITEM_ID`` (int64, every id in ``items``),
      ``TIMESTAMP`` (int64); sorted by user, then time, ties kept in source order.
    - ``attributes``: the categorical item columns the model embeds and instructions use.
    - ``time_resolution``: seconds per meaningful tick (86400 for day-resolution data,
      1 for second-resolution); 0 when the data has order but no real timestamps.
    - ``item_tags`` (optional): one row per (``ITEM_ID``, ``TAG``) for attributes an item
      has several of (S3-Rec brand/category ids, Last.fm tags); the model can embed them as
      a bag. Instructions never use them.
    """

    name: str
    items: pd.DataFrame
    interactions: pd.DataFrame
    attributes: tuple[str, ...]
    time_resolution: int
    source: str
    synthetic: bool = False
    top_items: pd.DataFrame | None = None
    item_tags: pd.DataFrame | None = None
    card: dict = field(default_factory=dict)
