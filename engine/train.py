"""Training: TAMIP/MIP/NIP pre-training (method §3) and CGSA fine-tuning (method §4).

``python -m engine train`` trains one model; ``python -m engine train --ship`` rebuilds
every checkpoint in ``assets/`` (see :mod:`engine.ship`).
"""

from __future__ import annotations

import argparse
import copy
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from engine import checkpoint, distributed, masks
from engine.config import ModelConfig, TrainConfig
from engine.data.io import load_dataset
from engine.data.paths import resolve_default_dataset
from engine.data.schema import EXPLICIT, UNKNOWN, Dataset
from engine.device import resolve_device
from engine.errors import DistributedError, EngineError
from engine.evaluate import evaluate_all, validation_hr
from engine.model import ClimberPilot
from engine.sequences import (
    Catalogue,
    Split,
    build_catalogue,
    item_counts,
    split_users,
    user_sequences,
    windows,
)

# Attributes that get condition tokens when the catalogue has them (method §4).
COND_ATTRIBUTES = ("genre", "language", "explicit", "popularity_tier", "era")
# SFT: chance that each attribute of the true next item becomes an atom of its instruction.
SFT_ATOM_PROB = {"genre": 0.8, "language": 0.35, "explicit": 0.15, "popularity_tier": 0.1, "era": 0.1}


