"""Rows of the reliability table for issue 34 (engine and CLI side), imported by test_reliability.

Checkpoints crafted without code, hand-edited data folders, `prepare generic` inputs and
outputs, train/evaluate flags and tiny catalogues. CLI rows run ``python -m engine`` in
process and return what the user sees: the exit code and the one ``error:`` line.
"""

from __future__ import annotations

import json
import math

import torch
from conftest import make_toy_dataset
from test_reliability import Row

from engine.errors import CheckpointError, DataError
from tests.cli.small_data import small_data

FAST = ["--device", "cpu", "--epochs", "1", "--batch-size", "16"]


def _crafted(change, build: bool = False):
    def trigger(ctx):
        from engine.core import checkpoint
        from engine.serving.recommender import Recommender

        raw = torch.load(ctx.tiny_checkpoint, map_location="cpu", weights_only=True)
        change(raw)
        torch.save(raw, ctx.tmp / "crafted.pt")
        if build:
            return Recommender.load(ctx.tmp / "crafted.pt", ctx.tiny_dataset, device="cpu")
        return checkpoint.load(ctx.tmp / "crafted.pt")
    return trigger


def _cfg(key, value):
    return lambda raw: raw["model_config"].__setitem__(key, value)


def _nan(raw):
    raw["state_dict"]["items.id.weight"][3, 0] = math.nan


def _other_attributes(ctx):
    from dataclasses import replace

    from engine.serving.recommender import Recommender

    ds = ctx.tiny_dataset
    fewer = replace(ds, items=ds.items.drop(columns=["era"]), attributes=tuple(a for a in ds.attributes if a != "era"))
    return Recommender.load(ctx.tiny_checkpoint, fewer, device="cpu")


def _folder_checkpoint(ctx):
    from engine.core import checkpoint

    return checkpoint.load(ctx.tmp)


def _meta(edit):
    def trigger(ctx):
        from engine.data.io import load_dataset, save_dataset

        folder = save_dataset(make_toy_dataset(n_users=4), ctx.tmp / "ds")
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps(edit(meta)))
        return load_dataset(folder)
    return trigger


def _generic(ctx, items: str, out=None, force=False):
    from engine.data.generic import prepare_generic

    (ctx.tmp / "inter.csv").write_text("user_id,item_id,timestamp\n1,1,10\n1,2,20\n2,1,30\n")
    (ctx.tmp / "items.csv").write_text(items)
    return prepare_generic(ctx.tmp / "inter.csv", ctx.tmp / "items.csv", out or ctx.tmp / "out", force=force)


def _named_none(ctx) -> str:
    from engine.data.io import load_dataset

    names = load_dataset(_generic(ctx, "item_id,name\n1,None\n2,NaN\n")).items["name"].tolist()
    assert names == ["None", "NaN"]
    return f"accepted: artists named {names} are names"


def _prepared_twice(ctx):
    _generic(ctx, "item_id,name\n1,A\n2,B\n")
    return _generic(ctx, "item_id,name\n1,C\n2,D\n")


def _instruction_values(ctx) -> str:
    from engine import Instruction

    ins = Instruction(genres={" ROCK "}, languages={"EN"})
    assert ins.genres == {"rock"} and ins.languages == {"en"}
    return "accepted: normalised to genre = rock, language = en (the data's spelling)"


def _cli(*args, data=None, ckpt=False):
    def trigger(ctx) -> str:
        from engine.cli import main

        extra = []
        if data is not None:
            extra = ["--data", str(small_data(ctx.tmp / "d", **data))]
        if ckpt:
            folder = ctx.tmp_path_factory.mktemp("m")
            model, d = folder / "m.pt", small_data(folder / "d")
            assert main(["train", "--data", str(d), *FAST, "--holdout", "3", "--out", str(model)]) == 0
            extra = [str(model), "--data", str(d)]
        argv = [a.replace("{tmp}", str(ctx.tmp)) for a in args]
        ctx.capsys.readouterr()
        try:
            code = main([*argv[:1], *extra, *argv[1:]])
        except SystemExit as exc:
            code = exc.code
        err = ctx.capsys.readouterr().err.strip()
        if code != 0:
            assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, (code, err)
        return f"exit {code}: {err}"
    return trigger


