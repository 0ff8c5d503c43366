"""Checkpoints: weights + configs + catalogue fingerprint + metrics, loaded safely.

Saved with ``torch.save`` but containing only tensors and JSON-like values, and loaded
with ``weights_only=True``: a file that tries to run code on load is refused. Writes go
to a temporary file first, then an atomic rename, so a crash never leaves half a file.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.atomic import atomic_write
from engine.core.catalogue import Catalogue, build_catalogue
from engine.core.config import ModelConfig, TrainConfig, as_dict
from engine.core.model import ClimberPilot
from engine.data.schema import Dataset
from engine.errors import CheckpointError

FORMAT = "climber-pilot-studio/checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    model_config: ModelConfig
    train_config: TrainConfig
    fingerprint: str
    dataset: str
    state_dict: dict
    metrics: dict

    def build(self, device: torch.device | str = "cpu") -> ClimberPilot:
        attrs = self.state_dict["items.item_attrs"]
        try:
            model = ClimberPilot(self.model_config, attrs, self.state_dict.get("items.item_tags"))
            model.load_state_dict(self.state_dict)
        except (RuntimeError, ValueError) as exc:
            raise CheckpointError(
                f"the weights do not fit the model described in the checkpoint ({exc})".split("\n")[0],
                "the file is damaged or from another version: rebuild it with `python -m engine train`",
            ) from None
        return model.to(device).eval()


def save(path: Path | str, model: ClimberPilot, tcfg: TrainConfig, fingerprint: str,
         dataset: str, metrics: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": as_dict(model.cfg),
        "train_config": as_dict(tcfg),
        "fingerprint": fingerprint,
        "dataset": dataset,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": metrics or {},
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load(path: Path | str, expected_fingerprint: str | None = None) -> Checkpoint:
    path = Path(path)
    rebuild = "rebuild it with `python -m engine train` (see the README)"
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}", rebuild)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).splitlines()[0][:80]
        raise CheckpointError(
            f"{path.name} was refused: it is corrupt, or it holds objects other than plain "
            f"weights, which are never run ({first})",
            "only load checkpoints written by this project; " + rebuild,
        ) from None
    except Exception as exc:  # torch raises many types for damaged files; none may escape raw
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise CheckpointError(f"{path.name} is corrupt or truncated ({first})", rebuild) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a Climber-Pilot Studio checkpoint", rebuild)
    if raw.get("version") != VERSION:
        raise CheckpointError(
            f"{path.name} has format version {raw.get('version')}, this code reads {VERSION}",
            rebuild,
        )
    try:
        ckpt = Checkpoint(
            ModelConfig.from_dict(raw["model_config"]),
            TrainConfig.from_dict(raw["train_config"]),
            str(raw["fingerprint"]),
            str(raw["dataset"]),
            raw["state_dict"],
            raw.get("metrics", {}),
        )
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path.name} is missing or has bad fields ({exc})", rebuild) from None
    if expected_fingerprint is not None and ckpt.fingerprint != expected_fingerprint:
        raise _other_catalogue(path, ckpt.fingerprint, expected_fingerprint)
    return ckpt


def _other_catalogue(path: Path, have: str, data: str) -> CheckpointError:
    return CheckpointError(
        f"{path.name} was trained on another catalogue (fingerprint {have}, data has {data})",
        "prepare the data it was trained on, or retrain on this data",
    )


def load_for(path: Path | str, dataset: Dataset) -> tuple[Checkpoint, Catalogue]:
    """Load ``path`` and check it fits ``dataset``; returns the checkpoint and its catalogue.

    The attribute set is compared before the catalogue is built (a checkpoint of another
    attribute set cannot index this data), then the catalogue fingerprint: every misfit is a
    :class:`CheckpointError` naming both sides.
    """
    path = Path(path)
    ck = load(path)
    have, data = tuple(ck.model_config.attributes), tuple(dataset.attributes)
    if have != data:
        raise CheckpointError(
            f"{path.name} was trained with the attributes {', '.join(have) or 'none'}; "
            f"the data set {dataset.name!r} has {', '.join(data) or 'none'}",
            "prepare the data it was trained on, or retrain on this data",
        )
    cat = build_catalogue(dataset, ck.model_config.attr_values)
    if cat.fingerprint != ck.fingerprint:
        raise _other_catalogue(path, ck.fingerprint, cat.fingerprint)
    return ck, cat
