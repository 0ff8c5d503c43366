"""The training loop: pre-training then CGSA fine-tuning, early stopping on validation HR@10.

Runs data-parallel (DDP) when called inside a torchrun process group; see
:mod:`engine.training.distributed`.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from engine.core.catalogue import windows
from engine.core.config import TrainConfig
from engine.core.model import ClimberPilot
from engine.core.prepared import Prepared, build_model, model_config
from engine.errors import DistributedError, EngineError
from engine.evaluation.evaluate import validation_hr
from engine.training import distributed
from engine.training.losses import pretrain_loss, sft_loss


def set_seed(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class _ShardLoss(torch.nn.Module):
    """What DDP wraps: ``forward`` = this process's share of the loss of one global batch.

    The losses call ``model.backbone``/``model.branch``, not ``model.forward``, so DDP wraps
    this module (whose forward runs them) instead of the model. Each process takes its
    :func:`distributed.shard` of the batch; the share is scaled by the number of processes
    because DDP averages gradients, so the update equals the single-process one.
    """

    def __init__(self, model: ClimberPilot) -> None:
        super().__init__()
        self.model = model
        # Never used: with find_unused_parameters=True DDP warns (and advises turning the flag
        # off) when a step has no unused parameter, which is the usual step here. Not in the
        # optimiser nor the checkpoint; its grad stays None.
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, loss_fn, seq: Tensor, ts: Tensor, tcfg: TrainConfig, gen, counts):
        world = distributed.world_size()
        rows, weight = distributed.shard(len(seq)), float(world)
        if rows.start == rows.stop:  # fewer rows than processes: run a borrowed row, weighed 0
            rows, weight = slice(0, 1), 0.0
        loss = loss_fn(self.model, seq, ts, tcfg, gen, counts, rows=rows)
        return None if loss is None else loss * weight  # None on every rank alike


def _data_parallel(model: ClimberPilot, device: torch.device):
    """DDP around :class:`_ShardLoss` (rank 0's weights are broadcast to every rank here)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel as DDP

    # The only buffer (item attributes) is constant: no buffer sync before each forward
    # (`forward_sync_buffers` replaces the deprecated `broadcast_buffers` in newer torch).
    names = inspect.signature(DDP).parameters
    no_sync = "forward_sync_buffers" if "forward_sync_buffers" in names else "broadcast_buffers"
    # find_unused_parameters: a branch with no target in a global batch is skipped on every
    # rank, as in one process, and must keep grad None (not 0: Adam would still move it).
    return DDP(
        _ShardLoss(model), device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=True, **{no_sync: False},
    )


def batch_order(perm: Tensor, lengths: Tensor, batch_size: int, buckets: int,
                gen: torch.Generator) -> list[Tensor]:
    """Row indices of each batch in training order (see ``TrainConfig.length_buckets``)."""
    if buckets <= 0:
        return [perm[s : s + batch_size] for s in range(0, len(perm), batch_size)]
    pool = buckets * batch_size
    batches = []
    for s in range(0, len(perm), pool):
        chunk = perm[s : s + pool]
        chunk = chunk[torch.sort(lengths[chunk], stable=True).indices]
        batches += [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen)]


def _optimizer(model: ClimberPilot, tcfg: TrainConfig, stage: str) -> tuple[torch.optim.Optimizer, int]:
    """Adam and the epoch budget of a stage; at SFT the new condition modules learn faster."""
    if stage != "sft":
        return torch.optim.Adam(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay), tcfg.max_epochs
    new = [p for n, p in model.named_parameters() if n.startswith(("cond.", "cond_"))]
    old = [p for n, p in model.named_parameters() if not n.startswith(("cond.", "cond_"))]
    opt = torch.optim.Adam(
        [{"params": old, "lr": tcfg.sft_lr}, {"params": new, "lr": tcfg.sft_new_lr}],
        weight_decay=tcfg.weight_decay,
    )
    return opt, tcfg.sft_epochs


