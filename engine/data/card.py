"""The data card: measured numbers about a prepared data set, as JSON and as Markdown.

Every loader builds the common part with :func:`base_card` (counts, sequence lengths,
attribute coverage, value counts, the share of same-timestamp neighbours, which is this
data's analogue of consumption lag) and adds its own sections (how problems in the raw
files were handled, agreement with reference labels, licence). ``render_markdown``
turns the JSON into ``card.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.data.schema import ITEM_ID, PLAYS, TIMESTAMP, UNKNOWN, USER_ID, Dataset
from engine.tables import card_number, pct

# Attributes whose full value distribution goes into the card (others: top values only).
VALUE_COUNT_TOP = 30


def sequence_stats(interactions: pd.DataFrame) -> dict:
    """Distribution of per-user sequence lengths."""
    lengths = interactions.groupby(USER_ID, sort=False).size().to_numpy()
    return {
        "min": int(lengths.min()),
        "median": float(np.median(lengths)),
        "mean": round(float(lengths.mean()), 2),
        "p90": float(np.percentile(lengths, 90)),
        "max": int(lengths.max()),
        "users_with_at_least": {str(k): int((lengths >= k).sum()) for k in (5, 10, 20, 50)},
    }


def same_timestamp_neighbours(interactions: pd.DataFrame) -> dict:
    """Consecutive items of a user's sequence that share a timestamp (their order is arbitrary)."""
    user = interactions[USER_ID].to_numpy()
    ts = interactions[TIMESTAMP].to_numpy()
    same_user = user[1:] == user[:-1]
    same = same_user & (ts[1:] == ts[:-1])
    pairs = int(same_user.sum())
    return {"pairs": pairs, "same_timestamp": int(same.sum()), "share": round(float(same.sum()) / max(pairs, 1), 4)}


def timestamp_gaps(interactions: pd.DataFrame) -> dict:
    """Gaps between a user's consecutive distinct timestamps (a request interval; Δτ of method §3)."""
    user = interactions[USER_ID].to_numpy()
    ts = interactions[TIMESTAMP].to_numpy()
    step = (user[1:] == user[:-1]) & (ts[1:] != ts[:-1])
    gaps = (ts[1:] - ts[:-1])[step]
    if not len(gaps):
        return {"count": 0}
    return {"count": int(len(gaps)), "mean_seconds": round(float(gaps.mean()), 1),
            "median_seconds": float(np.median(gaps)), "p10_seconds": float(np.percentile(gaps, 10))}


def coverage(items: pd.DataFrame, interactions: pd.DataFrame, attributes: tuple[str, ...]) -> dict:
    """Share of items, interactions (and plays, if known) whose attribute is not ``unknown``."""
    per_item = interactions[ITEM_ID].value_counts()
    n_inter = items[ITEM_ID].map(per_item).fillna(0).to_numpy()
    plays = items[PLAYS].to_numpy(dtype=float) if PLAYS in items.columns else None
    out = {}
    for attr in attributes:
        known = (items[attr] != UNKNOWN).to_numpy()
        entry = {
            "items": round(float(known.mean()), 4),
            "interactions": round(float(n_inter[known].sum() / max(n_inter.sum(), 1)), 4),
        }
        if plays is not None and plays.sum() > 0:
            entry["plays"] = round(float(plays[known].sum() / plays.sum()), 4)
        out[attr] = entry
    return out


def value_counts(items: pd.DataFrame, interactions: pd.DataFrame, attr: str, top: int = VALUE_COUNT_TOP) -> dict:
    """Per value: number of items and share of interactions, most frequent first."""
    per_item = interactions[ITEM_ID].value_counts()
    weights = items[ITEM_ID].map(per_item).fillna(0)
    table = pd.DataFrame({"value": items[attr].to_numpy(), "n": weights.to_numpy()})
    agg = table.groupby("value").agg(items=("n", "size"), interactions=("n", "sum"))
    agg = agg.sort_values(["items", "interactions"], ascending=False).head(top)
    total = max(float(weights.sum()), 1.0)
    return {
        str(v): {"items": int(r["items"]), "interaction_share": round(float(r["interactions"]) / total, 4)}
        for v, r in agg.iterrows()
    }


def base_card(ds: Dataset, *, licence: str, value_count_attributes: tuple[str, ...] = ()) -> dict:
    """Counts, lengths, coverage and value counts measured on ``ds``."""
    inter = ds.interactions
    card = {
        "name": ds.name,
        "source": ds.source,
        "synthetic": ds.synthetic,
        "licence": licence,
        "time_resolution": ds.time_resolution,
        "counts": {
            "users": int(inter[USER_ID].nunique()),
            "items": int(len(ds.items)),
            "items_with_interactions": int(inter[ITEM_ID].nunique()),
            "interactions": int(len(inter)),
        },
        "sequence_length": sequence_stats(inter),
        "same_timestamp_neighbours": same_timestamp_neighbours(inter),
        "timestamp_gaps": timestamp_gaps(inter) if ds.time_resolution > 0 else "order only (no real timestamps)",
        "attributes": list(ds.attributes),
        "coverage": coverage(ds.items, inter, ds.attributes),
        "value_counts": {a: value_counts(ds.items, inter, a) for a in value_count_attributes},
    }
    return card


