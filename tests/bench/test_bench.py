"""Benchmarks (engine.bench*, engine.report): JSON shape, floors, FLOP parity, BENCHMARKS.md.

Smoke tests on the tiny model with a handful of requests. Speed is measured by the
benchmarks, never asserted here: only structure and invariants (p99 ≥ p50 > 0, floors > 0).
"""

from __future__ import annotations

import json
import os

import pytest
from torch.utils.flop_counter import FlopCounterMode

from engine import atomic
from engine.bench import common as bc
from engine.bench.latency import LatencySettings, history_pool, instruction_set, run_latency
from engine.bench.report import render, write_report
from engine.bench.train import run_train
from engine.core.conditions import encode
from engine.serving.inference import queries
from engine.tables import md_table
from tests.conftest import TINY_MODEL, TINY_TRAIN, TOY_HOLDOUT

LONG = TINY_MODEL["max_len"] + 4  # longer than the model's max_len: truncated + random-init variants


@pytest.fixture(scope="module")
def latency(tiny_recommender):
    settings = LatencySettings(requests=5, warmup=1, histories=(TINY_MODEL["max_len"], LONG),
                               instructions=(1, 2), catalogues=("real", 1000), overfetch=(1, 5),
                               threads=1, gpu=False, matmul_n=64)
    return run_latency(tiny_recommender, settings, "python -m engine bench latency (test)",
                       checkpoint="tiny.pt", log=lambda _msg: None)


@pytest.fixture(scope="module")
def train(tiny_prep, tiny_fit):
    _, log, _ = tiny_fit
    overrides = {k: v for k, v in TINY_TRAIN.items() if k not in ("max_epochs", "sft_epochs", "patience")}
    return run_train(tiny_prep, model_overrides=TINY_MODEL, train_overrides={**overrides, "holdout": TOY_HOLDOUT},
                     steps=2, warmup=1, threads=1, matmul_n=64,
                     shipped={"checkpoint": "tiny.pt", "metrics": {"training": log}},
                     command="python -m engine bench train (test)")


def test_model_flops_match_torch_counter(tiny_recommender):
    """The analytic count behind the compute floor equals torch's matmul FLOP counter."""
    rec = tiny_recommender
    model, cfg = rec.model, rec.model.cfg
    h = history_pool(rec, cfg.max_len, 1, 0)[0][0]
    from engine.serving.history import encode_history

    seq, ts = encode_history(h, rec.catalogue, rec.dataset.time_resolution, cfg.max_len, "cpu")
    for p in (None, 1, 3):
        enc = None if p is None else encode(model, instruction_set(rec, p))
        with FlopCounterMode(display=False) as fc:
            queries(model, seq, ts, enc)
        rows, tokens = (1, 1) if enc is None else enc.cond_ids.shape
        assert fc.get_total_flops() == bc.model_flops(cfg, rows, tokens)


def test_request_searches_p_instructions_in_one_faiss_call(tiny_recommender, monkeypatch):
    """The bench times the serving path: P instructions → one FAISS call, lists as run_method's."""
    import numpy as np

    from engine.bench import latency as bl
    from engine.serving.retrieval import ItemIndex, run_method

    rec = tiny_recommender
    p = 3
    instrs = instruction_set(rec, p)
    allowed = bl.allowed_masks(rec.model, rec.catalogue.item_attrs[1:], instrs)
    h = history_pool(rec, TINY_MODEL["max_len"], 1, 0)[0][0]
    calls, scan = [], ItemIndex._scan

    def counting_scan(self, q, *args, **kwargs):
        calls.append(len(q))  # query rows in this FAISS call
        return scan(self, q, *args, **kwargs)

    flat = rec.index.index.search

    def counting_flat(q, *args, **kwargs):
        calls.append(len(q))
        return flat(q, *args, **kwargs)

    monkeypatch.setattr(ItemIndex, "_scan", counting_scan)  # filtered rows and one small query
    monkeypatch.setattr(rec.index.index, "search", counting_flat)  # several unfiltered rows
    for method, rows in (("posthoc", 1), ("cgsa", p), ("cgsa_hard", p)):
        calls.clear()
        _, returned = bl._request(rec, rec.model, rec.index, h, method, instrs, allowed, 5, 2, "cpu")
        assert len(returned) == p and calls == [rows], (method, calls)
    seq, ts = bl.encode_history(h, rec.catalogue, rec.dataset.time_resolution, rec.model.cfg.max_len, "cpu")
    u = queries(rec.model, seq, ts, encode(rec.model, instrs))[0][0].numpy()
    lists = bl.run_methods(rec.index, "cgsa_hard", u[0], u, allowed, 5)
    for r in range(p):
        assert np.array_equal(lists[r][1], run_method(rec.index, "cgsa_hard", u[0], u[r], allowed[r], 5)[1])