def _small_catalogue(ctx) -> str:
    from engine.core import checkpoint

    got = _cli("train", *FAST, "--holdout", "3", "--out", "{tmp}/m.pt", data={})(ctx)
    metrics = checkpoint.load(ctx.tmp / "m.pt").metrics["myopia"]
    assert got.startswith("exit 0") and "HR@50" not in metrics
    cut = ", ".join(k for k in metrics if k.startswith("HR@"))
    return f"accepted: checkpoint written, top-K lists evaluated at {cut}"


def _zero_users(ctx) -> str:
    from engine.core.prepared import prepare
    from engine.evaluation.evaluate import evaluate_all

    res = evaluate_all(ctx.tiny_model, prepare(ctx.tiny_dataset, 1000, True), torch.device("cpu"))
    text = json.dumps(res["next_item"], allow_nan=False)
    return f"accepted: {text} (null, never NaN)"


def _json_md(ctx) -> str:
    (ctx.tmp / "X.md").write_text("notes")
    got = _cli("evaluate", "--json", "{tmp}/X.md", ckpt=True)(ctx)
    assert (ctx.tmp / "X.md").read_text() == "notes"
    return got


def _json_dir(ctx) -> str:
    (ctx.tmp / "out.json").mkdir()
    return _cli("evaluate", "--json", "{tmp}/out.json", ckpt=True)(ctx)