def _render_generic(key: str, value: object, lines: list[str]) -> None:
    lines.append(f"## {key.replace('_', ' ').capitalize()}\n")
    if isinstance(value, dict):
        for k, v in value.items():
            lines.append(f"- **{k}**: {card_number(v) if not isinstance(v, (dict, list)) else v}")
    elif isinstance(value, list):
        for v in value:
            lines.append(f"- {v}")
    else:
        lines.append(card_number(value))
    lines.append("")


def render_markdown(card: dict) -> str:
    """``card.md``: the card's sections as readable Markdown tables and lists."""
    lines = [f"# Data card: {card.get('name', '?')}\n"]
    if card.get("synthetic"):
        lines.append("**Synthetic data** (generated, not real listening logs).\n")
    lines.append(f"- Source: {card.get('source', '?')}")
    lines.append(f"- Licence: {card.get('licence') or 'not stated'}")
    lines.append(f"- Time resolution: {card.get('time_resolution')} s (0 = order only)\n")
    if "summary" in card:
        lines += [card["summary"], ""]
    counts = card.get("counts", {})
    if counts:
        lines.append("## Counts\n\n| what | number |\n|---|---|")
        lines += [f"| {k.replace('_', ' ')} | {card_number(v)} |" for k, v in counts.items()]
        lines.append("")
    seq = card.get("sequence_length")
    if seq:
        lines.append("## Sequence length per user\n\n| min | median | mean | p90 | max |\n|---|---|---|---|---|")
        lines.append(f"| {seq['min']} | {card_number(seq['median'])} | {card_number(seq['mean'])} | {card_number(seq['p90'])} | {seq['max']} |\n")
        lines.append(", ".join(f"users with ≥{k}: {card_number(v)}" for k, v in seq["users_with_at_least"].items()) + "\n")
    same = card.get("same_timestamp_neighbours")
    if same:
        lines.append("## Same-timestamp neighbours (consumption-lag analogue)\n")
        lines.append(
            f"{card_number(same['same_timestamp'])} of {card_number(same['pairs'])} consecutive pairs in a user's sequence "
            f"share a timestamp ({pct(same['share'])}); their order within the timestamp is arbitrary.\n"
        )
    cov = card.get("coverage")
    if cov:
        has_plays = any("plays" in v for v in cov.values())
        lines.append("## Attribute coverage (share not `unknown`)\n")
        lines.append("| attribute | items | interactions |" + (" plays |" if has_plays else ""))
        lines.append("|---|---|---|" + ("---|" if has_plays else ""))
        for attr, v in cov.items():
            row = f"| {attr} | {pct(v['items'])} | {pct(v['interactions'])} |"
            lines.append(row + (f" {pct(v['plays'])} |" if has_plays and "plays" in v else (" |" if has_plays else "")))
        lines.append("")
    for attr, counts_ in card.get("value_counts", {}).items():
        lines.append(f"## Values of `{attr}`\n\n| value | items | share of interactions |\n|---|---|---|")
        lines += [f"| {v} | {card_number(c['items'])} | {pct(c['interaction_share'])} |" for v, c in counts_.items()]
        lines.append("")
    handled = card.get("handling")
    if handled:
        lines.append("## How problems in the raw files were handled\n\n| what | count | action |\n|---|---|---|")
        lines += [f"| {h['what']} | {card_number(h['count'])} | {h['action']} |" for h in handled]
        lines.append("")
    agreement = card.get("agreement_with_reference")
    if isinstance(agreement, dict):
        lines.append("## Agreement with the reference labels (over items both label)\n")
        lines.append(f"Reference: `{agreement.get('reference_file')}` (measured only; our labels come from our rules).\n")
        lines.append("| label | ours | reference | both | agreement |\n|---|---|---|---|---|")
        for key, v in agreement.items():
            if isinstance(v, dict):
                share = "–" if v["agreement"] is None else pct(v["agreement"])
                lines.append(f"| {key} | {card_number(v['ours'])} | {card_number(v['reference'])} | {card_number(v['both'])} | {share} |")
        lines.append("")
    expert = card.get("agreement_with_expert_labels")
    if isinstance(expert, dict):
        lines.append("## Agreement with the expert fixture (well-known artists, hand-checked)\n")
        lines.append(f"{expert['found_in_items']} of {expert['fixture_artists']} fixture artists found. Agreement is "
                     "over artists both label; `unknown` on our side is counted apart, not as an error.\n")
        lines.append("| label | expert-labelled | ours known | ours unknown | agreement |\n|---|---|---|---|---|")
        for attr, v in expert.items():
            if isinstance(v, dict):
                share = "–" if v["agreement"] is None else pct(v["agreement"])
                lines.append(f"| {attr} | {v['expert_known']} | {v['ours_known']} | {v['ours_unknown']} | {share} |")
        wrong = [f"{d['name']} ({attr}: ours {d['ours']}, expert {d['expert']})"
                 for attr, v in expert.items() if isinstance(v, dict) for d in v["disagreements"]]
        if wrong:
            lines.append("\nDisagreements: " + "; ".join(wrong) + ".")
        lines.append("")
    shown = {"name", "agreement_with_reference", "agreement_with_expert_labels", "synthetic", "source", "licence", "time_resolution", "summary", "counts", "sequence_length",
             "same_timestamp_neighbours", "coverage", "value_counts", "handling", "attributes"}
    for key, value in card.items():
        if key not in shown:
            _render_generic(key, value, lines)
    return "\n".join(lines).rstrip() + "\n"
