"""Serving latency of one request (method §4, batched multi-condition inference; §5 methods).

A request is what the serving path does for one user: encode the history (item ids →
indices → left-padded tensors) and the P instructions, run the backbone once and branch 1
once with P rows (:func:`engine.serving.inference.queries`), then one FAISS call for all P
instructions (:func:`engine.serving.retrieval.run_methods`). Post-hoc filtering runs branch 1
unconditioned (one row), over-fetches K×f once and filters per instruction; CGSA searches
the P conditioned queries plainly, CGSA+hard with one allowed-id list per instruction.

Each configuration is reported as p50/p99 next to two floors measured in the same run:
the request's FLOPs over the measured matmul rate, and a bare FAISS search of one query.
Eligible-item masks per instruction are computed once per catalogue (a server caches
them); the allowed-id lists are still built per request, inside ``run_methods``, as in serving.
"""

from __future__ import annotations

import copy
import gc
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from engine.bench import common as bc
from engine.bench.latency_goals import (
    GOAL_P4_RATIO,
    GOAL_P50_MS,
    MIN_REQUESTS,
    goals,
    print_latency,
)
from engine.core.catalogue import user_sequences
from engine.core.conditions import encode
from engine.core.instructions import Instruction
from engine.core.model import ClimberPilot
from engine.data.schema import GENRE, ITEM_ID, LANGUAGE, UNKNOWN
from engine.serving.history import History, encode_history
from engine.serving.inference import queries
from engine.serving.recommender import Recommender
from engine.serving.retrieval import ItemIndex, run_method, run_methods

__all__ = ["GOAL_P4_RATIO", "GOAL_P50_MS", "MIN_REQUESTS", "LatencySettings", "encode_history", "goals",
           "print_latency", "run_latency"]


@dataclass(frozen=True)
class LatencySettings:
    requests: int = MIN_REQUESTS
    warmup: int = 20
    k: int = 10
    histories: tuple[int, ...] = (50, 200)
    instructions: tuple[int, ...] = (1, 4, 16)
    catalogues: tuple[str | int, ...] = ("real", 100_000, 1_000_000)
    overfetch: tuple[int, ...] = (1, 5, 20)
    threads: int = 2
    gpu: bool = True  # also measure on CUDA when torch sees one
    matmul_n: int = 2048
    seed: int = 0
    api: bool = True  # also time the public API (Recommender.recommend / compare)


# --------------------------------------------------------------------------- inputs


def history_pool(rec: Recommender, length: int, n: int, seed: int) -> tuple[list[History], str]:
    """``n`` real histories of exactly ``length`` items (concatenated users if none is long enough)."""
    rng = np.random.default_rng(seed)
    ids = rec.catalogue.items[ITEM_ID].to_numpy()
    res = max(rec.dataset.time_resolution, 1)
    seqs = [s for s in user_sequences(rec.dataset, rec.catalogue) if len(s.items)]
    long = [s for s in seqs if len(s.items) >= length]
    out = []
    if long:
        for i in rng.permutation(len(long))[:n]:
            s = long[i]
            out.append(History(tuple(ids[s.items[-length:] - 1].tolist()),
                               tuple((s.ticks[-length:] * res).tolist())))
        return out, f"last {length} items of real users ({len(long)} users have ≥ {length})"
    for _ in range(n):
        items, ticks = [], []
        while len(items) < length:
            s = seqs[rng.integers(len(seqs))]
            shift = (ticks[-1] + 1 - int(s.ticks[0])) if ticks else 0
            items += s.items.tolist()
            ticks += (s.ticks + shift).tolist()
        out.append(History(tuple(ids[np.asarray(items[-length:]) - 1].tolist()),
                           tuple(int(t) * res for t in ticks[-length:])))
    return out, f"real users concatenated in time (no user has ≥ {length} items)"


def instruction_set(rec: Recommender, p: int) -> list[Instruction]:
    """P distinct instructions: frequent genres, then genre ∧ language (cycled if still short)."""
    items = rec.catalogue.items
    cfg = rec.model.cfg
    out: list[Instruction] = []
    if GENRE in cfg.cond_attributes:
        genres = [g for g in items[GENRE].value_counts().index if g != UNKNOWN]
        out = [Instruction(genres=frozenset({g})) for g in genres]
        if LANGUAGE in cfg.cond_attributes and len(out) < p:
            pairs = items[(items[GENRE] != UNKNOWN) & (items[LANGUAGE] != UNKNOWN)]
            for (g, lang), _ in pairs.groupby([GENRE, LANGUAGE]).size().sort_values(ascending=False).items():
                out.append(Instruction(genres=frozenset({g}), languages=frozenset({lang})))
    if not out:
        out = [Instruction()]
    return [out[i % len(out)] for i in range(p)]


