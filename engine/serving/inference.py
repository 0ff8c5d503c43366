"""Query vectors from histories: backbone once, then branch 1 once per instruction (method §4).

Used by serving, evaluation and validation alike, so every number is measured on the
exact path the app uses.
"""

from __future__ import annotations

import torch
from torch import Tensor

from engine.core.catalogue import pad_left
from engine.core.conditions import EncodedConditions
from engine.core.model import Backbone, ClimberPilot
from engine.data.split import UserSeq


def batch_histories(histories: list[UserSeq], max_len: int, device) -> tuple[Tensor, Tensor]:
    seq = pad_left([h.items for h in histories], max_len).to(device)
    ts = pad_left([h.ticks for h in histories], max_len).to(device)
    return seq, ts


@torch.no_grad()
def queries(
    model: ClimberPilot,
    seq: Tensor,
    ts: Tensor,
    cond: EncodedConditions | None = None,
    branch: int = 0,
    bb: Backbone | None = None,
) -> tuple[Tensor, Backbone, Tensor, Tensor]:
    """Read branch ``branch`` at the last position of each left-padded history.

    Returns queries ``[B, R, d]`` (R = instructions; 1 when unconditioned), the backbone
    output, the branch mask ``[B, R, M+T]`` and its weights ``[B, H, R, M+T]``.
    """
    if bb is None:
        bb = model.backbone(seq, ts)
    b, t = seq.shape
    if cond is None:
        q_pos = torch.full((b, 1), t - 1, dtype=torch.long, device=seq.device)
        u, mask, w = model.branch(branch, bb, q_pos)
    else:
        cond = cond.to(seq.device)
        pred = cond.predicate(bb.hist_attrs)
        r = pred.shape[1]
        q_pos = torch.full((b, r), t - 1, dtype=torch.long, device=seq.device)
        u, mask, w = model.branch(branch, bb, q_pos, pred, cond.cond_ids_for(b))
    return u, bb, mask, w


@torch.no_grad()
def batched_queries(
    model: ClimberPilot,
    histories: list[UserSeq],
    cond: EncodedConditions | None = None,
    batch_size: int = 512,
    device="cpu",
) -> Tensor:
    """``[U, d]`` query per history (``cond`` per history, from :meth:`per_history`).

    Histories are batched by length and each batch padded only to its longest history:
    the biases are relative, so the result is the same, and short histories (Amazon: 9
    items on average) stop paying for ``max_len`` slots. Rows come back in input order.
    """
    lengths = [min(len(h.items), model.cfg.max_len) for h in histories]
    order = sorted(range(len(histories)), key=lengths.__getitem__)
    out = torch.zeros(len(histories), model.cfg.query_dim, device=device)
    for s in range(0, len(order), batch_size):
        rows = torch.as_tensor(order[s : s + batch_size])
        width = max(1, lengths[int(rows[-1])])
        seq, ts = batch_histories([histories[i] for i in rows.tolist()], width, device)
        c = None
        if cond is not None:
            c = EncodedConditions([a[rows] for a in cond.allowed], cond.attr_index, cond.cond_ids[rows])
        u, *_ = queries(model, seq, ts, c)
        out[rows.to(device)] = u[:, 0]
    return out
