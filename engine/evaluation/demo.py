"""The demo-quality evaluation (issue 31): what a product manager sees, measured with intervals.

On the app's split (each test user's next artist after the day-boundary cut; the user's
history excluded from every list), for every method the studio shows:

- accuracy: HR/NDCG@10 and @50 of popularity, an item-kNN on co-listening (a baseline fitted
  in the same run), NIP, MIP, TAMIP and the shipped main model;
- beyond accuracy, on the unconditioned top-10: mean pairwise Jaccard, distinct artists,
  share of slots from the 50 most-listened artists, major-genre coverage and KL
  miscalibration (Steck 2018), share of artists with fewer than 5 listeners;
- soft CGSA CC@10 for every offered atom value and sampled composites (``compliance``);
- per attribute of the true next item: unconditioned, post-hoc ×1 / ×5, pre-filter, CGSA,
  CGSA + hard filter (HR@10, CC@10).

Every per-user figure carries a 95 % bootstrap interval over users (1,000 resamples).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from engine.core.conditions import encode
from engine.core.instructions import satisfies
from engine.core.model import ClimberPilot
from engine.core.prepared import Prepared
from engine.data.schema import ERA, EXPLICIT, GENRE, LANGUAGE, LISTENERS, POPULARITY, UNKNOWN
from engine.evaluation import beyond
from engine.evaluation.compliance import atom, atoms, composites, label, soft_cc
from engine.evaluation.knn import LASTFM_VALIDATED, ItemKNN
from engine.serving.inference import batched_queries
from engine.tables import md_table

KS = (10, 50)
ATTRIBUTES = (GENRE, LANGUAGE, ERA, POPULARITY, EXPLICIT)
OVERFETCH = (1, 5)
SAMPLE_USERS = 200  # users whose lists give "distinct artists over 200 users"
DEMO_HEADING = "## Demo-quality evaluation"


def ci(values) -> list[float]:
    """[mean, lo, hi] rounded for the report."""
    return [round(x, 4) for x in beyond.bootstrap_ci(values)]


def _exclude(scores: np.ndarray, hists: list[np.ndarray]) -> np.ndarray:
    for r, h in enumerate(hists):
        scores[r, h - 1] = -np.inf
    return scores


def model_scores(model: ClimberPilot, prep: Prepared, device="cpu", cond=None) -> np.ndarray:
    """``[U, N]`` scores of every test user's history (history excluded)."""
    hist = [s.history for s in prep.splits]
    with torch.no_grad():
        u = batched_queries(model, hist, cond, device=device)
        s = (u @ model.items.all_items().T).cpu().numpy().astype(np.float64)
    return _exclude(s, [np.unique(h.items) for h in hist])


def baseline_scores(prep: Prepared) -> dict[str, np.ndarray]:
    """Popularity (training counts) and the item-kNN on co-listening, fitted without the evaluated pairs."""
    hists = [np.unique(s.history.items) for s in prep.splits]
    pop = _exclude(np.tile(prep.counts[1:].astype(np.float64), (len(hists), 1)), hists)
    out = {"popularity": pop}
    if prep.dataset.top_items is not None and not prep.dataset.top_items.empty:
        knn = ItemKNN(**LASTFM_VALIDATED).fit(prep.dataset.top_items, prep.catalogue.index_of,
                                              prep.evaluated_pairs())
        out["item-kNN"] = knn.scores(hists)
    return out


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.take_along_axis(scores, part, 1).argsort(axis=1)[:, ::-1]
    top = np.take_along_axis(part, order, 1)
    empty = ~np.isfinite(np.take_along_axis(scores, top, 1))  # excluded or filtered out
    return np.where(empty, -1, top + 1)  # item indices, best first; −1 = empty slot


def accuracy(scores: np.ndarray, targets: np.ndarray) -> dict:
    ranks = (scores > scores[np.arange(len(targets)), targets - 1][:, None]).sum(axis=1)
    return {f"{m}@{k}": ci(f(ranks, k)) for k in KS for m, f in (("HR", beyond.hits), ("NDCG", beyond.ndcgs))}