def allowed_masks(model: ClimberPilot, codes: torch.Tensor, instructions: list[Instruction]) -> np.ndarray:
    """``[P, N]`` eligible items per instruction, by the same predicate CGSA uses."""
    enc = encode(model, instructions)
    return enc.predicate(codes[None])[0].numpy()


# --------------------------------------------------------------------------- one request


def _request(rec, model, index, h, method, instrs, allowed, k, overfetch, device):
    """One request; returns (encode, model, search) nanoseconds and items returned per list."""
    cond = method.startswith("cgsa")
    t0 = time.perf_counter_ns()
    seq, ts = encode_history(h, rec.catalogue, rec.dataset.time_resolution, model.cfg.max_len, device)
    enc = encode(model, instrs) if cond else None
    t1 = time.perf_counter_ns()
    u, *_ = queries(model, seq, ts, enc)
    u = u[0].cpu().numpy()
    t2 = time.perf_counter_ns()
    if method == "unconditioned":
        returned = [len(run_method(index, method, u[0], None, None, k)[1])]
    else:
        lists = run_methods(index, method, u[0], u if cond else None, allowed, k, overfetch)
        returned = [len(top) for _, top in lists]
    t3 = time.perf_counter_ns()
    return (t1 - t0, t2 - t1, t3 - t2), returned


def _timed(fn, pool, warmup: int, requests: int, seed: int):
    order = np.random.default_rng(seed).integers(0, len(pool), warmup + requests)
    for i in order[:warmup]:
        fn(pool[i])
    gc.collect()
    gc.disable()  # a collection inside one request would be noise, not serving cost
    try:
        stages, totals, returned = [], [], []
        for i in order[warmup:]:
            t0 = time.perf_counter_ns()
            st, ret = fn(pool[i])
            totals.append(time.perf_counter_ns() - t0)
            stages.append(st)
            returned += ret
    finally:
        gc.enable()
    return totals, np.asarray(stages), returned


def bare_search(index: ItemIndex, k: int, warmup: int, requests: int, seed: int) -> dict:
    """Floor (b): one raw ``IndexFlatIP.search`` of one query, no engine code around it."""
    q = np.random.default_rng(seed).standard_normal((64, index.d)).astype(np.float32)
    for i in range(warmup):
        index.index.search(q[i % 64 : i % 64 + 1], k)
    ns = []
    for i in range(requests):
        t0 = time.perf_counter_ns()
        index.index.search(q[i % 64 : i % 64 + 1], k)
        ns.append(time.perf_counter_ns() - t0)
    return {"n_items": index.n, **bc.summarize(ns)}


# --------------------------------------------------------------------------- the grid


def _catalogues(rec: Recommender, sizes, seed: int):
    """Yield (label, ItemIndex, attribute codes [N, A]) one at a time (1M × d is large)."""
    real_codes = rec.catalogue.item_attrs[1:]
    for size in sizes:
        if size == "real":
            yield f"{rec.dataset.name} ({rec.catalogue.n_items:,})", "real", rec.index, real_codes
            continue
        rng = np.random.default_rng(seed + int(size))
        vecs = rng.standard_normal((int(size), rec.model.cfg.d_model), dtype=np.float32)
        codes = real_codes[torch.from_numpy(rng.integers(0, len(real_codes), int(size)))]
        yield f"random {bc.size_label(int(size))}", bc.size_label(int(size)), ItemIndex(vecs), codes
        del vecs


def _variants(rec: Recommender, length: int, seed: int):
    """(label, model) pairs for one history length; longer than max_len gives two."""
    cfg = rec.model.cfg
    if length <= cfg.max_len:
        return [("checkpoint", rec.model)]
    torch.manual_seed(seed)
    items = rec.model.items
    long = ClimberPilot(replace(cfg, max_len=length), items.item_attrs, items.item_tags).cpu().eval()
    return [
        (f"checkpoint (uses last {cfg.max_len})", rec.model),
        (f"random init, max_len={length}", long),
    ]


def _methods(p: int, overfetch) -> list[tuple[str, str, int]]:
    out = [("unconditioned", "unconditioned", 1)] if p == 1 else []
    out += [(f"posthoc_x{f}", "posthoc", f) for f in overfetch]
    return out + [("cgsa", "cgsa", 1), ("cgsa_hard", "cgsa_hard", 1)]


