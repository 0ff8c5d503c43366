"""Plain-language "what to notice" captions computed from the numbers (no Streamlit)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    s = float(seconds)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            v = s / size
            txt = f"{v:.0f}" if v.is_integer() else f"{v:.1f}"
            return f"{txt} {unit}{'s' if unit == 'day' and v != 1 else ''}"
    return f"{s:.0f} s"


def delta_tau_text(delta_tau: int | None, time_resolution: int) -> str:
    """Δτ of a checkpoint in words (it is stored in ticks of the data's resolution)."""
    if delta_tau is None:
        return "no time-aware mask (this model was trained as NIP/MIP)"
    if time_resolution <= 0:
        return f"Δτ = {delta_tau} positions"
    if delta_tau == 0 and time_resolution >= 86400:
        return "Δτ = 0: items logged on the target's own day are hidden"
    return f"Δτ = {duration(delta_tau * time_resolution)}"


def _counts(res) -> tuple[int, int, int]:
    df = res.items
    matching = int(df["complies"].sum()) if len(df) else 0
    shared = int(df["in_unconditioned"].sum()) if len(df) else 0
    return len(df), matching, shared


def compare_caption(results: dict, k: int, overfetch: int, has_conditions: bool, eligible: int,
                    is_empty: bool = False) -> str:
    """One sentence per contrast of method §5, from the lists themselves."""
    if is_empty:
        return ("No instruction is set, so every method returns the unconditioned list. "
                "Add a genre or language above to see the methods differ.")
    parts = []
    if not has_conditions:
        parts.append("Only item filters are set (blocked artists / exclude heard): CGSA has no category to "
                     "condition on, so its query is the unconditioned one and only the filters differ.")
    if eligible < k:
        parts.append(f"Only {eligible} catalogue artist(s) satisfy the instruction, so no method can fill K = {k}.")
    if "unconditioned" in results:
        n, m, _ = _counts(results["unconditioned"])
        parts.append(f"The unconditioned list already has {m} of {n} matching artists.")
    if "posthoc" in results:
        n, m, s = _counts(results["posthoc"])
        parts.append(f"Post-hoc filtering kept {n} of {k} (from the top {k * overfetch} candidates), "
                     f"{s} of them in the unconditioned list.")
    if "prefilter" in results:
        n, m, s = _counts(results["prefilter"])
        parts.append(f"The ANN pre-filter returned {m} matching artists with the unconditioned query.")
    if "cgsa" in results:
        n, m, s = _counts(results["cgsa"])
        parts.append(f"CGSA (soft, no filter) returned {m} matching of {n}; {s} {'is' if s == 1 else 'are'} also "
                     "in the unconditioned list.")
    if "cgsa_hard" in results:
        n, m, s = _counts(results["cgsa_hard"])
        parts.append(f"CGSA + hard filter returned {m} matching artists, {s} shared with the unconditioned list.")
    if "cgsa_hard" in results and "prefilter" in results:
        a = set(results["cgsa_hard"].items["item_id"])
        b = set(results["prefilter"].items["item_id"])
        parts.append(f"CGSA + hard filter and the pre-filter agree on {len(a & b)} artists: "
                     "the difference is the query, not the filter.")
    return " ".join(parts)


def compare_lead(results: dict, k: int, overfetch: int, is_empty: bool = False) -> str:
    """At most two sentences: what post-hoc filtering kept and what CGSA returned (details in compare_caption)."""
    if is_empty:
        return "No instruction is set, so every method returns the unconditioned list."
    out = []
    if "posthoc" in results:
        n, m, _ = _counts(results["posthoc"])
        out.append(f"Post-hoc filtering (retrieve {k * overfetch}, keep what matches) filled {n} of {k} slots.")
    if "cgsa" in results:
        n, m, s = _counts(results["cgsa"])
        out.append(f"CGSA (condition-guided sparse attention) returned {m} matching of {n}, {s} shared with "
                   "the unconditioned list.")
    return " ".join(out) or "Each list answers the same instruction by a different method."


def figure4_caption(cards: Sequence[tuple[str, object, bool]]) -> str:
    """Figure-4 view: how well each instructed list follows its genre and how much it keeps of the taste."""
    parts, good = [], 0
    for title, res, ref in cards:
        if ref:
            continue
        df = res.items
        m, s = int(df["complies"].sum()), int(df["in_unconditioned"].sum())
        good += m >= 0.5 * res.k and s > 0
        parts.append(f"“{title.split(': ', 1)[-1]}”: {m} of {res.k} match, {s} also in the unconstrained list")
    if not parts:
        return ""
    lead = ("Each instructed list keeps part of the unconstrained list while following its instruction: the model "
            "finds the intersection of taste and instruction. " if good == len(parts) else
            f"{good} of {len(parts)} instructed lists fill at least half their slots with matching artists and keep "
            "some of the unconstrained list; the hard filter makes every slot match. ")
    return lead + "; ".join(parts) + "."


def auto_caption(shares: Sequence[tuple[str, float]], div: dict, merged_overlap: float | None) -> str:
    top = ", ".join(f"{name} ({share:.0%})" for name, share in shares)
    u, m = div.get("unconditioned", {}), div.get("merged", {})
    text = f"The recent history's top categories become instructions: {top}. "
    if u and m:
        text += (f"The merged list spans {m.get('distinct_genre', 0):.0f} genres (entropy "
                 f"{m.get('entropy_genre', 0):.2f} bits) vs {u.get('distinct_genre', 0):.0f} "
                 f"({u.get('entropy_genre', 0):.2f} bits) for the unconditioned list")
    if merged_overlap is not None:
        text += f"; {merged_overlap:.0%} of it is also in the unconditioned list."
    return text


def cgsa_caption(n_tokens: int, n_items: int, n_allowed: int, has_conditions: bool) -> str:
    if not has_conditions:
        return (f"No instruction: the branch query may attend to all {n_items} history items plus the "
                "“no condition” token.")
    if n_allowed == 0:
        return (f"None of the {n_items} history items satisfy the instruction: the query sees only the "
                f"{n_tokens} condition token(s). The learned tokens alone carry the instruction (a cold instruction).")
    return (f"{n_allowed} of {n_items} history items satisfy the instruction and stay visible; the other "
            f"{n_items - n_allowed} are blocked. The {n_tokens} condition token(s) are always visible, "
            "so the row is never empty.")


def tamip_caption(codes: np.ndarray, dtau: str) -> str:
    hidden = int((codes == 2).sum())
    earlier = int(((codes == 1) | (codes == 2)).sum())
    if earlier == 0:
        return "Too short a history to show the training mask."
    empty_rows = int((~(codes == 1).any(axis=1)).sum())
    return (f"Training-time mask ({dtau}). {hidden} of {earlier} (target, earlier item) pairs are hidden because "
            f"the item was logged too close to the target to be known at serving time; {empty_rows} target row(s) "
            "have no visible history and are skipped in training. Serving uses the plain history.")


def myopia_caption(curves: dict[str, Sequence[float]], metric: str) -> str:
    if not curves:
        return ""
    parts = []
    for name, ys in curves.items():
        if len(ys):
            first, last = ys[0], ys[-1]
            kept = f"{last / first:.0%} of it kept" if first > 0 else "no hits at s = 1"
            parts.append(f"{name} {first:.1%} at s = 1 → {last:.1%} at s = {len(ys)} ({kept})")
    best = max(curves, key=lambda n: float(np.mean(curves[n])) if len(curves[n]) else -1)
    return (f"{metric}: " + "; ".join(parts) + f". Highest on average over s = 1…{len(curves[best])}: {best}. "
            "Higher at large s means the model looks further ahead.")


def whatif_caption(diff: pd.DataFrame) -> str:
    c = diff["status"].value_counts()
    entered, left, moved, same = (int(c.get(s, 0)) for s in ("entered", "left", "moved", "same"))
    if entered == left == moved == 0:
        return "Nothing changed: the two lists are identical."
    return (f"{entered} artist(s) entered, {left} left, {moved} moved, {same} stayed at the same rank.")
