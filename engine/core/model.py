"""The Climber-Pilot network (method §2): item encoder, backbone, K branches, condition tokens.

Reading order: relative bias → attention → block → item encoder → model. Attention is
written out (not SDPA) because the app draws its weights; masks come from
:mod:`engine.core.masks` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from engine.core import masks
from engine.core.conditions import CondVocab
from engine.core.config import ModelConfig


def _bucket(x: Tensor, n_buckets: int) -> Tensor:
    """Log-spaced buckets for non-negative distances: 0, 1, 2, 3–4, 5–8, …"""
    x = x.clamp(min=0).float()
    return torch.ceil(torch.log2(x + 1.0)).long().clamp(max=n_buckets - 1)


class RelativeBias(nn.Module):
    """Learned per-head bias over bucketed position distance and time gap (T5/HSTU style)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pos = nn.Embedding(cfg.pos_buckets, cfg.n_heads)
        self.time = nn.Embedding(cfg.time_buckets, cfg.n_heads)
        nn.init.zeros_(self.pos.weight)
        nn.init.zeros_(self.time.weight)

    def forward(self, q_pos: Tensor, q_time: Tensor, k_time: Tensor) -> Tensor:
        """``[B, H, R, T]`` for queries at positions ``q_pos`` ``[B, R]`` over keys 0..T−1."""
        t = k_time.shape[-1]
        dist = q_pos[:, :, None] - torch.arange(t, device=q_pos.device)[None, None, :]
        bias = self.pos(_bucket(dist, self.cfg.pos_buckets))
        if self.cfg.time_unit > 0:
            gap = q_time[:, :, None] - k_time[:, None, :]  # in ticks of the data's resolution
            bias = bias + self.time(_bucket(gap, self.cfg.time_buckets))
        return bias.permute(0, 3, 1, 2)


