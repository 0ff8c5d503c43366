"""Training losses: TAMIP/MIP/NIP pre-training (method §3) and CGSA fine-tuning (method §4).

Sampled or full softmax with negatives shared across branches, summed over branches; SFT
instructions are drawn from each target's own attributes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.core import masks
from engine.core.config import TrainConfig
from engine.core.model import ClimberPilot
from engine.data.schema import EXPLICIT, UNKNOWN

# SFT: chance that each attribute of the true next item becomes an atom of its instruction.
SFT_ATOM_PROB = {"genre": 0.8, "language": 0.35, "explicit": 0.15, "popularity_tier": 0.1, "era": 0.1}


def _candidates(targets: Tensor, n_items: int, tcfg: TrainConfig, gen: torch.Generator):
    """Shared candidate set for every branch: in-batch targets ∪ uniform negatives."""
    if tcfg.negatives < 0:
        return None
    uniform = torch.randint(1, n_items + 1, (tcfg.negatives,), generator=gen).to(targets.device)
    return torch.unique(torch.cat([targets, uniform]))


def _softmax_loss(q: Tensor, t: Tensor, vecs: Tensor, cand: Tensor | None, log_q: Tensor | None,
                  reduction: str = "mean", seen: Tensor | None = None):
    """``vecs`` holds the candidates' vectors (every item when ``cand`` is None).

    ``seen [n, T]`` (full softmax only): items each target's user had before it, 0 = padding;
    they leave the softmax, except the target itself, as they leave the S3-Rec ranking.
    """
    logits = q @ vecs.T
    if cand is None:
        if seen is not None:  # in place on the product (its backward does not read it): no copy
            rows, cols = ((seen > 0) & (seen != t[:, None])).nonzero(as_tuple=True)
            logits.index_put_((rows, seen[rows, cols] - 1), logits.new_tensor(float("-inf")))
        return F.cross_entropy(logits, t - 1, reduction=reduction)
    if log_q is not None:
        logits = logits - log_q[cand]
    return F.cross_entropy(logits, torch.searchsorted(cand, t), reduction=reduction)


def _log_q(counts: Tensor, n_pairs: int, tcfg: TrainConfig) -> Tensor:
    """log P(item in the candidate set): in-batch by popularity, plus the uniform draw."""
    f = counts / counts.sum()
    q = 1 - torch.exp(n_pairs * torch.log1p(-f.clamp(max=0.999))) + tcfg.negatives / len(f)
    return torch.log(q.clamp(1e-12, 1.0))


def _branch_losses(model, seq, pairs, tcfg, gen, counts, sharded: bool = False,
                   seen: list[Tensor] | None = None) -> Tensor | None:
    """Sum over branches of the sampled softmax, negatives shared across branches (None: no pair).

    ``pairs`` holds, per branch, (queries, their targets, the targets of the whole batch).
    Sharded (data parallelism, one process's rows of a global batch): candidates, logQ and
    each branch's mean are still taken over the whole batch, so the processes' losses add
    up to the single-process loss (a process without a pair of its own adds a zero).
    ``seen`` holds, per branch, each local pair's earlier items (``tcfg.exclude_history``).
    """
    pairs = [(p[0], p[1], p[-1]) for p in pairs]  # a (q, t) pair: the whole batch is local
    seen = seen or [None] * len(pairs)
    every = [g for _, _, g in pairs]
    cand = _candidates(torch.cat(every), model.cfg.n_items, tcfg, gen)
    vecs = model.items.all_items() if cand is None else model.items.candidates(cand)
    log_q = _log_q(counts, sum(len(g) for g in every), tcfg) if (tcfg.logq and cand is not None) else None
    if sharded:
        losses = [_softmax_loss(q, t, vecs, cand, log_q, "sum", h) / len(g)
                  for (q, t, g), h in zip(pairs, seen, strict=True) if len(g)]
    else:
        losses = [_softmax_loss(q, t, vecs, cand, log_q, seen=h)
                  for (q, t, _), h in zip(pairs, seen, strict=True) if len(t)]
    return torch.stack(losses).sum() if losses else None


def pretrain_loss(model: ClimberPilot, seq: Tensor, ts: Tensor, tcfg: TrainConfig, gen, counts,
                  rows: slice | None = None) -> Tensor:
    """One forward supervises every target: branch k at read-out p(t) predicts item t+k.

    ``rows`` (data parallelism): run the model on these rows of the global batch only and
    return their share of its loss (see :func:`_branch_losses`).
    """
    mine = slice(None) if rows is None else rows
    bb = model.backbone(seq[mine], ts[mine])
    valid = seq > 0  # bb.valid, for the whole batch
    readout = masks.readout_positions(masks.target_visibility_mask(ts, valid, tcfg.delta_tau))
    b, t = seq.shape
    pos = torch.arange(t, device=seq.device).expand(b, t)
    pairs, seen = [], []
    for k in range(model.cfg.n_branches):
        u, _, _ = model.branch(k, bb, pos[mine])
        tgt_pos = pos + k
        tgt = seq.gather(1, tgt_pos.clamp(max=t - 1))
        ok = (readout >= 0) & valid & (tgt_pos < t) & (tgt > 0)
        q = u.gather(1, readout[mine].clamp(min=0)[..., None].expand(-1, -1, u.shape[-1]))
        here = ok[mine]
        local = tgt[mine][here]
        pairs.append((q[here], local, local if rows is None else tgt[ok]))
        if tcfg.exclude_history:  # everything before the target, read by the query or not
            before = pos[mine][:, None, :] < tgt_pos[mine][:, :, None]  # [B, T(target), T(item)]
            seen.append((seq[mine][:, None, :] * before)[here])
    return _branch_losses(model, seq, pairs, tcfg, gen, counts, sharded=rows is not None, seen=seen)


def sample_instructions(model: ClimberPilot, seq: Tensor, tcfg: TrainConfig, gen):
    """Instructions from each target's own attributes: per attribute allowed sets + tokens.

    Returns ``allowed`` (list of ``[B, T, V+1]``), ``attr_index`` and ``cond_ids [B, T, M]``.
    A row with no atom (unconditioned share, or only unknown values) keeps token 0.
    """
    cfg = model.cfg
    tgt = model.items.item_attrs[seq]  # [B, T, A]
    b, t = seq.shape
    uncond = torch.rand(b, t, generator=gen) < tcfg.sft_uncond_share
    allowed, attr_index, tokens = [], [], []
    probs = tcfg.sft_atom_prob or SFT_ATOM_PROB
    for attr in cfg.cond_attributes:
        ai = cfg.attributes.index(attr)
        vocab = cfg.attr_values[ai]
        v = tgt[..., ai].cpu()
        known = (v > 0) & (v != (vocab.index(UNKNOWN) + 1 if UNKNOWN in vocab else -1))
        use = (torch.rand(b, t, generator=gen) < probs.get(attr, 0.1)) & ~uncond
        allow = torch.ones(b, t, len(vocab) + 1, dtype=torch.bool)
        if attr == EXPLICIT:  # a policy atom: "exclude known explicit" = {false, unknown}
            values = [x for x in ("false", UNKNOWN) if x in vocab]
            use &= (v > 0) & (v != (vocab.index("true") + 1 if "true" in vocab else -1))
            idx = torch.tensor([vocab.index(x) + 1 for x in values], dtype=torch.long)
            row_allow = torch.zeros(len(vocab) + 1, dtype=torch.bool)
            row_allow[idx] = True
            allow[use] = row_allow
            for x in values:
                tokens.append(torch.where(use, model.cond_token(attr, x), 0))
        else:
            use &= known
            allow[use] = F.one_hot(v[use], len(vocab) + 1).bool()
            offset = model.cond_token(attr, vocab[0])
            tokens.append(torch.where(use, offset + v - 1, 0))
        allowed.append(allow.to(seq.device))
        attr_index.append(ai)
    cond_ids = torch.sort(torch.stack(tokens, dim=-1), dim=-1, descending=True).values
    return allowed, attr_index, cond_ids[..., : cfg.max_cond_tokens].to(seq.device)


def sft_loss(model: ClimberPilot, seq: Tensor, ts: Tensor, tcfg: TrainConfig, gen, counts,
             rows: slice | None = None) -> Tensor:
    """CGSA: branch k reads the context shortened by k items, under the target's instruction.

    ``rows``: as in :func:`pretrain_loss`; instructions are drawn for the whole batch, so
    every process consumes ``gen`` exactly as a single process does.
    """
    mine = slice(None) if rows is None else rows
    bb = model.backbone(seq[mine], ts[mine])
    valid = seq > 0  # bb.valid, for the whole batch
    readout = masks.readout_positions(masks.target_visibility_mask(ts, valid, tcfg.delta_tau))
    allowed, attr_index, cond_ids = sample_instructions(model, seq, tcfg, gen)
    predicate = masks.item_predicate(bb.hist_attrs, [a[mine] for a in allowed], attr_index)
    ok = valid & (readout >= 0)
    pairs = []
    for k in range(model.cfg.n_branches):
        q_pos = readout - k
        ok_k = ok & (q_pos >= 0)
        u, _, _ = model.branch(k, bb, q_pos[mine].clamp(min=0), predicate, cond_ids[mine])
        here = ok_k[mine]
        local = seq[mine][here]
        pairs.append((u[here], local, local if rows is None else seq[ok_k]))
    loss = _branch_losses(model, seq, pairs, tcfg, gen, counts, sharded=rows is not None)
    if rows is None and (tcfg.sft_comply or tcfg.sft_personal):
        extra = counterfactual_loss(model, bb, seq, readout, ok, tcfg, gen)
        loss = extra if loss is None else (loss if extra is None else loss + extra)
    return loss


def _atom_pool(model: ClimberPilot, min_items: int) -> list[tuple[int, list[int], list[int]]]:
    """Every atom a counterfactual instruction may use: (condition attribute n, allowed value
    indices, its condition tokens). Explicit is the policy "exclude known explicit"."""
    cfg = model.cfg
    attrs = model.items.item_attrs[1:].cpu()
    pool = []
    for n, attr in enumerate(cfg.cond_attributes):
        ai = cfg.attributes.index(attr)
        vocab = cfg.attr_values[ai]
        counts = torch.bincount(attrs[:, ai], minlength=len(vocab) + 1)
        if attr == EXPLICIT:
            values = [vocab.index(x) + 1 for x in ("false", UNKNOWN) if x in vocab]
            if "true" in vocab and values:
                pool.append((n, values, [model.cond_token(attr, vocab[v - 1]) for v in values]))
            continue
        for v, value in enumerate(vocab, start=1):
            if value != UNKNOWN and int(counts[v]) >= min_items:
                pool.append((n, [v], [model.cond_token(attr, value)]))
    return pool


def _draw_instructions(model: ClimberPilot, b: int, tcfg: TrainConfig, gen):
    """``b`` random instructions: allowed ``[B, V+1]`` per condition attribute, tokens ``[B, M]``
    and the eligible items ``[B, N]``. Attributes are drawn uniformly, then a value."""
    cfg = model.cfg
    pool = _atom_pool(model, tcfg.sft_cf_min_items)
    by_attr: dict[int, list] = {}
    for atom in pool:
        by_attr.setdefault(atom[0], []).append(atom)
    attrs = sorted(by_attr)
    item_attrs = model.items.item_attrs[1:].cpu()
    index = [cfg.attributes.index(a) for a in cfg.cond_attributes]
    allowed = [torch.ones(b, len(cfg.attr_values[i]) + 1, dtype=torch.bool) for i in index]
    tokens = torch.zeros(b, cfg.max_cond_tokens, dtype=torch.long)
    for r in range(b):
        n_atoms = 2 if len(attrs) > 1 and torch.rand(1, generator=gen).item() < tcfg.sft_cf_pair_share else 1
        chosen = torch.randperm(len(attrs), generator=gen)[:n_atoms].tolist()
        toks = []
        for c in chosen:
            options = by_attr[attrs[c]]
            n, values, tok = options[int(torch.randint(len(options), (1,), generator=gen))]
            row = torch.zeros(allowed[n].shape[1], dtype=torch.bool)
            row[values] = True
            allowed[n][r] = row
            toks += tok
        tokens[r, : len(toks)] = torch.tensor(sorted(toks, reverse=True)[: cfg.max_cond_tokens])
    eligible = torch.ones(b, item_attrs.shape[0], dtype=torch.bool)
    for n, ai in enumerate(index):
        eligible &= allowed[n][:, item_attrs[:, ai]]
    return allowed, index, tokens, eligible


def counterfactual_loss(model: ClimberPilot, bb, seq: Tensor, readout: Tensor, ok: Tensor,
                        tcfg: TrainConfig, gen) -> Tensor | None:
    """Instructions not taken from the target: follow them, and stay with the user's taste.

    Per sequence: a random target position t (with visible history), a random instruction,
    and branch 1's query at t's read-out under it. ``sft_comply`` × −log P(eligible item)
    over the full catalogue; ``sft_personal`` × −log P(one of the user's items after the
    read-out that satisfies it), where there is one (the Figure-4 behaviour: the intersection
    of taste and instruction). Nothing here reads the sampled-softmax negatives.
    """
    b, t = seq.shape
    rows = ok.any(dim=1).cpu()
    if not rows.any():
        return None
    pick = torch.multinomial(ok.cpu()[rows].float(), 1, generator=gen)[:, 0]
    allowed, index, tokens, eligible = _draw_instructions(model, int(rows.sum()), tcfg, gen)
    dev = seq.device
    rows_d = rows.to(dev)
    sub = type(bb)(bb.hidden[rows_d], bb.valid[rows_d], bb.timestamps[rows_d], bb.hist_attrs[rows_d],
                   bb.mask[rows_d], [], None if bb.seq is None else bb.seq[rows_d])
    qpos = readout[rows_d].gather(1, pick.to(dev)[:, None])  # [R, 1]
    predicate = masks.item_predicate(sub.hist_attrs, [a[:, None, :].to(dev) for a in allowed], index)
    u, _, _ = model.branch(0, sub, qpos, predicate, tokens[:, None, :].to(dev))
    logits = u[:, 0] @ model.items.all_items().T  # [R, N]
    total = torch.logsumexp(logits, dim=1)
    eligible = eligible.to(dev)
    loss = logits.new_zeros(())
    if tcfg.sft_comply:
        comply = total - torch.logsumexp(logits.masked_fill(~eligible, float("-inf")), dim=1)
        loss = loss + tcfg.sft_comply * comply.mean()
    if tcfg.sft_personal:
        later = torch.arange(t, device=dev)[None, :] > qpos  # items the user met after the read-out
        items = torch.where(later & sub.valid, seq[rows_d], 0)
        mine = torch.zeros(len(items), model.cfg.n_items + 1, dtype=torch.bool, device=dev)
        mine.scatter_(1, items, True)
        mine = mine[:, 1:] & eligible
        has = mine.any(dim=1)
        if has.any():
            personal = total[has] - torch.logsumexp(logits[has].masked_fill(~mine[has], float("-inf")), dim=1)
            loss = loss + tcfg.sft_personal * personal.mean()
    return loss
