"""Training throughput at the shipped config (method §3 TAMIP pre-training) and time to quality.

Throughput: a few steps of :func:`engine.training.losses.pretrain_loss` + backward + Adam on the
shipped model shape and batch size, over the same windows training uses. The FLOPs of a
step are counted by torch's ``FlopCounterMode`` on one extra step, so the achieved rate
can be put next to the machine's measured matmul rate (the bench's physical limit).

Time to quality is *not* re-measured (that is a full training run): it is read from the
shipped checkpoint, as recorded by training (``metrics["training"][stage]``, whose curve
holds the wall time at the end of every epoch, validation included).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine import tables
from engine.bench import common as bc
from engine.core.catalogue import windows
from engine.core.config import objective_config
from engine.core.model import param_count
from engine.core.prepared import Prepared, build_model, model_config
from engine.training.loop import set_seed
from engine.training.losses import pretrain_loss

RECORDED_NOTE = (
    "as recorded by training (engine.training.loop: wall time since the stage began, at the end of each "
    "epoch, validation included); *s to best* is that time at the epoch whose weights were kept"
)


def run_train(
    prep: Prepared,
    *,
    model_overrides: dict,
    train_overrides: dict,
    steps: int = 20,
    warmup: int = 3,
    threads: int = 2,
    matmul_n: int = 2048,
    shipped: dict | None = None,
    data_note: str = "",
    command: str = "",
) -> dict:
    """Sequences/s of pre-training steps; ``shipped`` = {"checkpoint", "metrics", "machine"}."""
    bc.set_threads(threads)
    machine, probe = bc.machine_info(), bc.CpuProbe()
    run = _Steps(prep, model_overrides, dict(train_overrides))
    step_flops, ns, skipped = _time_steps(run.step, warmup, steps)
    stats = bc.summarize(ns)
    rate = bc.matmul_rate("cpu", matmul_n)
    bs, n_windows = run.batch_size, len(run.seq)
    seq_s = bs / (stats["p50_ms"] / 1e3)
    achieved = step_flops / (stats["p50_ms"] / 1e3) / 1e9
    return {
        "kind": "train",
        "schema": bc.SCHEMA,
        "date": bc.now_iso(),
        "command": command,
        "machine": bc.machine_at_end(machine, probe),
        "data": {"dataset": prep.dataset.name, "note": data_note, "windows": n_windows,
                 "n_items": prep.catalogue.n_items},
        "config": {"model": {k: v for k, v in asdict(run.cfg).items() if k not in ("attr_values", "tag_values")},
                   "train": asdict(run.tcfg), "parameters": param_count(run.model)},
        "throughput": {
            "steps": steps, "warmup": warmup, "batch_size": bs, "threads": threads,
            "skipped_steps": skipped,
            "step_p50_ms": stats["p50_ms"], "step_p99_ms": stats["p99_ms"], "step_mean_ms": stats["mean_ms"],
            "sequences_per_s": seq_s,
            "sequences_per_s_mean": bs / (stats["mean_ms"] / 1e3),
            "flops_per_step": step_flops,
            "achieved_gflops": achieved,
            "matmul": rate,
            "mfu": achieved / rate["gflops"],
            "epoch_seconds_implied": n_windows / seq_s,
            "note": "one step = pretrain_loss (forward, K branches, sampled softmax) + backward + Adam; "
                    "FLOPs counted by torch FlopCounterMode (matmuls) on one extra step",
        },
        "time_to_quality": time_to_quality(shipped),
    }


class _Steps:
    """A fresh TAMIP model, its optimiser and the training windows; ``step(i)`` trains on batch i."""

    def __init__(self, prep: Prepared, model_overrides: dict, train_overrides: dict) -> None:
        self.tcfg = objective_config("tamip", **train_overrides)
        self.gen = set_seed(self.tcfg.seed)
        self.cfg = model_config(prep, **model_overrides)
        self.model = build_model(self.cfg, prep.catalogue, prep).train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.tcfg.lr, weight_decay=self.tcfg.weight_decay)
        self.seq, self.ts = windows(prep.train_seqs(), self.cfg.max_len)
        self.counts = torch.as_tensor(prep.counts, dtype=torch.float32) + 1.0
        self.order = torch.randperm(len(self.seq), generator=self.gen)
        self.batch_size = min(self.tcfg.batch_size, len(self.seq))

    def batch(self, i: int):
        bs = self.batch_size
        start = (i * bs) % max(len(self.seq) - bs + 1, 1)
        idx = self.order[start : start + bs]
        return self.seq[idx], self.ts[idx]

    def step(self, i: int) -> bool:
        """One optimiser step; False when the batch had no target (nothing to learn)."""
        s, t = self.batch(i)
        loss = pretrain_loss(self.model, s, t, self.tcfg, self.gen, self.counts)
        if loss is None:
            return False
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return True


def _time_steps(step, warmup: int, steps: int) -> tuple[int, list[int], int]:
    """FLOPs of one step (counted on step 0), then ``warmup`` untimed and ``steps`` timed steps (ns)."""
    with FlopCounterMode(display=False) as fc:
        step(0)
    step_flops = fc.get_total_flops()
    for i in range(warmup):
        step(1 + i)
    ns, skipped = [], 0
    for i in range(steps):
        t0 = time.perf_counter_ns()
        ok = step(1 + warmup + i)
        ns.append(time.perf_counter_ns() - t0)
        skipped += not ok
    return step_flops, ns, skipped


def time_to_quality(shipped: dict | None) -> dict:
    """Per training stage of the shipped checkpoint: best validation HR@10 and when it was reached."""
    if not shipped or not shipped.get("metrics"):
        return {"available": False, "note": (shipped or {}).get("note", "no shipped checkpoint")}
    training = shipped["metrics"].get("training", {})
    stages = {}
    for name in ("pretrain", "sft"):
        st = training.get(name)
        if not st or not st.get("curve"):
            continue
        curve = st["curve"]
        vals = [c["val_HR@10"] for c in curve]
        best = curve[int(np.argmax(vals))]  # the first epoch at the best score: its weights were kept
        epochs = st.get("epochs_run", len(curve))
        seconds = st.get("seconds")
        stages[name] = {
            "best_val_HR@10": best["val_HR@10"],
            "best_epoch": best["epoch"],
            "epochs_run": epochs,
            "seconds_recorded": seconds,
            "seconds_per_epoch_recorded": seconds / epochs if seconds and epochs else None,
            "seconds_to_best": best.get("seconds"),  # absent in older checkpoints
            "windows": st.get("windows"),
            "curve": curve,
        }
    return {"available": bool(stages), "checkpoint": shipped.get("checkpoint"),
            "trained_on": shipped.get("machine"), "note": RECORDED_NOTE, "stages": stages}


def print_train(result: dict, file=None) -> None:
    th = result["throughput"]
    m = result["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {th['threads']} threads; torch {m['torch']}",
          file=file)
    print(f"data: {result['data']['dataset']} ({result['data']['windows']:,} training windows) "
          f"{result['data']['note']}", file=file)
    print(tables.text_table(
        ["batch", "steps", "step p50 ms", "step p99 ms", "seq/s", "GFLOP/step", "GFLOP/s",
         "matmul GFLOP/s", "MFU", "epoch s (implied)"],
        [[th["batch_size"], th["steps"], th["step_p50_ms"], th["step_p99_ms"], th["sequences_per_s"],
          th["flops_per_step"] / 1e9, th["achieved_gflops"], th["matmul"]["gflops"], th["mfu"],
          th["epoch_seconds_implied"]]]), file=file)
    ttq = result["time_to_quality"]
    if not ttq["available"]:
        print(f"time to quality: not available ({ttq['note']})", file=file)
        return
    print(f"time to quality ({ttq['note']}):", file=file)
    print(tables.text_table(
        ["stage", "best val HR@10", "best epoch", "epochs run", "s recorded", "s/epoch", "s to best"],
        [[k, v["best_val_HR@10"], v["best_epoch"], v["epochs_run"], v["seconds_recorded"],
          v["seconds_per_epoch_recorded"], v["seconds_to_best"]]
         for k, v in ttq["stages"].items()]), file=file)
