"""Property-based fuzz of the command line (issue 34): any argument list drawn from every
subcommand's own grammar exits 0, or 2 with ONE line starting ``error:``, never a traceback.

prepare/train/evaluate/recommend run for real on a tiny data set and checkpoint; the work
that would take minutes or write committed files (``bench``, ``experiment``, ``setup``,
``train --ship``, ``prepare lastfm``, training itself) is stubbed, so only argument
handling and checks run there. Training returns an untrained network for the data.
"""

from __future__ import annotations

import argparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.cli as cli
from engine.errors import DataError
from tests.cli.small_data import small_data


def _grammar() -> dict[tuple[str, ...], list[argparse.Action]]:
    """Every leaf command (``("prepare", "generic")``, ``("train",)``, ...) and its actions."""
    out: dict[tuple[str, ...], list[argparse.Action]] = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[path] = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
        for sub in subs:
            for name, child in sub.choices.items():
                walk(child, (*path, name))

    walk(cli.build_parser(), ())
    return out


GRAMMAR = _grammar()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    data = small_data(base / "data")
    ckpt = base / "model.pt"
    assert cli.main(["train", "--data", str(data), "--device", "cpu", "--epochs", "1", "--holdout", "3",
                     "--out", str(ckpt)]) == 0
    (base / "inter.csv").write_text("user_id,item_id,timestamp\n1,1,10\n1,2,20\n2,1,30\n")
    (base / "items.csv").write_text("item_id,name,genre\n1,A,pop\n2,B,rock\n")
    (base / "folder").mkdir()
    (base / "notes.md").write_text("keep me")
    values = ["0", "1", "-1", "3", "-3", "abc", "", "1,2", "x,999999", "{", "[]", "/nonexistent",
              str(data), str(ckpt), str(base / "inter.csv"), str(base / "items.csv"), str(base / "folder"),
              str(base / "notes.md"), str(base / "out"), str(base / "r.json"), str(base / "m.pt")]
    return base, data, ckpt, values


@pytest.fixture
def stubbed(world, monkeypatch):
    """Defaults point at the tiny data and model; long or repository-writing work is a no-op."""
    import engine.cli.bench as bench
    import engine.cli.evaluate as evaluate
    import engine.cli.experiment as experiment
    import engine.cli.prepare as prepare
    import engine.cli.recommend as recommend
    import engine.cli.setup as setup
    import engine.cli.train as train
    from engine.core.prepared import build_model, model_config

    base, data, ckpt, _ = world
    monkeypatch.chdir(base)
    for module, name in ((bench, "_latency"), (bench, "_train"), (bench, "_quality"), (bench, "_report"),
                         (bench, "_lists"), (experiment, "_cli"), (setup, "_cli")):
        monkeypatch.setattr(module, name, lambda args: 0)
    monkeypatch.setattr(evaluate, "demo_metrics", lambda device, ds: {})
    monkeypatch.setattr(evaluate, "demo_markdown", lambda res: "")
    monkeypatch.setattr(train, "build_assets", lambda **k: None)

    def untrained(prep, tcfg, device, tags=False, **k):
        cfg = model_config(prep, tags=tags, n_branches=1 if tcfg.objective == "nip" else 2, d_model=16,
                           n_heads=2, n_layers=1, max_len=8)
        return build_model(cfg, prep.catalogue, prep), {}

    monkeypatch.setattr(train, "fit", untrained)
    for module in (train, recommend):
        monkeypatch.setattr(module, "resolve_default_dataset", lambda: data)
    monkeypatch.setattr(evaluate, "default_data_dir", lambda: data)
    monkeypatch.setattr(evaluate, "default_checkpoint", ckpt)
    monkeypatch.setattr(recommend, "MAIN_CHECKPOINT", ckpt)

    def no_lastfm(*a, **k):
        raise DataError("the Last.fm release is not available in this test", "stubbed")

    monkeypatch.setattr(prepare, "prepare_lastfm", no_lastfm)
    monkeypatch.setattr(prepare, "default_dataset_dir", lambda name="lastfm": base / "prepared" / name)
    return world


@st.composite
def argv(draw, values: list[str]) -> list[str]:
    command = draw(st.sampled_from(sorted(GRAMMAR)))
    actions = GRAMMAR[command]
    out = list(command)
    for action in draw(st.lists(st.sampled_from(actions), max_size=5)) if actions else []:
        pool = [str(c) for c in action.choices] + values if action.choices else values
        value = draw(st.sampled_from(pool))
        if not action.option_strings:  # positional
            out.append(value)
        elif action.nargs == 0:
            out.append(action.option_strings[0])
        else:
            out += [draw(st.sampled_from(action.option_strings)), value]
    return out


def _exit(args: list[str]) -> int:
    try:
        return cli.main(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


def test_every_subcommand_exits_0_or_2_with_one_line(stubbed, capsys):
    values = stubbed[3]

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(argv(values))
    def run(args):
        code = _exit(args)  # an exception other than a typed error escapes here: a traceback
        err = capsys.readouterr().err.strip()
        assert code in (0, 2), (args, code, err)
        if code == 2:
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error:"), (args, err)

    run()
    assert (stubbed[0] / "notes.md").read_text() == "keep me"


def test_grammar_covers_every_subcommand():
    assert {c[0] for c in GRAMMAR} == {"prepare", "train", "evaluate", "recommend", "setup", "bench", "experiment"}
    assert ("prepare", "generic") in GRAMMAR and ("bench", "latency") in GRAMMAR
