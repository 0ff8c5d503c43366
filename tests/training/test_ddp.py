"""Data-parallel training (DDP under ``torchrun``): 2 CPU processes (gloo) on the tiny toy
data set keep identical weights, match one process within FP round-off, and only rank 0
writes the checkpoint and prints.

One ``torchrun --standalone --nproc_per_node=2`` launch runs this file as its worker
(``ddp_worker.py`` beside it): first a run on data whose batches often have no supervised target
and whose last batch is smaller than the number of processes, then the real CLI
(``engine.cli.main(["train", ...])``). The worker only instruments ``fit`` (tiny model,
dropout 0, each rank saves its weights) and ``checkpoint.save`` (who wrote). The
single-process references run in the test process with the same instrumentation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TOY_HOLDOUT, make_toy_dataset
from ddp_worker import CLI_ARGS, DDP_MODEL, _edge_fit, _instrumented

from engine.cli import main
from engine.core import checkpoint
from engine.errors import DeviceError, DistributedError
from engine.serving.inference import batched_queries
from engine.training import distributed

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")
# Measured, 2 gloo processes vs 1 process (1 thread each): ≤ 5e-7 on every weight compared
# (attention key biases aside, see _key_bias_rows), 8e-7 on the query vectors. Breaking the
# sync on purpose gave 3e-2 (no gradient all-reduce), 3e-2 (per-rank instead of global-batch
# mean) and 5e-4 (shares not scaled by the number of processes).
PARAM_TOL = 2e-5
SCORE_TOL = 1e-5  # query vectors of the validation histories
LOSS_RTOL = 1e-5  # per-epoch training loss (the ranks' shares summed)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from engine.data.io import save_dataset

    base = tmp_path_factory.mktemp("ddp")
    data = save_dataset(make_toy_dataset(), base / "toy")
    ddp, single = base / "ddp", base / "single"
    ddp.mkdir()
    single.mkdir()
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(WORKER), str(ddp), str(data)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    ddp_seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the 2 processes on 2 cores
    try:
        _edge_fit(single, torch.device("cpu"))
        with _instrumented(single):
            assert main(["train", "--data", str(data), "--out", str(single / "model.pt"), *CLI_ARGS]) == 0
    finally:
        torch.set_num_threads(threads)
    return {"ddp": ddp, "single": single, "data": data, "proc": proc, "ddp_seconds": ddp_seconds}


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _key_bias_rows(name: str, tensor: torch.Tensor) -> slice:
    """Attention key biases have a zero gradient in exact arithmetic (softmax ignores a shift
    shared by all keys): Adam turns their round-off gradients into steps, so they are the
    only weights that differ by more than round-off. The scores do not depend on them."""
    return slice(0, tensor.shape[0] // 2) if name.endswith("attn.kv.bias") else slice(0, 0)


def _param_diff(a: dict, b: dict) -> tuple[float, str]:
    worst, where = 0.0, ""
    for k, x in a.items():
        if not x.is_floating_point():
            assert torch.equal(x, b[k]), k
            continue
        d = (x.double() - b[k].double()).abs()
        d[_key_bias_rows(k, x)] = 0
        if d.max().item() > worst:
            worst, where = d.max().item(), k
    return worst, where


def _max_query_diff(state_a: dict, state_b: dict, data: Path) -> float:
    from engine.core.prepared import model_config, prepare
    from engine.data.io import load_dataset

    prep = prepare(load_dataset(data), TOY_HOLDOUT, True)
    cfg = model_config(prep, **DDP_MODEL)
    outs = []
    for state in (state_a, state_b):
        from engine.core.model import ClimberPilot

        model = ClimberPilot(cfg, prep.catalogue.item_attrs)
        model.load_state_dict(state)
        outs.append(batched_queries(model.eval(), [s.train for s in prep.splits], device="cpu"))
    return (outs[0] - outs[1]).abs().max().item()


@pytest.mark.slow  # the torchrun launch + the single-process references take ~20 s on 2 cores
@pytest.mark.parametrize("name", ["rank", "edge_rank"])
def test_ranks_hold_identical_weights(runs, name):
    a = _load(runs["ddp"] / f"{name}0.pt")
    b = _load(runs["ddp"] / f"{name}1.pt")
    assert a["state"].keys() == b["state"].keys()
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    assert _curves(a["log"]) == _curves(b["log"])  # same losses, same early-stopping input


def _curves(log: dict) -> list[tuple]:
    return [(c["loss"], c["val_HR@10"]) for stage in log.values() for c in stage["curve"]]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rank", "edge_rank"])
def test_two_processes_match_one_process(runs, name):
    ddp = _load(runs["ddp"] / f"{name}0.pt")
    one = _load(runs["single"] / f"{name}0.pt")
    worst, where = _param_diff(ddp["state"], one["state"])
    print(f"{name}: max |Δweight| 2 procs vs 1 = {worst:.2e} ({where})")
    assert worst <= PARAM_TOL, (worst, where)
    curve_ddp, curve_one = _curves(ddp["log"]), _curves(one["log"])
    assert len(curve_ddp) == len(curve_one)
    for (loss_d, _), (loss_1, _) in zip(curve_ddp, curve_one, strict=True):
        assert loss_d == pytest.approx(loss_1, rel=LOSS_RTOL)
    if name == "rank":
        assert _max_query_diff(ddp["state"], one["state"], runs["data"]) <= SCORE_TOL
        assert [v for _, v in curve_ddp] == [v for _, v in curve_one]  # same early-stopping input


@pytest.mark.slow
def test_only_rank_zero_writes_and_prints(runs):
    ddp = runs["ddp"]
    assert (ddp / "saved_by_rank0").exists() and not (ddp / "saved_by_rank1").exists()
    ckpt = checkpoint.load(ddp / "model.pt")
    assert torch.equal(ckpt.state_dict["items.id.weight"], _load(ddp / "rank0.pt")["state"]["items.id.weight"])
    out = runs["proc"].stdout
    assert out.count("wrote ") == 1 and out.count("next-item HR@10") == 1, out
    print(f"torchrun 2 processes (launch + 2 runs + evaluation): {runs['ddp_seconds']:.1f}s")


# --------------------------------------------------------------------------- misuse, no processes


def test_shard_splits_every_batch_exactly():
    for n in range(0, 9):
        for world in (1, 2, 3, 4):
            parts = [distributed.shard(n, r, world) for r in range(world)]
            assert [i for p in parts for i in range(n)[p]] == list(range(n))
            sizes = [p.stop - p.start for p in parts]
            assert max(sizes) - min(sizes) <= 1


def _torchrun_env(monkeypatch, **extra):
    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", **extra}
    for k, v in env.items():
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)


def test_ship_under_torchrun_is_refused(monkeypatch, capsys):
    _torchrun_env(monkeypatch)
    assert main(["train", "--ship"]) == 2
    err = capsys.readouterr().err
    assert "--ship" in err and "without torchrun" in err


def test_other_subcommands_refuse_torchrun(monkeypatch, capsys):
    _torchrun_env(monkeypatch)
    assert main(["evaluate"]) == 2
    assert "only `train` is data-parallel" in capsys.readouterr().err


def test_world_size_without_torchrun_is_explained(monkeypatch):
    _torchrun_env(monkeypatch, MASTER_ADDR=None, MASTER_PORT=None)
    with pytest.raises(DistributedError, match="not a torchrun launch"):
        distributed.init("cpu")


def test_nccl_without_gpu_is_explained(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _torchrun_env(monkeypatch)
    with pytest.raises(DeviceError, match="NCCL backend needs CUDA GPUs"):
        distributed.init("auto", "nccl")
    assert not distributed.active()


def test_batch_smaller_than_world_is_refused(monkeypatch, tiny_prep):
    from engine.core.config import objective_config
    from engine.training.loop import fit

    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    with pytest.raises(DistributedError, match="cannot be split across 4 processes"):
        fit(tiny_prep, objective_config("tamip", batch_size=2), torch.device("cpu"), progress=False)


def test_single_process_is_untouched():
    assert not distributed.launched() or os.environ.get("WORLD_SIZE") == "1"
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    assert distributed.shard(5) == slice(0, 5)
    assert distributed.broadcast_float(0.25) == 0.25 and distributed.sum_float(1.5) == 1.5
