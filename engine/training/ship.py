"""Rebuild the shipped checkpoints in ``assets/`` (``python -m engine train --ship``).

Trains, on the prepared Last.fm data with fixed seeds: NIP and MIP (for the myopia
view) and TAMIP followed by CGSA fine-tuning (the main model); evaluates each and writes
``assets/metrics.json`` and ``assets/metrics.md`` beside the weights.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from engine.atomic import write_text
from engine.core import checkpoint
from engine.core.config import objective_config
from engine.core.prepared import prepare, prepare_for
from engine.data.io import load_dataset
from engine.data.lastfm import prepare_lastfm
from engine.data.paths import default_dataset_dir, is_prepared
from engine.evaluation.demo import DEMO_HEADING, run_demo
from engine.evaluation.demo import markdown as demo_markdown
from engine.evaluation.evaluate import evaluate_all, report_markdown
from engine.paths import (
    ASSETS,
    MAIN_CHECKPOINT,
    METRICS_JSON,
    METRICS_MD,
    SYNTHETIC_CHECKPOINT,
    VARIANTS,
)
from engine.training.loop import fit

# The settings of the shipped models (chosen by the measurements in the README). Epochs and
# dropout chosen on validation HR@10 once the labels stopped counting the test pairs: 12 epochs
# with patience 3 stopped NIP, MIP and TAMIP after 5–6 (validation 0.042 / 0.038 / 0.051);
# 40 / 8 let TAMIP reach 0.063, and dropout 0.5 instead of 0.2 then gave NIP 0.048 (0.042) and
# TAMIP 0.071 (0.063).
SHIP_TRAIN = {"seed": 0, "max_epochs": 40, "patience": 8, "negatives": 1024, "logq": True,
              "batch_size": 256, "holdout": 10,
              # CGSA fine-tuning (issue 31, chosen on validation soft CC@10 and conditioned HR@10, see
              # results/probes_lists.json): counterfactual instructions with compliance weight 2 and the
              # personal term, atoms drawn evenly, learning rate 1e-3, the last of 8 epochs kept. Plain SFT
              # on this pre-training gave mean single-atom CC@10 0.58 (composites 0.38); this, 0.90 (0.72).
              "sft_comply": 2.0, "sft_personal": 1.0, "sft_lr": 1e-3, "sft_keep_last": True,
              "sft_atom_prob": {"genre": 0.6, "language": 0.6, "explicit": 0.3, "popularity_tier": 0.3, "era": 0.4}}
SHIP_SFT_EPOCHS = 8
# Co-listening factors (64) and the taste term: validation HR@10 (history excluded) 0.089 against
# 0.085 without, HR@50 0.244 against 0.198, pairwise Jaccard of 200 users' top-10 0.045 against 0.147.
SHIP_MODEL = {"d_model": 64, "n_layers": 2, "n_heads": 2, "dropout": 0.5, "cf_dim": 64, "taste": True}
# The small model for the committed synthetic set (the app's labelled fallback, and tests).
SYNTHETIC_TRAIN = {"seed": 0, "max_epochs": 8, "patience": 3, "negatives": -1, "holdout": 10, "sft_epochs": 5}
SYNTHETIC_MODEL = {"d_model": 32, "n_layers": 2, "n_heads": 2}


def build_synthetic(device: torch.device, out: Path = ASSETS) -> Path:
    """Train the fallback model on ``sample_data/synthetic`` (seconds, not minutes)."""
    ds = load_dataset(default_dataset_dir("synthetic"))
    prep = prepare(ds, SYNTHETIC_TRAIN["holdout"], day_boundary=True)
    tcfg = objective_config("tamip", **SYNTHETIC_TRAIN)
    model, log = fit(prep, tcfg, device, **SYNTHETIC_MODEL)
    metrics = {"training": log, **evaluate_all(model, prep, device)}
    return checkpoint.save(out / SYNTHETIC_CHECKPOINT.name, model, tcfg, prep.catalogue.fingerprint, ds.name, metrics)


def _save(path, model, tcfg, prep, ds, metrics, report, name) -> None:
    checkpoint.save(path, model, tcfg, prep.catalogue.fingerprint, ds.name, metrics)
    report["models"][name] = {"checkpoint": path.name, **metrics}
    print(f"{name}: next-item HR@10 {metrics['next_item']['HR@10']:.4f} -> {path.name}", flush=True)


def build_assets(device: torch.device, data_dir: Path | None = None, out: Path = ASSETS) -> dict:
    data_dir = data_dir or default_dataset_dir("lastfm")
    if not is_prepared(data_dir):
        prepare_lastfm(out=data_dir)
    ds = load_dataset(data_dir)
    prep = prepare(ds, SHIP_TRAIN["holdout"], day_boundary=True)
    started = time.perf_counter()
    report = {
        "dataset": ds.name,
        "fingerprint": prep.catalogue.fingerprint,
        "protocol": "future split: each user's last >=10 items from a day boundary held out",
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "device": str(device)},
        "models": {},
    }
    for objective, path in VARIANTS.items():
        tcfg = objective_config(objective, **SHIP_TRAIN)
        model, log = fit(prep, tcfg, device, **SHIP_MODEL)
        metrics = {"training": log, **evaluate_all(model, prep, device)}
        _save(out / path.name, model, tcfg, prep, ds, metrics, report, objective)
        if objective == "tamip":  # the main model: CGSA fine-tuning from the TAMIP weights
            tcfg = replace(tcfg, sft_epochs=SHIP_SFT_EPOCHS)
            model, sft_log = fit(prep, tcfg, device, init_from=model)
            metrics = {"training": {**log, **sft_log}, **evaluate_all(model, prep, device)}
            _save(out / MAIN_CHECKPOINT.name, model, tcfg, prep, ds, metrics, report, "tamip_cgsa")
    build_synthetic(device, out)
    report["seconds"] = round(time.perf_counter() - started, 1)
    md = [f"# Shipped models — {ds.name}", "", report["protocol"], ""]
    for name, m in report["models"].items():
        md += [f"# {name}", report_markdown(m)]
    report["demo"] = demo_metrics(device, ds, out, write=False)
    write_text(out / METRICS_JSON.name, json.dumps(report, indent=2))
    write_text(out / METRICS_MD.name, "\n".join(md) + "\n" + demo_markdown(report["demo"]))
    return report


# Display names of the shipped models in the demo evaluation; the last is the main model.
DEMO_MODELS = {"NIP": VARIANTS["nip"], "MIP": VARIANTS["mip"], "TAMIP": VARIANTS["tamip"],
               "TAMIP + CGSA (main)": MAIN_CHECKPOINT}


def demo_metrics(device: torch.device, ds=None, folder: Path = ASSETS, write: bool = True) -> dict:
    """``python -m engine evaluate --demo``: the demo-quality evaluation of the shipped models,
    stored under ``"demo"`` in metrics.json and as a section of metrics.md."""
    ds = ds if ds is not None else load_dataset(default_dataset_dir("lastfm"))
    models, prep = {}, None
    for name, path in DEMO_MODELS.items():
        ck = checkpoint.load(folder / path.name)
        if prep is None:
            prep = prepare_for(ds, ck.train_config, ck.model_config.attr_values)
        checkpoint.load(folder / path.name, prep.catalogue.fingerprint)  # fits this catalogue
        models[name] = ck.build(device)
    res = run_demo(models, list(DEMO_MODELS)[-1], prep, device)
    if write:
        metrics = json.loads((folder / METRICS_JSON.name).read_text()) if (folder / METRICS_JSON.name).exists() else {}
        metrics["demo"] = res
        write_text(folder / METRICS_JSON.name, json.dumps(metrics, indent=2))
        md = (folder / METRICS_MD.name).read_text() if (folder / METRICS_MD.name).exists() else ""
        md = md.split(DEMO_HEADING)[0].rstrip() + "\n\n" + demo_markdown(res)
        write_text(folder / METRICS_MD.name, md)
    return res
