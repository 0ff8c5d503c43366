"""Checkpoints: weights + configs + catalogue fingerprint + metrics, loaded safely.

Saved with ``torch.save`` but containing only tensors and JSON-like values, and loaded
with ``weights_only=True``: a file that tries to run code on load is refused. Writes go
to a temporary file first, then an atomic rename, so a crash never leaves half a file.

Validated before anything is built: on load the configs' schema and ranges and the network's
size (estimated from the config, refused above :data:`MAX_PARAMETERS`); in ``build``, before
the network is allocated, the weights' names and shapes (against the network built on the
``meta`` device, which allocates nothing) and that every weight is finite. A crafted file is a
:class:`CheckpointError`, never a traceback.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.atomic import atomic_write
from engine.core.catalogue import Catalogue, build_catalogue
from engine.core.config import CONDITIONING, ModelConfig, TrainConfig, as_dict
from engine.core.model import ClimberPilot
from engine.data.schema import Dataset
from engine.errors import CheckpointError

FORMAT = "climber-pilot-studio/checkpoint"
VERSION = 1
# A checkpoint whose network would have more parameters (estimated from its config before
# anything is allocated) is refused: the shipped models have about 1 M; 100 M float32
# weights are 400 MB, far beyond any network this project trains.
MAX_PARAMETERS = 100_000_000
REBUILD = "rebuild it with `python -m engine train` (see the README)"


@dataclass
class Checkpoint:
    model_config: ModelConfig
    train_config: TrainConfig
    fingerprint: str
    dataset: str
    state_dict: dict
    metrics: dict

    def build(self, device: torch.device | str = "cpu") -> ClimberPilot:
        """The network, after its weights' names, shapes and values were checked against the
        config on the ``meta`` device (so a misfit is refused before anything is allocated)."""
        check_state_dict(self.state_dict, self.model_config)
        attrs = self.state_dict["items.item_attrs"]
        try:
            model = ClimberPilot(self.model_config, attrs, self.state_dict.get("items.item_tags"))
            model.load_state_dict(self.state_dict)
        except (RuntimeError, ValueError) as exc:
            raise _misfit(str(exc).split("\n")[0]) from None
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
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file",
                              "pass the .pt file itself, e.g. assets/tamip_cgsa.pt")
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
    ckpt = _validated(raw, path.name)
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


# --------------------------------------------------------------------------- validation


def _bad(name: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{name} is missing or has bad fields ({problem})",
                           "the file is damaged, crafted or from another version; " + REBUILD)


def _misfit(problem: str) -> CheckpointError:
    return CheckpointError(f"the weights do not fit the model described in the checkpoint ({problem})",
                           "the file is damaged or from another version: rebuild it with `python -m engine train`")


def _check_fields(d: object, cls, name: str, where: str) -> dict:
    """``d`` has exactly the fields of ``cls`` (those with defaults may be missing), each of its default's type."""
    if not isinstance(d, dict):
        raise _bad(name, f"{where} is {type(d).__name__}, not a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in d if k not in fields)
    if unknown:
        raise _bad(name, f"{where} has unknown field(s) {unknown}")
    required = [n for n, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [n for n in required if n not in d]
    if missing:
        raise _bad(name, f"{where} is missing the field(s) {missing}")
    for key, value in d.items():
        default = fields[key].default
        if value is None and "None" in str(fields[key].type):
            continue
        if default is None or default is dataclasses.MISSING:
            continue  # optional or structured fields: checked by the caller
        want = (bool,) if isinstance(default, bool) else (int,) if isinstance(default, int) else \
            (int, float) if isinstance(default, float) else (type(default),)
        ok = isinstance(value, want) and (bool in want or not isinstance(value, bool))
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if not ok:
            raise _bad(name, f"{where}.{key} is {value!r}, not {' or '.join(t.__name__ for t in want)}")
    return d


def _strings(value: object, name: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise _bad(name, f"{where} is {value!r:.80}, not a list of strings")
    if len(set(value)) != len(value):
        raise _bad(name, f"{where} repeats a value")
    return tuple(value)


def check_model_config(d: object, name: str = "checkpoint") -> ModelConfig:
    """A :class:`ModelConfig` from the checkpoint's dict, its schema and ranges checked."""
    d = dict(_check_fields(d, ModelConfig, name, "model_config"))
    for key in ("n_items", "attributes", "attr_values", "cond_attributes"):
        if key not in d:
            raise _bad(name, f"model_config has no {key!r}")
    for key in ("n_items", "d_model", "n_layers", "n_heads", "n_branches", "d_attr", "ffn_mult",
                "max_len", "pos_buckets", "time_buckets", "max_cond_tokens"):
        if key in d and (not isinstance(d[key], int) or isinstance(d[key], bool) or d[key] < 1):
            raise _bad(name, f"model_config.{key} is {d[key]!r}, not a whole number ≥ 1")
    for key in ("cf_dim", "time_unit"):
        if key in d and d[key] < 0:
            raise _bad(name, f"model_config.{key} is {d[key]!r}, not ≥ 0")
    if not 0 <= d.get("dropout", 0.0) < 1:
        raise _bad(name, f"model_config.dropout is {d['dropout']!r}, not in [0, 1)")
    attributes = _strings(d["attributes"], name, "model_config.attributes")
    values = d["attr_values"]
    if not isinstance(values, (list, tuple)) or len(values) != len(attributes):
        raise _bad(name, f"model_config.attr_values is {values!r:.80}, not one list of values per attribute "
                         f"({len(attributes)})")
    d["attr_values"] = tuple(_strings(v, name, f"model_config.attr_values[{i}]") for i, v in enumerate(values))
    d["attributes"] = attributes
    d["cond_attributes"] = _strings(d["cond_attributes"], name, "model_config.cond_attributes")
    if not set(d["cond_attributes"]) <= set(attributes):
        raise _bad(name, f"model_config.cond_attributes {list(d['cond_attributes'])} are not all attributes "
                         f"({list(attributes)})")
    d["tag_values"] = _strings(d.get("tag_values", ()), name, "model_config.tag_values")
    if d.get("conditioning", "cgsa") not in CONDITIONING:
        raise _bad(name, f"model_config.conditioning is {d['conditioning']!r}, not one of {list(CONDITIONING)}")
    cfg = ModelConfig(**d)
    if cfg.d_model % cfg.n_heads:
        raise _bad(name, f"model_config.d_model {cfg.d_model} is not a multiple of n_heads {cfg.n_heads}")
    size = estimate_parameters(cfg)
    if size > MAX_PARAMETERS:
        raise _bad(name, f"its config describes a network of about {size:,} parameters, above the "
                         f"limit of {MAX_PARAMETERS:,}; nothing was allocated")
    return cfg


def estimate_parameters(cfg: ModelConfig) -> int:
    """Parameters and buffers of the network ``cfg`` describes, counted without building it."""
    d, a = cfg.d_model, cfg.d_attr
    n_values = sum(len(v) + 1 for v in cfg.attr_values)
    width = d + a * len(cfg.attr_values) + cfg.cf_dim + (a if cfg.tag_values else 0)
    items = (cfg.n_items + 1) * (d + len(cfg.attr_values) + cfg.cf_dim) + n_values * a
    items += (len(cfg.tag_values) + 1) * a + (width + 1) * d
    block = (4 + 2 * cfg.ffn_mult) * d * d + (cfg.pos_buckets + cfg.time_buckets) * cfg.n_heads + 16 * d
    cond = (1 + sum(len(v) for v in cfg.attr_values)) * d + 12 * d * d
    return items + (cfg.n_layers + cfg.n_branches) * block + cfg.n_branches * 2 * d + cond


def _meta_shapes(cfg: ModelConfig, state_dict: dict) -> dict[str, tuple[int, ...]]:
    """The weight shapes of the network ``cfg`` describes (built on ``meta``: nothing allocated)."""
    attrs = torch.zeros(cfg.n_items + 1, len(cfg.attributes), dtype=torch.long, device="meta")
    tags = None
    if cfg.tag_values:  # [N+1, most tags of an item]: the width comes from the data, not the config
        given = state_dict.get("items.item_tags")
        width = given.shape[-1] if isinstance(given, torch.Tensor) and given.dim() == 2 else 1
        tags = torch.zeros(cfg.n_items + 1, width, dtype=torch.long, device="meta")
    with torch.device("meta"):
        model = ClimberPilot(cfg, attrs, tags)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_state_dict(sd: object, cfg: ModelConfig) -> dict:
    """The weights: names and shapes those of ``cfg``'s network, every value finite, codes in range."""
    if not isinstance(sd, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        raise _misfit(f"state_dict is {type(sd).__name__}, not a mapping of names to tensors")
    want = _meta_shapes(cfg, sd)
    missing, extra = sorted(set(want) - set(sd)), sorted(set(sd) - set(want))
    if missing or extra:
        part = f"lacks the weight(s) {missing[:3]}" if missing else f"has unexpected weight(s) {extra[:3]}"
        raise _misfit(f"state_dict {part}")
    for key, shape in want.items():
        if tuple(sd[key].shape) != shape:
            raise _misfit(f"weight {key} has shape {list(sd[key].shape)}, the config gives {list(shape)}")
        if sd[key].is_floating_point() and not bool(torch.isfinite(sd[key]).all()):
            raise _misfit(f"weight {key} holds NaN or infinite values")
    for key, sizes in (("items.item_attrs", [len(v) for v in cfg.attr_values]),
                       ("items.item_tags", [len(cfg.tag_values)] if cfg.tag_values else [])):
        codes = sd.get(key)
        if codes is None or not sizes:
            continue
        if codes.is_floating_point() or codes.dim() != 2 or len(codes) != cfg.n_items + 1:
            raise _misfit(f"{key} is not an integer table of {cfg.n_items + 1} rows")
        top = torch.tensor(sizes if key.endswith("attrs") else sizes * codes.shape[1])
        if codes.numel() and (bool((codes < 0).any()) or bool((codes > top).any())):
            raise _misfit(f"{key} holds value codes outside the config's vocabularies")
    return sd


def _validated(raw: dict, name: str) -> Checkpoint:
    missing = [k for k in ("model_config", "train_config", "fingerprint", "dataset", "state_dict") if k not in raw]
    if missing:
        raise _bad(name, f"missing the field(s) {missing}")
    cfg = check_model_config(raw["model_config"], name)
    tc = dict(_check_fields(raw["train_config"], TrainConfig, name, "train_config"))
    if tc.get("objective", "tamip") not in ("nip", "mip", "tamip"):
        raise _bad(name, f"train_config.objective is {tc['objective']!r}")
    if not isinstance(tc.get("delta_tau", 0), (int, type(None))) or not isinstance(tc.get("sft_atom_prob"), (dict, type(None))):
        raise _bad(name, "train_config.delta_tau or sft_atom_prob has the wrong type")
    for key in ("holdout", "batch_size"):
        if key in tc and tc[key] < 1:
            raise _bad(name, f"train_config.{key} is {tc[key]!r}, not ≥ 1")
    for key in ("fingerprint", "dataset"):
        if not isinstance(raw[key], str):
            raise _bad(name, f"{key} is {raw[key]!r:.60}, not text")
    metrics = raw.get("metrics", {})
    if not isinstance(metrics, dict):
        raise _bad(name, f"metrics is {type(metrics).__name__}, not a mapping")
    if not isinstance(raw["state_dict"], dict):  # names, shapes and values: checked by build()
        raise _bad(name, f"state_dict is {type(raw['state_dict']).__name__}, not a mapping")
    return Checkpoint(cfg, TrainConfig(**tc), raw["fingerprint"], raw["dataset"], raw["state_dict"], metrics)