ONE_LINE = "exit 2, one line"
ROWS = [
    Row("checkpoint", "crafted: state_dict is a list", _crafted(lambda r: r.update(state_dict=[1, 2])),
        CheckpointError, "state_dict is list, not a mapping"),
    Row("checkpoint", "crafted: a required key missing", _crafted(lambda r: r.pop("fingerprint")),
        CheckpointError, "missing the field(s) ['fingerprint']"),
    Row("checkpoint", "crafted: n_heads = 0", _crafted(_cfg("n_heads", 0)),
        CheckpointError, "model_config.n_heads is 0, not a whole number ≥ 1"),
    Row("checkpoint", "crafted: negative max_len", _crafted(_cfg("max_len", -5)),
        CheckpointError, "model_config.max_len is -5, not a whole number ≥ 1"),
    Row("checkpoint", "crafted: malformed attr_values", _crafted(_cfg("attr_values", "abc")),
        CheckpointError, "model_config.attr_values is 'abc', not one list of values per attribute"),
    Row("checkpoint", "crafted: config of absurd size (d_model 65536)", _crafted(_cfg("d_model", 65536)),
        CheckpointError, "parameters, above the limit of 100,000,000; nothing was allocated"),
    Row("checkpoint", "crafted: 10⁹ layers", _crafted(_cfg("n_layers", 10**9)), CheckpointError,
        "above the limit of 100,000,000"),
    Row("checkpoint", "crafted: NaN weights", _crafted(_nan, build=True), CheckpointError,
        "weight items.id.weight holds NaN or infinite values"),
    Row("checkpoint", "crafted: a weight missing", _crafted(lambda r: r["state_dict"].pop("ln_h.weight"), build=True),
        CheckpointError, "state_dict lacks the weight(s) ['ln_h.weight']"),
    Row("checkpoint", "crafted: attribute codes out of range",
        _crafted(lambda r: r["state_dict"]["items.item_attrs"].add_(100), build=True),
        CheckpointError, "items.item_attrs holds value codes outside the config's vocabularies"),
    Row("checkpoint", "trained with another attribute set", _other_attributes, CheckpointError,
        "was trained with the attributes genre, language, explicit, popularity_tier, era; the data set 'toy' has"),
    Row("checkpoint", "a folder passed as the checkpoint", _folder_checkpoint, CheckpointError,
        "is a folder, not a checkpoint file"),
    Row("data", "hand-edited meta.json: `5`", _meta(lambda m: 5), DataError, "holds int 5, not a JSON object"),
    Row("data", "hand-edited meta.json: time_resolution \"abc\"", _meta(lambda m: m | {"time_resolution": "abc"}),
        DataError, "'time_resolution' is \"abc\", not a whole number of seconds ≥ 0"),
    Row("data", "hand-edited meta.json: synthetic \"no\"", _meta(lambda m: m | {"synthetic": "no"}),
        DataError, "'synthetic' is \"no\", not true or false"),
    Row("data", "prepare generic: text in a count column (listeners = many)",
        lambda c: _generic(c, "item_id,name,listeners\n1,A,5\n2,B,many\n"),
        DataError, "line 3: column 'listeners' has 'many', not an integer ≥ 0"),
    Row("data", "prepare generic: --out is an existing file",
        lambda c: _generic(c, "item_id,name\n1,A\n2,B\n", out=c.tmp / "items.csv"), DataError, "is a file, not a folder"),
    Row("data", "prepare generic: artists named None and NaN", _named_none, None, "are names"),
    Row("data", "prepare generic: --out already prepared", _prepared_twice, DataError,
        "already holds a prepared data set — pass --force to replace it"),
    Row("engine", "instruction values \" ROCK \", \"EN\"", _instruction_values, None,
        "normalised to genre = rock, language = en", outcome="accepted, normalised"),
    Row("engine", "evaluation over 0 test users", _zero_users, None, "\"HR@10\": null",
        outcome="accepted: null in JSON"),
    Row("cli", "train --batch-size 0", _cli("train", "--batch-size", "0"), None,
        "error: python -m engine train: argument --batch-size: must be at least 1, got 0", outcome=ONE_LINE),
    Row("cli", "train --holdout -3", _cli("train", "--holdout", "-3"), None,
        "argument --holdout: must be at least 1, got -3", outcome=ONE_LINE),
    Row("cli", "train --epochs -1", _cli("train", "--epochs", "-1"), None,
        "argument --epochs: must be at least 1, got -1", outcome=ONE_LINE),
    Row("cli", "train --seed -1", _cli("train", "--seed", "-1"), None,
        "argument --seed: must be at least 0, got -1", outcome=ONE_LINE),
    Row("cli", "train: a holdout that leaves no test user",
        _cli("train", *FAST, "--holdout", "3", data=dict(n_items=5, n_users=10, per_user=5)), None,
        "--holdout 3 leaves no test user in small: a user needs at least 6 items", outcome=ONE_LINE + ", before training"),
    Row("cli", "train: 1 user, 1 item, one timestamp",
        _cli("train", *FAST, "--holdout", "1", data=dict(n_items=1, n_users=1, per_user=1, one_time=True)), None,
        "leaves no test user", outcome=ONE_LINE + ", before training"),
    Row("cli", "train on a catalogue under 50 items", _small_catalogue, None, "top-K lists evaluated at HR@10",
        outcome="accepted: checkpoint written"),
    Row("cli", "train --sft-epochs on data without a genre column",
        _cli("train", *FAST, "--sft-epochs", "1", data=dict(n_items=60, n_users=30, genre=False)), None,
        "needs a 'genre' attribute to condition and validate on", outcome=ONE_LINE + ", before pre-training"),
    Row("cli", "train --out is a folder", _cli("train", "--out", "{tmp}"), None, "is a folder", outcome=ONE_LINE),
    Row("cli", "evaluate --json X.md", _json_md, None, "does not end in .json",
        outcome=ONE_LINE + ", X.md untouched"),
    Row("cli", "evaluate --json DIR", _json_dir, None, "is a folder — give a file path for --json",
        outcome=ONE_LINE + ", before evaluating"),
]
