"""Soak: 8 concurrent app sessions (AppTest instances in threads) for a bounded time.

Each session starts from its own preset or user, then repeatedly composes an instruction
(genre, K, over-fetch) in the form, submits it and switches pages. Asserted: no exception
in any session; every session shows only its own history/instruction and exactly the
lists the engine computes for them (no shared state between sessions); the process RSS
stays flat after warm-up. Duration: ``CLIMBER_SOAK_SECONDS`` (default 120).

Streamlit's ``AppTest`` is not thread-safe: each ``run()`` swaps the process-global
``Runtime._instance`` (and resets ``PagesManager`` and config patches) and sets it back to
None when done, so two overlapping runs crash each other ("Runtime hasn't been created!").
Script runs are therefore serialised by ``_HARNESS``; the 8 sessions still interleave in one
process (shared caches, shared model) and the engine checks run truly concurrently.
"""

from __future__ import annotations

import gc
import os
import random
import re
import threading
import time
import traceback
from pathlib import Path

import app_support as support
import numpy as np
import pytest
from app_support import APP, card_html, cards

from app.presets import compute_presets
from engine import METHOD_LABELS, Instruction

app_model, app_env, rec = support.app_model, support.app_env, support.rec
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("app_env")]

SESSIONS = 8
WARMUP_S = 20.0
_HARNESS = threading.Lock()  # AppTest.run() mutates process globals (see above)
MAX_RSS_GROWTH_MB = 150.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _split(value: str | None) -> frozenset[str]:
    return frozenset(v for v in (value or "").split(",") if v)


def instruction_of(qp) -> Instruction:
    """The instruction a session's address bar states (what the app computed from)."""
    return Instruction(genres=_split(qp.get("genres")), languages=_split(qp.get("languages")),
                       explicit=qp.get("explicit", "allow"), popularity=_split(qp.get("popularity")),
                       eras=_split(qp.get("eras")), blocked_items=frozenset(int(i) for i in _split(qp.get("blocked"))),
                       exclude_heard=qp.get("exclude_heard", "true") != "false")  # heard left out unless the link says so


def shown_ids(at, method: str) -> list[int]:
    return [int(i) for i in re.findall(r"data-item='(\d+)'", card_html(at, METHOD_LABELS[method]))]


class Session:
    def __init__(self, n: int, start: dict, user: int, genres: list[str], deadline: float, seed: int) -> None:
        self.n, self.start, self.user, self.genres, self.deadline = n, start, user, genres, deadline
        self.rng = random.Random(seed)
        self.times: list[float] = []
        self.requests = 0
        self.error: BaseException | None = None
        self.trace = ""
        self.checked = self.empty = 0  # result lists compared with the engine / zero-eligible views
        self.lock = threading.Lock()

    def run_timed(self, at):
        with _HARNESS:
            t0 = time.perf_counter()
            at.run()
            self.times.append(time.perf_counter() - t0)
        self.requests += 1
        assert not at.exception, (self.n, [e.message for e in at.exception])
        return at

    def check_own(self, at, rec, genre: str | None, k: int, compare_page: bool = True) -> None:
        qp = at.query_params
        if "preset" in self.start:
            assert qp["preset"] == self.start["preset"], (self.n, dict(qp))
        else:
            assert qp["user"] == str(self.user), (self.n, dict(qp))
        if genre is not None:
            assert qp["genres"] == genre and qp["k"] == str(k), (self.n, genre, k, dict(qp))
        if genre is not None and compare_page:
            cmp = rec.compare(rec.user_history(self.user), instruction_of(qp), k, int(qp["overfetch"]), ("cgsa_hard",))
            if cmp.eligible == 0:  # e.g. the preset's language + this genre: the app explains, shows no lists
                assert not cards(at), (self.n, dict(qp))
                assert any("No artist in the catalogue satisfies" in w.value for w in at.warning), (self.n, dict(qp))
                self.empty += 1
                return
            hard = shown_ids(at, "cgsa_hard")
            assert hard == [int(i) for i in cmp.results["cgsa_hard"].items["item_id"]], (self.n, hard)
            self.checked += 1

    def __call__(self, rec) -> None:
        from streamlit.testing.v1 import AppTest

        try:
            at = AppTest.from_file(str(APP), default_timeout=90)
            at.query_params.update({**self.start, "page": "compare"})
            self.run_timed(at)
            at.switch_page("views/compare.py")
            self.run_timed(at)
            self.check_own(at, rec, None, 10)
            while time.monotonic() < self.deadline:
                genre, k = self.rng.choice(self.genres), self.rng.randint(3, 12)
                at.multiselect(key="f_genres").set_value([genre])
                at.slider(key="f_k").set_value(k)
                at.slider(key="f_overfetch").set_value(self.rng.randint(1, 6))
                next(b for b in at.button if b.label == "Recommend").click()
                self.run_timed(at)
                self.check_own(at, rec, genre, k)
                page = self.rng.choice(("auto", "history", "attention", "compare"))
                at.switch_page(f"views/{page}.py")
                self.run_timed(at)
                assert cards(at) or page != "auto", (self.n, page)  # compare: checked below
                self.check_own(at, rec, genre, k, compare_page=page == "compare")
                at.switch_page("views/compare.py")
                self.run_timed(at)
                self.check_own(at, rec, genre, k)  # the form re-seeds from this session's view
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
            self.trace = traceback.format_exc()


