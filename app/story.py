"""Story mode: the paper's argument in six steps, computed live for the current listener.

Pure (no Streamlit): a :class:`~engine.Recommender`, a history and the measured curves in,
:class:`Step` records out. Every headline is a sentence built from the numbers the step
shows, so it changes when they change; nothing here states a fixed result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from engine import Instruction, evidence
from engine.data.schema import ERA, GENRE, ITEM_ID, NAME, UNKNOWN

K = 10
OVERFETCH = (1, 2, 5, 10)
RECENT = 20
MYOPIA_K = 50
TITLES = ("The listener", "Post-hoc filtering under-fills", "CGSA follows the instruction and stays personal",
          "A composed policy", "Non-myopia: later artists", "The evidence")


@dataclass
class Step:
    n: int  # 1-based
    title: str
    headline: str
    lists: list[tuple[str, object]] = field(default_factory=list)  # (title, RecResult)
    numbers: dict = field(default_factory=dict)  # the figures the headline is made of
    note: str = ""


def _n(x: int, word: str) -> str:
    return f"{x} {word}" + ("" if x == 1 else "s")


def tastes(items: pd.DataFrame, history, window: int = RECENT) -> list[tuple[str, float]]:
    """The listener's most common known genres in the recent window, with their shares."""
    rows = items.set_index(ITEM_ID).loc[list(history.item_ids[-window:])]
    counts = rows[GENRE].astype(str).value_counts() if GENRE in rows else pd.Series(dtype=int)
    counts = counts[counts.index != UNKNOWN]
    total = max(int(counts.sum()), 1)
    return [(str(g), int(c) / total) for g, c in counts.items()]


def listener(items: pd.DataFrame, history, label: str) -> Step:
    t = tastes(items, history)
    names = items.set_index(ITEM_ID).loc[list(history.item_ids[-8:]), NAME].astype(str).tolist()[::-1]
    if len(t) >= 2:
        head = (f"{label} has {_n(len(history), 'artist')}; the last {min(RECENT, len(history))} are "
                f"{t[0][1]:.0%} {t[0][0]} and {t[1][1]:.0%} {t[1][0]}: two tastes.")
    elif t:
        head = f"{label} has {_n(len(history), 'artist')}, {t[0][1]:.0%} of the recent ones {t[0][0]}."
    else:
        head = f"{label} has {_n(len(history), 'artist')}, none with a known genre."
    return Step(1, TITLES[0], head, numbers={"tastes": t, "recent": names, "n": len(history)})


def _kept(res) -> int:
    return int(res.items["complies"].sum()) if len(res.items) else 0


def underfill_genre(rec, history, genres: Sequence[str], k: int = K) -> str:
    """Of the listener's tastes, the one post-hoc filtering at ×1 fills worst (the telling case)."""
    kept = {g: rec.compare(history, Instruction(genres={g}), k, 1, ("posthoc",)).results["posthoc"].n_returned
            for g in genres}
    return min(kept, key=kept.get)


def underfill(rec, history, genre: str, k: int = K) -> Step:
    ins = Instruction(genres={genre})
    kept = {}
    for f in OVERFETCH:
        kept[f] = rec.compare(history, ins, k, f, ("posthoc",)).results["posthoc"]
    cg = rec.compare(history, ins, k, 1, ("cgsa",)).results["cgsa"]
    n1, n5 = kept[1].n_returned, kept[5].n_returned
    head = (f"Asked for {genre}, post-hoc filtering kept {n1} of {k} at ×1 and {n5} of {k} at ×5; "
            f"CGSA returned {cg.n_returned} of {k}, {_kept(cg)} matching.")
    return Step(2, TITLES[1], head, [(f"Post-hoc ×1: {genre}", kept[1]), (f"CGSA: {genre}", cg)],
                {"genre": genre, "kept": {f: r.n_returned for f, r in kept.items()}, "k": k,
                 "cgsa_returned": cg.n_returned, "cgsa_matching": _kept(cg)})


