"""Checkpoints: faithful round trip, and every damaged / foreign / malicious file is refused
with a CheckpointError that says what is wrong (never a raw traceback, never code run)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from engine.core import checkpoint
from engine.core.config import ModelConfig, TrainConfig
from engine.core.device import resolve_device
from engine.data.schema import GENRE, ITEM_ID, NAME, Dataset
from engine.errors import CheckpointError, DeviceError
from engine.serving.inference import queries
from engine.serving.recommender import Recommender

REBUILD = "python -m engine train"


def _probe(model):
    seq = torch.tensor([[0, 0, 0, 0, 0, 0, 1, 5, 9, 30, 31, 32, 60, 61, 2, 3]])
    ts = torch.tensor([[0] * 6 + [1, 1, 1, 2, 2, 2, 4, 4, 5, 5]])
    u, bb, _, _ = queries(model, seq, ts)
    return u, bb.hidden, model.items.all_items().detach()


def test_round_trip_gives_identical_outputs(tiny_model, tiny_checkpoint, tiny_fit, tiny_prep):
    ck = checkpoint.load(tiny_checkpoint, tiny_prep.catalogue.fingerprint)
    assert ck.model_config == tiny_model.cfg
    assert ck.train_config == tiny_fit[2]
    assert ck.dataset == "toy" and "training" in ck.metrics
    model = ck.build("cpu")
    assert not model.training
    for a, b in zip(_probe(tiny_model), _probe(model), strict=True):
        assert torch.equal(a, b)
    # no temporary files left beside the checkpoint (atomic write)
    assert [p.name for p in tiny_checkpoint.parent.iterdir()] == [tiny_checkpoint.name]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _assert_refused(path: Path, *words: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as exc:
        checkpoint.load(path)
    msg = str(exc.value)
    assert path.name in msg or str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return exc.value


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file_is_refused(tiny_checkpoint, tmp_path, fraction):
    data = tiny_checkpoint.read_bytes()
    p = _write(tmp_path, "trunc.pt", data[: max(1, int(len(data) * fraction))])
    _assert_refused(p, "corrupt or truncated", REBUILD)


@pytest.mark.parametrize("data", [b"", b"hello world\n" * 100, b"\x80\x02"], ids=["empty", "text", "proto-only"])
def test_empty_or_text_file_is_refused(tmp_path, data):
    _assert_refused(_write(tmp_path, "junk.pt", data), REBUILD)


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes_are_refused(tmp_path, seed):
    data = b"\x00" + np.random.default_rng(seed).bytes(4096)
    _assert_refused(_write(tmp_path, "random.pt", data))


def test_random_bytes_message_says_corrupt(tmp_path):
    data = bytes((i * 101 + 7) % 256 for i in range(4096))
    err = _assert_refused(_write(tmp_path, "random.pt", data))
    assert "corrupt" in str(err)


def _resave(tmp_path, src: Path, name: str, edit) -> Path:
    raw = torch.load(src, map_location="cpu", weights_only=True)
    edit(raw)
    p = tmp_path / name
    torch.save(raw, p)
    return p


def test_other_format_version_is_refused(tiny_checkpoint, tmp_path):
    p = _resave(tmp_path, tiny_checkpoint, "v99.pt", lambda r: r.update(version=99))
    _assert_refused(p, "format version 99", f"reads {checkpoint.VERSION}")


def test_other_format_is_refused(tiny_checkpoint, tmp_path):
    p = _resave(tmp_path, tiny_checkpoint, "other.pt", lambda r: r.update(format="someone-else"))
    _assert_refused(p, "not a Climber-Pilot Studio checkpoint")
    q = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(3)}, q)
    _assert_refused(q, "not a Climber-Pilot Studio checkpoint")


def test_bad_config_fields_are_refused(tiny_checkpoint, tmp_path):
    p = _resave(tmp_path, tiny_checkpoint, "cfg.pt", lambda r: r["model_config"].pop("n_items"))
    _assert_refused(p, "missing or has bad fields")


def test_weights_that_do_not_fit_are_refused_on_build(tiny_checkpoint, tmp_path):
    def shrink(raw):
        raw["state_dict"]["items.id.weight"] = raw["state_dict"]["items.id.weight"][:-1]

    ck = checkpoint.load(_resave(tmp_path, tiny_checkpoint, "w.pt", shrink))
    with pytest.raises(CheckpointError, match="do not fit"):
        ck.build()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "nope.pt")


class _Evil:
    """Unpickling this would create a marker file."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("how", ["torch.save", "pickle", "inside-valid-checkpoint"])