def test_latency_json_shape_and_invariants(latency, tmp_path):
    for key in ("kind", "schema", "date", "command", "machine", "settings", "model", "gpu",
                "histories", "instructions", "matmul", "bare_search", "rows", "goals", "notes"):
        assert key in latency, key
    for key in ("cpu", "cores", "python", "torch", "faiss", "load_avg_start", "load_avg_end", "other_cores"):
        assert key in latency["machine"], key
    assert latency["gpu"]["note"]
    assert latency["matmul"]["cpu"]["gflops"] > 0
    assert set(latency["bare_search"]) == {"real", "1k"}
    for b in latency["bare_search"].values():
        assert b["p99_ms"] >= b["p50_ms"] > 0
    methods = {r["method"] for r in latency["rows"]}
    assert {"unconditioned", "posthoc_x1", "posthoc_x5", "cgsa", "cgsa_hard",
            "api:recommend(cgsa)", "api:compare(all 5)"} <= methods
    for r in latency["rows"]:
        assert r["p99_ms"] >= r["p50_ms"] > 0
        assert r["compute_floor_ms"] > 0 and r["x_compute_floor"] > 0
        assert r["model_flops"] > 0 and r["search_flops"] > 0
        if not r["method"].startswith("api:"):
            assert r["bare_search_ms"] > 0 and 0 <= r["kept_share"] <= 1
    long_models = {r["model_max_len"] for r in latency["rows"] if r["history"] == LONG}
    assert long_models == {TINY_MODEL["max_len"], LONG}  # shipped (truncating) + random-init long model
    assert {g["met"] for g in latency["goals"]} == {None}  # 5 requests on a toy catalogue: not judged
    path = atomic.write_json(tmp_path / "lat.json", latency)
    assert json.loads(path.read_text())["rows"] == json.loads(json.dumps(latency["rows"]))


def test_train_json_shape(train):
    th = train["throughput"]
    assert th["sequences_per_s"] > 0 and th["flops_per_step"] > 0
    assert th["step_p99_ms"] >= th["step_p50_ms"] > 0
    assert th["matmul"]["gflops"] > 0 and th["mfu"] > 0
    ttq = train["time_to_quality"]
    assert ttq["available"] and set(ttq["stages"]) == {"pretrain", "sft"}
    for st in ttq["stages"].values():
        assert st["best_epoch"] <= st["epochs_run"]
        assert 0 < st["seconds_to_best"] <= st["seconds_recorded"]
        assert st["seconds_to_best"] == st["curve"][st["best_epoch"] - 1]["seconds"]  # measured, not prorated


def test_time_to_quality_without_checkpoint():
    from engine.bench.train import time_to_quality

    assert time_to_quality(None)["available"] is False


