"""Configuration dataclasses that travel with every checkpoint.

``ModelConfig`` rebuilds the network (sizes, vocabularies); ``TrainConfig`` records how
it was trained (objective, Δτ, optimiser, negatives). Both are frozen and serialised as
plain JSON inside the checkpoint, so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from engine.data.split import DEFAULT_DAY_BOUNDARY, DEFAULT_HOLDOUT

Objective = Literal["nip", "mip", "tamip"]
Conditioning = Literal["cgsa", "token", "adaln", "pinrec"]
CONDITIONING = ("cgsa", "token", "adaln", "pinrec")


@dataclass(frozen=True)
class ModelConfig:
    """Network shape. Item index 0 is padding; attribute value index 0 is padding too."""

    n_items: int
    attributes: tuple[str, ...]
    attr_values: tuple[tuple[str, ...], ...]  # per attribute, the values (index i+1)
    cond_attributes: tuple[str, ...]  # attributes that have condition tokens
    # Multi-valued attribute vocabulary (index i+1) embedded as a mean bag of d_attr; () = none.
    # On S3-Rec LastFM the 388 tag ids raised MIP HR@10 from 0.0801 to 0.0893 (3 seeds each).
    tag_values: tuple[str, ...] = ()
    # Co-listening factors in the item embedding (engine.core.colisten); 0 = none.
    cf_dim: int = 0
    cf_norm: float = 0.3  # item columns scaled by listeners ** -cf_norm before the SVD
    # A taste term in the score (needs cf_dim): the query gains W · (mean co-listening factors
    # of the history items the query may read; under CGSA only those satisfying the
    # instruction) and every candidate its own factors, so q·e adds a learned item-kNN-like
    # similarity to the history. One inner product still scores everything (FAISS).
    taste: bool = False
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 2
    n_branches: int = 2
    d_attr: int = 16
    ffn_mult: int = 4
    dropout: float = 0.2
    max_len: int = 50
    pos_buckets: int = 16
    time_buckets: int = 16
    time_unit: int = 86400  # seconds per unit when bucketing time gaps (0: order-only data)
    max_cond_tokens: int = 12
    # How the branch receives an instruction (the paper's Table 4). "cgsa": condition tokens
    # plus the sparse predicate mask (the method); "token": condition tokens appended
    # without the mask (LUM-style); "adaln": AdaLN-Zero modulation of the branch by the
    # condition embedding; "pinrec": an MLP head over the query and the condition embedding.
    conditioning: Conditioning = "cgsa"

    @property
    def query_dim(self) -> int:
        """Width of query and candidate vectors: d_model, plus cf_dim with the taste term."""
        return self.d_model + (self.cf_dim if self.taste else 0)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        for key in ("attributes", "cond_attributes"):
            d[key] = tuple(d[key])
        d["tag_values"] = tuple(d.get("tag_values", ()))  # absent in checkpoints before tags
        d["attr_values"] = tuple(tuple(v) for v in d["attr_values"])
        return cls(**d)


@dataclass(frozen=True)
class TrainConfig:
    """How a checkpoint was trained (method §3–4). Δτ is in units of ``ModelConfig.time_unit``.

    ``delta_tau=None`` means no time-aware mask (NIP, MIP: read the query just before
    the target); ``delta_tau=0`` on day-resolution data hides items of the target's day.
    """

    objective: Objective = "tamip"
    delta_tau: int | None = 0
    seed: int = 0
    lr: float = 1e-3
    weight_decay: float = 1e-6
    batch_size: int = 128
    max_epochs: int = 60
    patience: int = 8
    # 0: constant learning rate. N > 0: after N epochs without a better validation HR@10 the
    # learning rate is multiplied by ``lr_factor`` (again after each further N); early stopping still
    # waits ``patience`` epochs, so a streak without gain decays it (patience − 1) // N times.
    lr_plateau: int = 0
    lr_factor: float = 0.5
    negatives: int = -1  # extra uniform negatives; -1 = full softmax over the catalogue
    logq: bool = True  # logQ correction of the sampled softmax (measured to help on Last.fm); full softmax: no-op
    # For data where a user never meets an item twice (the S3-Rec benchmarks): the user's earlier
    # items leave the training softmax and the validation ranking, as the S3-Rec protocol takes
    # them out of the test ranking. Pre-training with the full softmax only (negatives = -1).
    exclude_history: bool = False
    # 0: uniformly shuffled batches. N > 0: each epoch, pools of N shuffled batches are sorted
    # by length, batched, the batches shuffled and trimmed of all-padding columns; short
    # sequences (Amazon: 9 items on average, 50 slots) then stop paying for padding. Each
    # batch's loss is weighed by its number of targets, so every target still counts alike.
    length_buckets: int = 0
    # SFT (CGSA) stage
    sft_epochs: int = 0
    sft_lr: float = 3e-4  # measured: 1e-4 left CGSA at CC@10 0.85 after 4 epochs, 3e-4 reached 0.997
    sft_new_lr: float = 3e-3  # condition tokens are new parameters: they learn faster
    sft_uncond_share: float = 0.2
    # Chance that each known attribute of the true next item becomes an atom of its SFT
    # instruction; None = engine.training.losses.SFT_ATOM_PROB.
    sft_atom_prob: dict | None = None
    # Counterfactual instructions (issue 31): per sequence, one random atom or pair of atoms,
    # not drawn from the target. Their branch-1 query is trained to put its softmax mass on
    # items satisfying the instruction (weight sft_comply) and on the user's own later items
    # that satisfy it (weight sft_personal). 0 / 0: off, the paper's SFT alone.
    sft_comply: float = 0.0
    sft_personal: float = 0.0
    sft_cf_min_items: int = 20  # an atom value needs this many items to be drawn
    sft_cf_pair_share: float = 0.35  # share of counterfactual instructions with a second atom
    # Keep the last SFT epoch instead of the one with the best validation HR@10: that score does
    # not see compliance, which the counterfactual terms keep improving after HR has peaked.
    sft_keep_last: bool = False
    holdout: int = DEFAULT_HOLDOUT  # future items held out per user (myopia / instruction test)
    day_boundary: bool = DEFAULT_DAY_BOUNDARY  # move the test cut to a day start (data with timestamps only)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**d)


def as_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def objective_config(objective: str, **kw) -> TrainConfig:
    """NIP: K=1, no time mask; MIP: K>1, no time mask; TAMIP: K>1, Δτ ≥ 0 (method §3)."""
    delta = kw.pop("delta_tau", 0)
    return TrainConfig(objective=objective, delta_tau=None if objective != "tamip" else delta, **kw)