@dataclass
class _Epochs:
    """The windows of one stage and what each epoch needs to batch and weigh them."""

    seq: Tensor
    ts: Tensor
    lengths: Tensor
    targets: Tensor
    targets_per_batch: float

    @classmethod
    def of(cls, prep: Prepared, max_len: int, batch_size: int) -> _Epochs:
        seq, ts = windows(prep.train_seqs(), max_len)
        lengths = (seq > 0).sum(dim=1)
        # Bucketed batches hold very different numbers of targets (2-item windows vs 50): weigh
        # each batch's mean loss by its targets over the average, so every target counts alike.
        targets = (lengths - 1).clamp(min=0)
        return cls(seq, ts, lengths, targets, float(targets.sum()) * batch_size / max(len(seq), 1))


def _train_epoch(model, data: _Epochs, opt, loss_fn, tcfg: TrainConfig, gen, counts, device, ddp) -> float:
    """One pass over the windows; returns the global mean batch loss."""
    model.train()
    perm = torch.randperm(len(data.seq), generator=gen)
    total, n = 0.0, 0
    for idx in batch_order(perm, data.lengths, tcfg.batch_size, tcfg.length_buckets, gen):
        b_seq, b_ts = data.seq[idx], data.ts[idx]
        if tcfg.length_buckets:
            width = max(int(data.lengths[idx].max()), 1)  # relative biases: the shift is exact
            b_seq, b_ts = b_seq[:, -width:], b_ts[:, -width:]
        if ddp is None:
            loss = loss_fn(model, b_seq.to(device), b_ts.to(device), tcfg, gen, counts)
        else:  # this rank's share × world size; DDP averages the gradients over the ranks
            loss = ddp(loss_fn, b_seq.to(device), b_ts.to(device), tcfg, gen, counts)
        if loss is None:  # no target in this batch has visible history (same on every rank)
            continue
        if tcfg.length_buckets:
            loss = loss * (float(data.targets[idx].sum()) / data.targets_per_batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total, n = total + loss.item() / distributed.world_size(), n + 1
    total = distributed.sum_float(total)  # the shares add up to the global batches' loss
    return total / max(n, 1)


class _EarlyStop:
    """Keeps the best weights by validation score; stops after ``patience`` epochs without
    gain and, with ``lr_plateau``, scales the learning rate at every plateau of that length."""

    def __init__(self, tcfg: TrainConfig) -> None:
        self.tcfg, self.best, self.best_state, self.bad = tcfg, -1.0, None, 0

    def update(self, model, opt, val: float) -> bool:
        """Record one epoch's score; True when training should stop."""
        if val > self.best:
            self.best, self.best_state, self.bad = val, copy.deepcopy(model.state_dict()), 0
            return False
        self.bad += 1
        if self.bad >= self.tcfg.patience:
            return True
        if self.tcfg.lr_plateau and self.bad % self.tcfg.lr_plateau == 0:  # same score on every rank
            for group in opt.param_groups:
                group["lr"] *= self.tcfg.lr_factor
        return False

    def restore(self, model) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def _run_stage(model, prep: Prepared, tcfg: TrainConfig, device, *, stage: str, progress: bool,
               ddp=None) -> dict:
    """Shared epoch loop with early stopping on validation HR@10 (second-to-last item).

    ``ddp`` (from :func:`_data_parallel`, under torchrun): every rank draws the same data
    order, instructions and negatives from ``gen`` and trains on its shard of each global
    batch; rank 0 validates and broadcasts the score, so early stopping agrees everywhere.
    """
    stage_seed = tcfg.seed + (1000 if stage == "sft" else 0)
    gen = set_seed(stage_seed)
    main = distributed.is_main()
    if ddp is not None:  # own dropout masks per rank; `gen` stays shared
        torch.manual_seed(stage_seed + 100_003 * distributed.rank())
    data = _Epochs.of(prep, model.cfg.max_len, tcfg.batch_size)
    counts = torch.as_tensor(prep.counts, dtype=torch.float32, device=device) + 1.0
    loss_fn = sft_loss if stage == "sft" else pretrain_loss
    opt, epochs = _optimizer(model, tcfg, stage)
    stop, history = _EarlyStop(tcfg), []
    bar = tqdm(range(epochs), desc=f"{stage} {tcfg.objective}", disable=not (progress and main), leave=False)
    t0 = time.perf_counter()
    for epoch in bar:
        loss = _train_epoch(model, data, opt, loss_fn, tcfg, gen, counts, device, ddp)
        model.eval()
        val = validation_hr(model, prep, device, stage == "sft", exclude_history=tcfg.exclude_history) if main else 0.0
        val = distributed.broadcast_float(val)
        history.append({"epoch": epoch + 1, "loss": loss, "val_HR@10": val,
                        "lr": opt.param_groups[0]["lr"], "seconds": round(time.perf_counter() - t0, 1)})
        bar.set_postfix(loss=f"{loss:.3f}", val=f"{val:.4f}")
        keep_last = stage == "sft" and tcfg.sft_keep_last
        if stop.update(model, opt, val) and not keep_last:
            break
    if not (stage == "sft" and tcfg.sft_keep_last):
        stop.restore(model)
    model.eval()
    return {"stage": stage, "epochs_run": len(history), "best_val_HR@10": stop.best,
            "seconds": round(time.perf_counter() - t0, 1), "windows": len(data.seq), "curve": history}


def fit(
    prep: Prepared,
    tcfg: TrainConfig,
    device: torch.device,
    progress: bool = True,
    init_from: ClimberPilot | None = None,
    **model_overrides,
) -> tuple[ClimberPilot, dict]:
    """Pre-train (unless ``init_from`` is given) and optionally fine-tune with CGSA.

    Inside a torchrun process group (:func:`engine.distributed.init`) this is data-parallel
    training: call it on every rank; each returns the same weights.
    """
    world = distributed.world_size()
    if world > 1 and tcfg.batch_size < world:
        raise DistributedError(
            f"a batch of {tcfg.batch_size} cannot be split across {world} processes",
            f"use --batch-size {world} or more, or fewer processes",
        )
    if world > 1 and tcfg.sft_epochs and (tcfg.sft_comply or tcfg.sft_personal):
        raise DistributedError("counterfactual SFT instructions run in one process only",
                               "train without torchrun, or set sft_comply and sft_personal to 0")
    if tcfg.exclude_history and (tcfg.negatives >= 0 or tcfg.sft_epochs):
        raise EngineError("exclude_history applies to pre-training with the full softmax only",
                          "set negatives to -1 and sft_epochs to 0, or leave exclude_history off")
    if tcfg.sft_epochs > 0 and "genre" not in prep.dataset.attributes:  # checked before pre-training
        raise EngineError(f"CGSA fine-tuning (sft_epochs {tcfg.sft_epochs}) needs a 'genre' attribute to condition "
                          f"and validate on; {prep.dataset.name} has {list(prep.dataset.attributes) or 'none'}",
                          "train without --sft-epochs, or prepare the data with a genre column")
    set_seed(tcfg.seed)
    log = {}
    if init_from is None:
        n_branches = model_overrides.pop("n_branches", 2)
        n_branches = 1 if tcfg.objective == "nip" else n_branches
        cfg = model_config(prep, n_branches=n_branches, **model_overrides)
        model = build_model(cfg, prep.catalogue, prep).to(device)
    else:
        model = copy.deepcopy(init_from).to(device)
    ddp = _data_parallel(model, device) if world > 1 else None  # one wrapper for both stages
    if init_from is None:
        log["pretrain"] = _run_stage(model, prep, tcfg, device, stage="pretrain", progress=progress, ddp=ddp)
    if tcfg.sft_epochs > 0:
        log["sft"] = _run_stage(model, prep, tcfg, device, stage="sft", progress=progress, ddp=ddp)
    return model, log
