"""``python -m engine evaluate``: HR/NDCG, myopia and instruction following of a checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.core import checkpoint
from engine.core.device import resolve_device
from engine.core.prepared import prepare_for
from engine.data.io import load_dataset
from engine.data.paths import resolve_default_dataset as default_data_dir
from engine.evaluation.evaluate import evaluate_all, report_markdown
from engine.paths import MAIN_CHECKPOINT as default_checkpoint


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a checkpoint: HR/NDCG, myopia, instruction following")
    p.add_argument("checkpoint", type=Path, nargs="?", default=None, help="default: the shipped main model")
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON here (and a .md beside it)")
    p.add_argument("--s3rec-protocol", action="store_true", help="exclude the user's history from the ranking")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    ds = load_dataset(args.data or default_data_dir())
    ck, _ = checkpoint.load_for(args.checkpoint or default_checkpoint, ds)
    prep = prepare_for(ds, ck.train_config, ck.model_config.attr_values)
    model = ck.build(device)
    res = evaluate_all(model, prep, device, args.s3rec_protocol)
    text = json.dumps(res, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
        args.json.with_suffix(".md").write_text(report_markdown(res))
        print(f"wrote {args.json}")
    else:
        print(text)
    return 0
