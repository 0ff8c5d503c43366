"""Shared pieces of the benchmarks: machine record, hardware floors, FLOP counts, tables.

nanoGPT's bench idea (style guide): a speed means something only next to a physical
limit measured in the same run. Here the limit is the machine's float32 matmul rate
(:func:`matmul_rate`) applied to the FLOPs a request needs, counted analytically from
the model config (:func:`model_flops`; a parity test checks it against torch's counter).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from engine.core.config import ModelConfig
from engine.paths import repo_root

SCHEMA = 1


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo_root(),
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo_root(), capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine_info() -> dict:
    """Where and with what a benchmark ran (recorded in every bench JSON)."""
    import faiss

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "load_avg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


class CpuProbe:
    """CPU time other processes used while a bench ran, in cores (Linux ``/proc/stat``).

    The load average lags by minutes (a job stopped just before still counts), so the
    report judges contention by this instead: machine-wide busy time minus our own.
    """

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
        t = os.times()
        return time.monotonic(), busy, t.user + t.system + t.children_user + t.children_system

    def other_cores(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        other = (end[1] - self.start[1]) - (end[2] - self.start[2])
        return round(max(other, 0.0) / (end[0] - self.start[0]), 3)


def machine_at_end(machine: dict, probe: CpuProbe) -> dict:
    """``machine_info()`` from the start of a timing run plus how busy the machine was."""
    return {**machine, "load_avg_end": list(os.getloadavg()), "other_cores": probe.other_cores()}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def command_line(argv: list[str] | None = None) -> str:
    """The command as a user would type it (``python -m engine …``)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and argv[0].endswith(("__main__.py", "engine")):
        return " ".join(["python -m engine", *argv[1:]])
    return " ".join(argv)


def set_threads(n: int) -> None:
    """Same thread count for torch and FAISS (OpenMP)."""
    import faiss

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


# --------------------------------------------------------------------------- floors


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(device: torch.device | str = "cpu", n: int = 2048, reps: int = 5) -> dict:
    """Measured float32 ``n×n @ n×n`` rate in GFLOP/s (best of ``reps``: the machine's limit)."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device)
    b = torch.randn(n, n, generator=g).to(device)
    torch.matmul(a, b)  # warm-up (allocations, kernel choice)
    _sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        times.append(time.perf_counter() - t0)
    flops = 2.0 * n**3
    return {
        "device": device.type,
        "n": n,
        "reps": reps,
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "gflops": flops / min(times) / 1e9,
        "gflops_median": flops / float(np.median(times)) / 1e9,
    }


def summarize(ns: list[int] | np.ndarray) -> dict:
    """p50/p99/mean/min in milliseconds of durations given in nanoseconds."""
    ms = np.asarray(ns, dtype=np.float64) / 1e6
    return {
        "n": int(ms.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "min_ms": float(ms.min()),
    }


# --------------------------------------------------------------------------- FLOPs
# Multiply-adds count 2 FLOPs; only matmuls are counted (layer norms, softmax, GELU,
# embedding look-ups and the relative-bias gathers are a small remainder).


def encoder_flops(cfg: ModelConfig, t: int) -> int:
    """Item encoder over ``t`` tokens: the projection of ID ⊕ attribute (⊕ tag bag) embeddings to d."""
    return 2 * t * (cfg.d_model + cfg.d_attr * (len(cfg.attr_values) + bool(cfg.tag_values))) * cfg.d_model


def backbone_flops(cfg: ModelConfig, t: int) -> int:
    """``L`` causal layers over ``t`` positions: projections, QKᵀ, AV and the FFN."""
    d, f = cfg.d_model, cfg.ffn_mult
    per_layer = (8 + 4 * f) * t * d * d + 4 * t * t * d
    return cfg.n_layers * per_layer


def branch_flops(cfg: ModelConfig, t: int, rows: int, tokens: int) -> int:
    """One branch layer: ``rows`` queries over ``t`` history keys and ``tokens`` condition tokens.

    Keys/values of the history are projected once for all rows (the batched-instruction
    point of method §4); each row has its own condition-token keys/values.
    """
    d, f, r, m = cfg.d_model, cfg.ffn_mult, rows, tokens
    return (4 + 4 * f) * r * d * d + 4 * t * d * d + 4 * r * m * d * d + 4 * r * d * (t + m)


def model_flops(cfg: ModelConfig, rows: int, tokens: int) -> int:
    """FLOPs of one request's forward: encoder + backbone + branch 1 at ``cfg.max_len``."""
    t = cfg.max_len
    return encoder_flops(cfg, t) + backbone_flops(cfg, t) + branch_flops(cfg, t, rows, tokens)


def search_flops(n_scanned: int, d: int) -> int:
    """Exact inner-product search: one dot product per scanned item."""
    return 2 * int(n_scanned) * d


# --------------------------------------------------------------------------- output


def parse_size(text: str) -> str | int:
    """``real``, ``100k``, ``1m`` or a plain number of items."""
    t = text.strip().lower()
    if t == "real":
        return "real"
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)
