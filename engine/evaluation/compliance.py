"""Soft instruction following: CC@K of CGSA without the hard filter, per atom and composite.

The instructions are every value the app offers that has enough eligible artists (genre,
language, era, popularity tier, the explicit policy) and sampled 2- and 3-atom composites.
A list is the top-K of the CGSA query with the user's history excluded; CC@K is the share of
its K items that satisfy the instruction (issue 31).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from engine.core.conditions import encode
from engine.core.instructions import Instruction, satisfies
from engine.core.model import ClimberPilot
from engine.data.schema import ERA, EXPLICIT, GENRE, LANGUAGE, POPULARITY, UNKNOWN
from engine.data.split import UserSeq
from engine.serving.inference import batched_queries

# Instruction field of each attribute an atom can constrain.
FIELD = {GENRE: "genres", LANGUAGE: "languages", POPULARITY: "popularity", ERA: "eras"}
MIN_ELIGIBLE = 50


def atom(attr: str, value: str) -> Instruction:
    if attr == EXPLICIT:
        return Instruction(explicit=value)
    return Instruction(**{FIELD[attr]: frozenset({value})})


def combine(*parts: Instruction) -> Instruction:
    """The conjunction of single-atom instructions."""
    kw: dict = {}
    for p in parts:
        for f in (*FIELD.values(),):
            if getattr(p, f):
                kw[f] = kw.get(f, frozenset()) | getattr(p, f)
        if p.explicit != "allow":
            kw["explicit"] = p.explicit
    return Instruction(**kw)


def label(ins: Instruction) -> str:
    parts = [f"{a}={'|'.join(sorted(v))}" for a, v in ins.atoms().items() if a != EXPLICIT]
    if ins.explicit != "allow":
        parts.append(f"explicit:{ins.explicit}")
    return " ∧ ".join(parts)


def atoms(items, cond_attributes, min_eligible: int = MIN_ELIGIBLE) -> list[tuple[str, Instruction, int]]:
    """(attribute, single-atom instruction, eligible items) for every offered value with enough items."""
    out = []
    for attr in cond_attributes:
        if attr not in items.columns:
            continue
        if attr == EXPLICIT:
            ins = atom(EXPLICIT, "exclude_known")
            out.append((attr, ins, int(satisfies(items, ins).sum())))
            continue
        for value, n in items[attr].astype(str).value_counts().items():
            if value != UNKNOWN and n >= min_eligible:
                out.append((attr, atom(attr, value), int(n)))
    return [a for a in out if a[2] >= min_eligible]


def composites(items, singles, n: int = 30, seed: int = 0, min_eligible: int = MIN_ELIGIBLE):
    """Up to ``n`` random 2- and 3-atom composites (different attributes) with enough items."""
    rng = np.random.default_rng(seed)
    pool = []
    for size in (2, 3):
        for combo in itertools.combinations(singles, size):
            if len({a for a, _, _ in combo}) == size:
                pool.append(combo)
    rng.shuffle(pool)
    out = []
    for combo in pool:
        ins = combine(*(i for _, i, _ in combo))
        m = int(satisfies(items, ins).sum())
        if m >= min_eligible:
            out.append(("+".join(a for a, _, _ in combo), ins, m))
        if len(out) >= n:
            break
    return out


@torch.no_grad()
def soft_cc(model: ClimberPilot, items, histories: list[UserSeq], ins: Instruction, k: int = 10,
            device="cpu") -> np.ndarray:
    """Per-user CC@k of soft CGSA under ``ins`` (history excluded)."""
    cond = encode(model, [ins] * len(histories)).per_history()
    u = batched_queries(model, histories, cond, device=device)
    scores = u @ model.items.all_items().T
    for r, h in enumerate(histories):
        scores[r, torch.as_tensor(np.unique(h.items) - 1)] = float("-inf")
    top = torch.topk(scores, k, dim=1).indices.cpu().numpy()
    allowed = satisfies(items, ins)
    return allowed[top].mean(axis=1)