def set_seed(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class Prepared:
    """Everything derived from a data set that training and evaluation share."""

    dataset: Dataset
    catalogue: Catalogue
    train_only: list
    splits: list[Split]
    counts: np.ndarray  # training interactions per item index (popularity baseline, logQ)

    def train_seqs(self):
        return self.train_only + [s.train for s in self.splits]


def prepare(ds: Dataset, holdout: int, day_boundary: bool, attr_values=None) -> Prepared:
    left_out = ds.card.get("labels_leave_out")
    if left_out and (left_out["holdout"], left_out["day_boundary"]) != (holdout, day_boundary):
        warnings.warn(f"{ds.name}: its labels leave out the test items of holdout {left_out['holdout']} "
                      f"(day boundary {left_out['day_boundary']}), not of this split (holdout {holdout}, "
                      f"day boundary {day_boundary}): labels may count this split's test items",
                      stacklevel=2)
    cat = build_catalogue(ds, attr_values)
    seqs = user_sequences(ds, cat)
    train_only, splits = split_users(seqs, holdout, day_boundary)
    counts = item_counts(train_only + [s.train for s in splits], cat.n_items)
    return Prepared(ds, cat, train_only, splits, counts)


def prepare_for(ds: Dataset, tcfg: TrainConfig, attr_values=None) -> Prepared:
    """The split a checkpoint was trained with (its TrainConfig says which)."""
    return prepare(ds, tcfg.holdout, tcfg.day_boundary and ds.time_resolution > 0, attr_values)


def model_config(prep: Prepared, tags: bool = False, **overrides) -> ModelConfig:
    """``tags``: embed the catalogue's multi-valued attributes (``item_tags``) as a bag."""
    ds = prep.dataset
    cond = tuple(a for a in COND_ATTRIBUTES if a in ds.attributes)
    if tags and prep.catalogue.item_tags is None:
        raise EngineError(f"{ds.name} has no item tags to embed",
                          "prepare it from a file with item attributes (S3-Rec item2attributes), or drop tags")
    return ModelConfig(
        n_items=prep.catalogue.n_items,
        attributes=tuple(ds.attributes),
        attr_values=prep.catalogue.attr_values,
        cond_attributes=cond,
        tag_values=prep.catalogue.tag_values if tags else (),
        time_unit=ds.time_resolution,
        **overrides,
    )


def build_model(cfg: ModelConfig, cat: Catalogue) -> ClimberPilot:
    """A fresh network for ``cat`` (its tag matrix only when the config embeds tags)."""
    return ClimberPilot(cfg, cat.item_attrs, cat.item_tags if cfg.tag_values else None)


# --------------------------------------------------------------------------- losses


def _candidates(targets: Tensor, n_items: int, tcfg: TrainConfig, gen: torch.Generator):
    """Shared candidate set for every branch: in-batch targets ∪ uniform negatives."""
    if tcfg.negatives < 0:
        return None
    uniform = torch.randint(1, n_items + 1, (tcfg.negatives,), generator=gen).to(targets.device)
    return torch.unique(torch.cat([targets, uniform]))


def _softmax_loss(q: Tensor, t: Tensor, vecs: Tensor, cand: Tensor | None, log_q: Tensor | None,
                  reduction: str = "mean", seen: Tensor | None = None):
    """``vecs`` holds the candidates' vectors (every item when ``cand`` is None).

    ``seen [n, T]`` (full softmax only): items each target's user had before it, 0 = padding;
    they leave the softmax, except the target itself, as they leave the S3-Rec ranking.
    """
    logits = q @ vecs.T
    if cand is None:
        if seen is not None:  # in place on the product (its backward does not read it): no copy
            rows, cols = ((seen > 0) & (seen != t[:, None])).nonzero(as_tuple=True)
            logits.index_put_((rows, seen[rows, cols] - 1), logits.new_tensor(float("-inf")))
        return F.cross_entropy(logits, t - 1, reduction=reduction)
    if log_q is not None:
        logits = logits - log_q[cand]
    return F.cross_entropy(logits, torch.searchsorted(cand, t), reduction=reduction)


def _log_q(counts: Tensor, n_pairs: int, tcfg: TrainConfig) -> Tensor:
    """log P(item in the candidate set): in-batch by popularity, plus the uniform draw."""
    f = counts / counts.sum()
    q = 1 - torch.exp(n_pairs * torch.log1p(-f.clamp(max=0.999))) + tcfg.negatives / len(f)
    return torch.log(q.clamp(1e-12, 1.0))


def _branch_losses(model, seq, pairs, tcfg, gen, counts, sharded: bool = False,
                   seen: list[Tensor] | None = None) -> Tensor | None:
    """Sum over branches of the sampled softmax, negatives shared across branches (None: no pair).

    ``pairs`` holds, per branch, (queries, their targets, the targets of the whole batch).
    Sharded (data parallelism, one process's rows of a global batch): candidates, logQ and
    each branch's mean are still taken over the whole batch, so the processes' losses add
    up to the single-process loss (a process without a pair of its own adds a zero).
    ``seen`` holds, per branch, each local pair's earlier items (``tcfg.exclude_history``).
    """
    pairs = [(p[0], p[1], p[-1]) for p in pairs]  # a (q, t) pair: the whole batch is local
    seen = seen or [None] * len(pairs)
    every = [g for _, _, g in pairs]
    cand = _candidates(torch.cat(every), model.cfg.n_items, tcfg, gen)
    vecs = model.items.all_items() if cand is None else model.items(cand)
    log_q = _log_q(counts, sum(len(g) for g in every), tcfg) if (tcfg.logq and cand is not None) else None
    if sharded:
        losses = [_softmax_loss(q, t, vecs, cand, log_q, "sum", h) / len(g)
                  for (q, t, g), h in zip(pairs, seen, strict=True) if len(g)]
    else:
        losses = [_softmax_loss(q, t, vecs, cand, log_q, seen=h)
                  for (q, t, _), h in zip(pairs, seen, strict=True) if len(t)]
    return torch.stack(losses).sum() if losses else None


def pretrain_loss(model: ClimberPilot, seq: Tensor, ts: Tensor, tcfg: TrainConfig, gen, counts,
                  rows: slice | None = None) -> Tensor:
    """One forward supervises every target: branch k at read-out p(t) predicts item t+k.

    ``rows`` (data parallelism): run the model on these rows of the global batch only and
    return their share of its loss (see :func:`_branch_losses`).
    """
    mine = slice(None) if rows is None else rows
    bb = model.backbone(seq[mine], ts[mine])
    valid = seq > 0  # bb.valid, for the whole batch
    readout = masks.readout_positions(masks.target_visibility_mask(ts, valid, tcfg.delta_tau))
    b, t = seq.shape
    pos = torch.arange(t, device=seq.device).expand(b, t)
    pairs, seen = [], []
    for k in range(model.cfg.n_branches):
        u, _, _ = model.branch(k, bb, pos[mine])
        tgt_pos = pos + k
        tgt = seq.gather(1, tgt_pos.clamp(max=t - 1))
        ok = (readout >= 0) & valid & (tgt_pos < t) & (tgt > 0)
        q = u.gather(1, readout[mine].clamp(min=0)[..., None].expand(-1, -1, u.shape[-1]))
        here = ok[mine]
        local = tgt[mine][here]
        pairs.append((q[here], local, local if rows is None else tgt[ok]))
        if tcfg.exclude_history:  # everything before the target, read by the query or not
            before = pos[mine][:, None, :] < tgt_pos[mine][:, :, None]  # [B, T(target), T(item)]
            seen.append((seq[mine][:, None, :] * before)[here])
    return _branch_losses(model, seq, pairs, tcfg, gen, counts, sharded=rows is not None, seen=seen)


def sample_instructions(model: ClimberPilot, seq: Tensor, tcfg: TrainConfig, gen):
    """Instructions from each target's own attributes: per attribute allowed sets + tokens.

    Returns ``allowed`` (list of ``[B, T, V+1]``), ``attr_index`` and ``cond_ids [B, T, M]``.
    A row with no atom (unconditioned share, or only unknown values) keeps token 0.
    """
    cfg = model.cfg
    tgt = model.items.item_attrs[seq]  # [B, T, A]
    b, t = seq.shape
    uncond = torch.rand(b, t, generator=gen) < tcfg.sft_uncond_share
    allowed, attr_index, tokens = [], [], []
    for attr in cfg.cond_attributes:
        ai = cfg.attributes.index(attr)
        vocab = cfg.attr_values[ai]
        v = tgt[..., ai].cpu()
        known = (v > 0) & (v != (vocab.index(UNKNOWN) + 1 if UNKNOWN in vocab else -1))
        use = (torch.rand(b, t, generator=gen) < SFT_ATOM_PROB.get(attr, 0.1)) & ~uncond
        allow = torch.ones(b, t, len(vocab) + 1, dtype=torch.bool)
        if attr == EXPLICIT:  # a policy atom: "exclude known explicit" = {false, unknown}
            values = [x for x in ("false", UNKNOWN) if x in vocab]
            use &= (v > 0) & (v != (vocab.index("true") + 1 if "true" in vocab else -1))
            idx = torch.tensor([vocab.index(x) + 1 for x in values], dtype=torch.long)
            row_allow = torch.zeros(len(vocab) + 1, dtype=torch.bool)
            row_allow[idx] = True
            allow[use] = row_allow
            for x in values:
                tokens.append(torch.where(use, model.cond_token(attr, x), 0))
        else:
            use &= known
            allow[use] = F.one_hot(v[use], len(vocab) + 1).bool()
            offset = model.cond_token(attr, vocab[0])
            tokens.append(torch.where(use, offset + v - 1, 0))
        allowed.append(allow.to(seq.device))
        attr_index.append(ai)
    cond_ids = torch.sort(torch.stack(tokens, dim=-1), dim=-1, descending=True).values
    return allowed, attr_index, cond_ids[..., : cfg.max_cond_tokens].to(seq.device)


def sft_loss(model: ClimberPilot, seq: Tensor, ts: Tensor, tcfg: TrainConfig, gen, counts,
             rows: slice | None = None) -> Tensor:
    """CGSA: branch k reads the context shortened by k items, under the target's instruction.

    ``rows``: as in :func:`pretrain_loss`; instructions are drawn for the whole batch, so
    every process consumes ``gen`` exactly as a single process does.
    """
    mine = slice(None) if rows is None else rows
    bb = model.backbone(seq[mine], ts[mine])
    valid = seq > 0  # bb.valid, for the whole batch
    readout = masks.readout_positions(masks.target_visibility_mask(ts, valid, tcfg.delta_tau))
    allowed, attr_index, cond_ids = sample_instructions(model, seq, tcfg, gen)
    predicate = masks.item_predicate(bb.hist_attrs, [a[mine] for a in allowed], attr_index)
    ok = valid & (readout >= 0)
    pairs = []
    for k in range(model.cfg.n_branches):
        q_pos = readout - k
        ok_k = ok & (q_pos >= 0)
        u, _, _ = model.branch(k, bb, q_pos[mine].clamp(min=0), predicate, cond_ids[mine])
        here = ok_k[mine]
        local = seq[mine][here]
        pairs.append((u[here], local, local if rows is None else seq[ok_k]))
    return _branch_losses(model, seq, pairs, tcfg, gen, counts, sharded=rows is not None)


# --------------------------------------------------------------------------- loops


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


def _run_stage(model, prep: Prepared, tcfg: TrainConfig, device, *, stage: str, progress: bool,
               ddp=None) -> dict:
    """Shared epoch loop with early stopping on validation HR@10 (second-to-last item).

    ``ddp`` (from :func:`_data_parallel`, under torchrun): every rank draws the same data
    order, instructions and negatives from ``gen`` and trains on its shard of each global
    batch; rank 0 validates and broadcasts the score, so early stopping agrees everywhere.
    """
    stage_seed = tcfg.seed + (1000 if stage == "sft" else 0)
    gen = set_seed(stage_seed)
    world, main = distributed.world_size(), distributed.is_main()
    if ddp is not None:  # own dropout masks per rank; `gen` stays shared
        torch.manual_seed(stage_seed + 100_003 * distributed.rank())
    seq, ts = windows(prep.train_seqs(), model.cfg.max_len)
    counts = torch.as_tensor(prep.counts, dtype=torch.float32, device=device) + 1.0
    loss_fn = sft_loss if stage == "sft" else pretrain_loss
    if stage == "sft":
        # Condition modules are new at SFT time and learn faster than the pre-trained weights.
        new = [p for n, p in model.named_parameters() if n.startswith(("cond.", "cond_"))]
        old = [p for n, p in model.named_parameters() if not n.startswith(("cond.", "cond_"))]
        opt = torch.optim.Adam(
            [{"params": old, "lr": tcfg.sft_lr}, {"params": new, "lr": tcfg.sft_new_lr}],
            weight_decay=tcfg.weight_decay,
        )
        epochs = tcfg.sft_epochs
    else:
        opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        epochs = tcfg.max_epochs
    best, best_state, bad, history = -1.0, None, 0, []
    conditioned = stage == "sft"
    bar = tqdm(range(epochs), desc=f"{stage} {tcfg.objective}", disable=not (progress and main), leave=False)
    t0 = time.perf_counter()
    lengths = (seq > 0).sum(dim=1)
    # Bucketed batches hold very different numbers of targets (2-item windows vs 50): weigh
    # each batch's mean loss by its targets over the average, so every target counts alike.
    targets = (lengths - 1).clamp(min=0)
    targets_per_batch = float(targets.sum()) * tcfg.batch_size / max(len(seq), 1)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(seq), generator=gen)
        total, n = 0.0, 0
        for idx in batch_order(perm, lengths, tcfg.batch_size, tcfg.length_buckets, gen):
            b_seq, b_ts = seq[idx], ts[idx]
            if tcfg.length_buckets:
                width = max(int(lengths[idx].max()), 1)  # relative biases: the shift is exact
                b_seq, b_ts = b_seq[:, -width:], b_ts[:, -width:]
            if ddp is None:
                loss = loss_fn(model, b_seq.to(device), b_ts.to(device), tcfg, gen, counts)
            else:  # this rank's share × world size; DDP averages the gradients over the ranks
                loss = ddp(loss_fn, b_seq.to(device), b_ts.to(device), tcfg, gen, counts)
            if loss is None:  # no target in this batch has visible history (same on every rank)
                continue
            if tcfg.length_buckets:
                loss = loss * (float(targets[idx].sum()) / targets_per_batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, n = total + loss.item() / world, n + 1
        total = distributed.sum_float(total)  # the shares add up to the global batches' loss
        model.eval()
        val = validation_hr(model, prep, device, conditioned, exclude_history=tcfg.exclude_history) if main else 0.0
        val = distributed.broadcast_float(val)
        history.append({"epoch": epoch + 1, "loss": total / max(n, 1), "val_HR@10": val,
                        "lr": opt.param_groups[0]["lr"], "seconds": round(time.perf_counter() - t0, 1)})
        bar.set_postfix(loss=f"{total / max(n, 1):.3f}", val=f"{val:.4f}")
        if val > best:
            best, best_state, bad = val, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= tcfg.patience:
                break
            if tcfg.lr_plateau and bad % tcfg.lr_plateau == 0:  # same broadcast score on every rank
                for group in opt.param_groups:
                    group["lr"] *= tcfg.lr_factor
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {
        "stage": stage,
        "epochs_run": len(history),
        "best_val_HR@10": best,
        "seconds": round(time.perf_counter() - t0, 1),
        "windows": len(seq),
        "curve": history,
    }


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
    if tcfg.exclude_history and (tcfg.negatives >= 0 or tcfg.sft_epochs):
        raise EngineError("exclude_history applies to pre-training with the full softmax only",
                          "set negatives to -1 and sft_epochs to 0, or leave exclude_history off")
    set_seed(tcfg.seed)
    log = {}
    if init_from is None:
        n_branches = model_overrides.pop("n_branches", 2)
        n_branches = 1 if tcfg.objective == "nip" else n_branches
        cfg = model_config(prep, n_branches=n_branches, **model_overrides)
        model = build_model(cfg, prep.catalogue).to(device)
    else:
        model = copy.deepcopy(init_from).to(device)
    ddp = _data_parallel(model, device) if world > 1 else None  # one wrapper for both stages
    if init_from is None:
        log["pretrain"] = _run_stage(model, prep, tcfg, device, stage="pretrain", progress=progress, ddp=ddp)
    if tcfg.sft_epochs > 0:
        log["sft"] = _run_stage(model, prep, tcfg, device, stage="sft", progress=progress, ddp=ddp)
    return model, log


def objective_config(objective: str, **kw) -> TrainConfig:
    """NIP: K=1, no time mask; MIP: K>1, no time mask; TAMIP: K>1, Δτ ≥ 0 (method §3)."""
    delta = kw.pop("delta_tau", 0)
    return TrainConfig(objective=objective, delta_tau=None if objective != "tamip" else delta, **kw)


# --------------------------------------------------------------------------- CLI


TORCHRUN_EPILOG = """\
data-parallel training on N processes (DDP: gloo on CPU, NCCL on GPUs):
  torchrun --nproc_per_node=N -m engine train [options]
  torchrun --nproc_per_node=N --no-python python -m engine train [options]
Every process draws the same data order and trains on its share of each batch of
--batch-size rows (the global batch); only rank 0 prints and writes the checkpoint.
On CPU each process gets cores/N threads; with GPUs, process i uses cuda:i.
"""


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (under torchrun: data-parallel; --ship: rebuild assets/)",
        description="Train one model. Runs data-parallel when launched with torchrun (see below).",
        epilog=TORCHRUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, default=None, help="prepared data folder (default: sample_data/lastfm)")
    p.add_argument("--out", type=Path, default=None, help="checkpoint path to write")
    p.add_argument("--objective", choices=("nip", "mip", "tamip"), default="tamip")
    p.add_argument("--delta-tau", type=int, default=0, help="TAMIP Δτ in ticks of the data's resolution")
    p.add_argument("--sft-epochs", type=int, default=0, help="CGSA fine-tuning epochs after pre-training")
    p.add_argument("--epochs", type=int, default=TrainConfig.max_epochs)
    p.add_argument("--holdout", type=int, default=TrainConfig.holdout,
                   help="items held out per user; 1 with --leave-last-out gives the S3-Rec protocol")
    p.add_argument("--leave-last-out", action="store_true",
                   help="cut exactly before the last --holdout items, not at a day boundary")
    p.add_argument("--logq", action=argparse.BooleanOptionalAction, default=True,
                   help="logQ correction of the sampled softmax (measured to help on Last.fm)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size,
                   help="rows per optimiser step (under torchrun: split across the processes)")
    p.add_argument("--negatives", type=int, default=TrainConfig.negatives)
    p.add_argument("--length-buckets", type=int, default=TrainConfig.length_buckets,
                   help="sort pools of N batches by length and trim padding (short sequences; 0: off)")
    p.add_argument("--tags", action="store_true",
                   help="embed the data's item tags as a bag (S3-Rec item2attributes; see README)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="under torchrun, auto gives process i cuda:i when there are GPUs, else the CPU")
    p.add_argument("--dist-backend", default="auto", choices=("auto", "gloo", "nccl"),
                   help="torchrun process-group backend (auto: nccl on GPUs, gloo on CPU)")
    p.add_argument("--ship", action="store_true",
                   help="rebuild assets/ (all shipped checkpoints + metrics.json); single process only")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    if args.ship:
        if distributed.launched():
            raise DistributedError(
                "--ship rebuilds the shipped checkpoints bit for bit, which only one process does",
                "run `python -m engine train --ship` without torchrun",
            )
        from engine.ship import build_assets

        build_assets(device=resolve_device(args.device))
        return 0
    with distributed.process_group(args.device, args.dist_backend) as device:
        return _train_and_save(args, device)


def _train_and_save(args, device: torch.device) -> int:
    ds = load_dataset(args.data or resolve_default_dataset())
    tcfg = objective_config(
        args.objective,
        delta_tau=args.delta_tau,
        seed=args.seed,
        max_epochs=args.epochs,
        sft_epochs=args.sft_epochs,
        holdout=args.holdout,
        negatives=args.negatives,
        logq=args.logq,
        batch_size=args.batch_size,
        length_buckets=args.length_buckets,
        day_boundary=not args.leave_last_out,
    )
    prep = prepare_for(ds, tcfg)
    model, log = fit(prep, tcfg, device, tags=args.tags)
    if not distributed.is_main():  # rank 0 evaluates, writes and prints
        return 0
    metrics = {"training": log, **evaluate_all(model, prep, device)}
    out = args.out or Path(f"{args.objective}.pt")
    checkpoint.save(out, model, tcfg, prep.catalogue.fingerprint, ds.name, metrics)
    print(f"next-item HR@10 {metrics['next_item']['HR@10']:.4f} "
          f"(popularity {metrics['popularity']['HR@10']:.4f}) on {metrics['next_item']['users']} test users")
    print(f"wrote {out}")
    return 0
