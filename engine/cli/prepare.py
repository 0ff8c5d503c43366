"""``python -m engine prepare <lastfm|s3rec|generic|synthetic>``: raw data → prepared folder.

Each variant writes typed parquet files, ``meta.json`` and a data card (``card.md``) to
``--out`` and prints a one-screen summary. Bad input raises :class:`DataError`, which
``engine.cli`` prints as one line.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from engine.data.generic import prepare_generic
from engine.data.io import load_dataset
from engine.data.lastfm import prepare_lastfm
from engine.data.paths import default_dataset_dir
from engine.data.s3rec import prepare_s3rec
from engine.data.synthetic import SyntheticConfig, prepare_synthetic
from engine.errors import DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prepare`` subcommand and its four variants."""
    prepare = subparsers.add_parser("prepare", help="convert a data set into the engine's prepared format")
    kinds = prepare.add_subparsers(dest="kind", required=True, metavar="<lastfm|s3rec|generic|synthetic>")

    p = kinds.add_parser("lastfm", help="HetRec 2011 Last.fm-2k (folder or official zip)")
    p.add_argument("--source", type=Path, help="release folder or hetrec2011-lastfm-2k.zip "
                                               "(default: <repo>/../shared/data/hetrec2011-lastfm-2k/raw)")
    p.add_argument("--download", action="store_true", help="fetch the official zip from GroupLens first")
    p.add_argument("--out", type=Path, default=default_dataset_dir("lastfm"), help="output folder (git-ignored)")
    p.add_argument("--spotify", type=Path, help="spotify_by_genre.parquet for explicit flags (default: shared data)")
    p.add_argument("--reference", type=Path, help="reference artist_attributes.tsv to measure agreement against")
    p.add_argument("--force", action="store_true", help="rebuild even if the folder is up to date")
    p.set_defaults(func=_lastfm)

    p = kinds.add_parser("s3rec", help="S3-Rec benchmark files ('user item item ...' + item2attributes.json)")
    p.add_argument("--txt", type=Path, required=True, help="sequence file, e.g. Beauty.txt or LastFM.txt")
    p.add_argument("--attributes", type=Path, help="item2attributes JSON (default: <txt stem>_item2attributes.json)")
    p.add_argument("--lastfm-maps", type=Path, help="folder with s3rec_lastfm_item_map.tsv and s3rec_lastfm_user_map.tsv "
                                                    "(default: <txt folder>/derived if present)")
    p.add_argument("--hetrec-source", type=Path, help="HetRec release folder or zip (with --lastfm-maps)")
    p.add_argument("--spotify", type=Path, help="spotify_by_genre.parquet (with --lastfm-maps)")
    p.add_argument("--name", help="data set name (default: the txt file's stem)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=_s3rec)

    p = kinds.add_parser("generic", help="your own logs: interactions + items, CSV/TSV or parquet")
    p.add_argument("--interactions", type=Path, required=True, help="user_id, item_id, timestamp (seconds or ISO 8601)")
    p.add_argument("--items", type=Path, required=True, help="item_id, name and categorical columns")
    p.add_argument("--attributes", help="comma-separated item columns to use as attributes (default: categorical ones)")
    p.add_argument("--name", help="data set name (default: the interactions file's stem)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="replace an existing prepared folder at --out")
    p.set_defaults(func=_generic)

    p = kinds.add_parser("synthetic", help="seeded synthetic logs with consumption lag")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--items", type=int, default=600)
    p.add_argument("--out", type=Path, default=default_dataset_dir("synthetic"), help="output folder")
    p.set_defaults(func=_synthetic)


def _summary(out: Path, started: float) -> int:
    ds = load_dataset(out)
    counts = ds.card.get("counts", {})
    print(f"prepared {ds.name} in {out} ({time.perf_counter() - started:.1f} s)")
    print("  " + ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in counts.items()))
    for attr, cov in ds.card.get("coverage", {}).items():
        print(f"  {attr}: {cov['items']:.1%} of items, {cov['interactions']:.1%} of interactions known")
    print(f"  data card: {out / 'card.md'}")
    return 0


def _lastfm(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = prepare_lastfm(args.source, args.out, download=args.download, spotify=args.spotify,
                         reference=args.reference, force=args.force)
    return _summary(out, started)


def _s3rec(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = prepare_s3rec(args.txt, args.out, attributes=args.attributes, lastfm_maps=args.lastfm_maps,
                        hetrec_source=args.hetrec_source, spotify=args.spotify, name=args.name)
    return _summary(out, started)


def _generic(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    attributes = [a.strip() for a in args.attributes.split(",") if a.strip()] if args.attributes else None
    out = prepare_generic(args.interactions, args.items, args.out, name=args.name, attributes=attributes,
                          force=args.force)
    return _summary(out, started)


def _synthetic(args: argparse.Namespace) -> int:
    try:
        config = SyntheticConfig(seed=args.seed, n_users=args.users, n_items=args.items)
        started = time.perf_counter()
        out = prepare_synthetic(args.out, config)
    except ValueError as exc:
        raise DataError(f"synthetic config: {exc}", "use --items of at least 80 and --users of at least 1") from None
    return _summary(out, started)
