"""Type-ahead artist search and plain-English parsing: server time per query over the whole catalogue.

``python -m engine.bench.search [--data sample_data/lastfm] [--repeats 50]`` prints one row per
kind of query (the keystrokes of a name, whole names, accents, typos, later words, one
letter) with p50 / p99 / max milliseconds, plus the one-off index build and the parse of
a few sentences. Goal: one search ≤ 10 ms over 17,632 names.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from engine.data.io import load_dataset
from engine.data.paths import resolve_default_dataset
from engine.serving.artists import ArtistIndex
from engine.serving.ask import parse_instruction

GOAL_MS = 10.0
QUERIES = {
    "keystrokes (m, ma, …, madonna)": [p for name in ("madonna", "radiohead", "beyonce")
                                      for p in (name[:k] for k in range(1, len(name) + 1))],
    "whole names": ["Madonna", "The Beatles", "Lady Gaga", "Simon & Garfunkel", "AC/DC"],
    "accents / case": ["beyonce", "BJORK", "sigur ros", "motley crue", "edith piaf"],
    "typos": ["madona", "metalica", "rolling stnes", "eminme", "britny spears"],
    "later words (drake → Nick Drake)": ["drake", "garfunkel", "gaga", "stones", "machine"],
    "one letter": ["a", "x", "7"],
}
SENTENCES = ["clean 2000s hip-hop, nothing by Eminem", "K-pop hidden gems from the eighties, in German",
             "no rap, explicit is fine, not Drake or Madona", "rock and roll from the 60s to the 80s"]


def _ms(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run(data: Path, repeats: int) -> list[tuple[str, int, float, float, float]]:
    items = load_dataset(data).items
    t = time.perf_counter()
    index = ArtistIndex(items)
    build = (time.perf_counter() - t) * 1000
    rows = [(f"build the index ({len(index):,} names, once)", 1, build, build, build)]
    for label, queries in QUERIES.items():
        times = [x for q in queries for x in _ms(lambda q=q: index.search(q, 10), repeats)]
        rows.append((label, len(queries), *np.percentile(times, [50, 99]), max(times)))
    times = [x for s in SENTENCES for x in _ms(lambda s=s: parse_instruction(s, items, index=index), repeats)]
    rows.append(("parse_instruction (4 sentences)", len(SENTENCES), *np.percentile(times, [50, 99]), max(times)))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args(argv)
    rows = run(args.data or resolve_default_dataset(), args.repeats)
    print(f"| {'what':<40} | {'queries':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for label, n, p50, p99, mx in rows:
        print(f"| {label:<40} | {n:>7} | {p50:>7.2f} | {p99:>7.2f} | {mx:>7.2f} |")
    worst = max(r[3] for r in rows[1:-1])
    print(f"\nsearch p99 ≤ {GOAL_MS:g} ms: {'yes' if worst <= GOAL_MS else 'NO'} (worst p99 {worst:.2f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