def test_eight_concurrent_sessions_soak(rec, capsys):
    seconds = float(os.environ.get("CLIMBER_SOAK_SECONDS", "120"))
    presets = compute_presets(rec.users(), rec.items)
    users = sorted(rec.users())
    genres = list(rec.items["genre"].value_counts().index[:6])
    starts = []
    for n in range(SESSIONS):
        if n % 2 == 0 and presets:
            p = presets[(n // 2) % len(presets)]
            starts.append(({"preset": p.key}, p.user_id))
        else:
            u = users[(7 * n + 3) % len(users)]
            starts.append(({"user": str(u)}, u))
    gc.collect()
    rss0 = rss_mb()
    deadline = time.monotonic() + seconds
    sessions = [Session(n, s, u, genres, deadline, seed=n) for n, (s, u) in enumerate(starts)]
    threads = [threading.Thread(target=s, args=(rec,), name=f"session-{s.n}", daemon=True) for s in sessions]
    for t in threads:
        t.start()
    # RSS after warm-up (every session has loaded and run), then at the end.
    warm_at = time.monotonic() + min(WARMUP_S, seconds / 3)
    while time.monotonic() < warm_at and any(t.is_alive() for t in threads):
        time.sleep(0.5)
    gc.collect()
    rss_warm = rss_mb()
    for t in threads:
        t.join(timeout=seconds + 300)
    gc.collect()
    rss_end = rss_mb()
    times = np.array([x for s in sessions for x in s.times]) * 1000
    with capsys.disabled():
        print(f"\nsoak: {SESSIONS} sessions × {seconds:.0f} s; requests per session: {[s.requests for s in sessions]}"
              f" (total {sum(s.requests for s in sessions)}); lists checked against the engine: "
              f"{sum(s.checked for s in sessions)}, zero-eligible views: {sum(s.empty for s in sessions)}")
        if len(times):
            print(f"soak: run time p50 {np.percentile(times, 50):.0f} ms, p95 {np.percentile(times, 95):.0f} ms, "
                  f"max {times.max():.0f} ms")
        print(f"soak: RSS start {rss0:.0f} MB, after warm-up {rss_warm:.0f} MB, end {rss_end:.0f} MB "
              f"(growth after warm-up {rss_end - rss_warm:+.0f} MB)")
    assert not any(t.is_alive() for t in threads), "a session did not finish"
    errors = [(s.n, s.trace) for s in sessions if s.error is not None]
    assert not errors, errors
    assert all(s.requests >= 3 for s in sessions)
    assert rss_end - rss_warm < MAX_RSS_GROWTH_MB
