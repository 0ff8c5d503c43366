"""Issue 34, CLI side: flags checked by argparse, outputs checked before long runs, small
catalogues evaluated at the cut-offs they allow, nothing lost after training."""

from __future__ import annotations

import json

import pytest
import torch

from engine.cli import main
from engine.core import checkpoint
from tests.cli.small_data import small_data

FAST = ["--device", "cpu", "--epochs", "1", "--batch-size", "16"]


def _run(capsys, *args: str) -> tuple[int, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line(err: str) -> str:
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: "), err
    return err


@pytest.mark.parametrize("flag, value, fragment", [
    ("--batch-size", "0", "argument --batch-size: must be at least 1, got 0"),
    ("--holdout", "-3", "argument --holdout: must be at least 1, got -3"),
    ("--epochs", "-1", "argument --epochs: must be at least 1, got -1"),
    ("--epochs", "many", "argument --epochs: 'many' is not a whole number"),
    ("--negatives", "-2", "argument --negatives: must be at least -1, got -2"),
    ("--seed", "-1", "argument --seed: must be at least 0, got -1"),
])
def test_bad_train_flags_exit_2_with_one_line(capsys, flag, value, fragment):
    code, err = _run(capsys, "train", "--data", "/nonexistent", flag, value)  # never trains, even if accepted
    assert code == 2 and fragment in _one_line(err)


def test_catalogue_under_50_items_trains_and_evaluates_at_10_and_20(capsys, tmp_path):
    out = tmp_path / "m.pt"
    code, err = _run(capsys, "train", "--data", str(small_data(tmp_path / "d")), *FAST, "--holdout", "3",
                     "--out", str(out))
    assert code == 0, err
    metrics = checkpoint.load(out).metrics
    # ranks give HR@K at every K; top-K lists (myopia) stop at the cut-offs the catalogue has
    assert {"HR@10", "HR@20", "HR@50"} <= set(metrics["next_item"])
    assert "HR@10" in metrics["myopia"] and "HR@50" not in metrics["myopia"]
    assert set(metrics["instruction_following"]) == {"genre"}  # no language: genre only


def test_catalogue_under_10_items_is_ranked_at_its_size(capsys, tmp_path):
    out = tmp_path / "m.pt"
    data = small_data(tmp_path / "d", n_items=5, n_users=10, per_user=5)
    code, err = _run(capsys, "train", "--data", str(data), *FAST, "--holdout", "1", "--out", str(out))
    assert code == 0, err
    assert "HR@5" in checkpoint.load(out).metrics["myopia"]


@pytest.mark.parametrize("shape", [dict(n_items=5, n_users=10, per_user=5),
                                   dict(n_items=1, n_users=1, per_user=1, one_time=True)],
                         ids=["holdout too long", "1 user, 1 item, one timestamp"])
def test_no_test_user_is_refused_before_training(capsys, tmp_path, monkeypatch, shape):
    import engine.cli.train as cli_train

    monkeypatch.setattr(cli_train, "fit", lambda *a, **k: pytest.fail("trained before refusing"))
    out = tmp_path / "m.pt"
    code, err = _run(capsys, "train", "--data", str(small_data(tmp_path / "d", **shape)), *FAST,
                     "--holdout", "3", "--out", str(out))
    assert code == 2 and "leaves no test user" in _one_line(err) and not out.exists()


def test_sft_without_genre_is_refused_before_pretraining(capsys, tmp_path, monkeypatch):
    import engine.training.loop as loop

    monkeypatch.setattr(loop, "_run_stage", lambda *a, **k: pytest.fail("pre-training started"))
    data = small_data(tmp_path / "d", n_items=60, n_users=30, genre=False)
    code, err = _run(capsys, "train", "--data", str(data), *FAST, "--sft-epochs", "1", "--holdout", "3",
                     "--out", str(tmp_path / "m.pt"))
    assert code == 2 and "needs a 'genre' attribute" in _one_line(err)


def test_train_out_a_folder_is_refused_before_loading(capsys, tmp_path):
    code, err = _run(capsys, "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path))
    assert code == 2 and "is a folder" in _one_line(err)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    data, out = small_data(folder / "d"), folder / "m.pt"
    assert main(["train", "--data", str(data), *FAST, "--holdout", "3", "--out", str(out)]) == 0
    return data, out


def test_evaluate_json_md_does_not_overwrite_it(capsys, tmp_path, small_model):
    target = tmp_path / "X.md"
    target.write_text("my notes")
    code, err = _run(capsys, "evaluate", str(small_model[1]), "--data", str(small_model[0]), "--json", str(target))
    assert code == 2 and "does not end in .json" in _one_line(err) and target.read_text() == "my notes"


def test_evaluate_json_dir_fails_before_evaluating(capsys, tmp_path, small_model, monkeypatch):
    import engine.cli.evaluate as cli_eval

    monkeypatch.setattr(cli_eval, "evaluate_all", lambda *a, **k: pytest.fail("evaluated first"))
    (tmp_path / "d.json").mkdir()
    code, err = _run(capsys, "evaluate", str(small_model[1]), "--data", str(small_model[0]),
                     "--json", str(tmp_path / "d.json"))
    assert code == 2 and "is a folder" in _one_line(err)


def test_evaluate_writes_json_and_md_beside_it(capsys, tmp_path, small_model):
    code, err = _run(capsys, "evaluate", str(small_model[1]), "--data", str(small_model[0]), "--device", "cpu",
                     "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    assert "HR@20" in json.loads((tmp_path / "r.json").read_text())["next_item"]
    assert "| model |" in (tmp_path / "r.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic: no temporary left


def test_evaluation_over_zero_users_is_null_not_nan(small_model):
    from engine.core.prepared import prepare
    from engine.data.io import load_dataset
    from engine.evaluation.evaluate import evaluate_all, report_markdown

    ds = load_dataset(small_model[0])
    ck, _ = checkpoint.load_for(small_model[1], ds)
    prep = prepare(ds, 1000, True, ck.model_config.attr_values)
    assert not prep.splits
    res = evaluate_all(ck.build(), prep, torch.device("cpu"))
    text = json.dumps(res, allow_nan=False)  # raises on NaN
    assert res["next_item"]["HR@10"] is None and res["myopia"]["HR@10"][0] is None and "null" in text
    assert "## Next item" in report_markdown(res)
