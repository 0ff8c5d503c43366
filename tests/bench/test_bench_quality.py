"""``bench quality`` on a small file in the S3-Rec format: both protocols, resume, report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.bench import quality as bq
from engine.data.s3rec import LOADER_VERSION, SAME_INPUTS_SINCE

FAST = {"max_epochs": 1, "patience": 1, "batch_size": 64}


def _write_benchmark(folder: Path, name: str = "Beauty", users: int = 60, items: int = 40) -> Path:
    """Users walk through items in order (no repeats), so history never holds the target."""
    rng = np.random.default_rng(0)
    lines = []
    for u in range(1, users + 1):
        n = int(rng.integers(5, 12))
        start = int(rng.integers(1, items - n))
        lines.append(" ".join(map(str, [u, *range(start, start + n)])))
    folder.mkdir(parents=True, exist_ok=True)
    txt = folder / f"{name}.txt"
    txt.write_text("\n".join(lines) + "\n")
    attrs = {str(i): [1 + i % 3, 10 + i % 5] for i in range(1, items + 1)}
    (folder / f"{name}_item2attributes.json").write_text(json.dumps(attrs))
    return txt


@pytest.fixture(scope="module")
def quality(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    txt = _write_benchmark(root / "raw")
    out = root / "quality.json"
    res = bq.run_quality([str(txt)], ("nip", "mip", "tamip"), (0, 1), settings=FAST, out=out,
                         data_root=root / "prepared")
    return res, out, txt, root


def test_every_model_and_seed_scored_under_both_protocols(quality):
    res, out, _, _ = quality
    e = res["benchmarks"]["beauty"]
    assert e["users"] == 60 and not e["timestamps"]
    # the benchmark's own recipe travels with its runs, and so does every command that added some
    assert e["model"] == bq.MODEL_BY_BENCHMARK["beauty"]
    assert e["settings"]["length_buckets"] == bq.TRAIN_BY_BENCHMARK["beauty"]["length_buckets"]
    assert len(e["commands"]) == 1
    assert set(e["runs"]) == {"nip", "mip"}  # order-only data: TAMIP = MIP, not trained twice
    for runs in e["runs"].values():
        assert [r["seed"] for r in runs] == [0, 1]
        for r in runs:
            assert len(r["val_curve"]) == r["epochs"] and max(r["val_curve"]) == round(r["best_val_HR@10"], 4)
            for k in bq.KS:
                # Targets are never in the history here, so excluding it can only help.
                assert r["s3rec"][f"HR@{k}"] >= r["climber-pilot"][f"HR@{k}"]
                assert 0 <= r["s3rec"][f"NDCG@{k}"] <= r["s3rec"][f"HR@{k}"] <= 1
    s = e["summary"]["nip"]["s3rec"]["HR@10"]
    assert s["mean"] == pytest.approx(np.mean([r["s3rec"]["HR@10"] for r in e["runs"]["nip"]]))
    assert json.loads(out.read_text())["benchmarks"]["beauty"]["runs"] == e["runs"]


def test_resume_skips_finished_runs_and_adds_new_seeds(quality, monkeypatch):
    res, out, txt, root = quality
    calls = []
    real_fit = bq.fit
    monkeypatch.setattr(bq, "fit", lambda *a, **kw: calls.append(a[1].seed) or real_fit(*a, **kw))
    again = bq.run_quality([str(txt)], ("nip",), (0, 1, 2), settings=FAST, out=out,
                           data_root=root / "prepared")
    assert calls == [2]
    assert [r["seed"] for r in again["benchmarks"]["beauty"]["runs"]["nip"]] == [0, 1, 2]
    goal_free = bq.goals(again)  # a user's own file has no goal
    assert goal_free == []


def test_network_override_reaches_the_model_and_starts_the_runs_afresh(quality, tmp_path, monkeypatch):
    _, out, txt, root = quality
    copy = tmp_path / "quality.json"
    copy.write_text(out.read_text())
    seen = []
    real_fit = bq.fit
    monkeypatch.setattr(bq, "fit", lambda *a, progress, **kw: seen.append(kw) or real_fit(*a, progress=progress, **kw))
    res = bq.run_quality([str(txt)], ("nip",), (0,), settings=FAST, out=copy,
                         data_root=root / "prepared", network={"dropout": 0.3})
    e = res["benchmarks"]["beauty"]
    assert seen == [{**bq.MODEL_BY_BENCHMARK["beauty"], "dropout": 0.3}] == [e["model"]]
    assert set(e["runs"]) == {"nip"} and [r["seed"] for r in e["runs"]["nip"]] == [0]
    # kept beside the reported runs, it becomes a row that names what it changed
    table = "\n".join(bq.recipes_markdown(json.loads(out.read_text()), {"probe.json": res}, "quality.json"))
    assert "| Beauty | NIP | reported recipe |" in table
    assert "| Beauty | NIP | `{'dropout': 0.3}` | 1 |" in table and "`probe.json`" in table
    assert bq.recipes_markdown(res, {}) == []


def test_a_probe_row_names_options_it_ran_without():
    def entry(model):
        run = {"seed": 0, "s3rec": {"HR@10": 0.08}, "best_val_HR@10": 0.1, "epochs": 3}
        return {"dataset": "LastFM", "settings": {"lr": 1e-3}, "model": model, "runs": {"nip": [run]},
                "summary": {"nip": {"s3rec": {"HR@10": {"mean": 0.08, "sd": 0.0}}}}}

    reported = {"benchmarks": {"lastfm": entry({"tags": True})}}
    table = "\n".join(bq.recipes_markdown(reported, {"old.json": {"benchmarks": {"lastfm": entry({})}}}))
    assert "| LastFM | NIP | `{'tags': False}` | 1 |" in table
    reported["benchmarks"]["lastfm"]["settings"] = {"lr": 2e-3}
    probe = {**entry({"tags": True}), "settings": {}}
    table = "\n".join(bq.recipes_markdown(reported, {"old.json": {"benchmarks": {"lastfm": probe}}}))
    assert f"| LastFM | NIP | `{{'lr': {bq.TrainConfig().lr}}}` | 1 |" in table
    # a value set explicitly to the code's default is no change
    reported = {"benchmarks": {"lastfm": entry({"tags": False})}}
    table = "\n".join(bq.recipes_markdown(reported, {"old.json": {"benchmarks": {"lastfm": entry({})}}}))
    assert "| LastFM | NIP | same | 1 |" in table


def test_a_folder_from_an_older_loader_is_rebuilt_and_its_runs_start_afresh(quality, tmp_path, monkeypatch):
    _, out, txt, root = quality
    copy = tmp_path / "quality.json"
    old = json.loads(out.read_text())
    assert old["benchmarks"]["beauty"]["s3rec_loader"] == LOADER_VERSION
    old["benchmarks"]["beauty"]["s3rec_loader"] = SAME_INPUTS_SINCE["plain"] - 1  # runs made on other inputs
    copy.write_text(json.dumps(old))
    prepared = tmp_path / "prepared"
    folder = bq.prepared_dir("beauty", txt, prepared)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "s3rec_loader"}))
    (folder / "items.parquet").write_bytes(b"stale")
    calls = []
    real_fit = bq.fit
    monkeypatch.setattr(bq, "fit", lambda *a, **kw: calls.append(a[1].seed) or real_fit(*a, **kw))
    res = bq.run_quality([str(txt)], ("nip",), (0,), settings=FAST, out=copy, data_root=prepared)
    assert json.loads((folder / "meta.json").read_text())["s3rec_loader"] == LOADER_VERSION
    assert calls == [0]  # seed 0 existed, but on the old data
    e = res["benchmarks"]["beauty"]
    assert e["s3rec_loader"] == LOADER_VERSION and set(e["runs"]) == {"nip"}


def test_runs_from_a_loader_with_the_same_inputs_are_kept(quality, tmp_path, monkeypatch):
    """A loader version that only added a table (item tags) does not void the runs made before."""
    _, out, txt, root = quality
    copy = tmp_path / "quality.json"
    old = json.loads(out.read_text())
    old["benchmarks"]["beauty"]["s3rec_loader"] = SAME_INPUTS_SINCE["plain"]
    copy.write_text(json.dumps(old))
    monkeypatch.setattr(bq, "fit", lambda *a, **kw: pytest.fail("a kept run was trained again"))
    res = bq.run_quality([str(txt)], ("nip",), (0, 1), settings=FAST, out=copy, data_root=root / "prepared")
    e = res["benchmarks"]["beauty"]
    assert e["runs"]["nip"] == old["benchmarks"]["beauty"]["runs"]["nip"]
    assert e["s3rec_loader"] == LOADER_VERSION


def test_report_puts_ours_next_to_the_published_rows_per_protocol(quality):
    lines = "\n".join(bq.markdown(quality[0]))
    assert "**s3rec protocol**" in lines and "**climber-pilot protocol**" in lines
    assert "S3-Rec | published" in lines  # the Beauty file's published rows, on its protocol
    assert "Climber-Pilot | published" in lines
    assert "MIP (= TAMIP, no timestamps)" in lines


def test_goal_needs_three_seeds():
    e = {"dataset": "Beauty", "goal_hr10": 0.085, "runs": {"nip": [{}, {}]},
         "summary": {"nip": {"s3rec": {"HR@10": {"mean": 0.09, "sd": 0.001}}}}}
    (g,) = bq.goals({"benchmarks": {"beauty": e}})
    assert g["met"] is None and "2 seed" in g["note"]
    e["runs"]["nip"].append({})
    (g,) = bq.goals({"benchmarks": {"beauty": e}})
    assert g["met"] is True


def test_unknown_benchmark_names_the_choices(tmp_path):
    from engine.errors import DataError

    with pytest.raises(DataError, match="no such file") as err:
        bq.resolve(str(tmp_path / "nope.txt"))
    assert "lastfm" in err.value.hint


def test_conditioning_section_ranks_ours_against_the_paper():
    from engine.bench.experiments import CONDITIONING_LABELS, PAPER_TABLE4, conditioning_markdown

    def m(hr50, cc10):
        return {"HR@10": hr50 / 2, "HR@20": hr50 * 0.8, "HR@50": hr50, "CC@10": cc10, "CC@20": cc10, "CC@50": cc10}

    res = {"pretrained": "tamip.pt", "dataset": "lastfm", "sft": {"sft_epochs": 5},
           "paper_table4": PAPER_TABLE4, "labels": CONDITIONING_LABELS,
           "baselines": {"genre": {"users": 3, "posthoc_x1": m(0.2, 0.3), "posthoc_x5": m(0.4, 0.5),
                                   "prefilter": m(0.5, 1.0)}},
           "variants": {"cgsa": {"genre": {"soft": m(0.6, 0.98)}},
                        "pinrec": {"genre": {"soft": m(0.62, 0.9)}}},
           "cgsa_reproduces_shipped_model": True}
    text = "\n".join(conditioning_markdown(res))
    assert "18.53% / 81.75%" in text and "PinRec-style head" in text
    assert "here: pinrec > cgsa; in the paper: cgsa > adaln > pinrec > token" in text
    assert "reproduces the shipped main model: yes" in text


def test_processes_running_other_seeds_side_by_side_keep_each_others_runs(quality, tmp_path):
    """Each process read the file before the other wrote: the later save merges, never drops."""
    _, out, txt, root = quality
    shared, alone = tmp_path / "shared.json", tmp_path / "alone.json"
    kw = {"settings": FAST, "data_root": root / "prepared"}
    late = bq.run_quality([str(txt)], ("nip",), (1,), out=alone, **kw)  # never saw seed 0
    bq.run_quality([str(txt)], ("nip",), (0,), out=shared, **kw)
    bq._save(shared, late, "beauty")
    e = json.loads(shared.read_text())["benchmarks"]["beauty"]
    assert [r["seed"] for r in e["runs"]["nip"]] == [0, 1]
    assert e["summary"]["nip"]["s3rec"]["HR@10"]["mean"] == pytest.approx(
        np.mean([r["s3rec"]["HR@10"] for r in e["runs"]["nip"]]))
    # --fresh means the earlier runs are not wanted, and runs of another recipe never mix in
    bq._save(shared, json.loads(alone.read_text()), "beauty", resume=False)
    assert [r["seed"] for r in json.loads(shared.read_text())["benchmarks"]["beauty"]["runs"]["nip"]] == [1]
    other = bq.run_quality([str(txt)], ("nip",), (2,), out=alone, network={"dropout": 0.3}, **kw)
    bq._save(shared, other, "beauty")
    assert [r["seed"] for r in json.loads(shared.read_text())["benchmarks"]["beauty"]["runs"]["nip"]] == [2]