def run_latency(rec: Recommender, settings: LatencySettings, command: str = "",
                checkpoint: str | None = None, log=None) -> dict:
    """Measure the whole grid; returns the JSON-ready result (see ``results/bench_latency.json``)."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    s = settings
    bc.set_threads(s.threads)
    machine, probe = bc.machine_info(), bc.CpuProbe()
    devices, gpu_note = _devices(s)
    log(f"GPU: {gpu_note}")
    rates = {d.type: bc.matmul_rate(d, s.matmul_n) for d in devices}
    log("matmul rate: " + ", ".join(f"{k} {v['gflops']:.1f} GFLOP/s" for k, v in rates.items()))
    pools = {n: history_pool(rec, n, 64, s.seed) for n in s.histories}
    instr = {p: instruction_set(rec, p) for p in s.instructions}
    models = {(dev.type, n): [(lbl, m if dev.type == "cpu" else copy.deepcopy(m).to(dev))
                              for lbl, m in _variants(rec, n, s.seed)]
              for dev in devices for n in s.histories}
    # The API rows go first, beside the real-catalogue rows they are read against, not after the
    # 1M-item catalogue: last, recommend() measured 5.03 ms p50; first, 4.56 ms (both full grids).
    api = _api_rows(rec, pools, instr, rates, s) if s.api and "real" in s.catalogues else []
    rows, bare = _grid(rec, s, devices, models, pools, instr, rates, log)
    out = {
        "kind": "latency",
        "schema": bc.SCHEMA,
        "date": bc.now_iso(),
        "command": command,
        "machine": bc.machine_at_end(machine, probe),
        "settings": {**asdict(s), "catalogues": [str(c) for c in s.catalogues]},
        "model": _model_info(rec, checkpoint),
        "gpu": {"available": torch.cuda.is_available(), "note": gpu_note,
                "faiss": "FAISS runs on the CPU (faiss-cpu) on every device"},
        "histories": {str(n): src for n, (_, src) in pools.items()},
        "instructions": {str(p): [i.describe() for i in v] for p, v in instr.items()},
        "matmul": rates,
        "bare_search": bare,
        "rows": rows + api,
        "notes": NOTES,
    }
    out["goals"] = goals(out)
    return out


NOTES = [
    "request = encode history + instructions → backbone → branch 1 (P rows) → one FAISS call (P rows)",
    "post-hoc: branch 1 unconditioned (1 row), one K×f search, filtered per instruction",
    "eligible-item masks per instruction are cached per catalogue; allowed-id lists are built per request",
    "compute floor = analytic matmul FLOPs ÷ measured matmul rate (model on its device, search on CPU)",
    "random catalogues: Gaussian float32 vectors of the model's d, attributes drawn from the real items",
    "garbage collection disabled while timing",
]


def _devices(s: LatencySettings) -> tuple[list[torch.device], str]:
    """The CPU, plus CUDA when asked for and present; and a note saying why CUDA was skipped."""
    devices = [torch.device("cpu")]
    gpu_note = "measured" if torch.cuda.is_available() else "skipped: torch.cuda.is_available() is False"
    if s.gpu and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    elif not s.gpu:
        gpu_note = "skipped: disabled by --device cpu"
    return devices, gpu_note


def _model_info(rec: Recommender, checkpoint: str | None) -> dict:
    cfg = rec.model.cfg
    return {"checkpoint": checkpoint, "dataset": rec.dataset.name, "n_items": rec.catalogue.n_items,
            "d_model": cfg.d_model, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
            "ffn_mult": cfg.ffn_mult, "max_len": cfg.max_len, "n_branches": cfg.n_branches}


def _grid(rec, s: LatencySettings, devices, models, pools, instr, rates, log) -> tuple[list[dict], dict]:
    """Every (catalogue, device, history, model, P, method) row, and the bare search per catalogue."""
    rows, bare = [], {}
    total = len(s.catalogues) * sum(len(models[(d.type, n)]) for d in devices for n in s.histories) \
        * sum(len(_methods(p, s.overfetch)) for p in s.instructions)
    for cat_label, cat_key, index, codes in _catalogues(rec, s.catalogues, s.seed):
        bare[cat_key] = {"catalogue": cat_label, **bare_search(index, s.k, s.warmup, s.requests, s.seed)}
        allowed = {p: allowed_masks(rec.model, codes, instr[p]) for p in s.instructions}
        for dev in devices:
            for n in s.histories:
                for var_label, model in models[(dev.type, n)]:
                    for p in s.instructions:
                        tokens = encode(rec.model, instr[p]).cond_ids.shape[1]
                        for name, method, f in _methods(p, s.overfetch):
                            row = _measure(rec, model, index, pools[n][0], method, instr[p],
                                           allowed[p], f, dev, s)
                            row.update({
                                "device": dev.type, "history": n, "model": var_label,
                                "model_max_len": model.cfg.max_len, "catalogue": cat_label,
                                "catalogue_key": cat_key, "n_items": index.n, "P": p, "method": name,
                                "overfetch": f if method == "posthoc" else None,
                                **_floors(row["p50_ms"], model.cfg, method, p, tokens, allowed[p],
                                          index, rates, dev, bare[cat_key]["p50_ms"]),
                            })
                            rows.append(row)
                            log(f"[{len(rows)}/{total}] {dev.type} h{n} {var_label[:18]:18} {cat_key:>6} "
                                f"P={p:<2} {name:13} p50 {row['p50_ms']:8.3f} ms  p99 {row['p99_ms']:8.3f} ms")
        del index
    return rows, bare


def _floors(p50, cfg, method, p, tokens, allowed, index, rates, dev, bare_ms) -> dict:
    """Compute floor (FLOPs the request performs ÷ matmul rate) and the bare-search ratio."""
    cond = method.startswith("cgsa")
    scanned = int(allowed.sum()) if method == "cgsa_hard" else (p if method == "cgsa" else 1) * index.n
    mf = bc.model_flops(cfg, p if cond else 1, tokens if cond else 1)
    sf = bc.search_flops(scanned, index.d)
    floor = (mf / rates[dev.type]["gflops"] + sf / rates["cpu"]["gflops"]) / 1e6
    return {"model_flops": mf, "search_flops": sf, "compute_floor_ms": floor,
            "x_compute_floor": p50 / floor, "bare_search_ms": bare_ms, "x_bare_search": p50 / bare_ms}


def _measure(rec, model, index, pool, method, instrs, allowed, f, dev, s) -> dict:
    def fn(h):
        return _request(rec, model, index, h, method, instrs, allowed, s.k, f, dev)

    totals, stages, returned = _timed(fn, pool, s.warmup, s.requests, s.seed)
    return {
        **bc.summarize(totals),
        "encode_p50_ms": float(np.percentile(stages[:, 0], 50) / 1e6),
        "model_p50_ms": float(np.percentile(stages[:, 1], 50) / 1e6),
        "search_p50_ms": float(np.percentile(stages[:, 2], 50) / 1e6),
        "kept_share": float(np.mean(returned) / s.k),
    }


def _api_rows(rec: Recommender, pools, instr, rates, s: LatencySettings) -> list[dict]:
    """The public API on the CPU, history ≤ max_len, one instruction (pandas results included)."""
    n = min(s.histories)
    if n > rec.model.cfg.max_len or 1 not in instr:
        return []
    pool, ins = pools[n][0], instr[1][0]
    cfg = rec.model.cfg
    allowed = rec.eligible(ins)
    tokens = encode(rec.model, [ins]).cond_ids.shape[1]
    mf = bc.model_flops(cfg, 1, 1) + bc.branch_flops(cfg, cfg.max_len, 1, tokens)
    calls = {
        "api:recommend(cgsa)": (lambda h: rec.recommend(h, ins, s.k, "cgsa"), 2 * rec.index.n),
        "api:compare(all 5)": (lambda h: rec.compare(h, ins, s.k, 5),
                               3 * rec.index.n + 2 * int(allowed.sum())),
    }
    rows = []
    for name, (call, scanned) in calls.items():
        def fn(h, call=call):
            call(h)
            return (0, 0, 0), []

        totals, _, _ = _timed(fn, pool, s.warmup, s.requests, s.seed)
        sf = bc.search_flops(scanned, rec.index.d)
        floor = (mf + sf) / rates["cpu"]["gflops"] / 1e6
        st = bc.summarize(totals)
        rows.append({**st, "device": "cpu", "history": n, "model": "checkpoint", "model_max_len": cfg.max_len,
                     "catalogue": f"{rec.dataset.name} ({rec.catalogue.n_items:,})", "catalogue_key": "real",
                     "n_items": rec.index.n, "P": 1, "method": name, "overfetch": None,
                     "model_flops": mf, "search_flops": sf, "compute_floor_ms": floor,
                     "x_compute_floor": st["p50_ms"] / floor, "encode_p50_ms": None,
                     "model_p50_ms": None, "search_p50_ms": None, "kept_share": None})
    return rows
