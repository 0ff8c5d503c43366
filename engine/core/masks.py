"""Every attention mask of the model, as pure functions returning boolean tensors.

Convention: ``True`` means *may attend* (the ``F.scaled_dot_product_attention``
convention, not ``nn.MultiheadAttention``'s). The model uses exactly these tensors and
returns them in its diagnostics, so the app's heatmaps draw what the model used.

- :func:`causal_mask` — backbone self-attention: causal + padding (method §2).
- :func:`target_visibility_mask` — TAMIP time-aware mask: which history items a target
  may be predicted from (method §3); :func:`readout_positions` turns it into the
  read-out form used for training.
- :func:`cgsa_mask` — the branch mask under an instruction: history items satisfying
  the predicate, up to the query, plus the instruction's condition tokens (method §4).
"""

from __future__ import annotations

import torch
from torch import Tensor


def causal_mask(valid: Tensor) -> Tensor:
    """``[B, T, T]``: query i may attend to key j iff j ≤ i and j is a real item.

    A padding query attends to itself only, so no row is ever empty (no NaN).
    """
    t = valid.shape[-1]
    idx = torch.arange(t, device=valid.device)
    lower = idx[None, :] <= idx[:, None]
    mask = lower[None] & valid[:, None, :]
    return mask | torch.eye(t, dtype=torch.bool, device=valid.device)[None]


def target_visibility_mask(timestamps: Tensor, valid: Tensor, delta_tau: int | None) -> Tensor:
    """``[B, T, T]``: row t (a target position) may be predicted from history item j.

    Without a time mask (``delta_tau is None``: NIP, MIP) every earlier item is visible.
    With it (TAMIP) an item is hidden when ``τ_j ≥ τ_t − Δτ``: it was logged too close to
    the target to be known at serving time (consumption lag). Rows may be empty: such a
    target has no usable history and is skipped.
    """
    t = valid.shape[-1]
    idx = torch.arange(t, device=valid.device)
    earlier = (idx[None, :] < idx[:, None])[None] & valid[:, None, :] & valid[:, :, None]
    if delta_tau is None:
        return earlier
    cutoff = timestamps[:, :, None] - delta_tau
    return earlier & (timestamps[:, None, :] < cutoff)


def readout_positions(visibility: Tensor) -> Tensor:
    """``[B, T]``: for each target, the last visible history position, or −1 if none.

    Timestamps are sorted, so the visible set of a target is a prefix of the history and
    a causal model read at this position sees exactly that set (method §3, read-out form).
    """
    t = visibility.shape[-1]
    idx = torch.arange(t, device=visibility.device)
    return torch.where(visibility, idx, -1).amax(dim=-1)


def item_predicate(
    hist_attrs: Tensor, allowed: list[Tensor] | tuple[Tensor, ...], attr_index: list[int]
) -> Tensor:
    """``[B, R, T]``: whether history item j satisfies row r's instruction.

    ``hist_attrs`` is ``[B, T, A]`` (attribute value indices, 0 = padding);
    ``allowed[n]`` is ``[B, R, V]``, the values allowed for attribute ``attr_index[n]``
    (all True when that attribute is not constrained).
    """
    b, t, _ = hist_attrs.shape
    r = allowed[0].shape[1] if allowed else 1
    ok = torch.ones(b, r, t, dtype=torch.bool, device=hist_attrs.device)
    for allow, a in zip(allowed, attr_index, strict=True):
        values = hist_attrs[:, :, a].unsqueeze(1).expand(b, allow.shape[1], t)
        ok &= torch.gather(allow, 2, values)
    return ok


def cgsa_mask(predicate: Tensor, valid: Tensor, query_pos: Tensor, cond_valid: Tensor) -> Tensor:
    """``[B, R, M + T]``: what branch query r may attend to under its instruction.

    The first M columns are the instruction's condition tokens (always visible when
    present); the next T are history items at or before the query position that are
    real and satisfy the predicate. An unconditioned query passes an all-True predicate.
    Every row with at least one condition token is non-empty by construction.
    """
    t = valid.shape[-1]
    idx = torch.arange(t, device=valid.device)
    upto = idx[None, None, :] <= query_pos[:, :, None]
    hist = upto & valid[:, None, :] & predicate
    return torch.cat([cond_valid, hist], dim=-1)
