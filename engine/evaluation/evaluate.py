"""Evaluation (method §6): next-item quality, myopia curves, instruction following.

Protocols. *Leave-last-out*: ``holdout=1``, the last item is the test target, the one
before it validates. *Future split* (Last.fm, shipped models): each user's last ≥10 items
from a day boundary are held out of training; s = 1 is the next item after the cut and
the myopia curve follows s = 1..10 from one retrieval at the cut. ``exclude_history``
gives the S3-Rec protocol (the user's own history is removed from the ranking).

Cut-offs fit the catalogue: K above its size is dropped (a catalogue under 10 items is
ranked at K = its size), and a metric over 0 users is ``None`` (JSON ``null``), never NaN.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.core.conditions import encode
from engine.core.instructions import Instruction, satisfies
from engine.core.model import ClimberPilot
from engine.data.schema import GENRE, LANGUAGE, UNKNOWN
from engine.evaluation.metrics import hr_ndcg, target_ranks
from engine.serving.inference import batched_queries
from engine.serving.retrieval import ItemIndex, run_method
from engine.tables import metric_table

KS = (10, 20, 50)


def cutoffs(n_items: int, ks=KS) -> tuple[int, ...]:
    """The cut-offs of ``ks`` a catalogue of ``n_items`` allows (at least one: ``n_items`` itself)."""
    return tuple(k for k in ks if k <= n_items) or (max(n_items, 1),)


def _mean(values: torch.Tensor) -> float | None:
    """Mean of a per-user tensor; ``None`` over 0 users."""
    return float(values.double().mean()) if len(values) else None


def _item_vectors(model: ClimberPilot) -> torch.Tensor:
    with torch.no_grad():
        return model.items.all_items()


def _instruction_for(cat_items, item_index: int, attrs: tuple[str, ...]) -> Instruction | None:
    """The instruction "attributes of the true next item" (None if one is unknown)."""
    row = cat_items.iloc[item_index - 1]
    values = {a: str(row[a]) for a in attrs}
    if any(v == UNKNOWN for v in values.values()):
        return None
    return Instruction(
        genres=frozenset({values[GENRE]}) if GENRE in values else frozenset(),
        languages=frozenset({values[LANGUAGE]}) if LANGUAGE in values else frozenset(),
    )


def validation_hr(model: ClimberPilot, prep, device, conditioned: bool = False, k: int = 10,
                  exclude_history: bool = False) -> float:
    """HR@k of the validation item (history = training part); CGSA by genre when conditioned.

    ``exclude_history`` ranks as the S3-Rec protocol does: without the user's earlier items.
    """
    hist = [s.train for s in prep.splits if s.val_target]
    targets = [s.val_target for s in prep.splits if s.val_target]
    if not targets:  # no user has a validation item
        return 0.0
    cond = None
    if conditioned:
        keep = [
            (h, t, ins)
            for h, t in zip(hist, targets, strict=True)
            if (ins := _instruction_for(prep.catalogue.items, t, (GENRE,))) is not None
        ]
        if not keep:
            return 0.0
        hist, targets, instr = map(list, zip(*keep, strict=True))
        cond = encode(model, instr).per_history()
    u = batched_queries(model, hist, cond, device=device)
    exclude = [h.items for h in hist] if exclude_history else None
    vecs = _item_vectors(model)
    ranks = target_ranks(lambda part: u[part] @ vecs.T, torch.tensor(targets, device=u.device), exclude)
    return float((ranks < k).double().mean())


def next_item(model: ClimberPilot, prep, device, exclude_history: bool = False, ks=KS) -> dict:
    """HR/NDCG@K of the first held-out item, full-catalogue ranking (any K: ranks need no top-K)."""
    hist = [s.history for s in prep.splits]
    targets = torch.tensor([int(s.future.items[0]) for s in prep.splits])
    u = batched_queries(model, hist, device=device).cpu()
    exclude = [h.items for h in hist] if exclude_history else None
    vecs = _item_vectors(model).cpu()
    ranks = target_ranks(lambda part: u[part] @ vecs.T, targets, exclude)
    return {"users": len(targets), **hr_ndcg(ranks, ks)}


def popularity(prep, exclude_history: bool = False, ks=KS) -> dict:
    scores = torch.as_tensor(prep.counts[1:], dtype=torch.float64)
    scores = scores + torch.linspace(0, 1e-6, len(scores), dtype=torch.float64)  # stable ties
    hist = [s.history for s in prep.splits]
    targets = torch.tensor([int(s.future.items[0]) for s in prep.splits])
    exclude = [h.items for h in hist] if exclude_history else None
    ranks = target_ranks(scores.expand(len(targets), -1), targets, exclude)
    return {"users": len(targets), **hr_ndcg(ranks, ks)}


def myopia(model: ClimberPilot, prep, device, steps: int = 10, ks=(10, 50)) -> dict:
    """Retrieve once at the cut; HR@K of the item s steps later, s = 1..steps (None: no user that far)."""
    ks = cutoffs(prep.catalogue.n_items, ks)
    hist = [s.history for s in prep.splits]
    u = batched_queries(model, hist, device=device).cpu()
    scores = u @ _item_vectors(model).cpu().T
    top = torch.topk(scores, max(ks), dim=1).indices + 1  # [U, maxK] item indices
    out = {f"HR@{k}": [] for k in ks}
    out["users"] = []
    for s in range(steps):
        rows = [r for r, sp in enumerate(prep.splits) if len(sp.future.items) > s]
        tgt = torch.tensor([int(prep.splits[r].future.items[s]) for r in rows])
        for k in ks:
            out[f"HR@{k}"].append(_mean((top[rows, :k] == tgt[:, None]).any(dim=1)))
        out["users"].append(len(rows))
    for k in ks:
        curve = out[f"HR@{k}"]
        out[f"flatness@{k}"] = (None if curve[0] is None or curve[-1] is None
                                else curve[-1] / curve[0] if curve[0] > 0 else 0.0)
    return out


def instruction_following(
    model: ClimberPilot,
    prep,
    device,
    attrs: tuple[str, ...] = (GENRE,),
    ks=KS,
    overfetch=(1, 5),
) -> dict:
    """HR@K and CC@K per method, instruction = ``attrs`` of the true next item.

    CC@K counts missing slots as non-compliant: a list that returns fewer than K items
    (post-hoc after filtering) is charged for the shortfall.
    """
    items = prep.catalogue.items
    ks = cutoffs(prep.catalogue.n_items, ks)
    cases = []
    for s in prep.splits:
        t = int(s.future.items[0])
        ins = _instruction_for(items, t, attrs)
        if ins is not None:
            cases.append((s.history, t, ins))
    if not cases:
        return {"users": 0}
    hist, targets, instr = map(list, zip(*cases, strict=True))
    u_plain = batched_queries(model, hist, device=device).cpu().numpy()
    u_cond = batched_queries(model, hist, encode(model, instr).per_history(), device=device).cpu().numpy()
    index = ItemIndex(_item_vectors(model).cpu().numpy())
    kmax = max(ks)
    allowed_cache: dict[Instruction, np.ndarray] = {}
    variants = [("unconditioned", 1), *[("posthoc", f) for f in overfetch], ("prefilter", 1), ("cgsa", 1), ("cgsa_hard", 1)]
    out: dict = {"users": len(cases), "attributes": list(attrs), "methods": {}}
    for method, f in variants:
        hits = {k: 0 for k in ks}
        comply = {k: 0 for k in ks}
        for r, (t, ins) in enumerate(zip(targets, instr, strict=True)):
            if ins not in allowed_cache:
                allowed_cache[ins] = satisfies(items, ins)
            allowed = allowed_cache[ins]
            if method == "posthoc":
                per_k = {k: run_method(index, method, u_plain[r], None, allowed, k, f)[1] for k in ks}
            else:
                _, top = run_method(index, method, u_plain[r], u_cond[r], allowed, kmax, f)
                per_k = {k: top[:k] for k in ks}
            for k in ks:
                got = per_k[k]
                hits[k] += int(t in got)
                comply[k] += int(allowed[got - 1].sum())
        name = method if method != "posthoc" else f"posthoc_x{f}"
        out["methods"][name] = {
            **{f"HR@{k}": hits[k] / len(cases) for k in ks},
            **{f"CC@{k}": comply[k] / (k * len(cases)) for k in ks},
        }
    return out


def evaluate_all(model: ClimberPilot, prep, device, exclude_history: bool = False) -> dict:
    res = {
        "next_item": next_item(model, prep, device, exclude_history),
        "popularity": popularity(prep, exclude_history),
        "myopia": myopia(model, prep, device),
    }
    if model.cfg.cond_attributes:
        res["instruction_following"] = {
            "+".join(a): instruction_following(model, prep, device, a)
            for a in ((GENRE,), (LANGUAGE,), (GENRE, LANGUAGE))
            if set(a) <= set(model.cfg.cond_attributes)  # data without a language: genre only
        }
    return res


def _ks(row: dict) -> list[int]:
    """The cut-offs a result row holds (``HR@10`` → 10), ascending."""
    return sorted(int(k[3:]) for k in row if k.startswith("HR@"))


def _numbers(rows: dict[str, dict]) -> dict[str, dict]:
    """Rows for :func:`metric_table`, a metric over 0 users (None) shown as nan."""
    return {n: {k: float("nan") if v is None else v for k, v in r.items()} for n, r in rows.items()}


def report_markdown(res: dict) -> str:
    ks = _ks(res["next_item"])
    parts = [f"## Next item (full-catalogue ranking, {res['next_item']['users']} users)", metric_table(
        _numbers({"model": res["next_item"], "popularity": res["popularity"]}),
        [f"{m}@{k}" for m in ("HR", "NDCG") for k in ks],
    )]
    my = res["myopia"]
    top = f"HR@{_ks(my)[-1]}"
    parts += ["", f"## Myopia ({top} of the item s steps after the cut)",
              "| s | " + " | ".join(str(i + 1) for i in range(len(my[top]))) + " |",
              "|---|" + "---|" * len(my[top]),
              f"| {top} | " + " | ".join("—" if v is None else f"{v:.3f}" for v in my[top]) + " |"]
    for name, r in res.get("instruction_following", {}).items():
        if not r.get("methods"):
            parts += ["", f"## Instruction following: {name}: no test user's next item has a known {name}"]
            continue
        parts += ["", f"## Instruction following: {name} of the true next item ({r['users']} users)",
                  metric_table(r["methods"], [f"{m}@{k}" for m in ("HR", "CC") for k in _ks(next(iter(
                      r["methods"].values())))])]
    return "\n".join(parts) + "\n"
