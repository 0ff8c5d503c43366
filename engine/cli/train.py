"""``python -m engine train``: one model (data-parallel under torchrun) or ``--ship`` for assets/."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from engine.core import checkpoint
from engine.core.config import TrainConfig, objective_config
from engine.core.device import resolve_device
from engine.core.prepared import prepare_for
from engine.data.io import load_dataset
from engine.data.paths import resolve_default_dataset
from engine.errors import DistributedError, EngineError
from engine.evaluation.evaluate import evaluate_all
from engine.training import distributed
from engine.training.loop import fit
from engine.training.ship import build_assets

TORCHRUN_EPILOG = """\
data-parallel training on N processes (DDP: gloo on CPU, NCCL on GPUs):
  torchrun --nproc_per_node=N -m engine train [options]
  torchrun --nproc_per_node=N --no-python python -m engine train [options]
Every process draws the same data order and trains on its share of each batch of
--batch-size rows (the global batch); only rank 0 prints and writes the checkpoint.
On CPU each process gets cores/N threads; with GPUs, process i uses cuda:i.
"""


def at_least(minimum: int):
    """An argparse type: a whole number ≥ ``minimum`` (a bad value exits 2 with one line)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    parse.__name__ = f"whole number ≥ {minimum}"
    return parse


def output_file(path: Path, flag: str) -> Path:
    """``path`` can be written as a file: not a folder, no file in the way of its folder (checked
    before a long run starts, so its result is never lost at the end)."""
    if path.is_dir():
        raise EngineError(f"{flag} {path} is a folder", f"give a file path for {flag}, not a folder")
    blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise EngineError(f"{flag} {path}: {blocked} is a file, not a folder", f"choose another {flag}")
    return path


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
    p.add_argument("--delta-tau", type=at_least(0), default=0, help="TAMIP Δτ in ticks of the data's resolution")
    p.add_argument("--sft-epochs", type=at_least(0), default=0, help="CGSA fine-tuning epochs after pre-training")
    p.add_argument("--epochs", type=at_least(1), default=TrainConfig.max_epochs)
    p.add_argument("--holdout", type=at_least(1), default=TrainConfig.holdout,
                   help="items held out per user; 1 with --leave-last-out gives the S3-Rec protocol")
    p.add_argument("--leave-last-out", action="store_true",
                   help="cut exactly before the last --holdout items, not at a day boundary")
    p.add_argument("--logq", action=argparse.BooleanOptionalAction, default=TrainConfig.logq,
                   help="logQ correction of the sampled softmax (measured to help on Last.fm)")
    p.add_argument("--batch-size", type=at_least(1), default=TrainConfig.batch_size,
                   help="rows per optimiser step (under torchrun: split across the processes)")
    p.add_argument("--negatives", type=at_least(-1), default=TrainConfig.negatives,
                   help="extra uniform negatives per target; -1: full softmax")
    p.add_argument("--length-buckets", type=at_least(0), default=TrainConfig.length_buckets,
                   help="sort pools of N batches by length and trim padding (short sequences; 0: off)")
    p.add_argument("--tags", action="store_true",
                   help="embed the data's item tags as a bag (S3-Rec item2attributes; see README)")
    p.add_argument("--seed", type=at_least(0), default=0)
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
        build_assets(device=resolve_device(args.device))
        return 0
    with distributed.process_group(args.device, args.dist_backend) as device:
        return _train_and_save(args, device)


def _train_and_save(args, device: torch.device) -> int:
    out = output_file(args.out or Path(f"{args.objective}.pt"), "--out")
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
    if not prep.splits:  # nothing to evaluate the model on: refused before training, not after
        raise EngineError(
            f"--holdout {args.holdout} leaves no test user in {ds.name}: a user needs at least "
            f"{args.holdout + 3} items ({len(prep.train_only)} user(s), none that long)",
            "use a smaller --holdout (or --leave-last-out), or train on more data")
    model, log = fit(prep, tcfg, device, tags=args.tags)
    if not distributed.is_main():  # rank 0 evaluates, writes and prints
        return 0
    metrics = {"training": log, **evaluate_all(model, prep, device)}
    checkpoint.save(out, model, tcfg, prep.catalogue.fingerprint, ds.name, metrics)
    hr = next(k for k in metrics["next_item"] if k.startswith("HR@"))  # HR@10, or the catalogue's size
    print(f"next-item {hr} {metrics['next_item'][hr]:.4f} "
          f"(popularity {metrics['popularity'][hr]:.4f}) on {metrics['next_item']['users']} test users")
    print(f"wrote {out}")
    return 0
