"""The engine's command line, end to end on the committed synthetic data and model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.data.paths import default_dataset_dir, repo_root
from engine.paths import SYNTHETIC_CHECKPOINT

SYN = ["--data", str(default_dataset_dir("synthetic"))]


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "engine", *args], cwd=repo_root(),
                          capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_help_lists_every_subcommand():
    out = run("--help").stdout
    for sub in ("setup", "prepare", "train", "evaluate", "recommend", "bench", "experiment"):
        assert sub in out


def test_recommend_json_complies_with_the_instruction():
    proc = run("recommend", *SYN, "--checkpoint", str(SYNTHETIC_CHECKPOINT), "--user", "1",
               "--genre", "rock", "-k", "5", "--json")
    out = json.loads(proc.stdout)
    assert set(out["results"]) == {"unconditioned", "posthoc", "prefilter", "cgsa", "cgsa_hard"}
    hard = out["results"]["cgsa_hard"]
    assert hard["n_returned"] == 5 and hard["cc"] == 1.0
    assert all(item["genre"] == "rock" for item in hard["items"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["recommend", "--items", "999999"], "not in this catalogue"),
        (["recommend", "--user", "1", "--genre", "no-such-genre"], "no catalogue item has genre"),
        (["recommend", "--user", "1", "-k", "0"], "K must be a positive"),
        (["recommend", "--user", "1", "--device", "cuda"], "no"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(args, message):
    if "cuda" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    proc = run(*args[:1], *SYN, "--checkpoint", str(SYNTHETIC_CHECKPOINT), *args[1:], ok=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_checkpoint_is_explained():
    proc = run("recommend", *SYN, "--checkpoint", "nope.pt", "--user", "1", ok=False)
    assert proc.returncode == 2 and "no checkpoint at nope.pt" in proc.stderr


def test_evaluate_writes_json_and_markdown(tmp_path):
    out = tmp_path / "eval.json"
    run("evaluate", str(SYNTHETIC_CHECKPOINT), *SYN, "--json", str(out))
    res = json.loads(out.read_text())
    assert res["next_item"]["HR@10"] > res["popularity"]["HR@10"]
    assert len(res["myopia"]["HR@50"]) == 10
    assert "| cgsa_hard |" in out.with_suffix(".md").read_text()


def test_train_records_length_buckets_in_the_checkpoint(tmp_path):
    from engine.core import checkpoint

    out = tmp_path / "bucketed.pt"
    run("train", *SYN, "--objective", "nip", "--epochs", "1", "--length-buckets", "3",
        "--device", "cpu", "--out", str(out))
    assert checkpoint.load(out).train_config.length_buckets == 3


def test_train_flags_default_to_the_train_config():
    """One default per setting: the CLI reads TrainConfig's instead of keeping its own."""
    from engine.cli import build_parser
    from engine.core.config import TrainConfig

    args = build_parser().parse_args(["train"])
    defaults = TrainConfig()
    assert args.logq is defaults.logq
    assert (args.batch_size, args.negatives, args.epochs, args.holdout) == (
        defaults.batch_size, defaults.negatives, defaults.max_epochs, defaults.holdout)


@pytest.mark.parametrize("command", ["recommend", "evaluate"])
def test_checkpoint_of_another_attribute_set_exits_2_with_one_line(command, tmp_path, tiny_checkpoint,
                                                                    tiny_dataset):
    from dataclasses import replace

    from engine.data.io import save_dataset

    folder = save_dataset(replace(tiny_dataset, items=tiny_dataset.items.drop(columns=["era"]),
                                  attributes=tuple(a for a in tiny_dataset.attributes if a != "era")),
                          tmp_path / "fewer")
    args = (["recommend", "--checkpoint", str(tiny_checkpoint), "--user", "1"] if command == "recommend"
            else ["evaluate", str(tiny_checkpoint)])
    proc = run(*args, "--data", str(folder), ok=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "attributes" in lines[0] and lines[0].startswith("error:")


def test_recommend_ask_prints_atoms_and_notes_before_the_list():
    proc = run("recommend", *SYN, "--checkpoint", str(SYNTHETIC_CHECKPOINT), "--user", "1", "-k", "5",
               "--method", "cgsa_hard", "--ask", "clean 90s rock, chill vibes, no rap")
    out = proc.stdout
    assert "parsed: genre: rock; era: 90s; explicit: exclude_known" in out
    assert "note: 'no rap': an instruction cannot exclude a genre" in out
    assert "note: not understood (ignored): 'chill', 'vibes'" in out
    assert out.index("parsed:") < out.index("== cgsa_hard")


def test_recommend_ask_json_and_history_notes():
    many = [str(i) for i in range(1, 81)]  # longer than the model's window: truncated, with a note
    proc = run("recommend", *SYN, "--checkpoint", str(SYNTHETIC_CHECKPOINT), "--items", *many, "-k", "3",
               "--method", "cgsa_hard", "--ask", "German pop from the 2000s", "--json")
    out = json.loads(proc.stdout)
    assert out["ask"]["atoms"] == ["genre: pop", "language: de", "era: 00s"]
    assert out["instruction"]["genres"] == ["pop"] and out["instruction"]["languages"] == ["de"]
    assert out["history_notes"] and "most recent" in out["history_notes"][0]
    assert all(i["genre"] == "pop" and i["language"] == "de" for i in out["results"]["cgsa_hard"]["items"])
    text = run("recommend", *SYN, "--checkpoint", str(SYNTHETIC_CHECKPOINT), "--items", *many, "-k", "3",
               "--method", "cgsa_hard").stdout
    assert "history note: only the most recent" in text