def beyond_accuracy(top10: np.ndarray, prep: Prepared, seed: int = 0) -> dict:
    items = prep.catalogue.items
    listeners = items[LISTENERS].to_numpy() if LISTENERS in items else prep.counts[1:]
    popularity = np.r_[0, listeners]
    lists = [row[row > 0] for row in top10]
    sample = np.random.default_rng(seed).choice(len(lists), min(SAMPLE_USERS, len(lists)), replace=False)
    out = {
        "users": len(lists),
        "jaccard": round(beyond.mean_pairwise_jaccard(lists), 4),
        f"distinct_{SAMPLE_USERS}": int(len(np.unique(np.concatenate([lists[i] for i in sample])))),
        "distinct_all": int(len(np.unique(np.concatenate(lists)))),
        "top50_share": round(beyond.popular_share(lists, popularity, 50), 4),
        "lt5_listeners_share": round(beyond.low_listener_share(lists, popularity, 5), 4),
    }
    if GENRE in items:
        genre_of = np.concatenate([[UNKNOWN], items[GENRE].astype(str).to_numpy()])
        cal = beyond.genre_calibration(lists, [s.history.items for s in prep.splits], genre_of)
        out["major_genre_coverage"] = ci(cal["major_coverage"])
        out["kl_miscalibration"] = ci(cal["kl"])
    return out


def compliance(model: ClimberPilot, prep: Prepared, device="cpu", n_composites: int = 30) -> dict:
    items = prep.catalogue.items
    hist = [s.history for s in prep.splits]
    singles = atoms(items, model.cfg.cond_attributes)
    combos = composites(items, singles, n_composites)
    rows = {"single": {}, "composite": {}}
    for kind, group in (("single", singles), ("composite", combos)):
        for attr, ins, n in group:
            rows[kind][label(ins)] = {"attribute": attr, "eligible": n,
                                      "CC@10": ci(soft_cc(model, items, hist, ins, 10, device))}
    for kind in ("single", "composite"):
        means = [r["CC@10"][0] for r in rows[kind].values()]
        rows[f"{kind}_summary"] = {"n": len(means), "mean": round(float(np.mean(means)), 4) if means else None,
                                   "min": round(float(np.min(means)), 4) if means else None}
    return rows


def _method_lists(plain, cond, allowed, k):
    """The five methods' top-k lists for one instruction (item indices; −1 = empty slot)."""
    out = {"unconditioned": top_k(plain, k)}
    for f in OVERFETCH:
        wide = top_k(plain, k * f)
        kept = np.full((len(wide), k), -1)
        for r, row in enumerate(wide):
            ok = row[allowed[r, row - 1]][:k]
            kept[r, : len(ok)] = ok
        out[f"posthoc_x{f}"] = kept
    out["prefilter"] = top_k(np.where(allowed, plain, -np.inf), k)
    out["cgsa"] = top_k(cond, k)
    out["cgsa_hard"] = top_k(np.where(allowed, cond, -np.inf), k)
    return out


def by_attribute(model: ClimberPilot, prep: Prepared, plain: np.ndarray, device="cpu", k: int = 10) -> dict:
    """Instruction = the true next item's value of one attribute; HR@k and CC@k per method."""
    items = prep.catalogue.items
    targets = np.array([int(s.future.items[0]) for s in prep.splits])
    out = {}
    for attr in (a for a in ATTRIBUTES if a in model.cfg.cond_attributes):
        values = items[attr].astype(str).to_numpy()[targets - 1]
        if attr == EXPLICIT:
            rows = np.flatnonzero(values != "true")
            instr = [atom(EXPLICIT, "exclude_known")] * len(rows)
        else:
            rows = np.flatnonzero(values != UNKNOWN)
            instr = [atom(attr, v) for v in values[rows]]
        if not len(rows):
            continue
        cond = model_scores(model, _subset(prep, rows), device, encode(model, instr).per_history())
        allowed = np.stack([satisfies(items, i) for i in instr])
        lists = _method_lists(plain[rows], cond, allowed, k)
        res = {"users": int(len(rows))}
        hits = {}
        for m, top in lists.items():
            hits[m] = (top == targets[rows][:, None]).any(axis=1).astype(float)
            comply = np.where(top > 0, np.take_along_axis(allowed, np.maximum(top, 1) - 1, 1), False)
            res[m] = {f"HR@{k}": ci(hits[m]), f"CC@{k}": ci(comply.mean(axis=1))}
        res["cgsa_hard_minus_prefilter_HR"] = [round(x, 4) for x in
                                               beyond.paired_bootstrap_diff(hits["cgsa_hard"], hits["prefilter"])]
        out[attr] = res
    return out