def test_malicious_pickle_is_refused_and_does_not_run(tiny_checkpoint, tmp_path, how):
    marker = tmp_path / "PWNED"
    evil = _Evil()
    evil.marker = marker
    p = tmp_path / "evil.pt"
    if how == "torch.save":
        torch.save({"format": checkpoint.FORMAT, "version": 1, "x": evil}, p)
    elif how == "pickle":
        p.write_bytes(pickle.dumps(evil))
    else:
        raw = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
        raw["metrics"] = {"payload": evil}
        buf = io.BytesIO()
        torch.save(raw, buf)
        p.write_bytes(buf.getvalue())
    _assert_refused(p, "refused")
    assert not marker.exists(), "loading ran code from the file"
    # sanity: the payload really is live when loaded unsafely
    pickle.loads(pickle.dumps(evil))
    assert marker.exists()


def test_fingerprint_mismatch_is_refused(tiny_checkpoint, tiny_dataset):
    items = tiny_dataset.items.copy()
    items.loc[0, GENRE] = "pop" if items.loc[0, GENRE] != "pop" else "rock"
    changed = Dataset(**{**tiny_dataset.__dict__, "items": items})
    with pytest.raises(CheckpointError, match="another catalogue") as exc:
        Recommender.load(tiny_checkpoint, changed, device="cpu")
    assert "retrain" in str(exc.value)

    extra = tiny_dataset.items.iloc[:1].copy()
    extra[ITEM_ID] = 100_000
    extra[NAME] = "new artist"
    bigger = Dataset(**{**tiny_dataset.__dict__, "items": pd.concat([tiny_dataset.items, extra], ignore_index=True)})
    with pytest.raises(CheckpointError, match="another catalogue"):
        Recommender.load(tiny_checkpoint, bigger, device="cpu")
    # the untouched data set loads
    assert Recommender.load(tiny_checkpoint, tiny_dataset, device="cpu").catalogue.n_items == 120


def test_load_without_fingerprint_check_and_checkpoint_fields(tiny_checkpoint):
    ck = checkpoint.load(tiny_checkpoint)
    assert isinstance(ck.model_config, ModelConfig) and isinstance(ck.train_config, TrainConfig)
    assert len(ck.fingerprint) == 16


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_raises_device_error():
    with pytest.raises(DeviceError, match="GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_path_matches_cpu(tiny_checkpoint, tiny_dataset):
    from engine.core.instructions import Instruction

    cpu = Recommender.load(tiny_checkpoint, tiny_dataset, device="cpu")
    gpu = Recommender.load(tiny_checkpoint, tiny_dataset, device="cuda")
    h = cpu.user_history(0)
    a = cpu.compare(h, Instruction(genres={"rock"}), k=5)
    b = gpu.compare(h, Instruction(genres={"rock"}), k=5)
    for m in a.results:
        assert list(a.results[m].items[ITEM_ID]) == list(b.results[m].items[ITEM_ID])


def _without(ds: Dataset, attribute: str) -> Dataset:
    return Dataset(**{**ds.__dict__, "items": ds.items.drop(columns=[attribute]),
                      "attributes": tuple(a for a in ds.attributes if a != attribute)})


def test_other_attribute_set_is_a_checkpoint_error_not_a_crash(tiny_checkpoint, tiny_dataset):
    """The attribute set is compared before the catalogue is built (which could not index it)."""
    fewer = _without(tiny_dataset, "era")
    with pytest.raises(CheckpointError, match="attributes") as exc:
        Recommender.load(tiny_checkpoint, fewer, device="cpu")
    assert "era" in str(exc.value) and "retrain" in str(exc.value)
    with pytest.raises(CheckpointError, match="attributes"):
        checkpoint.load_for(tiny_checkpoint, fewer)


def test_load_for_returns_the_checkpoint_and_its_catalogue(tiny_checkpoint, tiny_dataset, tiny_prep):
    ck, cat = checkpoint.load_for(tiny_checkpoint, tiny_dataset)
    assert cat.fingerprint == ck.fingerprint == tiny_prep.catalogue.fingerprint
