"""Data-parallel training plumbing (PyTorch DDP) for ``torchrun`` launches.

``torchrun --nproc_per_node=N -m engine train ...`` starts N processes and gives each the
variables WORLD_SIZE / RANK / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; :func:`init` joins
them into one process group (gloo on CPU, NCCL on GPUs) and picks this process's device.
Without those variables (or with WORLD_SIZE=1) nothing here does anything: ``world_size()``
is 1, ``is_main()`` is true and training runs exactly as a single process.

Data sharding (see :func:`engine.training.loop._run_stage`): every rank draws the same permutation
from the same seed and takes its :func:`shard` of each global batch, so N processes see
the data of one process, step by step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist

from engine.core.device import resolve_device
from engine.errors import DeviceError, DistributedError

LAUNCH_HINT = "launch with `torchrun --nproc_per_node=N -m engine train ...` (see the README)"
_REQUIRED_ENV = ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_device = torch.device("cpu")  # this rank's device once :func:`init` ran


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise DistributedError(f"{name}={raw!r} is not a whole number", LAUNCH_HINT) from None


def launched() -> bool:
    """True when this process is one of several started by ``torchrun`` (WORLD_SIZE > 1)."""
    return _env_int("WORLD_SIZE", 1) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Rank 0 (or a single process): the one that prints and writes files."""
    return rank() == 0


def shard(n: int, rank_: int | None = None, world: int | None = None) -> slice:
    """This rank's contiguous rows of a global batch of ``n`` rows (sizes differ by ≤ 1).

    The first ``n % world`` ranks take one extra row; a rank gets an empty slice only when
    the batch has fewer rows than there are processes (the last, partial batch).
    """
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    base, extra = divmod(n, w)
    start = r * base + min(r, extra)
    return slice(start, start + base + (1 if r < extra else 0))


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _pick_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = resolve_device(name)  # DeviceError for cuda without a GPU, unknown names
    if device.type == "cuda":
        n_gpus = torch.cuda.device_count()
        if local_rank >= n_gpus:
            raise DeviceError(
                f"process LOCAL_RANK={local_rank} has no GPU of its own: this machine has {n_gpus}",
                f"use --nproc_per_node={n_gpus} (one process per GPU), or --device cpu",
            )
        device = torch.device("cuda", local_rank)
    return device


def _pick_backend(name: str, device: torch.device) -> str:
    if name == "auto":
        name = "nccl" if device.type == "cuda" else "gloo"
    if name not in ("gloo", "nccl"):
        raise DistributedError(f"unknown process-group backend {name!r}", "use auto, gloo or nccl")
    if name == "nccl" and (device.type != "cuda" or not dist.is_nccl_available()):
        raise DeviceError(
            "the NCCL backend needs CUDA GPUs, and this run has none"
            if device.type != "cuda" else "this PyTorch build has no NCCL",
            "use --dist-backend gloo (or auto), which works on CPUs",
        )
    if name == "gloo" and not dist.is_gloo_available():
        raise DistributedError("this PyTorch build has no gloo backend", "install a standard PyTorch build")
    return name


def init(device: str = "auto", backend: str = "auto") -> torch.device:
    """Join the process group of a ``torchrun`` launch; returns this rank's device.

    Single process (no WORLD_SIZE, or WORLD_SIZE=1): no group, just ``resolve_device``.
    ``auto`` gives each rank ``cuda:LOCAL_RANK`` when there are GPUs, else the CPU, where
    each rank gets ``max(1, cores // processes on this machine)`` threads.
    """
    global _device
    if not launched():
        return resolve_device(device)
    if active():  # already joined (e.g. by a caller that wraps the CLI)
        return _device
    if not dist.is_available():
        raise DistributedError("this PyTorch build has no torch.distributed", "install a standard PyTorch build")
    missing = [v for v in _REQUIRED_ENV if not os.environ.get(v)]
    if missing:
        raise DistributedError(
            f"WORLD_SIZE is {os.environ['WORLD_SIZE']} but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: this is not a torchrun launch",
            LAUNCH_HINT + ", or unset WORLD_SIZE for one process",
        )
    local_rank = _env_int("LOCAL_RANK", 0)
    dev = _pick_device(device, local_rank)
    name = _pick_backend(backend, dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    else:
        local_world = _env_int("LOCAL_WORLD_SIZE", _env_int("WORLD_SIZE", 1))
        torch.set_num_threads(max(1, _cores() // max(1, local_world)))
    dist.init_process_group(backend=name, init_method="env://")
    _device = dev
    return dev


def cleanup() -> None:
    """Leave the process group (no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group(device: str = "auto", backend: str = "auto") -> Iterator[torch.device]:
    """``with process_group(...) as device:`` — :func:`init`, and :func:`cleanup` on exit
    when this call created the group."""
    created = launched() and not active()
    dev = init(device, backend)
    try:
        yield dev
    finally:
        if created:
            cleanup()


def barrier() -> None:
    if active():
        dist.barrier()


def _comm_device() -> torch.device:
    return _device if dist.get_backend() == "nccl" else torch.device("cpu")


def broadcast_float(value: float, src: int = 0) -> float:
    """Rank ``src``'s ``value`` on every rank (identity for a single process)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_comm_device())
    dist.broadcast(t, src)
    return float(t.item())


def sum_float(value: float) -> float:
    """Sum of ``value`` over the ranks (identity for a single process)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item())
