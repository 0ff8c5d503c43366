"""Crafted checkpoints that run no code: every one is a CheckpointError, never a traceback,
and none allocates the network it describes before it is refused (issue 34, item 7)."""

from __future__ import annotations

import math

import pytest
import torch

from engine.core import checkpoint
from engine.errors import CheckpointError


def _watch(monkeypatch) -> list:
    """Records every network built off the ``meta`` device (which allocates nothing)."""
    built, real = [], checkpoint.ClimberPilot

    def spy(cfg, attrs, *rest):
        if attrs.device.type != "meta":
            built.append(cfg)
        return real(cfg, attrs, *rest)

    monkeypatch.setattr(checkpoint, "ClimberPilot", spy)
    return built


def _resave(tmp_path, src, change, name="crafted.pt"):
    raw = torch.load(src, map_location="cpu", weights_only=True)
    change(raw)
    torch.save(raw, tmp_path / name)
    return tmp_path / name


def _set(path: str, value):
    def change(raw):
        *head, last = path.split(".", 1) if path.startswith(("model_config", "train_config")) else (path,)
        (raw[head[0]] if head else raw)[last] = value
    return change


def _drop_weight(raw):
    raw["state_dict"].pop("items.id.weight")


def _nan_weight(raw):
    raw["state_dict"]["items.id.weight"][3, 0] = math.nan


CRAFTED = {
    "state_dict a list": (_set("state_dict", [1, 2, 3]), "state_dict is list"),
    "missing key": (lambda r: r.pop("fingerprint"), "missing the field(s) ['fingerprint']"),
    "n_heads 0": (_set("model_config.n_heads", 0), "model_config.n_heads is 0, not a whole number ≥ 1"),
    "negative max_len": (_set("model_config.max_len", -5), "model_config.max_len is -5"),
    "n_heads a string": (_set("model_config.n_heads", "2"), "model_config.n_heads is '2', not int"),
    "attr_values a string": (_set("model_config.attr_values", "abc"), "model_config.attr_values is 'abc'"),
    "attr_values of numbers": (_set("model_config.attr_values", [[1, 2]] * 5), "not a list of strings"),
    "attr_values too few": (_set("model_config.attr_values", [["rock"]]), "one list of values per attribute"),
    "model_config a number": (_set("model_config", 5), "model_config is int, not a mapping"),
    "train_config unknown field": (_set("train_config.evil", 1), "train_config has unknown field(s) ['evil']"),
    "holdout 0": (_set("train_config.holdout", 0), "train_config.holdout is 0"),
    "metrics a list": (_set("metrics", [1]), "metrics is list"),
    "absurd size": (_set("model_config.d_model", 65536), "above the limit of 100,000,000"),
    "absurd layers": (_set("model_config.n_layers", 10**9), "above the limit"),
}


@pytest.mark.parametrize("case", list(CRAFTED), ids=list(CRAFTED))
def test_crafted_checkpoint_is_refused_on_load(case, tiny_checkpoint, tmp_path):
    change, fragment = CRAFTED[case]
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(_resave(tmp_path, tiny_checkpoint, change))
    assert fragment in str(info.value) and "crafted.pt" in str(info.value)


@pytest.mark.parametrize("change, fragment", [
    (_drop_weight, "lacks the weight(s) ['items.id.weight']"),
    (_nan_weight, "weight items.id.weight holds NaN or infinite values"),
    (lambda r: r["state_dict"].__setitem__("items.item_attrs", r["state_dict"]["items.item_attrs"] + 100),
     "value codes outside"),
], ids=["missing weight", "NaN weight", "attribute codes out of range"])
def test_bad_weights_are_refused_before_the_network_is_built(change, fragment, tiny_checkpoint, tmp_path,
                                                             monkeypatch):
    ck = checkpoint.load(_resave(tmp_path, tiny_checkpoint, change))
    built = _watch(monkeypatch)
    with pytest.raises(CheckpointError, match="do not fit") as info:
        ck.build()
    assert fragment in str(info.value) and not built


def test_absurd_config_is_refused_without_allocating(tiny_checkpoint, tmp_path, monkeypatch):
    built = _watch(monkeypatch)
    path = _resave(tmp_path, tiny_checkpoint, _set("model_config.n_items", 10**9))
    with pytest.raises(CheckpointError, match="parameters, above the limit"):
        checkpoint.load(path)
    assert not built


def test_estimate_matches_the_real_network(tiny_checkpoint):
    ck = checkpoint.load(tiny_checkpoint)
    real = sum(v.numel() for v in ck.build().state_dict().values())
    assert 0.8 * real <= checkpoint.estimate_parameters(ck.model_config) <= 1.3 * real


def test_a_folder_is_not_called_corrupt(tmp_path):
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(tmp_path)
    assert "is a folder, not a checkpoint file" in str(info.value) and "corrupt" not in str(info.value)