def _subset(prep: Prepared, rows: np.ndarray) -> Prepared:
    return replace(prep, splits=[prep.splits[r] for r in rows])


def run_demo(models: dict[str, ClimberPilot], main: str, prep: Prepared, device="cpu") -> dict:
    """Every section above; ``models`` by display name, ``main`` the shipped main model's name."""
    targets = np.array([int(s.future.items[0]) for s in prep.splits])
    scores = baseline_scores(prep)
    scores.update({name: model_scores(m, prep, device) for name, m in models.items()})
    res = {"users": len(targets), "protocol": "next artist after the day-boundary cut; history excluded",
           "accuracy": {name: accuracy(s, targets) for name, s in scores.items()},
           "beyond": {name: beyond_accuracy(top_k(s, 10), prep) for name, s in scores.items()}}
    model = models[main]
    if model.cfg.cond_attributes:
        res["compliance"] = compliance(model, prep, device)
        res["by_attribute"] = by_attribute(model, prep, scores[main], device)
    return res


def _iv(v) -> str:
    """``mean [lo, hi]`` of a ``ci`` triple."""
    return "—" if v is None else f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"


def markdown(res: dict) -> str:
    """The report: every figure with its 95 % interval."""
    lines = [f"{DEMO_HEADING} ({res['users']} test users; {res['protocol']})", "",
             "### Accuracy", "",
             md_table(["method", *(f"{m}@{k}" for k in KS for m in ("HR", "NDCG"))],
                      [[name, *(_iv(r[f"{m}@{k}"]) for k in KS for m in ("HR", "NDCG"))]
                       for name, r in res["accuracy"].items()]),
             "", "### Unconditioned top-10 beyond accuracy", "",
             md_table(["method", "pairwise Jaccard", f"distinct ({SAMPLE_USERS} users)", "distinct (all)",
                       "top-50 share", "< 5 listeners", "major-genre coverage", "KL miscalibration"],
                      [[name, b["jaccard"], b[f"distinct_{SAMPLE_USERS}"], b["distinct_all"], b["top50_share"],
                        b["lt5_listeners_share"], _iv(b.get("major_genre_coverage")), _iv(b.get("kl_miscalibration"))]
                       for name, b in res["beyond"].items()])]
    comp = res.get("compliance")
    if comp:
        for kind in ("single", "composite"):
            s = comp[f"{kind}_summary"]
            lines += ["", f"### Soft CGSA CC@10, {kind} instructions ({s['n']}; mean {s['mean']}, min {s['min']})", "",
                      md_table(["instruction", "eligible artists", "CC@10"],
                               [[k, r["eligible"], _iv(r["CC@10"])] for k, r in
                                sorted(comp[kind].items(), key=lambda kv: kv[1]["CC@10"][0])])]
    for attr, r in res.get("by_attribute", {}).items():
        methods = [m for m in r if isinstance(r[m], dict)]
        lines += ["", f"### Instruction = the next artist's {attr} ({r['users']} users)", "",
                  md_table(["method", "HR@10", "CC@10"], [[m, _iv(r[m]["HR@10"]), _iv(r[m]["CC@10"])] for m in methods]),
                  "", f"CGSA + hard filter − pre-filter, HR@10 (paired): {_iv(r['cgsa_hard_minus_prefilter_HR'])}"]
    return "\n".join(lines) + "\n"