def test_report_renders_markdown(latency, train, tmp_path):
    metrics = {"dataset": "toy", "protocol": "future split", "models": {"tamip_cgsa": {
        "next_item": {"HR@10": 0.1, "HR@20": 0.2, "HR@50": 0.3, "NDCG@10": 0.05},
        "popularity": {"HR@10": 0.05, "HR@20": 0.1, "HR@50": 0.2, "NDCG@10": 0.02},
        "myopia": {"flatness@50": 0.5},
        "instruction_following": {"genre": {"users": 3, "methods": {"cgsa": {"HR@10": 0.2, "CC@10": 0.9}}}},
    }}}
    text = render(latency, train, metrics)
    assert text.startswith("# Benchmarks")
    assert "| catalogue | P | method | p50 ms |" in text
    assert "|---|---|" in text
    for section in ("## Goals", "## Machine", "## Serving latency", "## Training throughput",
                    "## Time to quality", "## Quality"):
        assert section in text
    assert latency["command"] in text and train["command"] in text
    # missing inputs name the command that produces them
    assert "python -m engine bench latency" in render(None, None, None)
    (tmp_path / "lat.json").write_text(json.dumps(latency))
    out = write_report(tmp_path / "lat.json", tmp_path / "missing.json", tmp_path / "nope.json",
                       tmp_path / "BENCHMARKS.md")
    assert "| catalogue | P | method |" in out.read_text()


def test_md_table_and_sizes():
    assert md_table(["a", "b"], [[1, 0.12345], ["x|y", None]]).splitlines() == [
        "| a | b |", "|---|---|", "| 1 | 0.123 |", "| x\\|y | — |"]
    assert [bc.parse_size(s) for s in ("real", "100k", "1m", "500")] == ["real", 100_000, 1_000_000, 500]
    assert bc.size_label(1_000_000) == "1M"


def test_cli_registers_bench(tmp_path, latency):
    from engine.cli import build_parser, main

    args = build_parser().parse_args(["bench", "latency", "--catalogues", "real,100k", "--histories", "16",
                                      "--requests", "3"])
    assert args.catalogues == ("real", 100_000) and args.histories == (16,) and callable(args.func)
    (tmp_path / "lat.json").write_text(json.dumps(latency))
    out = tmp_path / "B.md"
    assert main(["bench", "report", "--latency", str(tmp_path / "lat.json"), "--train",
                 str(tmp_path / "no.json"), "--metrics", str(tmp_path / "no.json"), "--out", str(out)]) == 0
    assert out.read_text().startswith("# Benchmarks")


def test_cli_tables_print(latency, train):
    import io

    from engine.bench.latency import print_latency
    from engine.bench.train import print_train

    buf = io.StringIO()
    print_latency(latency, file=buf)
    print_train(train, file=buf)
    text = buf.getvalue()
    assert "p50 ms" in text and "cgsa_hard" in text and "seq/s" in text and "GPU:" in text


def test_cpu_probe_subtracts_our_own_cpu(monkeypatch):
    """(machine busy − our CPU) / wall time; a live probe returns a share of the cores."""
    samples = iter([(10.0, 100.0, 5.0), (12.0, 103.0, 6.5)])  # (wall, busy all, ours)
    monkeypatch.setattr(bc.CpuProbe, "_sample", staticmethod(lambda: next(samples)))
    assert bc.CpuProbe().other_cores() == pytest.approx((3.0 - 1.5) / 2.0)
    monkeypatch.undo()
    live = bc.CpuProbe().other_cores()
    assert live is None or 0 <= live <= (os.cpu_count() or 1) + 0.5


def test_report_judges_contention_by_other_cores(latency, train):
    quiet = {**latency, "machine": {**latency["machine"], "load_avg_start": [1.7, 1, 1], "other_cores": 0.05}}
    busy = {**latency, "machine": {**latency["machine"], "load_avg_start": [0.1, 0, 0], "other_cores": 1.2}}
    assert "latency run ran on a busy machine" not in render(quiet, train, None)
    assert "other processes used 1.20 of" in render(busy, train, None)
