"""Instructions as tensors: allowed-value sets per attribute and condition-token ids.

One encoding serves SFT (instructions drawn from the true next item), serving (the
user's instruction, P at a time) and evaluation, so the CGSA predicate is the same
everywhere. ``allowed[n]`` is ``[R, V+1]`` for condition attribute n: which value
indices a history item may carry (all True when the attribute is unconstrained).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.core.config import ModelConfig
from engine.core.instructions import Instruction
from engine.core.masks import item_predicate
from engine.errors import InstructionError

NO_CONDITION = 0  # the token of an unconditioned query (and the padding of token rows)


@dataclass(frozen=True)
class CondVocab:
    """The condition-token layout, both ways: token id ↔ (attribute, value).

    Token 0 is "no condition"; then, for each condition attribute in ``cond_attributes``
    order, one token per value in the checkpoint's value order. The model's embedding
    table, :func:`encode`, the SFT sampler and the attention page all read this layout.
    """

    attributes: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]  # per condition attribute, its values

    @classmethod
    def of(cls, cfg: ModelConfig) -> CondVocab:
        return cls(tuple(cfg.cond_attributes),
                   tuple(cfg.attr_values[cfg.attributes.index(a)] for a in cfg.cond_attributes))

    def __len__(self) -> int:
        """Number of tokens, the no-condition token included."""
        return 1 + sum(len(v) for v in self.values)

    def offset(self, attr: str) -> int:
        """Token of ``attr``'s first value; raises ``KeyError`` for an attribute without tokens."""
        offset = 1
        for a, values in zip(self.attributes, self.values, strict=True):
            if a == attr:
                return offset
            offset += len(values)
        raise KeyError(attr)

    def token(self, attr: str, value: str) -> int:
        """Token of ``attr = value`` (``KeyError``: no such attribute, ``ValueError``: no such value)."""
        return self.offset(attr) + self.values[self.attributes.index(attr)].index(value)

    def decode(self, token: int) -> tuple[str, str] | None:
        """``(attribute, value)`` of a token; None for the no-condition token or an unknown id."""
        offset = 1
        for a, values in zip(self.attributes, self.values, strict=True):
            if offset <= token < offset + len(values):
                return a, values[token - offset]
            offset += len(values)
        return None


@dataclass
class EncodedConditions:
    allowed: list[Tensor]  # per condition attribute, [R, V+1] bool
    attr_index: list[int]  # position of each condition attribute in the item attributes
    cond_ids: Tensor  # [R, M] long; slot 0 is the no-condition token when unconditioned

    def to(self, device) -> EncodedConditions:
        return EncodedConditions(
            [a.to(device) for a in self.allowed], self.attr_index, self.cond_ids.to(device)
        )

    def predicate(self, hist_attrs: Tensor) -> Tensor:
        """``[B, R, T]`` for ``hist_attrs [B, T, A]``.

        Shared rows (``allowed`` is ``[R, V+1]``) apply to every history; per-history rows
        (``[B, R, V+1]``, see :meth:`per_history`) apply to their own history only.
        """
        b = hist_attrs.shape[0]
        allowed = [a if a.dim() == 3 else a.unsqueeze(0).expand(b, *a.shape) for a in self.allowed]
        return item_predicate(hist_attrs, allowed, self.attr_index)

    def cond_ids_for(self, b: int) -> Tensor:
        return self.cond_ids if self.cond_ids.dim() == 3 else self.cond_ids.unsqueeze(0).expand(b, -1, -1)

    def per_history(self) -> EncodedConditions:
        """Row i becomes the single instruction of history i (evaluation: one per user)."""
        return EncodedConditions(
            [a.unsqueeze(1) for a in self.allowed], self.attr_index, self.cond_ids.unsqueeze(1)
        )


def encode(model, instructions: list[Instruction]) -> EncodedConditions:
    """Encode P instructions (category atoms only; item-level filters act at retrieval).

    ``model`` is a :class:`~engine.core.model.ClimberPilot` (only its ``cfg`` is read).
    """
    cfg = model.cfg
    vocab_of = CondVocab.of(cfg)
    r = len(instructions)
    attr_index = [cfg.attributes.index(a) for a in cfg.cond_attributes]
    allowed = [
        torch.ones(r, len(cfg.attr_values[i]) + 1, dtype=torch.bool) for i in attr_index
    ]
    token_rows = []
    for row, ins in enumerate(instructions):
        tokens = []
        for attr, values in ins.atoms().items():
            if attr not in cfg.cond_attributes:
                raise InstructionError(
                    f"the model was not trained with '{attr}' conditions",
                    "drop that part of the instruction or use a hard filter",
                )
            n = cfg.cond_attributes.index(attr)
            vocab = cfg.attr_values[attr_index[n]]
            unknown = sorted(set(values) - set(vocab))
            if len(unknown) == len(values):
                raise InstructionError(
                    f"no catalogue item has {attr} = {', '.join(unknown)}",
                    f"choose among: {', '.join(vocab[:12])}{' …' if len(vocab) > 12 else ''}",
                )
            allowed[n][row] = False
            for v in values:
                if v in vocab:
                    allowed[n][row, vocab.index(v) + 1] = True
                    tokens.append(vocab_of.token(attr, v))
        token_rows.append(tokens[: cfg.max_cond_tokens] or [NO_CONDITION])
    m = max(len(t) for t in token_rows)
    cond_ids = torch.zeros(r, m, dtype=torch.long)
    for row, tokens in enumerate(token_rows):
        cond_ids[row, : len(tokens)] = torch.tensor(tokens)
    return EncodedConditions(allowed, attr_index, cond_ids)
