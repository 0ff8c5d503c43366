"""``python -m engine bench {latency,train,quality,report}``: evidence next to a reference.

- ``latency`` (:mod:`engine.bench.latency`): one serving request, p50/p99 over a grid of
  history lengths, instruction counts P, catalogue sizes and methods, with floors.
- ``train`` (:mod:`engine.bench.train`): pre-training sequences/s at the shipped config,
  and the shipped model's time to quality as recorded by training.
- ``quality`` (:mod:`engine.bench.quality`): HR/NDCG on the S3-Rec benchmark files under
  both protocols, next to the published rows.
- ``report`` (:mod:`engine.bench.report`): ``BENCHMARKS.md`` from the JSON results.

Results go to ``results/`` (committed); ``BENCHMARKS.md`` is generated, never typed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine import atomic, paths
from engine.bench import common as bc
from engine.bench.latency import MIN_REQUESTS, LatencySettings, print_latency, run_latency
from engine.bench.lists import LISTS_JSON, run_lists
from engine.bench.lists import markdown as lists_markdown
from engine.bench.quality import print_quality, run_quality
from engine.bench.report import write_report
from engine.bench.train import print_train, run_train
from engine.core import checkpoint
from engine.core.device import resolve_device
from engine.core.prepared import prepare
from engine.data.io import load_dataset
from engine.data.paths import resolve_default_dataset
from engine.paths import MAIN_CHECKPOINT, METRICS_JSON
from engine.serving.recommender import Recommender
from engine.training.ship import SHIP_MODEL, SHIP_TRAIN


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _sizes(text: str) -> tuple[str | int, ...]:
    return tuple(bc.parse_size(x) for x in text.split(",") if x.strip())


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: serving latency, training throughput, BENCHMARKS.md")
    bsub = p.add_subparsers(dest="bench_command", required=True, metavar="<bench>")

    lat = bsub.add_parser("latency", help="p50/p99 of one serving request vs compute and FAISS floors")
    lat.add_argument("--checkpoint", type=Path, default=None, help="default: assets/climber_pilot.pt")
    lat.add_argument("--data", type=Path, default=None, help="default: sample_data/lastfm (else synthetic)")
    lat.add_argument("--requests", type=int, default=200, help="timed requests per configuration (≥ 200)")
    lat.add_argument("--warmup", type=int, default=20)
    lat.add_argument("-k", type=int, default=10)
    lat.add_argument("--histories", type=_ints, default=(50, 200), help="history lengths, e.g. 50,200")
    lat.add_argument("--instructions", type=_ints, default=(1, 4, 16), help="P values, e.g. 1,4,16")
    lat.add_argument("--catalogues", type=_sizes, default=("real", 100_000, 1_000_000),
                     help="real and/or random sizes, e.g. real,100k,1m")
    lat.add_argument("--overfetch", type=_ints, default=(1, 5, 20), help="post-hoc factors")
    lat.add_argument("--threads", type=int, default=2)
    lat.add_argument("--device", choices=("auto", "cpu"), default="auto",
                     help="auto: CPU, plus CUDA when available")
    lat.add_argument("--matmul-size", type=int, default=2048, help="n of the n×n matmul floor")
    lat.add_argument("--no-api", action="store_true", help="skip the Recommender API rows")
    lat.add_argument("--json", type=Path, default=paths.LATENCY_JSON)
    lat.set_defaults(func=_latency)

    tr = bsub.add_parser("train", help="pre-training sequences/s at the shipped config; time to quality")
    tr.add_argument("--checkpoint", type=Path, default=None, help="default: assets/climber_pilot.pt")
    tr.add_argument("--data", type=Path, default=None, help="default: sample_data/lastfm (else synthetic)")
    tr.add_argument("--steps", type=int, default=20)
    tr.add_argument("--warmup", type=int, default=3)
    tr.add_argument("--threads", type=int, default=2)
    tr.add_argument("--matmul-size", type=int, default=2048)
    tr.add_argument("--json", type=Path, default=paths.TRAIN_JSON)
    tr.set_defaults(func=_train)

    qu = bsub.add_parser("quality", help="HR/NDCG of popularity, NIP, MIP, TAMIP next to the published tables")
    qu.add_argument("benchmarks", nargs="*", default=["lastfm", "beauty", "sports"],
                    help="lastfm, beauty, sports, or paths to any S3-Rec-format .txt (default: all three)")
    qu.add_argument("--models", default="nip,mip,tamip")
    qu.add_argument("--seeds", type=_ints, default=(0, 1, 2))
    qu.add_argument("--settings", type=json.loads, default=None, help="TrainConfig overrides as JSON")
    qu.add_argument("--model", type=json.loads, default=None,
                    help='network overrides as JSON, e.g. \'{"dropout": 0.5, "tags": false}\' (ModelConfig fields; tags: embed the item tag bag)')
    qu.add_argument("--fresh", action="store_true", help="ignore runs already in the JSON (default: resume)")
    qu.add_argument("--threads", type=int, default=2)
    qu.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    qu.add_argument("--json", type=Path, default=paths.QUALITY_JSON)
    qu.set_defaults(func=_quality)

    li = bsub.add_parser("lists", help="the shipped main model's recipe over seeds: demo figures, mean ± std")
    li.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    li.add_argument("--threads", type=int, default=2)
    li.add_argument("--json", type=Path, default=LISTS_JSON)
    li.set_defaults(func=_lists)

    rep = bsub.add_parser("report", help="generate BENCHMARKS.md from results/*.json and assets/metrics.json")
    rep.add_argument("--latency", type=Path, default=paths.LATENCY_JSON)
    rep.add_argument("--train", type=Path, default=paths.TRAIN_JSON)
    rep.add_argument("--metrics", type=Path, default=None, help="default: assets/metrics.json")
    rep.add_argument("--out", type=Path, default=None, help="default: BENCHMARKS.md at the repo root")
    rep.set_defaults(func=_report)


def _latency(args) -> int:
    if args.requests < MIN_REQUESTS:
        print(f"note: {args.requests} requests < {MIN_REQUESTS}: p99 is not meaningful and goals are "
              "not judged", file=sys.stderr)
    bc.set_threads(args.threads)
    ckpt = args.checkpoint or MAIN_CHECKPOINT
    rec = Recommender.load(ckpt, load_dataset(args.data or resolve_default_dataset()), device="cpu")
    settings = LatencySettings(
        requests=args.requests, warmup=args.warmup, k=args.k, histories=args.histories,
        instructions=args.instructions, catalogues=args.catalogues, overfetch=args.overfetch,
        threads=args.threads, gpu=args.device == "auto", matmul_n=args.matmul_size,
        api=not args.no_api,
    )
    result = run_latency(rec, settings, bc.command_line(), checkpoint=paths.relative(ckpt))
    print_latency(result)
    print(f"wrote {atomic.write_json(args.json, result)}")
    return 0


def _train(args) -> int:
    import json

    data = args.data or resolve_default_dataset()
    ds = load_dataset(data)
    note = "synthetic data: the real data is not prepared" if ds.synthetic else ""
    prep = prepare(ds, SHIP_TRAIN["holdout"], day_boundary=True)
    ckpt = args.checkpoint or MAIN_CHECKPOINT
    shipped = {"checkpoint": paths.relative(ckpt), "note": f"no checkpoint at {paths.relative(ckpt)}"}
    if Path(ckpt).exists():
        shipped["metrics"] = checkpoint.load(ckpt).metrics
        if METRICS_JSON.exists():
            shipped["machine"] = json.loads(METRICS_JSON.read_text()).get("machine")
    result = run_train(
        prep, model_overrides=SHIP_MODEL, train_overrides=SHIP_TRAIN, steps=args.steps,
        warmup=args.warmup, threads=args.threads, matmul_n=args.matmul_size, shipped=shipped,
        data_note=note, command=bc.command_line(),
    )
    print_train(result)
    print(f"wrote {atomic.write_json(args.json, result)}")
    return 0


def _quality(args) -> int:
    bc.set_threads(args.threads)
    device = resolve_device(args.device)
    result = run_quality(args.benchmarks, tuple(args.models.split(",")), args.seeds, str(device),
                         args.settings, args.json, resume=not args.fresh, progress=sys.stderr.isatty(),
                         network=args.model)
    print_quality(result)
    print(f"wrote {args.json}")
    return 0


def _lists(args) -> int:
    bc.set_threads(args.threads)
    result = run_lists(tuple(args.seeds), args.json)
    print(lists_markdown(result))
    print(f"wrote {args.json}")
    return 0


def _report(args) -> int:
    out = write_report(args.latency, args.train, args.metrics, args.out)
    print(f"wrote {out}")
    return 0
