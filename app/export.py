"""A self-contained case-study HTML page, like the paper's Figure 4 (method §7).

Pure: figures, lists and texts in, one HTML string out. plotly.js is embedded once,
inline, so the file opens offline and can be mailed as is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime

import plotly.graph_objects as go

from app import lists

PAGE_CSS = """
<style>
body{font-family:Inter,Segoe UI,Helvetica,Arial,sans-serif;color:#1b1f2a;max-width:1280px;margin:24px auto;
 padding:0 20px;line-height:1.45}
h1{font-size:24px;margin-bottom:2px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #e3e6ee;padding-bottom:4px}
.sub{color:#5b6275;margin-top:0}.cards{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(210px,1fr))}
.box{background:#f3f5fa;border-radius:8px;padding:10px 14px}.note{font-size:12.5px;color:#5b6275}
footer{margin-top:36px;border-top:1px solid #e3e6ee;padding-top:10px;font-size:12px;color:#5b6275}
</style>
"""


@dataclass
class Section:
    title: str
    cards: list[tuple[str, object, bool]]  # (card title, RecResult, is_reference)
    caption: str = ""
    plain_ref: bool = False  # the reference list has no instruction (no CC, no match bars)


@dataclass
class CaseStudy:
    title: str
    history_text: str
    instruction_text: str
    sections: list[Section]
    figures: list[tuple[go.Figure, str]] = field(default_factory=list)  # (figure, caption)
    footnote: str = ""
    link: str = ""


def card_footnote(card: dict, synthetic: bool, dataset: str, model: str, device: str) -> str:
    """Data card in two sentences: what the data is, coverage, licence, model, device."""
    counts = card.get("counts", {})
    cov = card.get("coverage", {})
    parts = [f"Data: {dataset}" + (" (generated; no real listeners)" if synthetic else "")
             + (f", {counts.get('users', '?'):,} users, {counts.get('items', '?'):,} artists, "
                f"{counts.get('interactions', '?'):,} interactions" if counts else "") + "."]
    if not synthetic:
        parts.append("Listening history = the Last.fm tag-assignment timeline (HetRec 2011).")
    if cov:
        parts.append("Label coverage (artists): " + ", ".join(f"{a} {v.get('items', 0):.0%}" for a, v in cov.items())
                     + ".")
    if card.get("licence"):
        parts.append(f"Licence: {card['licence'].rstrip('. ')}.")
    parts.append(f"Model: {model}; device: {device}.")
    return " ".join(parts)


def _figure_html(fig: go.Figure, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs="inline" if first else False,
                       config={"displaylogo": False, "responsive": True})


def case_study_html(cs: CaseStudy, generated: datetime | None = None) -> str:
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>{html.escape(cs.title)}</title>", PAGE_CSS, lists.CSS, "</head><body>",
           f"<h1>{html.escape(cs.title)}</h1><p class='sub'>Climber-Pilot Studio · {when}</p>",
           f"<div class='box'><b>History:</b> {html.escape(cs.history_text)}<br>"
           f"<b>Instruction:</b> {html.escape(cs.instruction_text)}</div>"]
    first = True
    for sec in cs.sections:
        out.append(f"<h2>{html.escape(sec.title)}</h2>")
        if sec.caption:
            out.append(f"<p>{html.escape(sec.caption)}</p>")
        shared = lists.shared_map({t: r for t, r, _ in sec.cards})
        out.append("<div class='cards'>" + "".join(lists.list_html(t, r, shared, ref, r.note, plain=ref and sec.plain_ref)
                                                   for t, r, ref in sec.cards) + "</div>")
        out.append(lists.LEGEND)
    for fig, caption in cs.figures:  # each figure carries its own title
        out.append(_figure_html(fig, first))
        first = False
        if caption:
            out.append(f"<p class='note'>{html.escape(caption)}</p>")
    if cs.link:
        out.append(f"<p class='note'>Reopen this view: <a href='{html.escape(cs.link)}'>{html.escape(cs.link)}</a></p>")
    out.append(f"<footer>{html.escape(cs.footnote)}</footer></body></html>")
    return "\n".join(out)

