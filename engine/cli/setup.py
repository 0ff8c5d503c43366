"""``python -m engine setup``: make a fresh clone usable in one step.

Prepares the real Last.fm data when the release is reachable (a no-op when it is
already up to date), otherwise says plainly that the app will show the committed
synthetic set; then loads the shipped model against that data to prove it fits.
"""

from __future__ import annotations

from engine.data.io import load_dataset
from engine.data.lastfm import prepare_lastfm
from engine.data.paths import resolve_default_dataset
from engine.errors import DataError
from engine.paths import MAIN_CHECKPOINT, SYNTHETIC_CHECKPOINT
from engine.serving.recommender import Recommender


def register(sub) -> None:
    p = sub.add_parser("setup", help="prepare the bundled data and check that the shipped model loads")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    try:
        out = prepare_lastfm()
        print(f"Last.fm data ready in {out}")
    except DataError as exc:
        print(f"Real Last.fm data not available ({exc.message}); the app will show the "
              "committed SYNTHETIC data set instead.")
    data = resolve_default_dataset()
    ds = load_dataset(data)
    ckpt = SYNTHETIC_CHECKPOINT if ds.synthetic else MAIN_CHECKPOINT
    rec = Recommender.load(ckpt, ds, "auto")
    print(f"model {ckpt.name} loaded on {rec.device_label}: {rec.catalogue.n_items:,} items, "
          f"{len(rec.users()):,} users ({'synthetic' if ds.synthetic else 'real'} data)")
    return 0