class Attention(nn.Module):
    """Multi-head attention over history keys plus optional per-row extra keys (condition tokens)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.h, self.dh = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.q = nn.Linear(cfg.d_model, cfg.d_model)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        xq: Tensor,
        xk: Tensor,
        mask: Tensor,
        bias: Tensor,
        extra: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``xq [B,R,d]``, ``xk [B,T,d]``, ``extra [B,R,M,d]``; ``mask [B,R,M+T]`` (True = attend).

        Returns the output ``[B,R,d]`` and the weights ``[B,H,R,M+T]``.
        """
        b, r, _ = xq.shape
        q = self.q(xq).view(b, r, self.h, self.dh).transpose(1, 2)
        k, v = self.kv(xk).view(b, -1, 2, self.h, self.dh).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) + bias  # [B,H,R,T]
        if extra is not None:
            ek, ev = self.kv(extra).view(b, r, -1, 2, self.h, self.dh).permute(3, 0, 4, 1, 2, 5)
            e_scores = (q.unsqueeze(-2) @ ek.transpose(-1, -2)).squeeze(-2)  # [B,H,R,M]
            scores = torch.cat([e_scores, scores], dim=-1)
        scores = scores / math.sqrt(self.dh)
        scores = scores.masked_fill(~mask[:, None], torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        w = self.drop(weights)
        if extra is not None:
            m = extra.shape[2]
            y = w[..., m:] @ v + (w[..., :m].unsqueeze(-2) @ ev).squeeze(-2)
        else:
            y = w @ v
        return self.out(y.transpose(1, 2).reshape(b, r, -1)), weights


class Block(nn.Module):
    """Pre-LN transformer block; queries may be a subset of rows (branches read out rows)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.ln_q, self.ln_k, self.ln_ff = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(cfg)
        self.bias = RelativeBias(cfg)
        self.ff = nn.Sequential(
            nn.Linear(d, cfg.ffn_mult * d),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.ffn_mult * d, d),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, xq, xk, mask, q_pos, q_time, k_time, extra=None, mod=None):
        """``mod``: AdaLN (shift, scale, gate) deltas for attention and FFN, each ``[B,R,d]``."""
        bias = self.bias(q_pos, q_time, k_time)
        ln_extra = self.ln_k(extra) if extra is not None else None
        if mod is None:
            a, w = self.attn(self.ln_q(xq), self.ln_k(xk), mask, bias, ln_extra)
            x = xq + self.drop(a)
            return x + self.drop(self.ff(self.ln_ff(x))), w
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = mod
        a, w = self.attn(self.ln_q(xq) * (1 + scale_a) + shift_a, self.ln_k(xk), mask, bias, ln_extra)
        x = xq + self.drop(a) * (1 + gate_a)
        return x + self.drop(self.ff(self.ln_ff(x) * (1 + scale_f) + shift_f)) * (1 + gate_f), w


class ItemEncoder(nn.Module):
    """ID embedding ⊕ attribute embeddings (⊕ mean of tag embeddings) → d.

    Embeds history tokens and candidates alike. The tag bag (``cfg.tag_values``) carries
    multi-valued attributes; an item without tags gets a zero bag.
    """

    def __init__(self, cfg: ModelConfig, item_attrs: Tensor, item_tags: Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("item_attrs", item_attrs.long(), persistent=True)  # [N+1, A]
        self.id = nn.Embedding(cfg.n_items + 1, cfg.d_model, padding_idx=0)
        self.attrs = nn.ModuleList(
            nn.Embedding(len(v) + 1, cfg.d_attr, padding_idx=0) for v in cfg.attr_values
        )
        width = cfg.d_model + cfg.d_attr * len(cfg.attr_values)
        if cfg.tag_values and item_tags is None:
            raise ValueError("the config has tag_values but no item_tags were given")
        # [N+1, M]; a None buffer (no tags) stays out of the state dict
        self.register_buffer("item_tags", item_tags.long() if cfg.tag_values else None, persistent=True)
        self.tags = None
        # Co-listening factors (engine.core.colisten): fixed inputs, set by build_model and
        # carried in the state dict; a None buffer (cf_dim 0) stays out of it.
        cf = torch.zeros(cfg.n_items + 1, cfg.cf_dim) if cfg.cf_dim else None
        self.register_buffer("item_cf", cf, persistent=True)
        width += cfg.cf_dim
        if cfg.tag_values:
            self.tags = nn.EmbeddingBag(len(cfg.tag_values) + 1, cfg.d_attr, mode="mean", padding_idx=0)
            width += cfg.d_attr
        self.proj = nn.Linear(width, cfg.d_model)
        nn.init.normal_(self.id.weight, std=0.02)
        if cfg.taste and not cfg.cf_dim:
            raise ValueError("the taste term needs co-listening factors (cf_dim > 0)")
        self.taste = cfg.taste

    def forward(self, idx: Tensor) -> Tensor:
        parts = [self.id(idx)]
        a = self.item_attrs[idx]
        parts += [emb(a[..., n]) for n, emb in enumerate(self.attrs)]
        if self.tags is not None:
            parts.append(self.tags(self.item_tags[idx.reshape(-1)]).view(*idx.shape, -1))
        if self.item_cf is not None:
            parts.append(self.item_cf[idx])
        return self.proj(torch.cat(parts, dim=-1))

    def candidates(self, idx: Tensor) -> Tensor:
        """Retrieval vectors ``[..., query_dim]``: the embedding, plus the co-listening factors
        when the model scores taste (``cfg.taste``)."""
        e = self(idx)
        return torch.cat([e, self.item_cf[idx]], dim=-1) if self.taste else e

    def all_items(self) -> Tensor:
        """``[N, query_dim]`` retrieval vectors of items 1..N (row i−1 is item index i)."""
        return self.candidates(torch.arange(1, self.id.num_embeddings, device=self.id.weight.device))


@dataclass
class Backbone:
    """Backbone output for a batch, computed once and shared by every instruction."""

    hidden: Tensor  # [B, T, d]
    valid: Tensor  # [B, T]
    timestamps: Tensor  # [B, T]
    hist_attrs: Tensor  # [B, T, A]
    mask: Tensor  # [B, T, T] causal mask used
    weights: list[Tensor]  # per layer [B, H, T, T]
    seq: Tensor | None = None  # [B, T] item indices (the taste term pools their factors)


class ClimberPilot(nn.Module):
    """Causal backbone + K unshared one-layer branches; branch 1 serves queries."""

    def __init__(self, cfg: ModelConfig, item_attrs: Tensor, item_tags: Tensor | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.items = ItemEncoder(cfg, item_attrs, item_tags)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_h = nn.LayerNorm(cfg.d_model)
        self.branches = nn.ModuleList(Block(cfg) for _ in range(cfg.n_branches))
        self.ln_out = nn.ModuleList(nn.LayerNorm(cfg.d_model) for _ in range(cfg.n_branches))
        # Condition tokens: index 0 = "no condition", then one per (attribute, value).
        self.cond = nn.Embedding(len(CondVocab.of(cfg)), cfg.d_model)
        if cfg.taste:  # starts as the plain pooled factors: q·e then begins as a kNN-like score
            self.taste_proj = nn.Linear(cfg.cf_dim, cfg.cf_dim, bias=False)
            nn.init.eye_(self.taste_proj.weight)
        nn.init.normal_(self.cond.weight, std=0.02)
        # Table-4 alternatives to CGSA; zero-initialised so fine-tuning starts from the
        # pre-trained branch. Names start with "cond_": SFT gives them the new-parameter rate.
        d = cfg.d_model
        if cfg.conditioning == "adaln":
            self.cond_ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
            nn.init.zeros_(self.cond_ada[1].weight)
            nn.init.zeros_(self.cond_ada[1].bias)
        elif cfg.conditioning == "pinrec":
            self.cond_head = nn.Sequential(nn.Linear(2 * d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
            nn.init.zeros_(self.cond_head[2].weight)
            nn.init.zeros_(self.cond_head[2].bias)

    def with_conditioning(self, conditioning: str) -> ClimberPilot:
        """A copy conditioned another way (Table 4), sharing every pre-trained weight.

        Only the new ``cond_*`` modules start fresh (zero-initialised: the copy's
        unconditioned query is this model's).
        """
        from dataclasses import replace

        other = ClimberPilot(replace(self.cfg, conditioning=conditioning), self.items.item_attrs,
                             self.items.item_tags)
        missing, unexpected = other.load_state_dict(self.state_dict(), strict=False)
        if unexpected or not all(k.startswith("cond_") for k in missing):
            raise ValueError(f"weights do not carry over: missing {missing}, unexpected {unexpected}")
        return other.to(self.items.item_attrs.device).train(self.training)

    def cond_token(self, attr: str, value: str) -> int:
        """Index of the condition token for ``attr = value`` (0 is the no-condition token)."""
        return CondVocab.of(self.cfg).token(attr, value)

    def backbone(self, seq: Tensor, timestamps: Tensor) -> Backbone:
        """Encode left-padded histories ``seq [B,T]`` (0 = padding) once."""
        valid = seq > 0
        x = self.emb_drop(self.items(seq)) * valid[..., None]
        mask = masks.causal_mask(valid)
        pos = torch.arange(seq.shape[1], device=seq.device).expand_as(seq)
        weights = []
        for layer in self.layers:
            x, w = layer(x, x, mask, pos, timestamps, timestamps)
            weights.append(w)
        hist_attrs = self.items.item_attrs[seq]
        return Backbone(self.ln_h(x), valid, timestamps, hist_attrs, mask, weights, seq)

    def branch(
        self,
        k: int,
        bb: Backbone,
        query_pos: Tensor,
        predicate: Tensor | None = None,
        cond_ids: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Query vectors ``[B,R,d]`` of branch ``k`` read at ``query_pos [B,R]`` (must be ≥ 0).

        ``predicate [B,R,T]`` limits which history items each row may attend to (CGSA);
        ``cond_ids [B,R,M]`` are its condition tokens (0-padded beyond the first slot,
        whose token 0 means "no condition"). Returns (query, mask, weights).
        """
        b, r = query_pos.shape
        t = bb.hidden.shape[1]
        mode = self.cfg.conditioning
        if predicate is None or mode != "cgsa":  # only CGSA restricts the history
            predicate = torch.ones(b, r, t, dtype=torch.bool, device=query_pos.device)
        if cond_ids is None:
            cond_ids = torch.zeros(b, r, 1, dtype=torch.long, device=query_pos.device)
        cond_valid = torch.ones_like(cond_ids, dtype=torch.bool)
        cond_valid[..., 1:] = cond_ids[..., 1:] > 0
        c = None
        if mode in ("adaln", "pinrec"):  # the condition enters as an embedding, not as keys
            c = (self.cond(cond_ids) * cond_valid[..., None]).sum(-2) / cond_valid.sum(-1, keepdim=True)
            cond_ids, cond_valid = torch.zeros_like(cond_ids[..., :1]), cond_valid[..., :1]
        mask = masks.cgsa_mask(predicate, bb.valid, query_pos, cond_valid)
        xq = torch.gather(bb.hidden, 1, query_pos[..., None].expand(b, r, bb.hidden.shape[-1]))
        q_time = torch.gather(bb.timestamps, 1, query_pos)
        mod = self.cond_ada(c).chunk(6, dim=-1) if mode == "adaln" else None
        y, w = self.branches[k](
            xq, bb.hidden, mask, query_pos, q_time, bb.timestamps, extra=self.cond(cond_ids), mod=mod
        )
        y = self.ln_out[k](y)
        if mode == "pinrec":
            y = y + self.cond_head(torch.cat([y, c], dim=-1))
        if self.cfg.taste:
            y = torch.cat([y, self._taste(bb, query_pos, predicate)], dim=-1)
        return y, mask, w

    def _taste(self, bb: Backbone, query_pos: Tensor, predicate: Tensor) -> Tensor:
        """``[B, R, cf_dim]``: W · mean co-listening factors of the history items each query
        may read (at or before its position, and satisfying its instruction); 0 without any."""
        t = bb.valid.shape[1]
        upto = torch.arange(t, device=query_pos.device)[None, None, :] <= query_pos[..., None]
        w = (predicate & upto & bb.valid[:, None, :]).float()
        pooled = torch.einsum("brt,btc->brc", w, self.items.item_cf[bb.seq])
        return self.taste_proj(pooled / w.sum(-1, keepdim=True).clamp(min=1.0))

    def score_all(self, query: Tensor) -> Tensor:
        """Dot-product scores of queries ``[..., d]`` against every item (index i → column i−1)."""
        return query @ self.items.all_items().T


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
