"""``python -m engine evaluate``: HR/NDCG, myopia and instruction following of a checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine import atomic
from engine.cli.train import output_file
from engine.core import checkpoint
from engine.core.device import resolve_device
from engine.core.prepared import prepare_for
from engine.data.io import load_dataset
from engine.data.paths import resolve_default_dataset as default_data_dir
from engine.errors import EngineError
from engine.evaluation.demo import markdown as demo_markdown
from engine.evaluation.evaluate import evaluate_all, report_markdown
from engine.paths import MAIN_CHECKPOINT as default_checkpoint
from engine.paths import METRICS_JSON, METRICS_MD
from engine.training.ship import demo_metrics


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a checkpoint: HR/NDCG, myopia, instruction following")
    p.add_argument("checkpoint", type=Path, nargs="?", default=None, help="default: the shipped main model")
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None,
                   help="write the results as JSON to this .json file (and the report beside it, as .md)")
    p.add_argument("--s3rec-protocol", action="store_true", help="exclude the user's history from the ranking")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--demo", action="store_true",
                   help="the demo-quality evaluation of the shipped models (accuracy against popularity and "
                        "item-kNN, beyond-accuracy, soft CGSA compliance, with 95%% intervals) into "
                        "assets/metrics.json and metrics.md")
    p.set_defaults(func=_cli)


def _outputs(path: Path) -> tuple[Path, Path]:
    """The JSON and Markdown paths of ``--json``, checked before the evaluation runs (both are
    written atomically; an earlier evaluation's results there are replaced, as documented)."""
    if path.suffix.lower() != ".json":
        raise EngineError(f"--json {path} does not end in .json (the report goes beside it as .md)",
                          "give a path ending in .json, e.g. --json results/eval.json")
    return output_file(path, "--json"), output_file(path.with_suffix(".md"), "--json's report")


def _cli(args: argparse.Namespace) -> int:
    if args.demo:
        if args.checkpoint or args.json or args.s3rec_protocol:
            raise EngineError("--demo evaluates the shipped models into assets/metrics.json",
                              "drop the checkpoint, --json and --s3rec-protocol, or drop --demo")
        ds = load_dataset(args.data or default_data_dir())
        print(demo_markdown(demo_metrics(resolve_device(args.device), ds)))
        print(f"wrote {METRICS_JSON} and {METRICS_MD}")
        return 0
    outputs = _outputs(args.json) if args.json else None
    device = resolve_device(args.device)
    ds = load_dataset(args.data or default_data_dir())
    ck, _ = checkpoint.load_for(args.checkpoint or default_checkpoint, ds)
    prep = prepare_for(ds, ck.train_config, ck.model_config.attr_values)
    model = ck.build(device)
    res = evaluate_all(model, prep, device, args.s3rec_protocol)
    text = json.dumps(res, indent=2, allow_nan=False)  # a metric over 0 users is null, never NaN
    if outputs:
        atomic.write_text(outputs[0], text + "\n")
        atomic.write_text(outputs[1], report_markdown(res))
        print(f"wrote {outputs[0]} and {outputs[1]}")
    else:
        print(text)
    return 0