def contrast(rec, history, genres: Sequence[str], k: int = K) -> Step:
    plain = rec.compare(history, Instruction(), k, 1, ("unconditioned",)).results["unconditioned"]
    cards, parts, nums = [("Unconstrained", plain)], [], {}
    for g in genres:
        res = rec.compare(history, Instruction(genres={g}), k, 1, ("cgsa",)).results["cgsa"]
        shared = int(res.items[ITEM_ID].isin(plain.items[ITEM_ID]).sum())
        cards.append((f"Instruction: {g}", res))
        parts.append(f"“{g}” gives {_kept(res)} of {k} {g} artists, {shared} shared with the unconstrained list")
        nums[g] = {"matching": _kept(res), "shared": shared}
    head = ("; ".join(parts) + ".") if parts else "This listener has no genre to instruct."
    return Step(3, TITLES[2], head[:1].upper() + head[1:], cards, nums)


def composed(rec, history, genre: str, k: int = K) -> Step:
    items = rec.items.set_index(ITEM_ID)
    eras = items.loc[list(history.item_ids), ERA].astype(str) if ERA in items else pd.Series(dtype=str)
    eras = eras[eras != UNKNOWN].value_counts()
    era = str(eras.index[0]) if len(eras) else None
    parts = {"genres": {genre}, "explicit": "exclude_known", **({"eras": {era}} if era else {})}
    ins = Instruction(**parts)
    cmp = rec.compare(history, ins, k, 5, ("posthoc", "cgsa", "cgsa_hard"))
    post, soft, hard = (cmp.results[m] for m in ("posthoc", "cgsa", "cgsa_hard"))
    policy = " ∧ ".join([genre, "clean", *([era] if era else [])])
    head = (f"{policy} ({cmp.eligible:,} artists qualify): CGSA puts {_kept(soft)} matching artists in its "
            f"top {k}, {_kept(hard)} of {hard.n_returned} with the hard filter; post-hoc ×5 finds {post.n_returned}.")
    return Step(4, TITLES[3], head, [(f"Post-hoc ×5: {policy}", post), (f"CGSA: {policy}", soft),
                                     (f"CGSA + hard filter: {policy}", hard)],
                {"policy": policy, "eligible": cmp.eligible, "soft": _kept(soft), "hard": _kept(hard),
                 "hard_returned": hard.n_returned, "posthoc_returned": post.n_returned})


def myopia(models: Mapping[str, object], history, curves: Mapping[str, dict], k: int = MYOPIA_K) -> Step:
    """``models``: display name → Recommender; ``curves``: name → its checkpoint's myopia metrics."""
    fut = list(history.future)[:10]
    found = {}
    for name, rec in models.items():
        h = rec.user_history(history.user_id) if history.user_id is not None else history
        res = rec.compare(h, Instruction(), k, 1, ("unconditioned",)).results["unconditioned"]
        top = set(int(i) for i in res.items[ITEM_ID])
        found[name] = [i for i in fut if i in top]
    names = list(models)
    first = names[-1] if names else ""
    bits = [f"{n} {len(found[n])}" for n in names]
    if not fut:
        head = "This history has no held-out later artists; the measured curves are on the right."
    else:
        head = f"Of this listener's next {len(fut)} artists, one top-{k} retrieval finds: " + ", ".join(bits) + "."
    keyed = {n.split(" ")[0].lower(): {"myopia": c} for n, c in curves.items()}
    claims = evidence.pretraining_claims(keyed)
    my = [c for c in claims if c.topic == "Myopia"]
    if len(names) == 1:
        head += f" No NIP model is loaded for this data, so only {names[0]} is shown."
    if my:
        c = my[0]
        verdict = {"reproduced": "holds", "partly": "holds only in the estimate", "not": "does not hold"}[c.verdict]
        head += (f" Measured: “{c.claim}” {verdict} here (mean HR@50 at steps 2–10 {c.measured:+.1%}, "
                 f"95 % [{c.lo:+.1%}, {c.hi:+.1%}]).")
    only = {n: [i for i in found[n] if all(i not in found[m] for m in names if m != n)] for n in names}
    return Step(5, TITLES[4], head, numbers={"future": fut, "found": found, "only": only, "k": k, "first": first,
                                              "claims": [c.to_dict() for c in my]})


def evidence_step(claims: Sequence) -> Step:
    s = evidence.summary(list(claims))
    n = sum(s.values())
    head = (f"{s['reproduced']} of {n} measured claims reproduced, {s['partly']} partly, {s['not']} not "
            "(95 % intervals against the paper's direction).") if n else "No measurements found to check the claims."
    return Step(6, TITLES[5], head, numbers={"summary": s})
