"""``BENCHMARKS.md`` generated from the benchmark JSON files — never typed by hand.

Inputs: ``results/bench_latency.json`` (:mod:`engine.bench.latency`),
``results/bench_train.json`` (:mod:`engine.bench.train`), ``assets/metrics.json``
(quality of the shipped models, :mod:`engine.training.ship`), ``results/bench_quality.json``
(:mod:`engine.bench.quality`; other recipes tried in ``results/bench_quality_*.json``) and
``results/conditioning.json`` (Table 4, :mod:`engine.bench.experiments`). A missing input becomes
a section that says which command produces it.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine import paths, tables
from engine.bench.experiments import conditioning_markdown
from engine.bench.lists import LISTS_JSON
from engine.bench.lists import markdown as lists_markdown
from engine.bench.quality import markdown as quality_markdown
from engine.bench.quality import recipes_markdown
from engine.evaluation.demo import markdown as demo_markdown

KS = (10, 20, 50)
OTHER_CORES_BUSY = 0.2  # CPU other processes may use during a timing run before it counts as busy


def _status(met) -> str:
    return {True: "✅ met", False: "❌ missed", None: "— not judged"}[met]




# --------------------------------------------------------------------------- sections


def _machine(runs: dict[str, dict]) -> list[str]:
    if not runs:
        return []
    names = list(runs)
    fields = [
        ("CPU", lambda m, r: m.get("cpu")),
        ("cores (usable)", lambda m, r: f"{m.get('cores')} ({m.get('cores_usable')})"),
        ("threads used", lambda m, r: (r.get("settings") or r.get("throughput") or {}).get("threads")),
        ("GPU", lambda m, r: m.get("gpu") or "none"),
        ("Python", lambda m, r: m.get("python")),
        ("torch", lambda m, r: m.get("torch")),
        ("faiss", lambda m, r: m.get("faiss")),
        ("numpy", lambda m, r: m.get("numpy")),
        ("git commit", lambda m, r: m.get("git_commit")),
        ("date (UTC)", lambda m, r: r.get("date")),
        ("load average at start (1/5/15 min)",
         lambda m, r: " / ".join(f"{x:.2f}" for x in m.get("load_avg_start") or [])),
        ("other processes during the run (cores)", lambda m, r: m.get("other_cores", "not recorded")),
    ]
    out = ["## Machine", "", tables.md_table([""] + names, [[f] + [str(get(runs[n]["machine"], runs[n]))
                                                          for n in names] for f, get in fields])]
    for n in names:
        m = runs[n]["machine"]
        cores = m.get("cores_usable") or m.get("cores") or 1
        other = m.get("other_cores")
        if other is not None:  # measured during the run: the load average lags by minutes
            busy = other > OTHER_CORES_BUSY
            what = f"other processes used {other:.2f} of {cores} cores during the run"
        else:
            load = (m.get("load_avg_start") or [0])[0]
            busy, what = load > 0.5 * cores, f"load {load:.2f} on {cores} cores at the start"
        if busy:
            out += ["", f"⚠️ The {n} ran on a busy machine ({what}): "
                        "its times are pessimistic; rerun on a quiet machine."]
    return out + [""]


def _latency(lat: dict) -> list[str]:
    out = ["## Goals", "", tables.md_table(
        ["goal", "target", "measured", "status", "note"],
        [[g["goal"], f"{tables.num(g['target'])} {g['unit']}",
          None if g["measured"] is None else f"{tables.num(g['measured'])} {g['unit']}",
          _status(g["met"]), g["note"]] for g in lat["goals"]]), ""]
    if lat["settings"]["requests"] < 200:
        out += [f"⚠️ Only {lat['settings']['requests']} requests per configuration: p99 is not meaningful.", ""]
    out += ["## Floors measured in the same run", "",
            "Compute floor: a large float32 `torch.matmul` (best of the repetitions).", "",
            tables.md_table(["device", "n", "threads", "GFLOP/s (best)", "GFLOP/s (median)"],
                     [[k, v["n"], v["threads"], v["gflops"], v["gflops_median"]]
                      for k, v in lat["matmul"].items()]), "",
            "Search floor: one raw `IndexFlatIP.search` of one query, no engine code around it.", "",
            tables.md_table(["catalogue", "items", "p50 ms", "p99 ms"],
                     [[v["catalogue"], v["n_items"], v["p50_ms"], v["p99_ms"]]
                      for v in lat["bare_search"].values()]), ""]
    m = lat["model"]
    out += ["## Serving latency", "",
            f"Model: `{m['checkpoint']}` ({m['dataset']}, {m['n_items']:,} items; d={m['d_model']}, "
            f"{m['n_layers']} layers, {m['n_heads']} heads, FFN ×{m['ffn_mult']}, max_len {m['max_len']}). "
            f"{lat['settings']['requests']} timed requests per row after {lat['settings']['warmup']} "
            f"warm-up, K = {lat['settings']['k']}. GPU: {lat['gpu']['note']}.", "",
            *[f"- {n}" for n in lat["notes"]],
            *[f"- history {k}: {v}" for k, v in lat["histories"].items()],
            "- columns: *encode / model / search* are per-stage p50s; *floor* is the compute floor of "
            "the request; *× floor* and *× bare* are p50 ÷ the compute floor and ÷ one bare FAISS search; "
            "*kept* is items returned ÷ K (post-hoc may return fewer).", ""]
    groups: dict[tuple, list[dict]] = {}
    for r in lat["rows"]:
        key = ("Public API (Recommender, pandas results included)",) if r["method"].startswith("api:") \
            else (r["device"].upper(), f"history {r['history']}", r["model"])
        groups.setdefault(key, []).append(r)
    for key, rows in groups.items():
        out += [f"### {' · '.join(key)}", "", tables.md_table(
            ["catalogue", "P", "method", "p50 ms", "p99 ms", "encode", "model", "search", "floor ms",
             "× floor", "× bare", "kept"],
            [[r["catalogue"], r["P"], r["method"], r["p50_ms"], r["p99_ms"], r["encode_p50_ms"],
              r["model_p50_ms"], r["search_p50_ms"], r["compute_floor_ms"], r["x_compute_floor"],
              r.get("x_bare_search"), r["kept_share"]] for r in rows]), ""]
    return out


def _train(tr: dict) -> list[str]:
    th, d = tr["throughput"], tr["data"]
    mc = tr["config"]["model"]
    out = ["## Training throughput", "",
           f"TAMIP pre-training steps at the shipped config (d={mc['d_model']}, {mc['n_layers']} layers, "
           f"{mc['n_branches']} branches, batch {th['batch_size']}, negatives "
           f"{tr['config']['train']['negatives']}, {tr['config']['parameters']:,} parameters) on "
           f"{d['dataset']} ({d['windows']:,} training windows){'; ' + d['note'] if d['note'] else ''}. "
           f"{th['note']}.", "",
           tables.md_table(["steps", "step p50 ms", "step p99 ms", "sequences/s", "GFLOP/step", "GFLOP/s",
                     "matmul GFLOP/s", "MFU", "epoch s (implied, no validation)"],
                    [[th["steps"], th["step_p50_ms"], th["step_p99_ms"], th["sequences_per_s"],
                      th["flops_per_step"] / 1e9, th["achieved_gflops"], th["matmul"]["gflops"],
                      th["mfu"], th["epoch_seconds_implied"]]]), ""]
    ttq = tr["time_to_quality"]
    out += ["## Time to quality (as recorded by training)", ""]
    if not ttq["available"]:
        return out + [f"Not available: {ttq['note']}.", ""]
    out += [f"From `{ttq['checkpoint']}`, {ttq['note']}.", ""]
    if ttq.get("trained_on"):
        out += ["Trained on: " + ", ".join(f"{k} {v}" for k, v in ttq["trained_on"].items()) + ".", ""]
    out += [tables.md_table(["stage", "best val HR@10", "best epoch", "epochs run", "s recorded", "s / epoch",
                      "s to best", "windows"],
                     [[k, v["best_val_HR@10"], v["best_epoch"], v["epochs_run"], v["seconds_recorded"],
                       v["seconds_per_epoch_recorded"], v["seconds_to_best"], v["windows"]]
                      for k, v in ttq["stages"].items()]), ""]
    for k, v in ttq["stages"].items():
        out += [f"Validation HR@10 per epoch ({k}): "
                + ", ".join(f"{c['epoch']}: {c['val_HR@10']:.4f}" for c in v["curve"]), ""]
    return out


def _quality(metrics: dict) -> list[str]:
    models = metrics.get("models", {})
    out = ["## Quality of the shipped models (assets/metrics.json)", "",
           f"{metrics.get('dataset', '?')}: {metrics.get('protocol', '')}.", ""]
    rows = []
    for name, m in models.items():
        ni = m.get("next_item", {})
        rows.append([name, *[ni.get(f"HR@{k}") for k in KS], ni.get("NDCG@10"),
                     m.get("myopia", {}).get("flatness@50")])
    first = next(iter(models.values()), {})
    if "popularity" in first:
        rows.append(["popularity", *[first["popularity"].get(f"HR@{k}") for k in KS],
                     first["popularity"].get("NDCG@10"), None])
    out += ["Next item, full-catalogue ranking:", "",
            tables.md_table(["model", "HR@10", "HR@20", "HR@50", "NDCG@10", "myopia flatness@50"], rows), ""]
    for name, m in models.items():
        for attrs, r in (m.get("instruction_following") or {}).items():
            if name != "tamip_cgsa" or "methods" not in r:
                continue
            out += [f"Instruction following ({name}): instruction = {attrs} of the true next item, "
                    f"{r['users']} users:", "",
                    tables.md_table(["method", "HR@10", "HR@50", "CC@10", "CC@50"],
                             [[meth, v.get("HR@10"), v.get("HR@50"), v.get("CC@10"), v.get("CC@50")]
                              for meth, v in r["methods"].items()]), ""]
    return out


# --------------------------------------------------------------------------- document


def render(latency: dict | None, train: dict | None, metrics: dict | None,
           sources: dict[str, str] | None = None, quality: dict | None = None,
           conditioning: dict | None = None, quality_probes: dict[str, dict] | None = None,
           lists: dict | None = None) -> str:
    sources = sources or {}
    used = ", ".join(f"`{p}`" for p in sources.values()) or "the benchmark JSON files"
    out = ["# Benchmarks", "",
           f"*Generated by `python -m engine bench report` from {used}. Do not edit by hand: "
           "rerun the commands below, then the report.*", "",
           "## Commands", "", "```"]
    for run in (latency, train, quality, conditioning):
        if run and run.get("command"):
            out.append(run["command"])
    out += ["python -m engine bench report", "```", ""]
    out += _machine({n: r for n, r in (("latency run", latency), ("training run", train)) if r})
    out += _latency(latency) if latency else [
        "## Serving latency", "", "Not measured yet: run `python -m engine bench latency`.", ""]
    out += _train(train) if train else [
        "## Training throughput", "", "Not measured yet: run `python -m engine bench train`.", ""]
    out += _quality(metrics) if metrics else [
        "## Quality", "", "No `assets/metrics.json`: run `python -m engine train --ship`.", ""]
    if metrics and metrics.get("demo"):
        out += [demo_markdown(metrics["demo"]).replace("## Demo", "## Lists: demo", 1), ""]
    if lists:
        out += ["## Lists: the shipped recipe over seeds", "", "`python -m engine bench lists` "
                "(`results/bench_lists.json`); mean and standard deviation over the seeds, against the targets "
                "of issue 31.", "", lists_markdown(lists), ""]
    out += quality_markdown(quality) if quality else [
        "## Ranking quality against published tables", "",
        "Not measured yet: run `python -m engine bench quality`."]
    out += recipes_markdown(quality, quality_probes or {}, sources.get("quality", "")) + [""]
    out += conditioning_markdown(conditioning) + [""] if conditioning else [
        "## Instruction following against other conditioning methods", "",
        "Not measured yet: run `python -m engine experiment conditioning`.", ""]
    return "\n".join(out).rstrip() + "\n"


def _load(path: Path | None) -> dict | None:
    if path is None or not Path(path).exists():
        return None
    return json.loads(Path(path).read_text())


def write_report(latency_path: Path | None = paths.LATENCY_JSON, train_path: Path | None = paths.TRAIN_JSON,
                 metrics_path: Path | None = None, out: Path | None = None,
                 quality_path: Path | None = paths.QUALITY_JSON,
                 conditioning_path: Path | None = paths.CONDITIONING_JSON) -> Path:
    metrics_path = metrics_path or paths.METRICS_JSON
    out = Path(out or paths.BENCHMARKS_MD)
    loaded = {name: (p, _load(p)) for name, p in
              (("latency", latency_path), ("train", train_path), ("metrics", metrics_path),
               ("quality", quality_path), ("conditioning", conditioning_path))}
    sources = {name: paths.relative(p) for name, (p, d) in loaded.items() if d is not None}
    probes = {}
    if quality_path is not None:  # other recipes, kept beside the reported runs
        quality_path = Path(quality_path)
        probes = {paths.relative(p): _load(p) for p in sorted(quality_path.parent.glob(f"{quality_path.stem}_*.json"))}
    text = render(*(loaded[n][1] for n in ("latency", "train", "metrics")), sources,
                  loaded["quality"][1], loaded["conditioning"][1], probes, _load(LISTS_JSON))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out
